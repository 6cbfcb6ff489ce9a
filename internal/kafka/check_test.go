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

func TestCheckProducerProps(t *testing.T) {
	good := kafka.Props{"linger.ms": "20", "compression.type": "zstd", "acks": "all"}
	if got := kafka.CheckProducerProps(good); len(got) != 0 {
		t.Fatalf("CheckProducerProps(%v) = %v", good, got)
	}
	got := kafka.CheckProducerProps(kafka.Props{
		"linger.ms":        "abc",
		"bogus.prop":       "1",
		"compression.type": "zstd",
	})
	want := `map[bogus.prop:No such configuration property: "bogus.prop" linger.ms:Invalid value for configuration property "queue.buffering.max.ms"]`
	if fmt.Sprint(got) != want {
		t.Fatalf("CheckProducerProps = %v\nwant %s", got, want)
	}
}

func TestScalePrefetch(t *testing.T) {
	for _, c := range []struct {
		props kafka.Props
		parts int
		want  string
	}{
		{kafka.Props{}, 2, "16384"},   // 32 MiB each: capped at the default
		{kafka.Props{}, 32, "2048"},   // 64 MiB over 32 partitions
		{kafka.Props{}, 1000, "1024"}, // at least 1 MiB each
		{kafka.Props{"queued.max.messages.kbytes": "4096"}, 32, "4096"},
	} {
		got := kafka.ScalePrefetch(c.props, c.parts)["queued.max.messages.kbytes"]
		if got != c.want {
			t.Errorf("ScalePrefetch(%v, %d) = %s, want %s", c.props, c.parts, got, c.want)
		}
	}
	if p := (kafka.Props{}); len(kafka.ScalePrefetch(p, 0)) != 0 {
		t.Errorf("0 partitions changed the props")
	}
}
