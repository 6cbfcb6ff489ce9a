package dataframe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

const cacheDDL = "k STRING, i INT, b BIGINT, d DOUBLE, f BOOLEAN, t TIMESTAMP, s STRING"

// cacheQueries cover the result cache's column types (NULLs included), its
// bulk copy (plain columns, LIMIT without ORDER BY) and its evaluator view
// (HAVING, ORDER BY, expressions).
func cacheQueries(s *Schema) map[string]*DataFrame {
	src := func() *DataFrame { return Source("t", s) }
	return map[string]*DataFrame{
		"plain": src().GroupBy(Col("k"), Col("f")).Agg(Count().As("n"), CountOf(Col("b")).As("nb"), CountDistinct(Col("i")).As("di"),
			Sum(Col("b")).As("sb"), Sum(Col("i")).As("si"), Sum(Col("d")).As("sd"), Avg(Col("d")).As("ad"), Avg(Col("i")).As("ai"),
			Min(Col("s")).As("mins"), Max(Col("s")).As("maxs"), Max(Col("t")).As("maxt"), Min(Col("f")).As("minf"), Max(Col("d")).As("maxd"), Min(Col("i")).As("mini")),
		"having-order-limit": src().GroupBy(Col("k")).Agg(Count().As("n"), Max(Col("s")).As("ms"), Sum(Col("d")).As("sd")).
			Filter(Col("n").Gt(Lit(1))).OrderBy(Col("ms").Desc(), Col("k").Asc()).Limit(7),
		"limit":  src().GroupBy(Col("k")).Agg(Min(Col("s")).As("m")).Limit(5),
		"expr":   src().GroupBy(Col("i"), Col("k")).Agg(Sum(Col("b")).As("sb"), Count().As("n")).Select(Col("k"), Col("sb").Add(Col("n")).As("x"), Col("i")),
		"keys":   src().GroupBy(Col("t"), Col("d"), Col("b"), Col("f"), Lit(nil).As("z")).Agg(Count().As("n"), Max(Col("k")).As("mk")),
		"global": src().Select(Count().As("n"), Max(Col("s")).As("ms"), Sum(Col("b")).As("sb")),
	}
}

// cacheRows returns n JSON rows of cacheDDL over keyRange keys (so later
// batches bring new keys, which sort between the old ones), with NULLs and
// a key holding a zero byte.
func cacheRows(r *rand.Rand, n, keyRange int) []string {
	out := make([]string, n)
	for j := range out {
		var fs []string
		field := func(name, v string) {
			if r.IntN(6) > 0 {
				fs = append(fs, fmt.Sprintf("%q:%s", name, v))
			}
		}
		k := fmt.Sprint(r.IntN(keyRange))
		if r.IntN(40) == 0 {
			k = `z\u0000` + k
		}
		field("k", `"`+k+`"`)
		field("i", fmt.Sprint(r.IntN(9)-4))
		field("b", fmt.Sprint(r.IntN(1000)-500))
		field("d", fmt.Sprint(float64(r.IntN(40)-20)/4)) // sums exact in any order
		field("f", fmt.Sprint(r.IntN(2) == 0))
		field("t", fmt.Sprint(1700000000000+r.IntN(5)*1000))
		field("s", fmt.Sprintf(`"s%d"`, r.IntN(30)))
		out[j] = "{" + strings.Join(fs, ",") + "}"
	}
	return out
}

// TestResultCacheAcrossBatches drives states batch after batch (new groups
// sorting between cached ones, cached groups changing in later batches,
// batches whose complete result is never asked for, update-mode use in
// between) and checks every complete result against a state built from
// scratch on all the input so far.
func TestResultCacheAcrossBatches(t *testing.T) {
	eachCacheQuery(t, 11, func(t *testing.T, s *Schema, p *Program, st *State, r *rand.Rand) {
		mem := st.mem
		var all []string
		for batch := 1; batch <= 10; batch++ {
			vals := cacheRows(r, 40, 8*batch)
			all = append(all, vals...)
			release(runTasks(t, mem, p, s, FormatJSON, vals, 2, 16, st))
			switch batch % 3 {
			case 0: // update-mode use only: the changes must still reach the cache
				result(t, st, true)
			case 1:
				checkUpdate(t, st, p, s, all)
			}
			if batch%3 != 0 {
				fresh := p.NewState(mem)
				release(runTasks(t, mem, p, s, FormatJSON, all, 1, 1000, fresh))
				equalRows(t, result(t, st, false), result(t, fresh, false))
			}
			if err := st.Changes(nil, func(_ uint16, k, v []byte, _ bool) error { return nil }); err != nil {
				t.Fatal(err)
			}
			st.ResetChanged()
		}
	})
}

