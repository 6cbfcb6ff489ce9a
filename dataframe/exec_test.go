package dataframe

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

const clickDDL = "timestamp TIMESTAMP, userid STRING, page STRING, action STRING"

type click struct {
	ts     int64
	user   string
	page   string
	action string
}

func clicks(n int, seed uint64) ([]click, []string) {
	r := rand.New(rand.NewPCG(seed, 1))
	actions := []string{"view", "view", "view", "click", "purchase"}
	cs := make([]click, n)
	vals := make([]string, n)
	for i := range cs {
		c := click{
			ts:     1704067200000 + int64(r.IntN(86400000)),
			user:   fmt.Sprintf("u%d", r.IntN(50)),
			page:   fmt.Sprintf("/products/%d", r.IntN(20)),
			action: actions[r.IntN(len(actions))],
		}
		cs[i] = c
		vals[i] = fmt.Sprintf(`{"timestamp":%d,"userid":%q,"page":%q,"action":%q}`, c.ts, c.user, c.page, c.action)
	}
	return cs, vals
}

// runTasks splits values over nTasks tasks (decoding each share with a
// decoder fed p.InputColumns, in batches of batch records) and merges them
// into st.
func runTasks(t testing.TB, mem memory.Allocator, p *Program, s *Schema, format Format, values []string, nTasks, batch int, st *State) []*Task {
	t.Helper()
	var tasks []*Task
	per := (len(values) + nTasks - 1) / nTasks
	for lo := 0; lo < len(values); lo += per {
		hi := min(lo+per, len(values))
		task := p.NewTask(mem)
		d, err := NewDecoder(mem, s, DecoderOptions{Format: format, Columns: p.InputColumns()})
		if err != nil {
			t.Fatal(err)
		}
		for i := lo; i < hi; i++ {
			if err := d.Append(&RecordMeta{Topic: "t", Offset: int64(i)}, []byte(values[i])); err != nil {
				t.Fatal(err)
			}
			if d.Len() == batch || i == hi-1 {
				rec := d.Flush()
				if err := task.Consume(rec); err != nil {
					t.Fatal(err)
				}
				rec.Release()
			}
		}
		d.Release()
		if st != nil {
			if err := st.Merge(task); err != nil {
				t.Fatal(err)
			}
		}
		tasks = append(tasks, task)
	}
	return tasks
}

func release(tasks []*Task) {
	for _, t := range tasks {
		t.Release()
	}
}

func result(t testing.TB, st *State, onlyChanged bool) [][]any {
	t.Helper()
	rec, err := st.Result(onlyChanged)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	return rows(t, rec)
}

func TestClickstreamCountPerPage(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, clickDDL)
	df := Source("clicks", s).
		Filter(Col("action").Eq(Lit("view")).And(Col("timestamp").Ge(Lit("2024-01-01 06:00:00")))).
		GroupBy(Col("page")).
		Agg(Count().As("views"), CountDistinct(Col("userid")).As("users"), Max(Col("timestamp")).As("last"))
	p, err := Compile(df, Complete)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.InputColumns(); !slices.Equal(got, []string{"action", "timestamp", "page", "userid"}) {
		t.Errorf("InputColumns = %v", got)
	}
	if !p.Stateful() || p.table != "clicks" {
		t.Error("Stateful/Table")
	}
	cs, vals := clicks(5000, 1)
	st := p.NewState(mem)
	tasks := runTasks(t, mem, p, s, FormatJSON, vals, 3, 700, st)
	defer release(tasks)

	// Reference in plain Go.
	type agg struct {
		views int64
		users map[string]bool
		last  int64
	}
	ref := map[string]*agg{}
	cut := time.Date(2024, 1, 1, 6, 0, 0, 0, time.UTC).UnixMilli()
	var passed int64
	for _, c := range cs {
		if c.action != "view" || c.ts < cut {
			continue
		}
		passed++
		a := ref[c.page]
		if a == nil {
			a = &agg{users: map[string]bool{}}
			ref[c.page] = a
		}
		a.views++
		a.users[c.user] = true
		a.last = max(a.last, c.ts)
	}
	var want [][]any
	for page, a := range ref {
		want = append(want, []any{page, a.views, int64(len(a.users)), time.UnixMilli(a.last).UTC()})
	}
	sort.Slice(want, func(i, j int) bool { return want[i][0].(string) < want[j][0].(string) })
	equalRows(t, result(t, st, false), want)
	var rowsPassed int64
	for _, task := range tasks {
		rowsPassed += task.rows
	}
	if rowsPassed != passed || st.Len() != len(ref) || st.Changed() != len(ref) {
		t.Errorf("Rows %d want %d; Len %d Changed %d want %d", rowsPassed, passed, st.Len(), st.Changed(), len(ref))
	}
	if got := p.OutputSchema().String(); got != "schema:\n  fields: 4\n    - page: type=utf8, nullable\n    - views: type=int64, nullable\n    - users: type=int64, nullable\n    - last: type=timestamp[us, tz=UTC], nullable" {
		t.Error(got)
	}
}

