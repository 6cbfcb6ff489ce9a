package engine

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/sql"
)

// malformedSink collects the rows and the malformed records of each batch.
type malformedSink struct {
	collector
	mu        sync.Mutex // guards malformed
	malformed []MalformedRecord
}

func (s *malformedSink) AddBatch(ctx context.Context, out *Output) error {
	s.mu.Lock()
	for _, m := range out.Malformed {
		m.Timestamp = 0 // the broker's append time
		s.malformed = append(s.malformed, m)
	}
	s.mu.Unlock()
	return s.collector.AddBatch(ctx, out)
}

// badClicks is a topic of two partitions with good and malformed records.
func badClicks(t *testing.T) *kafkatest.Broker {
	b := kafkatest.Start(t, map[string]int32{"bad": 2})
	b.Produce(t, "bad", []kafkatest.Record{
		{Partition: 0, Value: []byte(`{"page":"/a","n":1}`)},
		{Partition: 0, Key: []byte("k"), Value: []byte(`{"page":"/b","n":"two"}`)},
		{Partition: 0, Value: []byte(`{"page":"/c","n":3}`)},
		{Partition: 1, Value: []byte(`garbage`)},
		{Partition: 1, Value: []byte(`{"page":"/d"}`)},
	})
	return b
}

var badWant = []MalformedRecord{
	{Topic: "bad", Partition: 0, Offset: 1, Key: []byte("k"), Value: []byte(`{"page":"/b","n":"two"}`), Column: "n", Reason: "expected an integer for BIGINT, got a string"},
	{Topic: "bad", Partition: 1, Offset: 0, Value: []byte("garbage"), Reason: "not a JSON object"},
}

func badConfig(t *testing.T, b *kafkatest.Broker, query string, sink Sink) Config {
	schema, err := dataframe.ParseSchema("page STRING, n BIGINT")
	if err != nil {
		t.Fatal(err)
	}
	df, err := sql.Compile(query, "events", schema)
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(schema, df, b.Addr, "bad", t.TempDir(), sink)
	cfg.Allocator = checkedAlloc(t)
	return cfg
}

// A query reads _corrupt_record over Kafka; the sink gets the malformed
// records in Output.Malformed, in PERMISSIVE and DROPMALFORMED mode.
func TestCorruptRecordAndMalformedOutput(t *testing.T) {
	b := badClicks(t)
	sink := &malformedSink{}
	runQuery(t, badConfig(t, b, "SELECT _partition, _offset, _corrupt_record FROM events WHERE _corrupt_record IS NOT NULL", sink))
	var rows []string
	for _, c := range sink.all() {
		for _, r := range c.rows {
			rows = append(rows, strings.Join(r, "|"))
		}
	}
	want := []string{`0|1|{"page":"/b","n":"two"}`, `1|0|garbage`}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows %q, want %q", rows, want)
	}
	if !reflect.DeepEqual(sink.malformed, badWant) {
		t.Errorf("malformed %+v", sink.malformed)
	}

	// A record is malformed when a column the query reads fails to
	// decode: n must be read for /b to be one.
	sink = &malformedSink{}
	cfg := badConfig(t, b, "SELECT page, n FROM events", sink)
	cfg.Mode = dataframe.DropMalformed
	runQuery(t, cfg)
	if !reflect.DeepEqual(sink.malformed, badWant) {
		t.Errorf("DROPMALFORMED: malformed %+v", sink.malformed)
	}
}

// _corrupt_record outside PERMISSIVE, and bad dead-letter settings, are
// refused by New with the field and the reason.
func TestDeadLetterConfigErrors(t *testing.T) {
	b := badClicks(t)
	for _, c := range []struct {
		query string
		set   func(*Config)
		want  string
	}{
		{"SELECT _corrupt_record FROM events", func(c *Config) { c.Mode = dataframe.FailFast },
			"Mode: the query reads _corrupt_record, which exists only in PERMISSIVE mode, not in FAILFAST"},
		{"SELECT page FROM events", func(c *Config) { c.Source.DeadLetter.MaxRatio = 1.5 },
			"Source.DeadLetter.MaxRatio: 1.5 is not a share of the records: want (0, 1], or Off to fail on any malformed record"},
		{"SELECT page FROM events", func(c *Config) { c.Mode, c.Source.DeadLetter.Topic = dataframe.FailFast, "dlq" },
			"Source.DeadLetter.Topic: mode FAILFAST stops at the first malformed record: dead letters need PERMISSIVE or DROPMALFORMED"},
	} {
		cfg := badConfig(t, b, c.query, &collector{})
		c.set(&cfg)
		_, err := New(cfg)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want %s", err, c.want)
		}
	}
}

// maxRatio fails the batch with more than that share of malformed
// records, naming the batch, the count and the ratio; at the ratio it
// passes.
func TestDeadLetterMaxRatio(t *testing.T) {
	b := badClicks(t)
	for _, c := range []struct {
		ratio float64
		want  string
	}{
		{0.4, "batch 0: too many malformed records: 2 of 5 records (0.4) are malformed"}, // 2/5 is not more than 0.4
		{0.39, "batch 0: too many malformed records: 2 of 5 records (0.4) are malformed, more than maxRatio 0.39 (nothing of the batch is committed: fix the data's producer, or raise maxRatio and restart, which runs the batch again)"},
		{Off, "batch 0: too many malformed records: 2 of 5 records (0.4) are malformed, more than maxRatio 0 (nothing of the batch is committed: fix the data's producer, or raise maxRatio and restart, which runs the batch again)"},
	} {
		cfg := badConfig(t, b, "SELECT page, n FROM events", &collector{})
		cfg.Source.DeadLetter = DeadLetter{Topic: "dlq", MaxRatio: c.ratio}
		q, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = q.Run(ctx)
		cancel()
		if c.ratio == 0.4 {
			if err != nil {
				t.Errorf("maxRatio %v: %v", c.ratio, err)
			}
			continue
		}
		if !errors.Is(err, ErrTooManyMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("maxRatio %v: %v, want %s", c.ratio, err, c.want)
		}
	}
}