// eachCacheQuery runs test, in a subtest, on a fresh complete-mode State
// of each of cacheQueries, with a random source seeded by seed.
func eachCacheQuery(t *testing.T, seed uint64, test func(t *testing.T, s *Schema, p *Program, st *State, r *rand.Rand)) {
	s := mustSchema(t, cacheDDL)
	for name, df := range cacheQueries(s) {
		t.Run(name, func(t *testing.T) {
			p := must(Compile(df, Complete))
			test(t, s, p, p.NewState(newMem(t)), rand.New(rand.NewPCG(seed, seed+1)))
		})
	}
}

// checkUpdate checks that the update-mode result of st holds the changed
// groups' rows of the complete result, in the same order.
func checkUpdate(t *testing.T, st *State, p *Program, s *Schema, all []string) {
	t.Helper()
	if len(p.orders) > 0 || len(p.having) > 0 || p.limit >= 0 {
		return
	}
	fresh := p.NewState(newMem(t))
	release(runTasks(t, fresh.mem, p, s, FormatJSON, all, 1, 1000, fresh))
	full := result(t, fresh, false)
	upd := result(t, st, true)
	if len(upd) != st.Changed() {
		t.Fatalf("update result has %d rows, %d groups changed", len(upd), st.Changed())
	}
	i := 0
	for _, row := range upd {
		for i < len(full) && fmt.Sprint(full[i]) != fmt.Sprint(row) {
			i++
		}
		if i == len(full) {
			t.Fatalf("update row %v is not in the complete result (or out of order)%s", row, fmtRows(full))
		}
	}
}