type event struct {
	typ   string
	brand string // "" = NULL
	price float64
	user  int64
}

func ecommerce(n int, seed uint64) ([]event, []string) {
	r := rand.New(rand.NewPCG(seed, 2))
	types := []string{"view", "view", "view", "view", "cart", "purchase"}
	brands := []string{"apple", "samsung", "xiaomi", "creed", "", "huawei"}
	es := make([]event, n)
	vals := make([]string, n)
	for i := range es {
		e := event{typ: types[r.IntN(len(types))], brand: brands[r.IntN(len(brands))], price: float64(r.IntN(100000)) / 100, user: int64(r.IntN(1000))}
		es[i] = e
		vals[i] = fmt.Sprintf("2019-11-01 00:00:%02d UTC,%s,%d,%d,,%s,%.2f,%d,s%d", i%60, e.typ, 1000+i%7, 2053013553853497655, e.brand, e.price, e.user, i%13)
	}
	return es, vals
}

func brandFunnel() *DataFrame {
	isType := func(t string) Expr { return Col("event_type").Eq(Lit(t)) }
	return Source("events", must(ParseSchema(ecommerceDDL))).
		Filter(Col("event_type").In(Lit("view"), Lit("purchase"))).
		GroupBy(Col("brand")).
		Agg(
			Sum(When(isType("view"), Lit(1)).Otherwise(Lit(0))).As("views"),
			Sum(When(isType("purchase"), Lit(1)).Otherwise(Lit(0))).As("purchases"),
			Sum(When(isType("purchase"), Col("price")).End()).As("revenue"),
		).
		Filter(Col("views").Gt(Lit(0))).
		Select(Col("brand"), Col("views"), Col("purchases"), Col("purchases").Div(Col("views")).As("conversion"), Col("revenue"))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestBrandFunnel(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, ecommerceDDL)
	es, vals := ecommerce(4000, 7)
	type agg struct {
		views, purchases int64
		revenue          float64
		bought           bool
	}
	ref := map[string]*agg{}
	for _, e := range es {
		if e.typ != "view" && e.typ != "purchase" {
			continue
		}
		a := ref[e.brand]
		if a == nil {
			a = &agg{}
			ref[e.brand] = a
		}
		if e.typ == "view" {
			a.views++
		} else {
			a.purchases++
			a.revenue += e.price
			a.bought = true
		}
	}
	var want [][]any
	for b, a := range ref {
		if a.views == 0 {
			continue
		}
		var brand, revenue any = b, nil
		if b == "" {
			brand = nil
		}
		if a.bought {
			revenue = a.revenue
		}
		want = append(want, []any{brand, a.views, a.purchases, float64(a.purchases) / float64(a.views), revenue})
	}
	// Group-key order: NULL first, then by brand.
	sort.Slice(want, func(i, j int) bool {
		bi, _ := want[i][0].(string)
		bj, _ := want[j][0].(string)
		return want[i][0] == nil || want[j][0] != nil && bi < bj
	})
	p, err := Compile(brandFunnel(), Complete)
	if err != nil {
		t.Fatal(err)
	}
	st := p.NewState(mem)
	release(runTasks(t, mem, p, s, FormatCSV, vals, 1, 1000, st))
	got := result(t, st, false)
	// Revenue sums floats in a different order than the reference: compare
	// it with a tolerance, then everything else exactly.
	for i := range got {
		if i < len(want) && got[i][4] != nil && want[i][4] != nil {
			if math.Abs(got[i][4].(float64)-want[i][4].(float64)) > 1e-6 {
				t.Errorf("revenue row %d: %v vs %v", i, got[i][4], want[i][4])
			}
			got[i][4], want[i][4] = nil, nil
		}
	}
	equalRows(t, got, want)

	// ORDER BY and LIMIT on top: top 2 brands by conversion.
	p2, err := Compile(brandFunnel().OrderBy(Col("conversion").Desc(), Col("brand").Asc()).Limit(2), Complete)
	if err != nil {
		t.Fatal(err)
	}
	st2 := p2.NewState(mem)
	release(runTasks(t, mem, p2, s, FormatCSV, vals, 2, 333, st2))
	top := result(t, st2, false)
	sort.SliceStable(want, func(i, j int) bool { return want[i][3].(float64) > want[j][3].(float64) })
	for i := range top {
		top[i][4] = nil
	}
	equalRows(t, top, want[:2])
}

