package offsets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// StartingOffsets is where a query starts reading when its checkpoint has no
// offsets yet: Spark's startingOffsets option.
type StartingOffsets struct {
	// Default is Earliest or Latest. It applies to every partition when
	// Specific is nil. A parsed JSON spec sets it to Earliest, the offset
	// partitions discovered later start at.
	Default int64
	// Specific, when non-nil, gives each partition's start: Earliest (-2),
	// Latest (-1) or an offset >= 0. It must name every partition of the
	// subscription (see Resolve).
	Specific map[TopicPartition]int64
}

// ParseStartingOffsets parses a startingOffsets spec: "earliest", "latest"
// (case-insensitive, surrounding blanks ignored), or Spark's JSON form
// {"topicA":{"0":23,"1":-2},"topicB":{"0":-1}} where -2 means earliest and
// -1 latest. Partition keys must be int32 numbers >= 0, offsets integers >= -2;
// duplicate topics or partitions are rejected. Errors are *SpecError naming
// the topic and partition key at fault.
func ParseStartingOffsets(s string) (StartingOffsets, error) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "earliest":
		return StartingOffsets{Default: Earliest}, nil
	case "latest":
		return StartingOffsets{Default: Latest}, nil
	case "":
		return StartingOffsets{}, &SpecError{Msg: `empty; want "earliest", "latest" or JSON like {"topic":{"0":23,"1":-2}}`}
	}
	if t[0] != '{' {
		return StartingOffsets{}, &SpecError{Msg: fmt.Sprintf(`%q is not "earliest", "latest" or a JSON object like {"topic":{"0":23,"1":-2}}`, truncate(t, 40))}
	}
	m, err := parseSpecJSON(t)
	if err != nil {
		return StartingOffsets{}, err
	}
	return StartingOffsets{Default: Earliest, Specific: m}, nil
}

// parseSpecJSON walks the JSON tokens so that duplicate keys, non-integer
// numbers and non-number values are reported with their location.
func parseSpecJSON(s string) (map[TopicPartition]int64, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	syntax := func(topic, part string, err error) error {
		return &SpecError{Topic: topic, Partition: part, Msg: "malformed JSON: " + jsonProblem(err)}
	}
	if err := expectDelim(dec, '{'); err != nil {
		return nil, syntax("", "", err)
	}
	out := make(map[TopicPartition]int64)
	topics := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntax("", "", err)
		}
		topic := tok.(string) // object keys are always strings
		if topic == "" {
			return nil, &SpecError{Msg: "empty topic name"}
		}
		if topics[topic] {
			return nil, &SpecError{Topic: topic, Msg: "topic appears twice"}
		}
		topics[topic] = true
		if err := expectDelim(dec, '{'); err != nil {
			return nil, &SpecError{Topic: topic, Msg: `want an object of partition offsets like {"0":23}: ` + jsonProblem(err)}
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, syntax(topic, "", err)
			}
			key := tok.(string)
			p, err := strconv.ParseInt(key, 10, 32)
			if err != nil || p < 0 {
				return nil, &SpecError{Topic: topic, Partition: key, Msg: "partition must be an int32 >= 0"}
			}
			tp := TopicPartition{Topic: topic, Partition: int32(p)}
			if _, dup := out[tp]; dup {
				return nil, &SpecError{Topic: topic, Partition: key, Msg: fmt.Sprintf("partition %d appears twice", p)}
			}
			tok, err = dec.Token()
			if err != nil {
				return nil, syntax(topic, key, err)
			}
			num, ok := tok.(json.Number)
			if !ok {
				return nil, &SpecError{Topic: topic, Partition: key, Msg: fmt.Sprintf("offset must be an integer, got %s", describeToken(tok))}
			}
			off, err := strconv.ParseInt(string(num), 10, 64)
			if err != nil {
				return nil, &SpecError{Topic: topic, Partition: key, Msg: fmt.Sprintf("offset %s is not an int64", num)}
			}
			if off < Earliest {
				return nil, &SpecError{Topic: topic, Partition: key, Msg: fmt.Sprintf("offset %d is negative; only -2 (earliest) and -1 (latest) are allowed", off)}
			}
			out[tp] = off
		}
		if err := expectDelim(dec, '}'); err != nil {
			return nil, syntax(topic, "", err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, syntax("", "", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &SpecError{Msg: "trailing data after the JSON object"}
	}
	return out, nil
}

// jsonProblem describes a JSON token error; the decoder's own word for
// input that ends early is a bare "EOF".
func jsonProblem(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the text ends before every { is closed by its }"
	}
	return err.Error()
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, got %s", want, describeToken(tok))
	}
	return nil
}

