package jobfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/microbatch/microbatch/internal/textdist"
	"github.com/microbatch/microbatch/offsets"
)

// deref follows YAML aliases (*anchor) to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Style == 0
}

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "an unsupported YAML node"
}

type entry struct {
	key     string
	keyNode *yaml.Node
	val     *yaml.Node
}

// entries returns the key/value pairs of mapping n, reporting a non-mapping
// value and duplicate keys. A null value (a key with nothing after it)
// counts as an empty mapping.
func (l *loader) entries(n *yaml.Node, path string) ([]entry, bool) {
	n = deref(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(n.Line, path, "expected a mapping, got %s", describe(n))
		return nil, false
	}
	if path != "" {
		l.pos[path] = Position{n.Line, n.Column}
	}
	first := map[string]int{}
	var out []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := deref(n.Content[i]), deref(n.Content[i+1])
		key := kn.Value
		full := join(path, key)
		if kn.Kind != yaml.ScalarNode {
			l.errorf(kn.Line, path, "keys must be plain names, got %s", describe(kn))
			continue
		}
		if line, dup := first[key]; dup {
			l.errorf(kn.Line, full, "duplicate key (first set on line %d)", line)
			continue
		}
		first[key] = kn.Line
		l.keyLine[full] = kn.Line
		out = append(out, entry{key: key, keyNode: kn, val: vn})
	}
	return out, true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping returns the known keys of mapping n by name and reports unknown
// ones, with a did-you-mean when one is close. It returns nil if n is not
// a mapping.
func (l *loader) mapping(n *yaml.Node, path string) map[string]*yaml.Node {
	es, ok := l.entries(n, path)
	if !ok {
		return nil
	}
	known := childKeys(path)
	out := map[string]*yaml.Node{}
	for _, e := range es {
		if contains(known, e.key) {
			out[e.key] = e.val
			continue
		}
		l.unknownIn[path]++
		l.unknownKey(e, path, known)
	}
	return out
}

func (l *loader) unknownKey(e entry, path string, known []string) {
	if s, ok := textdist.Closest(e.key, known); ok {
		l.didYouMean(e, path, s)
		return
	}
	l.errorf(e.keyNode.Line, join(path, e.key), "unknown key (known keys: %s)", strings.Join(known, ", "))
}

// didYouMean reports a probable typo of key s; require then stays quiet
// about s being missing, as the fix is the same.
func (l *loader) didYouMean(e entry, path, s string) {
	l.errorf(e.keyNode.Line, join(path, e.key), "unknown key, did you mean %s?", s)
	l.suggested[join(path, s)] = true
}

// sparkOnly are Spark Kafka source options microbatch does not support,
// with what to do instead. Without this list they would go to librdkafka,
// which rejects them only when the job runs.
var sparkOnly = map[string]string{
	"minOffsetsPerTrigger":        "batches run on the trigger interval",
	"maxTriggerDelay":             "batches run on the trigger interval",
	"minPartitions":               "each Kafka partition is read by one task",
	"endingOffsets":               `use trigger: {availableNow: true} to stop at the offsets present at start`,
	"startingTimestamp":           "use startingOffsets",
	"startingOffsetsByTimestamp":  "use startingOffsets",
	"endingTimestamp":             "not supported",
	"endingOffsetsByTimestamp":    "not supported",
	"includeHeaders":              "headers are not exposed to queries",
	"groupIdPrefix":               "microbatch does not use consumer groups",
	"kafkaConsumer.pollTimeoutMs": "not needed",
}

