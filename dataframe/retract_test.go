package dataframe

import "testing"

func retracted(t *testing.T, st *State) [][]any {
	t.Helper()
	rec, err := st.Retracted()
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if !rec.Schema().Equal(st.KeySchema()) {
		t.Fatalf("schema %v, KeySchema %v", rec.Schema(), st.KeySchema())
	}
	return rows(t, rec)
}

// TestRetractHaving follows HAVING count(*) < 3 as counts grow, over
// batches that ask for Result and Retracted in either order, or for
// neither, with removals, a removed group coming back, and a restored
// state: a group is retracted exactly when its row was emitted and no
// longer is.
func TestRetractHaving(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "k STRING")
	df := Source("t", s).GroupBy(Col("k")).Agg(Count().As("n")).
		Filter(Col("n").Lt(Lit(3))).Select(Col("n"), Col("k").As("key"))
	p := must(Compile(df, Update))
	st := p.NewState(mem)
	if got := st.KeySchema().String(); got != "schema:\n  fields: 1\n    - key: type=utf8, nullable" {
		t.Fatalf("KeySchema %s", got)
	}
	stored := map[string][]byte{}
	batch := func(st *State, ks ...string) {
		t.Helper()
		var vals []string
		for _, k := range ks {
			vals = append(vals, `{"k":"`+k+`"}`)
		}
		release(runTasks(t, mem, p, s, FormatJSON, vals, 1, 10, st))
	}
	type step struct {
		add, remove   []string
		upd, retract  [][]any
		retractFirst  bool // Retracted before Result
		neither       bool // no Result, no Retracted
		deletes, puts int
	}
	steps := []step{
		{add: []string{"a", "b", "b"}, upd: [][]any{{int64(1), "a"}, {int64(2), "b"}}, puts: 2},
		// b reaches 3: retracted; c arrives.
		{add: []string{"a", "b", "c"}, upd: [][]any{{int64(2), "a"}, {int64(1), "c"}}, retract: [][]any{{"b"}}, puts: 3},
		// b was retracted: not again.
		{add: []string{"b"}, puts: 1, retractFirst: true},
		// a reaches 3, c 2: Retracted computes HAVING itself.
		{add: []string{"a", "c"}, upd: [][]any{{int64(2), "c"}}, retract: [][]any{{"a"}}, retractFirst: true, puts: 2},
		// Neither asked: ResetChanged still learns that c is gone (3).
		{add: []string{"c"}, neither: true, puts: 1},
		{add: []string{"c", "d"}, upd: [][]any{{int64(1), "d"}}, puts: 2},
		// Removed: d (emitted) is retracted, b (not emitted) is not.
		{remove: []string{"d", "b"}, retract: [][]any{{"d"}}, deletes: 2},
		// d comes back as a new group: an upsert.
		{add: []string{"d"}, upd: [][]any{{int64(1), "d"}}, puts: 1},
		// d removed and back in the batch with 3 rows: retracted, and an
		// upsert for the checkpoint.
		{remove: []string{"d"}, add: []string{"d", "d", "d"}, retract: [][]any{{"d"}}, puts: 1},
		// e removed in the batch it arrives: never emitted, not retracted.
		{add: []string{"e"}, remove: []string{"e"}, deletes: 1},
	}
	for i, sp := range steps {
		if sp.remove != nil && sp.add != nil && sp.add[0] == "e" {
			batch(st, sp.add...)
			st.removeGroups(stringKeys(sp.remove...))
		} else {
			st.removeGroups(stringKeys(sp.remove...))
			if sp.add != nil {
				batch(st, sp.add...)
			}
		}
		if !sp.neither {
			if sp.retractFirst {
				equalRows(t, retracted(t, st), sp.retract)
			}
			equalRows(t, result(t, st, true), sp.upd)
			equalRows(t, retracted(t, st), sp.retract)
		}
		puts, dels := 0, 0
		for _, c := range collectChanges(t, st, stored) {
			if c.deleted {
				dels++
			} else {
				puts++
			}
		}
		if puts != sp.puts || dels != sp.deletes {
			t.Fatalf("step %d: %d puts, %d deletes; want %d, %d", i, puts, dels, sp.puts, sp.deletes)
		}
		st.ResetChanged()
		equalRows(t, retracted(t, st), nil)
	}

	// f's row is emitted. Restored, a group's row counts as emitted if
	// its HAVING holds (f), not otherwise (a, c, d).
	batch(st, "f")
	equalRows(t, result(t, st, true), [][]any{{int64(1), "f"}})
	collectChanges(t, st, stored)
	st.ResetChanged()
	restored := p.NewState(mem)
	for k, v := range stored {
		if err := restored.Restore([]byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range []*State{st, restored} {
		batch(st, "f", "f", "a", "c", "d")
		equalRows(t, result(t, st, true), nil)
		equalRows(t, retracted(t, st), [][]any{{"f"}})
		st.ResetChanged()
	}
}

// TestRetractKeyColumns checks the key columns: the output columns that
// are GROUP BY columns, in output order, then the GROUP BY expressions
// not in the output (named by their text); and none for a global
// aggregate.
func TestRetractKeyColumns(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "k STRING, i INT, b BOOLEAN")
	df := Source("t", s).GroupBy(Col("k"), Col("i").Add(Lit(1)), Col("b")).Agg(Count().As("n")).
		Filter(Col("n").Lt(Lit(2))).Select(Col("n"), Col("b").As("flag"), Col("k"))
	p := must(Compile(df, Update))
	st := p.NewState(mem)
	var names []string
	for _, f := range st.KeySchema().Fields() {
		names = append(names, f.Name+" "+f.Type.String())
	}
	if want := []string{"flag bool", "k utf8", "(i + 1) int32"}; !equalStrings(names, want) {
		t.Fatalf("key columns %v, want %v", names, want)
	}
	vals := []string{`{"k":"x","i":1,"b":true}`, `{"k":"y","i":null,"b":false}`, `{"k":"x","i":1,"b":true}`}
	release(runTasks(t, mem, p, s, FormatJSON, vals[:2], 1, 10, st))
	equalRows(t, result(t, st, true), [][]any{{int64(1), true, "x"}, {int64(1), false, "y"}})
	st.ResetChanged()
	release(runTasks(t, mem, p, s, FormatJSON, vals[2:], 1, 10, st))
	equalRows(t, retracted(t, st), [][]any{{true, "x", int32(2)}})
	st.ResetChanged()
	st.removeGroups(keysOf(st))
	equalRows(t, retracted(t, st), [][]any{{false, "y", nil}})
	st.ResetChanged()

	// A global aggregate: one row of no columns.
	g := must(Compile(Source("t", s).Select(Count().As("n")).Filter(Col("n").Lt(Lit(2))), Update))
	gs := g.NewState(mem)
	if len(gs.KeySchema().Fields()) != 0 {
		t.Fatalf("global key schema %v", gs.KeySchema())
	}
	release(runTasks(t, mem, g, s, FormatJSON, vals[:1], 1, 10, gs))
	gs.ResetChanged()
	release(runTasks(t, mem, g, s, FormatJSON, vals[:1], 1, 10, gs))
	rec, err := gs.Retracted()
	if err != nil || rec.NumRows() != 1 || rec.NumCols() != 0 {
		t.Fatalf("global retraction: %v, %v", rec, err)
	}
	rec.Release()

	// Complete mode retracts nothing.
	c := must(Compile(df, Complete))
	cs := c.NewState(mem)
	release(runTasks(t, mem, c, s, FormatJSON, vals, 1, 10, cs))
	if r := retracted(t, cs); len(r) != 0 {
		t.Fatalf("complete mode retracted %v", r)
	}
}

// keysOf returns the keys of st's groups.
func keysOf(st *State) [][]byte {
	var keys [][]byte
	for id := range int32(st.ht.ids()) {
		if !st.ht.removed(id) {
			keys = append(keys, st.ht.keyBytes(id))
		}
	}
	return keys
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
