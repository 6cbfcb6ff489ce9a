package offsets

import (
	"errors"
	"reflect"
	"testing"
)

func tp(topic string, p int32) TopicPartition { return TopicPartition{Topic: topic, Partition: p} }

func TestParseStartingOffsets(t *testing.T) {
	tests := []struct {
		in   string
		want StartingOffsets
		str  string
	}{
		{"earliest", StartingOffsets{Default: Earliest}, "earliest"},
		{" LATEST\n", StartingOffsets{Default: Latest}, "latest"},
		{"Earliest", StartingOffsets{Default: Earliest}, "earliest"},
		{`{"topicA":{"0":23,"1":-2},"topicB":{"0":-1}}`,
			StartingOffsets{Default: Earliest, Specific: map[TopicPartition]int64{tp("topicA", 0): 23, tp("topicA", 1): -2, tp("topicB", 0): -1}},
			`{"topicA":{"0":23,"1":-2},"topicB":{"0":-1}}`},
		{` { "b" : { "10" : 5 , "2" : 0 } , "a" : { } } `,
			StartingOffsets{Default: Earliest, Specific: map[TopicPartition]int64{tp("b", 10): 5, tp("b", 2): 0}},
			`{"b":{"2":0,"10":5}}`},
		{`{}`, StartingOffsets{Default: Earliest, Specific: map[TopicPartition]int64{}}, `{}`},
		{`{"t":{"2147483647":9223372036854775807}}`,
			StartingOffsets{Default: Earliest, Specific: map[TopicPartition]int64{tp("t", 2147483647): 9223372036854775807}},
			`{"t":{"2147483647":9223372036854775807}}`},
		{`{"we\"ird":{"+1":1}}`, StartingOffsets{Default: Earliest, Specific: map[TopicPartition]int64{tp(`we"ird`, 1): 1}}, `{"we\"ird":{"1":1}}`},
	}
	for _, tt := range tests {
		got, err := ParseStartingOffsets(tt.in)
		if err != nil {
			t.Errorf("ParseStartingOffsets(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseStartingOffsets(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.str {
			t.Errorf("String of %q = %s, want %s", tt.in, s, tt.str)
		}
	}
}

func TestParseStartingOffsetsErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"", `invalid startingOffsets: empty; want "earliest", "latest" or JSON like {"topic":{"0":23,"1":-2}}`},
		{"newest", `invalid startingOffsets: "newest" is not "earliest", "latest" or a JSON object like {"topic":{"0":23,"1":-2}}`},
		{`{"t":{"0":-3}}`, `invalid startingOffsets at topic "t", partition "0": offset -3 is negative; only -2 (earliest) and -1 (latest) are allowed`},
		{`{"t":{"x":1}}`, `invalid startingOffsets at topic "t", partition "x": partition must be an int32 >= 0`},
		{`{"t":{"-1":1}}`, `invalid startingOffsets at topic "t", partition "-1": partition must be an int32 >= 0`},
		{`{"t":{"2147483648":1}}`, `invalid startingOffsets at topic "t", partition "2147483648": partition must be an int32 >= 0`},
		{`{"t":{"0":1.5}}`, `invalid startingOffsets at topic "t", partition "0": offset 1.5 is not an int64`},
		{`{"t":{"0":1e3}}`, `invalid startingOffsets at topic "t", partition "0": offset 1e3 is not an int64`},
		{`{"t":{"0":"23"}}`, `invalid startingOffsets at topic "t", partition "0": offset must be an integer, got string "23"`},
		{`{"t":{"0":null}}`, `invalid startingOffsets at topic "t", partition "0": offset must be an integer, got null`},
		{`{"t":{"0":9223372036854775808}}`, `invalid startingOffsets at topic "t", partition "0": offset 9223372036854775808 is not an int64`},
		{`{"t":{"1":1,"01":2}}`, `invalid startingOffsets at topic "t", partition "01": partition 1 appears twice`},
		{`{"t":{"0":1},"t":{"1":2}}`, `invalid startingOffsets at topic "t": topic appears twice`},
		{`{"t":[0]}`, `invalid startingOffsets at topic "t": want an object of partition offsets like {"0":23}: want "{", got "["`},
		{`{"":{"0":1}}`, `invalid startingOffsets: empty topic name`},
		{`{"t":{"0":1}} x`, `invalid startingOffsets: trailing data after the JSON object`},
		{`{"t":{"0":1}`, `invalid startingOffsets: malformed JSON: the text ends before every { is closed by its }`},
		{`{"t":{"0":42`, `invalid startingOffsets at topic "t": malformed JSON: the text ends before every { is closed by its }`},
		{`{"t":`, `invalid startingOffsets at topic "t": want an object of partition offsets like {"0":23}: the text ends before every { is closed by its }`},
		{`{"t":{"0" 1}}`, `invalid startingOffsets at topic "t", partition "0": malformed JSON: invalid character '1' after object key`},
	}
	for _, tt := range tests {
		_, err := ParseStartingOffsets(tt.in)
		if err == nil {
			t.Errorf("ParseStartingOffsets(%q) = nil error, want %s", tt.in, tt.msg)
			continue
		}
		if err.Error() != tt.msg {
			t.Errorf("ParseStartingOffsets(%q):\n got %s\nwant %s", tt.in, err, tt.msg)
		}
		if !errors.Is(err, ErrStartingOffsets) {
			t.Errorf("ParseStartingOffsets(%q): %v does not match ErrStartingOffsets", tt.in, err)
		}
		var se *SpecError
		if !errors.As(err, &se) {
			t.Errorf("ParseStartingOffsets(%q): %T is not *SpecError", tt.in, err)
		}
	}
}