func TestAggregatesWithNulls(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "g STRING, i INT, l BIGINT, d DOUBLE, b BOOLEAN, t TIMESTAMP")
	vals := []string{
		`{"g":"a","i":1,"l":10,"d":1.5,"b":true,"t":"2024-01-01T00:00:00Z"}`,
		`{"g":"a","i":null,"l":-4,"d":null,"b":false,"t":"2024-01-02T00:00:00Z"}`,
		`{"g":"a","i":3,"d":0.5}`,
		`{"g":"b"}`,
		`{"g":null,"i":-2147483648,"l":9223372036854775807}`,
		`{"g":null,"i":5,"l":1}`,
		`{"g":"b","i":2}`,
	}
	df := Source("x", s).GroupBy(Col("g")).Agg(
		Count().As("n"), CountOf(Col("i")).As("ni"), CountDistinct(Col("b")).As("nb"),
		Sum(Col("i")).As("si"), Sum(Col("l")).As("sl"), Sum(Col("d")).As("sd"),
		Avg(Col("i")).As("ai"), Avg(Col("d")).As("ad"),
		Min(Col("i")).As("mini"), Max(Col("l")).As("maxl"), Min(Col("d")).As("mind"), Max(Col("b")).As("maxb"), Min(Col("t")).As("mint"), Max(Col("g")).As("maxg"),
	)
	p, err := Compile(df, Update)
	if err != nil {
		t.Fatal(err)
	}
	st := p.NewState(mem)
	release(runTasks(t, mem, p, s, FormatJSON, vals, 2, 2, st))
	equalRows(t, result(t, st, false), [][]any{
		{nil, int64(2), int64(2), int64(0), int64(-2147483643), int64(math.MinInt64), nil, -1073741821.5, nil, int32(-2147483648), int64(math.MaxInt64), nil, nil, nil, nil},
		{"a", int64(3), int64(2), int64(2), int64(4), int64(6), 2.0, 2.0, 1.0, int32(1), int64(10), 0.5, true, ts("2024-01-01T00:00:00Z"), "a"},
		{"b", int64(2), int64(1), int64(0), int64(2), nil, nil, 2.0, nil, int32(2), nil, nil, nil, nil, "b"},
	})
}