// TestResultCacheRestore restores checkpoint bytes into states whose
// result is already cached: the restored values must show, including a
// group reset by a failed Restore.
func TestResultCacheRestore(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, cacheDDL)
	p := must(Compile(cacheQueries(s)["plain"], Complete))
	r := rand.New(rand.NewPCG(13, 14))
	early := cacheRows(r, 60, 10)
	all := append(early, cacheRows(r, 200, 40)...)
	full := p.NewState(mem)
	release(runTasks(t, mem, p, s, FormatJSON, all, 3, 50, full))
	var keys, vals [][]byte
	if err := full.Changes(nil, func(_ uint16, k, v []byte, _ bool) error {
		keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := result(t, full, false)

	// A state that cached a result of the early rows, then restores every
	// group (replacing the early groups' values, adding the rest).
	st := p.NewState(mem)
	release(runTasks(t, mem, p, s, FormatJSON, early, 1, 50, st))
	result(t, st, false)
	for i := len(keys) - 1; i >= 0; i-- {
		if err := st.Restore(keys[i], vals[i]); err != nil {
			t.Fatal(err)
		}
	}
	equalRows(t, result(t, st, false), want)

	// A failed Restore of a cached group resets it; so does it in a state
	// restored from scratch, without a cache.
	bad := []byte{stateVersion, byte(len(p.agg.calls))} // fails after the reset
	if err := st.Restore(keys[3], bad); err == nil {
		t.Fatal("bad value restored")
	}
	scratch := p.NewState(mem)
	for i := range keys {
		if err := scratch.Restore(keys[i], vals[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := scratch.Restore(keys[3], bad); err == nil {
		t.Fatal("bad value restored")
	}
	got := result(t, st, false)
	equalRows(t, got, result(t, scratch, false))
	if fmt.Sprint(got[3]) == fmt.Sprint(want[3]) {
		t.Errorf("group 3 not reset: %v", got[3])
	}

	// Batches after the restore change cached groups and add new ones.
	more := cacheRows(r, 80, 60)
	release(runTasks(t, mem, p, s, FormatJSON, more, 2, 30, st))
	release(runTasks(t, mem, p, s, FormatJSON, more, 2, 30, scratch))
	equalRows(t, result(t, st, false), result(t, scratch, false))
}

// TestChangesOrder checks that Changes gives the changed groups in key
// order whichever way inKeyOrder takes: sorting keys (many groups restored,
// few changed), reading the cached order by bitmap or by sorting rows.
func TestChangesOrder(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "k STRING")
	p := must(Compile(Source("t", s).GroupBy(Col("k")).Agg(Count().As("n")), Update))
	st := p.NewState(mem)
	key := func(i int) []byte { return appendKeyString([]byte{byte(String)}, fmt.Sprint(i)) }
	one := []byte{stateVersion, 1, 1}
	for i := 0; i < 3000; i++ {
		if err := st.Restore(key(i*7919%3000), one); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(15, 16))
	for _, changed := range []int{5, 5, 3000, 2, 200, 1} {
		var vals []string
		for j := 0; j < changed; j++ {
			vals = append(vals, fmt.Sprintf(`{"k":"%d"}`, r.IntN(3200)))
		}
		release(runTasks(t, mem, p, s, FormatJSON, vals, 1, 100, st))
		var prev []byte
		n := 0
		if err := st.Changes(nil, func(_ uint16, k, v []byte, _ bool) error {
			if prev != nil && string(prev) >= string(k) {
				t.Fatalf("key %q after %q", k, prev)
			}
			prev = k
			n++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n != st.Changed() {
			t.Fatalf("Changes gave %d, Changed %d", n, st.Changed())
		}
		upd := result(t, st, true)
		for i := 1; i < len(upd); i++ {
			if upd[i-1][0].(string) >= upd[i][0].(string) {
				t.Fatalf("update rows out of order: %v, %v", upd[i-1], upd[i])
			}
		}
		st.ResetChanged()
	}
}

// TestResultCacheNewNull makes a cached group's aggregate NULL in a column
// that had none (Restore can, a Merge cannot).
func TestResultCacheNewNull(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "k STRING, b BIGINT")
	p := must(Compile(Source("t", s).GroupBy(Col("k")).Agg(Sum(Col("b")).As("sb"), Max(Col("k")).As("mk")), Complete))
	st := p.NewState(mem)
	release(runTasks(t, mem, p, s, FormatJSON, []string{`{"k":"a","b":1}`, `{"k":"b","b":2}`, `{"k":"c","b":3}`}, 1, 10, st))
	equalRows(t, result(t, st, false), [][]any{{"a", int64(1), "a"}, {"b", int64(2), "b"}, {"c", int64(3), "c"}})
	key := appendKeyString([]byte{byte(String)}, "b")
	if err := st.Restore(key, []byte{stateVersion, 2, 0, 0, 0}); err != nil { // sum of no value, no max
		t.Fatal(err)
	}
	equalRows(t, result(t, st, false), [][]any{{"a", int64(1), "a"}, {"b", nil, nil}, {"c", int64(3), "c"}})
}

// TestResultCacheAbbreviations merges batches whose keys share long
// prefixes, then shorter ones (the abbreviations of the cached rows are
// recomputed), ties of abbreviations (keys equal in their 8 bytes after
// the prefix) and a NULL key, checking each complete and update result
// against a state built from scratch.
func TestResultCacheAbbreviations(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "k STRING")
	p := must(Compile(Source("t", s).GroupBy(Col("k")).Agg(Count().As("n")), Complete))
	st := p.NewState(mem)
	var all []string
	batches := [][]string{
		{"/products/abc/12", "/products/abc/7"},
		{"/products/abc/123456789", "/products/abc/12345678", "/products/abc/123456780", "/products/abc/1"},
		{"/products/abd", "/products/abc/123456781x", "/products/abc/12"},
		{"/p", "/products/abc/123456789", "/q/1", "/"},
		{"", "/products/abc/123456782"},
		{"NULL", "\x00", "/products/abc/1234567\x00"},
	}
	for _, keys := range batches {
		var vals []string
		for _, k := range keys {
			if k == "NULL" {
				vals = append(vals, `{}`)
			} else {
				b, _ := json.Marshal(map[string]string{"k": k})
				vals = append(vals, string(b))
			}
		}
		all = append(all, vals...)
		release(runTasks(t, mem, p, s, FormatJSON, vals, 2, 2, st))
		checkUpdate(t, st, p, s, all)
		fresh := p.NewState(mem)
		release(runTasks(t, mem, p, s, FormatJSON, all, 1, 1000, fresh))
		equalRows(t, result(t, st, false), result(t, fresh, false))
		st.ResetChanged()
	}
}

// TestSortAbbrKeys checks the radix sort against a sort of the keys, with
// keys longer than their abbreviation (ties) and bytes that every
// abbreviation shares (skipped passes).
func TestSortAbbrKeys(t *testing.T) {
	g := newGroupTable(&aggSpec{})
	r := rand.New(rand.NewPCG(17, 18))
	for range 5000 {
		g.group(fmt.Appendf(nil, "k%d/%x", r.IntN(300), r.Uint32()))
	}
	for _, n := range []int{0, 1, 255, 256, 5000} {
		ks := make([]abbrKey, n)
		for i := range ks {
			id := int32(i)
			ks[i] = abbrKey{abbrev(g.key(id), 1), id}
		}
		sortAbbrKeys(ks, &g.keyIndex)
		for i := 1; i < len(ks); i++ {
			if g.key(ks[i-1].id) >= g.key(ks[i].id) {
				t.Fatalf("n=%d: %q before %q", n, g.key(ks[i-1].id), g.key(ks[i].id))
			}
		}
	}
}

// TestResultSharesTable holds complete and update results across later
// batches (new groups, changed groups, batches with no new group, a
// Restore that makes an aggregate NULL) and checks that each held
// result still reads as it did when it was made: the table columns the
// results share are copied, not written to, while any result holds them.
// A result released at once lets the next batch write in place.
func TestResultSharesTable(t *testing.T) {
	eachCacheQuery(t, 19, func(t *testing.T, s *Schema, p *Program, st *State, r *rand.Rand) {
		mem := st.mem
		type held struct {
			rec  arrow.Record
			want string
		}
		var hold []held
		keep := func(onlyChanged bool) {
			rec, err := st.Result(onlyChanged)
			if err != nil {
				t.Fatal(err)
			}
			hold = append(hold, held{rec, fmt.Sprint(rows(t, rec))})
		}
		for batch := 1; batch <= 12; batch++ {
			keyRange := 8 * batch
			if batch%4 == 0 {
				keyRange = 8 // no new group, likely
			}
			release(runTasks(t, mem, p, s, FormatJSON, cacheRows(r, 40, keyRange), 2, 16, st))
			switch batch % 3 {
			case 0:
				result(t, st, false) // released at once
			case 1:
				keep(false)
				keep(true)
			case 2:
				keep(false)
			}
			if batch == 6 && len(p.agg.groups) > 0 {
				var key []byte
				if err := st.Changes(nil, func(_ uint16, k, v []byte, _ bool) error { key = bytes.Clone(k); return nil }); err != nil {
					t.Fatal(err)
				}
				bad := []byte{stateVersion, byte(len(p.agg.calls))} // resets the group, then fails
				if err := st.Restore(key, bad); err == nil {
					t.Fatal("bad value restored")
				}
			}
			st.ResetChanged()
			for i, h := range hold {
				if got := fmt.Sprint(rows(t, h.rec)); got != h.want {
					t.Fatalf("batch %d: held result %d changed:\n%s\nwas\n%s", batch, i, got, h.want)
				}
			}
			if batch%5 == 0 { // release the oldest: their columns may be reused
				for _, h := range hold[:len(hold)/2] {
					h.rec.Release()
				}
				hold = hold[len(hold)/2:]
			}
		}
		for _, h := range hold {
			h.rec.Release()
		}
	})
}

// TestChangesDuringResult runs Changes while Result builds the complete
// or the update-mode result, as the engine does (run it with -race): the
// changes must be those Changes gives alone, and the results those of a
// state built from scratch.
func TestChangesDuringResult(t *testing.T) {
	eachCacheQuery(t, 17, func(t *testing.T, s *Schema, p *Program, st *State, r *rand.Rand) {
		mem := st.mem
		var all []string
		changes := func() string {
			var b strings.Builder
			if err := st.Changes(nil, func(_ uint16, k, v []byte, _ bool) error {
				fmt.Fprintf(&b, "%x=%x\n", k, v)
				return nil
			}); err != nil {
				t.Error(err)
			}
			return b.String()
		}
		for batch := 1; batch <= 6; batch++ {
			vals := cacheRows(r, 40, 8*batch)
			all = append(all, vals...)
			release(runTasks(t, mem, p, s, FormatJSON, vals, 2, 16, st))
			done := make(chan string)
			go func() { done <- changes() }()
			got := result(t, st, batch%2 == 0)
			if during, alone := <-done, changes(); during != alone {
				t.Fatalf("batch %d: Changes during Result gave\n%s\nalone\n%s", batch, during, alone)
			}
			if batch%2 != 0 {
				fresh := p.NewState(mem)
				release(runTasks(t, mem, p, s, FormatJSON, all, 1, 1000, fresh))
				equalRows(t, got, result(t, fresh, false))
			}
			st.ResetChanged()
		}
	})
}

// TestResultCacheParallelRebuild adds more new groups per batch than
// parallelRebuild, so that the key and aggregate columns are rebuilt on two
// goroutines (run it with -race), while Changes runs as in the engine, and
// checks every complete result against a state built from scratch.
func TestResultCacheParallelRebuild(t *testing.T) {
	s := mustSchema(t, cacheDDL)
	df := Source("t", s).GroupBy(Col("k"), Col("i")).Agg(Count().As("n"), Sum(Col("b")).As("sb"), Max(Col("s")).As("ms"), Avg(Col("d")).As("ad"))
	p := must(Compile(df, Complete))
	mem := newMem(t)
	st := p.NewState(mem)
	r := rand.New(rand.NewPCG(23, 24))
	var all []string
	for batch := 1; batch <= 3; batch++ {
		vals := cacheRows(r, 3*parallelRebuild, 4*parallelRebuild*batch)
		all = append(all, vals...)
		release(runTasks(t, mem, p, s, FormatJSON, vals, 2, 512, st))
		done := make(chan error)
		go func() { done <- st.Changes(nil, func(_ uint16, k, v []byte, _ bool) error { return nil }) }()
		got := result(t, st, false)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		fresh := p.NewState(mem)
		release(runTasks(t, mem, p, s, FormatJSON, all, 1, 4096, fresh))
		equalRows(t, got, result(t, fresh, false))
		st.ResetChanged()
	}
}
