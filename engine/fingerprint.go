package engine

import (
	"fmt"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// fingerprint is what the checkpoint records of the query: the state's
// shape, taken from the compiled program (so SQL and DataFrame queries, and
// any spelling of one, are alike), and the texts that may change between
// runs (see checkpoint.Fingerprint for what is compared).
func (q *Query) fingerprint() checkpoint.Fingerprint {
	return checkpoint.Fingerprint{
		Stateful:   q.prog.Stateful(),
		GroupKeys:  q.prog.GroupKeys(),
		Aggregates: q.prog.Aggregates(),
		Schema:     q.cfg.Schema.String(),
		Query:      q.cfg.Query.String(),
		Source:     q.cfg.Source.describe(),
		Format:     q.cfg.Format.String(),
		OutputMode: q.mode.String(),
	}
}

// upgradeFingerprint derives the state's shape of a fingerprint stored by a
// release that kept only texts. Its Query is the DataFrame plan text (SQL
// queries included: they are compiled to a DataFrame first), which
// dataframe.ParsePlan reads back. That release did not record the output
// mode: the running query's is assumed.
func (q *Query) upgradeFingerprint(old checkpoint.Fingerprint) (checkpoint.Fingerprint, error) {
	df, err := dataframe.ParsePlan(old.Query)
	if err != nil {
		return old, err
	}
	if s := df.SourceSchema(); s.String() != old.Schema {
		return old, fmt.Errorf("the stored plan reads [%s], not the stored schema [%s]", s, old.Schema)
	}
	mode := dataframe.Append
	if df.Aggregates() {
		mode = dataframe.Complete
	}
	p, err := dataframe.Compile(df, mode)
	if err != nil {
		return old, err
	}
	old.Stateful, old.GroupKeys, old.Aggregates = p.Stateful(), p.GroupKeys(), p.Aggregates()
	if old.OutputMode == "" {
		old.OutputMode = q.mode.String()
	}
	return old, nil
}

// checkFingerprint checks the query against the checkpoint's fingerprint
// and logs the allowed changes since the last run, each with its old and
// new value, as warnings: the output from now on differs from what the
// same checkpoint produced before.
func (q *Query) checkFingerprint(ckpt *checkpoint.Checkpoint) (changed bool, err error) {
	changes, err := ckpt.CheckFingerprint(q.fp, q.upgradeFingerprint)
	if err != nil {
		return false, err
	}
	what := "the checkpoint's offsets are kept"
	if q.prog.Stateful() {
		what = "the checkpoint's offsets and state are kept"
	}
	for _, c := range changes {
		q.logger.Warn("query changed since the checkpoint's last run; "+what, "query", q.cfg.Name, "field", c.Field, "old", c.Old, "new", c.New)
	}
	return len(changes) > 0, nil
}
