package engine

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// tablesExtra is the Meta.Extra name of the content hashes of the static
// tables a batch was planned with: {"products":"<sha256>"}.
const tablesExtra = "staticTables"

// StaticTableProgress is a joined static table as a batch used it.
type StaticTableProgress struct {
	Name string
	Path string
	Rows int64
	// MemoryBytes is the table's Arrow buffers and its join index.
	MemoryBytes int64
	// Hash is the sha256 of the file content the batch joined with.
	Hash string
}

// reloadTables reloads, between batches, each static table whose
// refreshInterval has passed and whose file changed. A file that cannot
// be read or loaded leaves the table as it was, with a warning.
func (d *driver) reloadTables() {
	for _, t := range d.q.prog.Tables() {
		changed, err := t.Reload(false)
		switch {
		case err != nil:
			d.q.logger.Warn("static table not reloaded; the query keeps its current content", "query", d.q.cfg.Name, "table", t.Name(), "err", err)
		case changed:
			info := t.Info()
			d.q.logger.Info("static table reloaded", "query", d.q.cfg.Name, "table", t.Name(), "path", info.Path, "rows", info.Rows, "hash", info.Hash)
			d.q.warnMalformed(info)
		}
	}
}

// warnMalformed logs a table's malformed lines, if any: PERMISSIVE keeps
// each as a row of NULLs (its key too, so it joins nothing),
// DROPMALFORMED drops it; FAILFAST refused the file.
func (q *Query) warnMalformed(info dataframe.TableInfo) {
	if info.Malformed == 0 {
		return
	}
	q.logger.Warn("static table has malformed lines, each kept as a row of NULLs (PERMISSIVE; its key too, so it joins nothing) or dropped (DROPMALFORMED)",
		"query", q.cfg.Name, "table", info.Name, "malformed", info.Malformed, "first", info.FirstMalformed)
}

// withTableHashes records the current content hashes of the static tables
// in m.
func (d *driver) withTableHashes(m checkpoint.Meta) checkpoint.Meta {
	tables := d.q.prog.Tables()
	if len(tables) == 0 {
		return m
	}
	hashes := map[string]string{}
	for _, t := range tables {
		hashes[t.Name()] = t.Hash()
	}
	raw, _ := json.Marshal(hashes) // a map of strings always marshals
	m.Extra = maps.Clone(m.Extra)
	if m.Extra == nil {
		m.Extra = map[string]json.RawMessage{}
	}
	m.Extra[tablesExtra] = raw
	return m
}

// pinTables pins the static tables for batch plan and checks them against
// the hashes its plan recorded: a batch re-run after a restart whose table
// changed since is refused unless the table's OnChange is UseCurrent.
func (d *driver) pinTables(plan checkpoint.BatchPlan) (*dataframe.TablePin, error) {
	pin := d.q.prog.PinTables()
	raw, ok := plan.Meta.Extra[tablesExtra]
	if !ok {
		return pin, nil
	}
	var recorded map[string]string
	if err := json.Unmarshal(raw, &recorded); err != nil {
		pin.Release()
		return nil, fmt.Errorf("batch %d: the static table hashes in its plan: %w", plan.ID, err)
	}
	now := pin.Hashes()
	for _, t := range d.q.prog.Tables() {
		was, ok := recorded[t.Name()]
		if !ok || was == now[t.Name()] {
			continue
		}
		if t.Options().OnChange == dataframe.OnChangeUseCurrent {
			d.q.logger.Warn("re-running a batch with a static table that changed since it was planned (onChange: useCurrent)",
				"query", d.q.cfg.Name, "batch", plan.ID, "table", t.Name(), "path", t.Options().Path)
			continue
		}
		pin.Release()
		return nil, fmt.Errorf("batch %d: %w: table %q (%s) had content sha256 %.12s when the batch was planned and has %.12s now; restore the file, or set tables.%s.onChange: useCurrent to re-run the batch with the current content",
			plan.ID, dataframe.ErrTableChanged, t.Name(), t.Options().Path, was, now[t.Name()], t.Name())
	}
	return pin, nil
}

// tableProgress describes the tables of pin for a batch's progress.
func (d *driver) tableProgress() []StaticTableProgress {
	var out []StaticTableProgress
	for _, t := range d.q.prog.Tables() {
		info := t.Info()
		out = append(out, StaticTableProgress{Name: info.Name, Path: info.Path, Rows: info.Rows, MemoryBytes: info.MemoryBytes, Hash: info.Hash})
	}
	return out
}