// kafkaMapping splits source.kafka into microbatch's own keys and
// librdkafka properties.
func (l *loader) kafkaMapping(n *yaml.Node, path string) (map[string]*yaml.Node, []entry) {
	es, ok := l.entries(n, path)
	if !ok {
		return nil, nil
	}
	known := childKeys(path)
	out := map[string]*yaml.Node{}
	var props []entry
	for _, e := range es {
		full := join(path, e.key)
		hint, unsupported := sparkOnly[e.key]
		unsupported = unsupported && path == "source.kafka"
		switch {
		case contains(known, e.key):
			out[e.key] = e.val
		case unsupported:
			l.errorf(e.keyNode.Line, full, "Spark option not supported by microbatch: %s", hint)
		case strings.HasPrefix(e.key, "kafka."):
			l.errorf(e.keyNode.Line, full, "librdkafka properties are written without Spark's kafka. prefix: %s", strings.TrimPrefix(e.key, "kafka."))
		case !strings.Contains(e.key, "."):
			if s, ok := textdist.Closest(e.key, known); ok {
				l.didYouMean(e, path, s)
				continue
			}
			props = append(props, e)
		default:
			// Dotted keys are librdkafka's, but a near miss of
			// bootstrap.servers is a typo (librdkafka would reject it
			// too, without saying what was meant).
			if s, ok := textdist.Closest(e.key, []string{"bootstrap.servers"}); ok {
				l.didYouMean(e, path, s)
				continue
			}
			props = append(props, e)
		}
	}
	return out, props
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// require reports key missing from mapping m (at path) on the line of
// the mapping's own key, and says whether it is present.
func (l *loader) require(m map[string]*yaml.Node, path, key string) bool {
	if m == nil {
		return false
	}
	if m[key] != nil {
		return true
	}
	if l.suggested[join(path, key)] {
		return false
	}
	line := max(l.keyLine[path], 1)
	l.errorf(line, join(path, key), "required key is missing")
	return false
}

// str returns scalar n's value after ${VAR} substitution and records its
// position.
func (l *loader) str(n *yaml.Node, path string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		l.errorf(n.Line, path, "expected a value, got %s", describe(n))
		return "", false
	}
	l.pos[path] = Position{n.Line, n.Column}
	if isNull(n) {
		return "", true
	}
	v, err := expandEnv(n.Value, l.env)
	if err != nil {
		l.errorf(n.Line, path, "%v", err)
		return "", false
	}
	return v, true
}

func (l *loader) nonEmpty(n *yaml.Node, path string) (string, bool) {
	v, ok := l.str(n, path)
	if ok && strings.TrimSpace(v) == "" {
		l.errorf(deref(n).Line, path, "must not be empty")
		return "", false
	}
	return v, ok
}

// enum accepts one of values, case-insensitively, and returns its
// canonical spelling.
func (l *loader) enum(n *yaml.Node, path string, values ...string) (string, bool) {
	v, ok := l.str(n, path)
	if !ok {
		return "", false
	}
	for _, c := range values {
		if strings.EqualFold(strings.TrimSpace(v), c) {
			return c, true
		}
	}
	l.errorf(deref(n).Line, path, "invalid value %q (want %s)", v, orList(values))
	return "", false
}

func orList(vs []string) string {
	if len(vs) == 1 {
		return vs[0]
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " or " + vs[len(vs)-1]
}

func (l *loader) boolean(n *yaml.Node, path string) (bool, bool) {
	v, ok := l.str(n, path)
	if !ok {
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	l.errorf(deref(n).Line, path, "expected true or false, got %q", v)
	return false, false
}

func (l *loader) integer(n *yaml.Node, path string, min int64) (int64, bool) {
	v, ok := l.str(n, path)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(v), "_", ""), 10, 64)
	if err != nil {
		l.errorf(deref(n).Line, path, "expected an integer, got %q", v)
		return 0, false
	}
	if i < min {
		l.errorf(deref(n).Line, path, "must be at least %d, got %d", min, i)
		return 0, false
	}
	return i, true
}

func (l *loader) duration(n *yaml.Node, path string) (time.Duration, bool) {
	v, ok := l.str(n, path)
	if !ok {
		return 0, false
	}
	d, err := parseDuration(v)
	if err != nil {
		l.errorf(deref(n).Line, path, "%v", err)
		return 0, false
	}
	return d, true
}

var sparkUnits = map[string]time.Duration{
	"ms": time.Millisecond, "millisecond": time.Millisecond, "milliseconds": time.Millisecond,
	"s": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hour": time.Hour, "hours": time.Hour,
}

// parseDuration accepts Go durations (500ms, 1m30s), Spark's interval form
// ("10 seconds", "1 minute") and 0.
func parseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		if num, unit, ok := strings.Cut(t, " "); ok {
			n, nerr := strconv.ParseInt(num, 10, 64)
			u, uok := sparkUnits[strings.ToLower(strings.TrimSpace(unit))]
			if nerr == nil && uok {
				d, err = time.Duration(n)*u, nil
			}
		}
	}
	if err != nil {
		return 0, fmt.Errorf(`invalid duration %q (want e.g. 500ms, 10s, 1m or "10 seconds")`, s)
	}
	if d < 0 {
		return 0, fmt.Errorf("must not be negative, got %s", s)
	}
	return d, nil
}

// checkTopicName applies Kafka's topic name rules.
func checkTopicName(t string) error {
	if t == "" {
		return errors.New("empty topic name in the list")
	}
	if t == "." || t == ".." || len(t) > 249 {
		return fmt.Errorf("invalid topic name %q", t)
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("invalid character %q in topic name %q (allowed: letters, digits, '.', '_', '-')", r, t)
		}
	}
	return nil
}

