package jobfile_test

import (
	"testing"

	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/jobfile"
)

func TestDeadLetter(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want *jobfile.DeadLetter
		eng  engine.DeadLetter
	}{
		{"", nil, engine.DeadLetter{}},
		{"  deadLetter: {topic: clicks-dlq}\n", &jobfile.DeadLetter{Topic: "clicks-dlq", MaxRatio: 1}, engine.DeadLetter{Topic: "clicks-dlq", MaxRatio: 1}},
		{"  deadLetter:\n    topic: dlq\n    maxRatio: 0.25\n", &jobfile.DeadLetter{Topic: "dlq", MaxRatio: 0.25}, engine.DeadLetter{Topic: "dlq", MaxRatio: 0.25}},
		{"  deadLetter: {topic: dlq, maxRatio: 0}\n", &jobfile.DeadLetter{Topic: "dlq"}, engine.DeadLetter{Topic: "dlq", MaxRatio: engine.Off}},
		{"  deadLetter: {topic: dlq, progressTopic: dlq-progress}\n", &jobfile.DeadLetter{Topic: "dlq", ProgressTopic: "dlq-progress", MaxRatio: 1}, engine.DeadLetter{Topic: "dlq", MaxRatio: 1}},
	} {
		j, err := parse(t, replace(t, minimal, "  format: json\n", "  format: json\n"+c.yaml))
		if err != nil {
			t.Fatalf("%q: %v", c.yaml, err)
		}
		got := j.Source.DeadLetter
		if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
			t.Errorf("%q: %+v, want %+v", c.yaml, got, c.want)
		}
		if e := got.Engine(); e != c.eng {
			t.Errorf("%q: Engine() %+v, want %+v", c.yaml, e, c.eng)
		}
	}
}

func TestDeadLetterErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"  deadLetter: {maxRatio: 0.5}\n", "job.yaml:6: source.deadLetter.topic: required key is missing"},
		{"  deadLetter: {topic: ''}\n", "job.yaml:6: source.deadLetter.topic: must not be empty"},
		{"  deadLetter: {topic: d, maxRatio: 1.5}\n", "job.yaml:6: source.deadLetter.maxRatio: must be from 0 to 1 (a share of the batch's records), got 1.5"},
		{"  deadLetter: {topic: d, maxRatio: half}\n", `job.yaml:6: source.deadLetter.maxRatio: expected a number from 0 to 1, got "half"`},
		{"  deadLetter: {topic: d, maxRatio: .nan}\n", `job.yaml:6: source.deadLetter.maxRatio: expected a number from 0 to 1, got ".nan"`},
		{"  deadLetter: {topic: d, progressTopic: ''}\n", "job.yaml:6: source.deadLetter.progressTopic: must not be empty"},
		{"  deadLetter: {topic: d, progressTopic: 'a b'}\n", "job.yaml:6: source.deadLetter.progressTopic: invalid character ' ' in topic name \"a b\" (allowed: letters, digits, '.', '_', '-')"},
		{"  deadLetter: {topic: d, maxratio: 1}\n", "job.yaml:6: source.deadLetter.maxratio: unknown key, did you mean maxRatio?"},
		{"  mode: FAILFAST\n  deadLetter: {topic: d}\n", "job.yaml:7: source.deadLetter: mode FAILFAST stops at the first malformed record: dead letters need source.mode PERMISSIVE or DROPMALFORMED"},
	} {
		_, err := parse(t, replace(t, minimal, "  format: json\n", "  format: json\n"+c.yaml))
		if err == nil || err.Error() != c.want {
			t.Errorf("%q: %v\nwant %s", c.yaml, err, c.want)
		}
	}
}
