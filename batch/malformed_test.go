package batch

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/offsets"
)

type discardSink struct{}

func (discardSink) Consume(arrow.Record) error { return nil }

// jsonJob decodes with the product's JSON decoder in mode.
func jsonJob(t *testing.T, mem memory.Allocator, id int64, mode dataframe.Mode, topic string, until int64) Job {
	s, err := dataframe.ParseSchema("n BIGINT")
	if err != nil {
		t.Fatal(err)
	}
	return Job{
		BatchID: id,
		Ranges:  []offsets.OffsetRange{rng(topic, 0, 0, until), rng(topic, 1, 0, until)},
		NewDecoder: func(onMalformed func(*dataframe.MalformedRecordError)) (dataframe.Decoder, error) {
			return dataframe.NewDecoder(mem, s, dataframe.DecoderOptions{Format: dataframe.FormatJSON, Mode: mode, Columns: []string{"n"}, OnMalformed: onMalformed})
		},
		NewSink: func(TaskInfo) (TaskSink, error) { return discardSink{}, nil },
	}
}

// Run captures every malformed record of the batch, PERMISSIVE and
// DROPMALFORMED, with its key, value, timestamp and reason, in (topic,
// partition, offset) order across tasks and slots.
func TestMalformedCaptured(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"m": 2})
	before := time.Now().UnixMilli()
	b.Produce(t, "m", []kafkatest.Record{
		{Partition: 0, Value: []byte(`{"n":1}`)},
		{Partition: 0, Key: []byte("k1"), Value: []byte(`bad0`)},
		{Partition: 0, Value: []byte(`{"n":2}`)},
		{Partition: 0, Key: []byte{}, Value: []byte(`{"n":"x"}`)},
		{Partition: 1, Value: []byte(`{"n":3}`)},
		{Partition: 1, Value: nil},
		{Partition: 1, Value: []byte(`{"n":4}`)},
		{Partition: 1, Key: []byte("k"), Value: []byte(`{"n":5,}`)},
	})
	after := time.Now().UnixMilli()
	want := []MalformedRecord{
		{Topic: "m", Partition: 0, Offset: 1, Key: []byte("k1"), Value: []byte("bad0"), Reason: "not a JSON object"},
		{Topic: "m", Partition: 0, Offset: 3, Key: []byte{}, Value: []byte(`{"n":"x"}`), Column: "n", Reason: "expected an integer for BIGINT, got a string"},
		{Topic: "m", Partition: 1, Offset: 1, Reason: "empty record"},
		{Topic: "m", Partition: 1, Offset: 3, Key: []byte("k"), Value: []byte(`{"n":5,}`), Reason: "invalid JSON: unexpected '}' at byte 7 where an object key was expected"},
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	// Two slots and tasks of two offsets: the records come from four tasks.
	e := newExecutor(t, Config{Props: b.Props(), Workers: 2, MaxOffsetsPerTask: 2})
	for i, mode := range []dataframe.Mode{dataframe.Permissive, dataframe.DropMalformed} {
		res, err := run(t, e, jsonJob(t, mem, int64(i), mode, "m", 4))
		if err != nil {
			t.Fatal(err)
		}
		got := res.Malformed
		for j := range got {
			if ts := got[j].Timestamp; ts < before || ts > after {
				t.Errorf("%v: record %d: timestamp %d not in [%d, %d]", mode, j, ts, before, after)
			}
			got[j].Timestamp = 0
		}
		if !reflect.DeepEqual(got, want) || res.MalformedOverflow != 0 {
			t.Errorf("%v: overflow %d, got\n%s\nwant\n%s", mode, res.MalformedOverflow, fmtMalformed(got), fmtMalformed(want))
		}
		if n := res.Corrupt + res.Dropped; n != 4 {
			t.Errorf("%v: %d malformed counted", mode, n)
		}
	}
	if got := want[1].Error(); got != `malformed record at m-0 offset 3: column "n": expected an integer for BIGINT, got a string` {
		t.Error(got)
	}

	// Past the bound, malformed records are counted, not captured: here
	// the bound holds partition 0's two (6 and 9 bytes of key and value)
	// and partition 1's empty one, not its last (9 bytes).
	e = newExecutor(t, Config{Props: b.Props(), Workers: 1, maxMalformedBytes: 15})
	res, err := run(t, e, jsonJob(t, mem, 9, dataframe.Permissive, "m", 4))
	if err != nil {
		t.Fatal(err)
	}
	for j := range res.Malformed {
		res.Malformed[j].Timestamp = 0
	}
	if !reflect.DeepEqual(res.Malformed, want[:3]) || res.MalformedOverflow != 1 || res.Corrupt != 4 {
		t.Errorf("bounded: %s overflow %d corrupt %d", fmtMalformed(res.Malformed), res.MalformedOverflow, res.Corrupt)
	}
}

func fmtMalformed(ms []MalformedRecord) string {
	var s string
	for _, m := range ms {
		s += fmt.Sprintf("  %s-%d@%d key %q value %q column %q reason %q\n", m.Topic, m.Partition, m.Offset, m.Key, m.Value, m.Column, m.Reason)
	}
	return s
}