// parseAssign parses Spark's assign JSON, {"topicA":[0,1],"topicB":[2]}.
func parseAssign(s string) ([]offsets.TopicPartition, error) {
	const want = `want JSON like {"topic":[0,1]}`
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("invalid JSON at offset %d: %v (%s)", se.Offset, se, want)
		}
		return nil, fmt.Errorf("%s, got %s", want, strings.TrimSpace(s))
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("names no partitions (%s)", want)
	}
	var out []offsets.TopicPartition
	topics := make([]string, 0, len(m))
	for t := range m {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		if err := checkTopicName(t); err != nil {
			return nil, err
		}
		var ps []json.Number
		if err := json.Unmarshal(m[t], &ps); err != nil || len(ps) == 0 {
			return nil, fmt.Errorf("topic %q: want a non-empty list of partition numbers like [0,1], got %s", t, m[t])
		}
		seen := map[int64]bool{}
		for _, p := range ps {
			n, err := strconv.ParseInt(string(p), 10, 32)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("topic %q: partition %s is not an integer >= 0", t, p)
			}
			if seen[n] {
				return nil, fmt.Errorf("topic %q: partition %d is listed twice", t, n)
			}
			seen[n] = true
			out = append(out, offsets.TopicPartition{Topic: t, Partition: int32(n)})
		}
	}
	offsets.SortPartitions(out)
	return out, nil
}

// checkStartingOffsets validates a startingOffsets value with the offsets
// package's parser, the one the engine uses.
func checkStartingOffsets(s string) (offsets.StartingOffsets, error) {
	so, err := offsets.ParseStartingOffsets(s)
	var se *offsets.SpecError
	if errors.As(err, &se) {
		where := ""
		switch {
		case se.Topic != "" && se.Partition != "":
			where = fmt.Sprintf("topic %q, partition %q: ", se.Topic, se.Partition)
		case se.Topic != "":
			where = fmt.Sprintf("topic %q: ", se.Topic)
		}
		return so, fmt.Errorf("%s%s", where, se.Msg)
	}
	return so, err
}

// specificMismatch checks per-partition starting offsets against the
// subscription k, as far as that is possible without a broker: topics must
// be subscribed (or match the pattern); with assign, the partitions must be
// exactly the assigned ones (Spark's rule).
func specificMismatch(so offsets.StartingOffsets, k Kafka) []string {
	if so.Specific == nil {
		return nil
	}
	tps := make([]offsets.TopicPartition, 0, len(so.Specific))
	for tp := range so.Specific {
		tps = append(tps, tp)
	}
	offsets.SortPartitions(tps)
	var out []string
	reported := map[string]bool{}
	switch {
	case len(k.Subscribe) > 0:
		for _, tp := range tps {
			if !contains(k.Subscribe, tp.Topic) && !reported[tp.Topic] {
				reported[tp.Topic] = true
				out = append(out, fmt.Sprintf("topic %q is not in subscribe (%s)", tp.Topic, strings.Join(k.Subscribe, ", ")))
			}
		}
	case k.SubscribePattern != "":
		re, err := regexp.Compile(k.SubscribePattern)
		if err != nil {
			return nil // reported on subscribePattern
		}
		for _, tp := range tps {
			if !re.MatchString(tp.Topic) && !reported[tp.Topic] {
				reported[tp.Topic] = true
				out = append(out, fmt.Sprintf("topic %q does not match subscribePattern %q", tp.Topic, k.SubscribePattern))
			}
		}
	case len(k.Assign) > 0:
		assigned := map[offsets.TopicPartition]bool{}
		for _, tp := range k.Assign {
			assigned[tp] = true
			if _, ok := so.Specific[tp]; !ok {
				out = append(out, fmt.Sprintf("assigned partition %s has no starting offset (with per-partition offsets, every assigned partition needs one, as in Spark)", tp))
			}
		}
		for _, tp := range tps {
			if !assigned[tp] {
				out = append(out, fmt.Sprintf("partition %s is not in assign", tp))
			}
		}
	}
	return out
}

// number reads a finite number >= min.
func (l *loader) number(n *yaml.Node, path string, min float64) (float64, bool) {
	s, ok := l.str(n, path)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	switch {
	case err != nil || math.IsNaN(v) || math.IsInf(v, 0):
		l.errorf(deref(n).Line, path, "expected a number, got %q", s)
		return 0, false
	case v < min:
		l.errorf(deref(n).Line, path, "must be >= %g, got %s", min, s)
		return 0, false
	}
	return v, true
}
