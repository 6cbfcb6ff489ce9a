package jobfile_test

import (
	"fmt"

	"github.com/microbatch/microbatch/internal/jobfile"
)

func ExampleLoad() {
	_, err := jobfile.Load("testdata/typo.yaml")
	fmt.Println(err)
	// Output:
	// testdata/typo.yaml:5: source.kafka.startingOffset: unknown key, did you mean startingOffsets?
	// testdata/typo.yaml:9: trigger.processingTime: invalid duration "1x" (want e.g. 500ms, 10s, 1m or "10 seconds")
}

func ExampleJob_QueryErrorf() {
	job, err := jobfile.Load("testdata/unknown_table.yaml")
	if err != nil {
		panic(err)
	}
	// A SQL parser reports line 2, column 6 of the query text.
	fmt.Println(job.QueryErrorf(2, 6, "unknown table %q", "clickz"))
	// Output:
	// testdata/unknown_table.yaml:7:8: query: unknown table "clickz"
}
