package gen_test

import (
	"fmt"

	"github.com/microbatch/microbatch/internal/gen"
)

func Example() {
	g, err := gen.New("iot", 7)
	if err != nil {
		panic(err)
	}
	var r gen.Record // reused: Next overwrites Key and Value
	for i := 0; i < 2; i++ {
		g.Next(&r)
		fmt.Printf("%s %s\n", r.Key, r.Value)
	}
	// Output:
	// dev-0332 {"device_id":"dev-0332","ts":"2024-01-01T00:00:00.007Z","temperature":19.4,"pressure":1006.9,"lat":40.65523,"lon":-73.88656}
	// dev-0290 {"device_id":"dev-0290","ts":"2024-01-01T00:00:00.015Z","temperature":18.2,"pressure":1006.1,"lat":51.61707,"lon":0.01997}
}