// TestMergeRestoreUpdate checks that any split into tasks merges to the same
// state, that Restore(Changes()) reproduces it, and that update mode returns
// only the groups a batch changed.
func TestMergeRestoreUpdate(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, clickDDL)
	df := Source("clicks", s).GroupBy(Col("page"), Col("action")).
		Agg(Count().As("n"), CountDistinct(Col("userid")).As("users"), Min(Col("userid")).As("first"), Avg(Col("timestamp").Cast(Int64)).As("avg_ts"))
	p, err := Compile(df, Update)
	if err != nil {
		t.Fatal(err)
	}
	_, vals := clicks(3000, 3)
	one := p.NewState(mem)
	release(runTasks(t, mem, p, s, FormatJSON, vals, 1, 5000, one))
	want := result(t, one, false)
	many := p.NewState(mem)
	release(runTasks(t, mem, p, s, FormatJSON, vals, 7, 111, many))
	equalRows(t, result(t, many, false), want)

	// Persist, restore into a fresh state, compare.
	type kv struct{ k, v []byte }
	var saved []kv
	if err := many.Changes(nil, func(_ uint16, k, v []byte, _ bool) error {
		if len(saved) > 0 && bytes.Compare(saved[len(saved)-1].k, k) >= 0 {
			t.Fatalf("keys not ascending")
		}
		if v[0] != stateVersion {
			t.Fatalf("version byte %d", v[0])
		}
		saved = append(saved, kv{bytes.Clone(k), bytes.Clone(v)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(saved) != many.Len() {
		t.Fatalf("Changes gave %d entries, Len %d", len(saved), many.Len())
	}
	restored := p.NewState(mem)
	for _, e := range saved {
		if err := restored.Restore(e.k, e.v); err != nil {
			t.Fatal(err)
		}
	}
	if restored.Changed() != 0 || restored.Len() != many.Len() {
		t.Errorf("restored Changed %d Len %d", restored.Changed(), restored.Len())
	}
	equalRows(t, result(t, restored, false), want)
	// Encoding is deterministic: re-encoding the restored state gives the same bytes.
	for _, e := range saved {
		if err := restored.Restore(e.k, e.v); err != nil {
			t.Fatal(err)
		}
	}
	restored.ht.markChanged(0)
	restored.ResetChanged()

	// A second batch touching two groups: update mode returns just those.
	more := []string{
		`{"timestamp":1704067200000,"userid":"zz","page":"/products/1","action":"view"}`,
		`{"timestamp":1704067200000,"userid":"new","page":"/new","action":"view"}`,
	}
	release(runTasks(t, mem, p, s, FormatJSON, more, 1, 10, restored))
	if restored.Changed() != 2 {
		t.Errorf("Changed = %d", restored.Changed())
	}
	upd := result(t, restored, true)
	if len(upd) != 2 || upd[0][0] != "/new" || upd[1][0] != "/products/1" || upd[0][2] != int64(1) {
		t.Errorf("update rows %v", fmtRows(upd))
	}
	n := 0
	restored.Changes(nil, func(_ uint16, k, v []byte, _ bool) error { n++; return nil })
	if n != 2 {
		t.Errorf("Changes gave %d", n)
	}
	restored.ResetChanged()
	if restored.Changed() != 0 || len(result(t, restored, true)) != 0 {
		t.Error("ResetChanged")
	}
	for _, st := range []*State{restored} {
		if err := st.Changes(nil, func(_ uint16, k, v []byte, _ bool) error { return fmt.Errorf("none expected") }); err != nil {
			t.Error(err)
		}
	}
}

func TestRestoreErrors(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "g STRING, n BIGINT")
	p := must(Compile(Source("x", s).GroupBy(Col("g")).Agg(Sum(Col("n")), Max(Col("g"))), Complete))
	st := p.NewState(mem)
	good := appendKeyString([]byte{byte(String)}, "a")
	for _, c := range []struct {
		k, v []byte
		err  string
	}{
		{[]byte{byte(Int64), 1}, []byte{1}, "dataframe: invalid state: group key has type tag 3, want STRING"},
		{append(good, 0), []byte{1, 2, 0, 0, 0}, "dataframe: invalid state: group key has 1 trailing bytes"},
		{[]byte{byte(String), 'a'}, []byte{1}, "dataframe: invalid state: unterminated STRING in group key"},
		{good, nil, "dataframe: invalid state: empty state value"},
		{good, []byte{9}, "dataframe: invalid state: state value version 9, want 1"},
		{good, []byte{1, 3}, "dataframe: invalid state: state value has 3 aggregates, the query 2"},
		{good, []byte{1, 2, 1}, "dataframe: invalid state: state value: bad sum"},
		{good, []byte{1, 2, 1, 2, 1, 5, 'a'}, "dataframe: invalid state: state value: bad min/max"},
		{good, []byte{1, 2, 0, 0, 0, 7}, "dataframe: invalid state: state value: bad length (trailing bytes)"},
	} {
		if err := st.Restore(c.k, c.v); err == nil || err.Error() != c.err {
			t.Errorf("Restore(%v, %v) = %v, want %s", c.k, c.v, err, c.err)
		}
	}
	if st.Len() != 0 {
		t.Errorf("failed restores left %d groups", st.Len())
	}
	if err := st.Restore(good, []byte{1, 2, 1, 2 * 21, 1, 1, 'z'}); err != nil {
		t.Fatal(err)
	}
	equalRows(t, result(t, st, false), [][]any{{"a", int64(21), "z"}})
	// A Task of another program cannot be merged.
	other := must(Compile(Source("x", s).GroupBy(Col("g")).Agg(Count()), Complete))
	task := other.NewTask(mem)
	if err := st.Merge(task); err == nil {
		t.Error("merged a foreign task")
	}
}

func TestStatelessProjection(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "name STRING, n INT, x DOUBLE, ok BOOLEAN, t TIMESTAMP")
	df := Source("x", s).
		Filter(Or(Col("ok"), Col("ok").IsNull())).
		Select(
			Col("name"),
			Col("n").Add(Lit(1)).As("n1"),
			Col("n").Mul(Lit(int64(3))).As("n3"),
			Col("n").Div(Lit(0)).As("div0"),
			Col("n").Mod(Lit(4)).As("mod4"),
			Col("x").Neg().As("negx"),
			Col("name").Like("a%").As("a_like"),
			Col("name").Like("_b\\%").As("esc_like"),
			Col("n").In(Lit(1), Lit(2), Lit(nil)).As("in12"),
			When(Col("n").Lt(Lit(0)), Lit("neg")).When(Col("n").Eq(Lit(0)), Lit("zero")).End().As("sign"),
			Col("x").Cast(String).As("xs"),
			Col("name").Cast(Int64).As("name_num"),
			Col("t").Cast(String).As("ts"),
			Col("_offset"),
			Col("n").Gt(Col("x")).As("n_gt_x"),
			Not(Col("ok")).As("not_ok"),
			Lit(nil).As("nothing"),
		).
		Filter(Col("n1").IsNotNull().Or(Col("name").Eq(Lit("keep"))))
	p, err := Compile(df, Append)
	if err != nil {
		t.Fatal(err)
	}
	if p.Stateful() {
		t.Error("stateless program reports Stateful")
	}
	vals := []string{
		`{"name":"abc","n":5,"x":2.5,"ok":true,"t":"2024-01-01T00:00:00.5Z"}`,
		`{"name":"ab%","n":-3,"x":1e20,"ok":null}`,
		`{"name":"12","n":0,"x":-0.001,"ok":false}`,
		`{"name":"keep","ok":true}`,
		`{"name":"drop","ok":true}`,
		`{"name":"zb%","n":2,"x":null}`,
	}
	tasks := runTasks(t, mem, p, s, FormatJSON, vals, 2, 2, nil)
	defer release(tasks)
	var got [][]any
	for _, task := range tasks {
		for _, rec := range task.Output() {
			if !rec.Schema().Equal(p.OutputSchema()) {
				t.Errorf("schema %v", rec.Schema())
			}
			got = append(got, rows(t, rec)...)
			rec.Release()
		}
	}
	equalRows(t, got, [][]any{
		{"abc", int32(6), int64(15), nil, int32(1), -2.5, true, false, nil, nil, "2.5", nil, "2024-01-01 00:00:00.5", int64(0), true, false, nil},
		{"ab%", int32(-2), int64(-9), nil, int32(-3), -1e20, true, true, nil, "neg", "1.0E20", nil, nil, int64(1), false, nil, nil},
		{"keep", nil, nil, nil, nil, nil, false, false, nil, nil, nil, nil, nil, int64(3), nil, false, nil},
		{"zb%", int32(3), int64(6), nil, int32(2), nil, false, true, true, nil, nil, nil, nil, int64(5), nil, nil, nil},
	})
	var n int64
	for _, task := range tasks {
		n += task.rows
	}
	if n != 4 { // both filters are the WHERE: 4 rows pass
		t.Errorf("rows = %d", n)
	}
}

func TestStatelessLimitPerTask(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "a STRING")
	p := must(Compile(Source("x", s).Select(Col("a")).Limit(3), Append))
	if p.Limit() != 3 {
		t.Error(p.Limit())
	}
	tasks := runTasks(t, mem, p, s, FormatJSON, []string{`{"a":"1"}`, `{"a":"2"}`, `{"a":"3"}`, `{"a":"4"}`, `{"a":"5"}`}, 1, 2, nil)
	defer release(tasks)
	var got [][]any
	for _, rec := range tasks[0].Output() {
		got = append(got, rows(t, rec)...)
		rec.Release()
	}
	equalRows(t, got, [][]any{{"1"}, {"2"}, {"3"}})
}

