package kafka_test

import (
	"fmt"
	"testing"

	"github.com/microbatch/microbatch/internal/kafka"
)

func TestCheckProps(t *testing.T) {
	got := kafka.CheckProps(kafka.Props{
		"isolation.level":   "read_committed",
		"isolation.levle":   "read_committed",
		"fetch.wait.max.ms": "soon",
		"acks":              "all", // a producer property: accepted (and ignored) on a consumer
	})
	want := `map[fetch.wait.max.ms:Invalid value for configuration property "fetch.wait.max.ms" isolation.levle:No such configuration property: "isolation.levle"]`
	if fmt.Sprint(got) != want {
		t.Fatalf("CheckProps = %v\nwant %s", got, want)
	}
}