func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", v.String())
	case string:
		return fmt.Sprintf("string %q", truncate(v, 40))
	case json.Number:
		return "number " + string(v)
	case bool:
		return fmt.Sprintf("%t", v)
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// String prints the spec in the form ParseStartingOffsets reads: "earliest",
// "latest", or JSON with topics and partitions in ascending order.
func (s StartingOffsets) String() string {
	if s.Specific == nil {
		if s.Default == Latest {
			return "latest"
		}
		return "earliest"
	}
	tps := make([]TopicPartition, 0, len(s.Specific))
	for tp := range s.Specific {
		tps = append(tps, tp)
	}
	SortPartitions(tps)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, tp := range tps {
		if i == 0 || tps[i-1].Topic != tp.Topic {
			if i > 0 {
				b.WriteString("},")
			}
			name, _ := json.Marshal(tp.Topic) // a string always marshals
			b.Write(name)
			b.WriteString(":{")
		} else {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%d", strconv.Itoa(int(tp.Partition)), s.Specific[tp])
	}
	if len(tps) > 0 {
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.String()
}

// Resolve returns the starting offset of every partition in tps, turning
// Earliest and Latest into offsets with the earliest and latest maps (the
// partitions' log start and end offsets, listed at query start). A Specific
// spec must name exactly the partitions in tps, otherwise
// *PartitionMismatchError lists the missing and extra ones. A partition
// absent from the earliest or latest map it needs is an error.
func (s StartingOffsets) Resolve(tps []TopicPartition, earliest, latest map[TopicPartition]int64) (map[TopicPartition]int64, error) {
	if s.Specific != nil {
		in := make(map[TopicPartition]bool, len(tps))
		var missing, extra []TopicPartition
		for _, tp := range tps {
			in[tp] = true
			if _, ok := s.Specific[tp]; !ok {
				missing = append(missing, tp)
			}
		}
		for tp := range s.Specific {
			if !in[tp] {
				extra = append(extra, tp)
			}
		}
		if len(missing) > 0 || len(extra) > 0 {
			SortPartitions(missing)
			SortPartitions(extra)
			return nil, &PartitionMismatchError{Missing: missing, Extra: extra}
		}
	}
	out := make(map[TopicPartition]int64, len(tps))
	for _, tp := range tps {
		want := s.Default
		if s.Specific != nil {
			want = s.Specific[tp]
		}
		switch want {
		case Earliest, Latest:
			src, name := earliest, "earliest"
			if want == Latest {
				src, name = latest, "latest"
			}
			off, ok := src[tp]
			if !ok {
				return nil, fmt.Errorf("%w: no %s offset listed for %s", ErrStartingOffsets, name, tp)
			}
			out[tp] = off
		default:
			if s.Specific == nil {
				return nil, fmt.Errorf("%w: default %d is neither Earliest (-2) nor Latest (-1)", ErrStartingOffsets, want)
			}
			if want < 0 {
				return nil, &SpecError{Topic: tp.Topic, Partition: strconv.Itoa(int(tp.Partition)), Msg: fmt.Sprintf("offset %d is negative", want)}
			}
			out[tp] = want
		}
	}
	return out, nil
}

// sortedKeys returns the keys of m in partition order.
func sortedKeys(m map[TopicPartition]int64) []TopicPartition {
	tps := make([]TopicPartition, 0, len(m))
	for tp := range m {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool { return tps[i].Less(tps[j]) })
	return tps
}