func TestGlobalAggregate(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "a BIGINT")
	p := must(Compile(Source("x", s).Select(Count().As("n"), Sum(Col("a")).As("s"), Sum(Col("a")).Div(Count()).As("mean")), Complete))
	st := p.NewState(mem)
	// count(*) alone reads no column at all.
	pc := must(Compile(Source("x", s).GroupBy().Agg(Count()), Update))
	if cols := pc.InputColumns(); cols == nil || len(cols) != 0 {
		t.Errorf("InputColumns = %#v", cols)
	}
	stc := pc.NewState(mem)
	release(runTasks(t, mem, pc, s, FormatJSON, []string{`{"a":1}`, `{"a":2}`, `x`}, 2, 10, stc))
	equalRows(t, result(t, stc, true), [][]any{{int64(3)}})
	equalRows(t, result(t, st, false), [][]any{{int64(0), nil, nil}})
	release(runTasks(t, mem, p, s, FormatJSON, []string{`{"a":1}`, `{"a":2}`, `{"a":null}`}, 2, 10, st))
	equalRows(t, result(t, st, false), [][]any{{int64(3), int64(3), 1.0}})

	// The one group is stored under a 1-byte key (a checkpoint keeps no
	// empty key), and restores to the same group.
	var keys [][]byte
	var val []byte
	if err := st.Changes(nil, func(_ uint16, k, v []byte, _ bool) error {
		keys, val = append(keys, bytes.Clone(k)), bytes.Clone(v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !bytes.Equal(keys[0], []byte{0}) {
		t.Fatalf("Changes keys %v, want one key 0x00", keys)
	}
	restored := p.NewState(mem)
	if err := restored.Restore(keys[0], val); err != nil {
		t.Fatal(err)
	}
	release(runTasks(t, mem, p, s, FormatJSON, []string{`{"a":4}`}, 1, 10, restored))
	if restored.Len() != 1 {
		t.Fatalf("restored state has %d groups, want 1", restored.Len())
	}
	equalRows(t, result(t, restored, false), [][]any{{int64(4), int64(7), 1.75}})
	if err := restored.Restore([]byte{0, 0}, val); err == nil || err.Error() != "dataframe: invalid state: group key has 2 trailing bytes" {
		t.Errorf("Restore of a 2-byte global key: %v", err)
	}
}

func TestConsumeErrors(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "a STRING, b BIGINT")
	p := must(Compile(Source("x", s).Filter(Col("b").Gt(Lit(1))).Select(Col("a")), Append))
	task := p.NewTask(mem)
	defer task.Release()
	d := must(NewDecoder(mem, s, DecoderOptions{Format: FormatJSON, Columns: []string{"a", "b"}}))
	defer d.Release()
	d.Append(nil, []byte(`{"a":"x"}`))
	rec := d.Flush()
	defer rec.Release()
	if err := task.Consume(rec); err == nil || err.Error() != "dataframe: invalid plan: input column 0 (b): Arrow type utf8, want int64 (BIGINT)" {
		t.Error(err)
	}
	if err := task.Consume(nil); err == nil {
		t.Error("nil record accepted")
	}
	d2 := must(NewDecoder(mem, s, DecoderOptions{Format: FormatJSON, Columns: []string{"a"}}))
	defer d2.Release()
	d2.Append(nil, []byte(`{"a":"x"}`))
	rec2 := d2.Flush()
	defer rec2.Release()
	if err := task.Consume(rec2); err == nil || err.Error() != "dataframe: invalid plan: record has 1 columns, the query reads 2 (b, a)" {
		t.Error(err)
	}
}

func TestAvgDoesNotWrap(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "l BIGINT")
	p := must(Compile(Source("x", s).GroupBy().Agg(Avg(Col("l")), Sum(Col("l"))), Complete))
	st := p.NewState(mem)
	release(runTasks(t, mem, p, s, FormatJSON, []string{`{"l":9223372036854775807}`, `{"l":9223372036854775807}`}, 2, 1, st))
	// Sum wraps like Spark's non-ANSI long sum; avg is computed in DOUBLE.
	equalRows(t, result(t, st, false), [][]any{{9.223372036854775807e18, int64(-2)}})
}