func TestResolve(t *testing.T) {
	tps := []TopicPartition{tp("a", 0), tp("a", 1), tp("b", 0)}
	earliest := map[TopicPartition]int64{tp("a", 0): 10, tp("a", 1): 20, tp("b", 0): 0}
	latest := map[TopicPartition]int64{tp("a", 0): 100, tp("a", 1): 200, tp("b", 0): 7}

	tests := []struct {
		spec string
		want map[TopicPartition]int64
	}{
		{"earliest", map[TopicPartition]int64{tp("a", 0): 10, tp("a", 1): 20, tp("b", 0): 0}},
		{"latest", map[TopicPartition]int64{tp("a", 0): 100, tp("a", 1): 200, tp("b", 0): 7}},
		{`{"a":{"0":42,"1":-2},"b":{"0":-1}}`, map[TopicPartition]int64{tp("a", 0): 42, tp("a", 1): 20, tp("b", 0): 7}},
	}
	for _, tt := range tests {
		s, err := ParseStartingOffsets(tt.spec)
		mustNoErr(t, err)
		got, err := s.Resolve(tps, earliest, latest)
		if err != nil {
			t.Errorf("Resolve(%s): %v", tt.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Resolve(%s) = %v, want %v", tt.spec, got, tt.want)
		}
	}

	s, _ := ParseStartingOffsets(`{"a":{"0":42},"c":{"3":1}}`)
	_, err := s.Resolve(tps, earliest, latest)
	want := "invalid startingOffsets: specific offsets must name every partition of the subscription (use -2 for earliest, -1 for latest); missing: a-1, b-0; not in the subscription: c-3"
	if err == nil || err.Error() != want {
		t.Fatalf("Resolve mismatch:\n got %v\nwant %s", err, want)
	}
	var pm *PartitionMismatchError
	if !errors.As(err, &pm) || !errors.Is(err, ErrStartingOffsets) {
		t.Fatalf("%T does not match *PartitionMismatchError and ErrStartingOffsets", err)
	}
	if !reflect.DeepEqual(pm.Missing, []TopicPartition{tp("a", 1), tp("b", 0)}) || !reflect.DeepEqual(pm.Extra, []TopicPartition{tp("c", 3)}) {
		t.Fatalf("missing %v extra %v", pm.Missing, pm.Extra)
	}

	s, _ = ParseStartingOffsets("latest")
	_, err = s.Resolve([]TopicPartition{tp("z", 0)}, earliest, latest)
	if err == nil || err.Error() != "invalid startingOffsets: no latest offset listed for z-0" {
		t.Fatalf("Resolve of unlisted partition: %v", err)
	}
	_, err = StartingOffsets{}.Resolve(tps, earliest, latest)
	if err == nil || err.Error() != "invalid startingOffsets: default 0 is neither Earliest (-2) nor Latest (-1)" {
		t.Fatalf("Resolve of zero StartingOffsets: %v", err)
	}
}

func mustNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
