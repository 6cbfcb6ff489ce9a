package dataframe

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// testKeyGroup is a key group as the checkpoint's: FNV-1a modulo 7.
func testKeyGroup(key []byte) uint16 {
	h := fnv.New32a()
	h.Write(key)
	return uint16(h.Sum32() % 7)
}

// change is one call of Changes.
type change struct {
	group   uint16
	key     string // decoded: the group's k
	deleted bool
}

// collectChanges returns Changes' calls with key groups, checking their
// order, and applies them to stored (key -> value).
func collectChanges(t *testing.T, st *State, stored map[string][]byte) []change {
	t.Helper()
	var out []change
	var prevG uint16
	var prevK []byte
	err := st.Changes(testKeyGroup, func(g uint16, k, v []byte, del bool) error {
		if g != testKeyGroup(k) {
			t.Fatalf("key %q in group %d, want %d", k, g, testKeyGroup(k))
		}
		if prevK != nil && (g < prevG || g == prevG && bytes.Compare(prevK, k) >= 0) {
			t.Fatalf("(%d, %q) after (%d, %q)", g, k, prevG, prevK)
		}
		if del != (v == nil) {
			t.Fatalf("deleted %v with value %v", del, v)
		}
		prevG, prevK = g, bytes.Clone(k)
		x, _, err := decodeKeyValue(k, String)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, change{g, x.s, del})
		if del {
			delete(stored, string(k))
		} else {
			stored[string(k)] = bytes.Clone(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != st.Changed() {
		t.Fatalf("Changes gave %d, Changed %d", len(out), st.Changed())
	}
	return out
}

// groupModel is what a group of the removal test's query should hold.
type groupModel struct {
	n, sum int64
	max    string
}

func removalQuery(s *Schema) *DataFrame {
	return Source("t", s).GroupBy(Col("k")).
		Agg(Count().As("n"), Sum(Col("i")).As("s"), Max(Col("v")).As("m"), CountDistinct(Col("v")).As("d"))
}

func stringKeys(ks ...string) [][]byte {
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = appendKeyString([]byte{byte(String)}, k)
	}
	return out
}

// TestRemoveGroups drives states in both modes through batches that merge
// groups and remove some (before and after the merge, including groups
// just merged, keys removed twice and missing keys), against a model:
// every complete and update Result exactly, Changes (upserts and deletes,
// in (key group, key) order) applied to a store that a restored State
// reads back, ids recycled rather than grown, and the removed groups'
// accumulators released.
func TestRemoveGroups(t *testing.T) {
	for _, mode := range []OutputMode{Complete, Update} {
		t.Run(mode.String(), func(t *testing.T) {
			mem := newMem(t)
			s := mustSchema(t, "k STRING, i INT, v STRING")
			p := must(Compile(removalQuery(s), mode))
			st := p.NewState(mem)
			model := map[string]*groupModel{}
			distinct := map[string]map[string]bool{}
			stored := map[string][]byte{}
			r := rand.New(rand.NewPCG(3, uint64(mode)))
			keyOf := func() string { return fmt.Sprintf("k%03d", r.IntN(300)) }
			// removeSome removes n keys (some missing, one twice) and
			// returns those that were groups.
			removeSome := func(n int) []string {
				var ks, had []string
				for range n {
					ks = append(ks, keyOf())
				}
				ks = append(ks, "missing", ks[0])
				for _, k := range ks {
					if model[k] != nil {
						had = append(had, k)
					}
					delete(model, k)
					delete(distinct, k)
				}
				got, err := st.removeGroups(stringKeys(ks...))
				if err != nil || got != len(had) {
					t.Fatalf("removeGroups = %d, %v; want %d", got, err, len(had))
				}
				return had
			}
			maxIDs := 0
			for batch := range 30 {
				touched, removed := map[string]bool{}, map[string]bool{}
				if batch%3 == 1 {
					for _, k := range removeSome(20) {
						removed[k] = true
					}
				}
				var vals []string
				for range 50 + r.IntN(100) {
					k, i, v := keyOf(), r.IntN(20)-5, fmt.Sprint("v", r.IntN(9))
					vals = append(vals, fmt.Sprintf(`{"k":%q,"i":%d,"v":%q}`, k, i, v))
					g := model[k]
					if g == nil {
						g = &groupModel{}
						model[k], distinct[k] = g, map[string]bool{}
					}
					g.n, g.sum, g.max = g.n+1, g.sum+int64(i), max(g.max, v)
					distinct[k][v] = true
					touched[k], removed[k] = true, false
				}
				release(runTasks(t, mem, p, s, FormatJSON, vals, 2, 40, st))
				if batch%4 == 2 {
					for _, k := range removeSome(30) {
						removed[k], touched[k] = true, false
					}
				}
				want := func(only map[string]bool) [][]any {
					var ks []string
					for k := range model {
						if only == nil || only[k] {
							ks = append(ks, k)
						}
					}
					slices.Sort(ks)
					var out [][]any
					for _, k := range ks {
						g := model[k]
						out = append(out, []any{k, g.n, g.sum, g.max, int64(len(distinct[k]))})
					}
					return out
				}
				if batch%2 == 0 {
					equalRows(t, result(t, st, false), want(nil))
				}
				equalRows(t, result(t, st, true), want(touched))
				var wantCh []change
				for k, del := range removed {
					if del {
						wantCh = append(wantCh, change{key: k, deleted: true})
					}
				}
				for k, up := range touched {
					if up {
						wantCh = append(wantCh, change{key: k})
					}
				}
				got := collectChanges(t, st, stored)
				for i := range got {
					got[i].group = 0
				}
				slices.SortFunc(got, func(a, b change) int { return strings.Compare(a.key, b.key) })
				slices.SortFunc(wantCh, func(a, b change) int { return strings.Compare(a.key, b.key) })
				if !slices.Equal(got, wantCh) {
					t.Fatalf("batch %d: changes\n%v\nwant\n%v", batch, got, wantCh)
				}
				if st.Len() != len(model) || len(stored) != len(model) {
					t.Fatalf("Len %d, stored %d, want %d", st.Len(), len(stored), len(model))
				}
				st.ResetChanged()
				maxIDs = max(maxIDs, st.Len())
			}
			// Ids are recycled: the id space stays near the most groups
			// held at once (plus the removed ones waiting for a compaction).
			if st.ht.ids() > maxIDs+90 {
				t.Fatalf("%d ids for at most %d groups", st.ht.ids(), maxIDs)
			}
			// Removed groups hold nothing.
			st.mu.Lock()
			st.res.compact(st.ht)
			st.mu.Unlock()
			for id := range int32(st.ht.ids()) {
				if st.ht.removed(id) && (st.ht.accs[3].set[id] != nil || st.ht.accs[2].str[id] != "" || st.ht.accs[0].cnt[id] != 0) {
					t.Fatalf("removed group %d keeps its accumulators", id)
				}
			}
			// The store restores the same state.
			restored := p.NewState(mem)
			for k, v := range stored {
				if err := restored.Restore([]byte(k), v); err != nil {
					t.Fatal(err)
				}
			}
			equalRows(t, result(t, restored, false), result(t, st, false))
		})
	}
}

// TestRemoveThenAddAgain checks that a removed group that comes back is a
// new group: in a later batch (an upsert of its new value after a
// delete), and within the batch of its removal (an upsert only).
func TestRemoveThenAddAgain(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "k STRING, i INT, v STRING")
	p := must(Compile(removalQuery(s), Complete))
	st := p.NewState(mem)
	batch := func(vals ...string) { release(runTasks(t, mem, p, s, FormatJSON, vals, 1, 10, st)) }
	stored := map[string][]byte{}
	batch(`{"k":"a","i":1,"v":"x"}`, `{"k":"b","i":2,"v":"y"}`, `{"k":"c","i":3,"v":"z"}`)
	equalRows(t, result(t, st, false), [][]any{{"a", int64(1), int64(1), "x", int64(1)}, {"b", int64(1), int64(2), "y", int64(1)}, {"c", int64(1), int64(3), "z", int64(1)}})
	collectChanges(t, st, stored)
	st.ResetChanged()

	if n, err := st.removeGroups(stringKeys("b")); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	equalRows(t, result(t, st, false), [][]any{{"a", int64(1), int64(1), "x", int64(1)}, {"c", int64(1), int64(3), "z", int64(1)}})
	if got := collectChanges(t, st, stored); !slices.Equal(got, []change{{testKeyGroup(stringKeys("b")[0]), "b", true}}) {
		t.Fatalf("changes %v", got)
	}
	st.ResetChanged()

	batch(`{"k":"b","i":5,"v":"w"}`)
	equalRows(t, result(t, st, false), [][]any{{"a", int64(1), int64(1), "x", int64(1)}, {"b", int64(1), int64(5), "w", int64(1)}, {"c", int64(1), int64(3), "z", int64(1)}})
	if got := collectChanges(t, st, stored); len(got) != 1 || got[0].key != "b" || got[0].deleted {
		t.Fatalf("changes %v", got)
	}
	st.ResetChanged()

	// Removed and back within one batch: one upsert, no delete.
	st.removeGroups(stringKeys("a", "c"))
	batch(`{"k":"a","i":7,"v":"q"}`)
	got := collectChanges(t, st, stored)
	slices.SortFunc(got, func(a, b change) int { return strings.Compare(a.key, b.key) })
	if len(got) != 2 || got[0] != (change{testKeyGroup(stringKeys("a")[0]), "a", false}) || got[1] != (change{testKeyGroup(stringKeys("c")[0]), "c", true}) {
		t.Fatalf("changes %v", got)
	}
	equalRows(t, result(t, st, false), [][]any{{"a", int64(1), int64(7), "q", int64(1)}, {"b", int64(1), int64(5), "w", int64(1)}})
	equalRows(t, result(t, st, true), [][]any{{"a", int64(1), int64(7), "q", int64(1)}})
	st.ResetChanged()
	if len(stored) != 2 || st.Len() != 2 {
		t.Fatalf("stored %d, Len %d", len(stored), st.Len())
	}
	// Every group removed, then a new one: the ids are reused.
	st.removeGroups(stringKeys("a", "b"))
	equalRows(t, result(t, st, false), nil)
	batch(`{"k":"d","i":1,"v":"x"}`, `{"k":"e","i":1,"v":"x"}`)
	equalRows(t, result(t, st, false), [][]any{{"d", int64(1), int64(1), "x", int64(1)}, {"e", int64(1), int64(1), "x", int64(1)}})
	// a, b, c, and a's return before its old id was recycled: d and e
	// take recycled ids.
	if st.ht.ids() != 4 {
		t.Fatalf("%d ids, want 4", st.ht.ids())
	}
	st.ResetChanged()
}

// TestRemoveManyCompacts removes most groups of a large complete-mode
// state whose table is built: the order and table are compacted when the
// removed groups are many (no extension comes), rows stay exact, and
// results held across the compaction keep their values.
func TestRemoveManyCompacts(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "k STRING")
	p := must(Compile(Source("t", s).GroupBy(Col("k")).Agg(Count().As("n")), Complete))
	st := p.NewState(mem)
	var vals []string
	for i := range 5000 {
		vals = append(vals, fmt.Sprintf(`{"k":"%05d"}`, i))
	}
	release(runTasks(t, mem, p, s, FormatJSON, vals, 2, 1000, st))
	held, err := st.Result(false)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	var gone []string
	for i := range 5000 {
		if i%5 != 0 {
			gone = append(gone, fmt.Sprintf("%05d", i))
		}
	}
	if n, _ := st.removeGroups(stringKeys(gone...)); n != 4000 {
		t.Fatalf("removed %d", n)
	}
	if len(st.res.removed) != 0 || len(st.res.order) != 1000 || st.res.cols[0].n != 1000 {
		t.Fatalf("not compacted: %d waiting, %d rows, table %d", len(st.res.removed), len(st.res.order), st.res.cols[0].n)
	}
	var want [][]any
	for i := 0; i < 5000; i += 5 {
		want = append(want, []any{fmt.Sprintf("%05d", i), int64(1)})
	}
	equalRows(t, result(t, st, false), want)
	if r := rows(t, held); len(r) != 5000 || r[4999][0] != "04999" {
		t.Fatalf("held result changed: %d rows", len(r))
	}
	st.ResetChanged()
}