// TestConcurrentTasks runs Tasks of one Program on several goroutines (as
// executors do) and checks the merge against a single task.
func TestConcurrentTasks(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, clickDDL)
	p := must(Compile(Source("clicks", s).Filter(Col("page").Like("/products/1%")).GroupBy(Col("userid")).Agg(Count(), Max(Col("page"))), Update))
	_, vals := clicks(4000, 9)
	want := p.NewState(mem)
	release(runTasks(t, mem, p, s, FormatJSON, vals, 1, 4000, want))

	got := p.NewState(mem)
	tasks := make([]*Task, 4)
	done := make(chan error, len(tasks))
	for w := range tasks {
		tasks[w] = p.NewTask(mem)
		go func(w int) {
			d, err := NewDecoder(mem, s, DecoderOptions{Format: FormatJSON, Columns: p.InputColumns()})
			if err != nil {
				done <- err
				return
			}
			for i := w; i < len(vals); i += len(tasks) {
				d.Append(nil, []byte(vals[i]))
			}
			rec := d.Flush()
			err = tasks[w].Consume(rec)
			// Release before signalling: the test's allocator check must
			// not race with these releases.
			rec.Release()
			d.Release()
			done <- err
		}(w)
	}
	for range tasks {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for _, task := range tasks {
		if err := got.Merge(task); err != nil {
			t.Fatal(err)
		}
	}
	release(tasks)
	equalRows(t, result(t, got, false), result(t, want, false))
}

// The complete result stays in exact key order while new groups arrive
// batch after batch (the result cache merges new groups into its order)
// and after Restore.
func TestResultOrderAcrossBatches(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "k STRING")
	p := must(Compile(Source("t", s).GroupBy(Col("k")).Agg(Count().As("n")), Complete))
	st := p.NewState(mem)
	want := map[string]int64{}
	r := uint64(7)
	for batch := 0; batch < 6; batch++ {
		var vals []string
		for i := 0; i < 300; i++ {
			r = r*6364136223846793005 + 1442695040888963407
			k := fmt.Sprintf("k%04d", r>>33%2000)
			want[k]++
			vals = append(vals, fmt.Sprintf(`{"k":%q}`, k))
		}
		release(runTasks(t, mem, p, s, FormatJSON, vals, 3, 64, st))
		st.ResetChanged()
		checkOrder(t, result(t, st, false), want)
	}
	// Restore every group in reverse key order: the order must not depend
	// on it.
	restored := p.NewState(mem)
	var keys, vals [][]byte
	for id := range st.ht.len() {
		st.ht.markChanged(int32(id))
	}
	if err := st.Changes(nil, func(_ uint16, k, v []byte, _ bool) error {
		keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := len(keys) - 1; i >= 0; i-- {
		if err := restored.Restore(keys[i], vals[i]); err != nil {
			t.Fatal(err)
		}
	}
	checkOrder(t, result(t, restored, false), want)
}

func checkOrder(t *testing.T, rows [][]any, want map[string]int64) {
	t.Helper()
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, row := range rows {
		if i > 0 && fmt.Sprint(rows[i-1][0]) >= fmt.Sprint(row[0]) {
			t.Fatalf("row %d %v after %v: not in key order", i, row, rows[i-1])
		}
		if fmt.Sprint(row[1]) != fmt.Sprint(want[fmt.Sprint(row[0])]) {
			t.Fatalf("row %v, want count %d", row, want[fmt.Sprint(row[0])])
		}
	}
}
