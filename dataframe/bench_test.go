package dataframe

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/csv"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/internal/gen"
)

const benchRows = 8192

// cpuTime is the process's user+system CPU time. Benchmarks report rows per
// CPU second next to rows per wall second: the machine is shared, and CPU
// time is what the comparison with Arrow's readers needs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRows reports rows/s (wall) and rows/cpu-s since the timer reset at
// cpu0.
func reportRows(b *testing.B, rows int, cpu0 time.Duration) {
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(rows)/(cpuTime()-cpu0).Seconds(), "rows/cpu-s")
}

func clickRecords(n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	actions := []string{"view", "view", "click", "purchase"}
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"timestamp":"2024-01-01T%02d:%02d:%02dZ","userid":"u%d","page":"/products/%d","action":"%s"}`,
			i/3600%24, i/60%60, i%60, r.IntN(100000), r.IntN(1000), actions[r.IntN(len(actions))])
	}
	return out
}

func ecommerceRecords(n int) [][]byte {
	r := rand.New(rand.NewPCG(3, 4))
	types := []string{"view", "view", "cart", "purchase"}
	brands := []string{"creed", "apple", "samsung", "", "xiaomi"}
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "2019-11-01 00:%02d:%02d UTC,%s,%d,2053013553853497655,,%s,%d.%02d,%d,755422e7-9040-477b-9bd2-6a6e8fd9%04d",
			i/60%60, i%60, types[r.IntN(len(types))], 17302664+r.IntN(1000), brands[r.IntN(len(brands))], r.IntN(1000), r.IntN(100), 561587266+r.IntN(100000), i%10000)
	}
	return out
}

func benchDecode(b *testing.B, ddl string, format Format, recs [][]byte) {
	s := must(ParseSchema(ddl))
	cols := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		cols[i] = f.Name
	}
	benchDecodeColumns(b, s, format, cols, recs)
}

// benchDecodeColumns decodes recs into cols of s, the whole slice per op.
func benchDecodeColumns(b *testing.B, s *Schema, format Format, cols []string, recs [][]byte) {
	mem := memory.NewGoAllocator()
	d := must(NewDecoder(mem, s, DecoderOptions{Format: format, Columns: cols}))
	defer d.Release()
	var nbytes int
	for _, r := range recs {
		nbytes += len(r)
	}
	meta := &RecordMeta{Topic: "t"}
	b.SetBytes(int64(nbytes))
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		for j, r := range recs {
			meta.Offset = int64(j)
			if err := d.Append(meta, r); err != nil {
				b.Fatal(err)
			}
		}
		d.Flush().Release()
	}
	if d.Stats().Corrupt != 0 {
		b.Fatalf("corrupt records: %+v", d.Stats())
	}
	reportRows(b, b.N*len(recs), cpu0)
}

func BenchmarkDecodeJSON(b *testing.B) {
	benchDecode(b, clickDDL, FormatJSON, clickRecords(benchRows))
}

// BenchmarkDecodeJSONProjected decodes the engine's clickstream records
// (internal/gen) with the columns the engine asks for in
// SELECT page, count(*) ... WHERE action = 'view' GROUP BY page: page and
// action are decoded, timestamp and userid only validated and skipped.
func BenchmarkDecodeJSONProjected(b *testing.B) {
	g := must(gen.New("clickstream", 1))
	recs := make([][]byte, benchRows)
	var rec gen.Record
	for i := range recs {
		g.Next(&rec)
		recs[i] = bytes.Clone(rec.Value)
	}
	benchDecodeProjected(b, FormatJSON, recs)
}

// benchDecodeProjected decodes recs with the columns the engine reads for
// WHERE action = 'view' GROUP BY page.
func benchDecodeProjected(b *testing.B, format Format, recs [][]byte) {
	df := Source("clicks", must(ParseSchema(clickDDL))).
		Filter(Col("action").Eq(Lit("view"))).
		GroupBy(Col("page")).
		Agg(Count().As("views"))
	cols := must(Compile(df, Update)).InputColumns()
	if len(cols) != 2 {
		b.Fatalf("input columns %v, want page and action", cols)
	}
	benchDecodeColumns(b, must(ParseSchema(clickDDL)), format, cols, recs)
}

// BenchmarkArrowJSONReader decodes the same records with Arrow Go's own
// line-delimited JSON reader.
func BenchmarkArrowJSONReader(b *testing.B) {
	recs := clickRecords(benchRows)
	data := bytes.Join(recs, []byte("\n"))
	s := must(ParseSchema(clickDDL)).Arrow()
	mem := memory.NewGoAllocator()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		r := array.NewJSONReader(bytes.NewReader(data), s, array.WithAllocator(mem), array.WithChunk(benchRows))
		n := 0
		for r.Next() {
			n += int(r.Record().NumRows())
		}
		if r.Err() != nil || n != benchRows {
			b.Fatal(r.Err(), n)
		}
		r.Release()
	}
	reportRows(b, b.N*benchRows, cpu0)
}

func BenchmarkDecodeCSV(b *testing.B) {
	benchDecode(b, ecommerceDDL, FormatCSV, ecommerceRecords(benchRows))
}

// clickCSVRecords is n of the engine's clickstream records (internal/gen)
// as the bench encodes them for -format csv (bench/data.go): the four
// fields in schema order, comma-separated, unquoted, without a line end.
func clickCSVRecords(b *testing.B, n int) [][]byte {
	g := must(gen.New("clickstream", 1))
	recs := make([][]byte, n)
	var rec gen.Record
	for i := range recs {
		g.Next(&rec)
		var line []byte
		rest := rec.Value
		for j, name := range []string{"timestamp", "userid", "page", "action"} {
			pfx := []byte(`"` + name + `":"`)
			k := bytes.Index(rest, pfx)
			if k < 0 {
				b.Fatalf("clickstream record %q has no field %s", rec.Value, name)
			}
			rest = rest[k+len(pfx):]
			k = bytes.IndexByte(rest, '"')
			if j > 0 {
				line = append(line, ',')
			}
			line = append(line, rest[:k]...)
			rest = rest[k:]
		}
		recs[i] = line
	}
	return recs
}

// BenchmarkDecodeCSVProjected is BenchmarkDecodeJSONProjected for CSV: the
// engine's clickstream records as CSV lines, with the columns of
// SELECT page, count(*) ... WHERE action = 'view' GROUP BY page: page and
// action are decoded, timestamp and userid only split (and validated).
func BenchmarkDecodeCSVProjected(b *testing.B) {
	benchDecodeProjected(b, FormatCSV, clickCSVRecords(b, benchRows))
}

// BenchmarkArrowCSVReader decodes the same lines with Arrow Go's CSV reader.
// Arrow cannot parse "2019-11-01 00:00:01 UTC" as a timestamp, so its
// schema reads event_time as a string (less work than ours).
func BenchmarkArrowCSVReader(b *testing.B) {
	recs := ecommerceRecords(benchRows)
	data := append(bytes.Join(recs, []byte("\n")), '\n')
	fs := must(ParseSchema(ecommerceDDL)).Arrow().Fields()
	fs[0].Type = arrow.BinaryTypes.String
	s := arrow.NewSchema(fs, nil)
	mem := memory.NewGoAllocator()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		r := csv.NewReader(bytes.NewReader(data), s, csv.WithAllocator(mem), csv.WithChunk(benchRows), csv.WithNullReader(true, ""))
		n := 0
		for r.Next() {
			n += int(r.Record().NumRows())
		}
		if err := r.Err(); err != nil && err != io.EOF || n != benchRows {
			b.Fatal(r.Err(), n)
		}
		r.Release()
	}
	reportRows(b, b.N*benchRows, cpu0)
}

// clickBatch decodes benchRows clickstream records with the columns p reads.
func clickBatch(b *testing.B, mem memory.Allocator, p *Program) arrow.Record {
	d := must(NewDecoder(mem, must(ParseSchema(clickDDL)), DecoderOptions{Format: FormatJSON, Columns: p.InputColumns()}))
	defer d.Release()
	for _, r := range clickRecords(benchRows) {
		if err := d.Append(nil, r); err != nil {
			b.Fatal(err)
		}
	}
	return d.Flush()
}

func BenchmarkFilter(b *testing.B) {
	mem := memory.NewGoAllocator()
	df := Source("clicks", must(ParseSchema(clickDDL))).
		Filter(Col("action").Eq(Lit("view")).And(Col("page").Like("/products/1%"))).
		Select(Col("userid"), Col("timestamp"))
	p := must(Compile(df, Append))
	rec := clickBatch(b, mem, p)
	defer rec.Release()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		t := p.NewTask(mem)
		if err := t.Consume(rec); err != nil {
			b.Fatal(err)
		}
		for _, r := range t.Output() {
			r.Release()
		}
		t.Release()
	}
	reportRows(b, b.N*benchRows, cpu0)
}

func BenchmarkHashAggregate(b *testing.B) {
	mem := memory.NewGoAllocator()
	df := Source("clicks", must(ParseSchema(clickDDL))).
		GroupBy(Col("page"), Col("action")).
		Agg(Count().As("n"), Max(Col("timestamp")).As("last"))
	p := must(Compile(df, Update))
	rec := clickBatch(b, mem, p)
	defer rec.Release()
	t := p.NewTask(mem)
	defer t.Release()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := t.Consume(rec); err != nil {
			b.Fatal(err)
		}
	}
	reportRows(b, b.N*benchRows, cpu0)
}

// aggTask returns a Task of a per-user aggregate with about 10k groups.
func aggTask(b *testing.B, mem memory.Allocator) (*Program, *Task) {
	df := Source("clicks", must(ParseSchema(clickDDL))).
		GroupBy(Col("userid")).
		Agg(Count().As("n"), Min(Col("page")).As("first"), Avg(Col("timestamp").Cast(Int64)).As("t"))
	p := must(Compile(df, Update))
	rec := clickBatch(b, mem, p)
	defer rec.Release()
	t := p.NewTask(mem)
	if err := t.Consume(rec); err != nil {
		b.Fatal(err)
	}
	return p, t
}

func BenchmarkMerge(b *testing.B) {
	mem := memory.NewGoAllocator()
	p, t := aggTask(b, mem)
	defer t.Release()
	st := p.NewState(mem)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := st.Merge(t); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*t.ht.len())/b.Elapsed().Seconds(), "groups/s")
	b.ReportMetric(float64(b.N*t.ht.len())/(cpuTime()-cpu0).Seconds(), "groups/cpu-s")
}

func BenchmarkStateChanges(b *testing.B) {
	mem := memory.NewGoAllocator()
	p, t := aggTask(b, mem)
	defer t.Release()
	st := p.NewState(mem)
	if err := st.Merge(t); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		n := 0
		if err := st.Changes(nil, func(_ uint16, k, v []byte, _ bool) error { n++; return nil }); err != nil || n != st.Len() {
			b.Fatal(err, n)
		}
	}
	b.ReportMetric(float64(b.N*st.Len())/b.Elapsed().Seconds(), "groups/s")
	b.ReportMetric(float64(b.N*st.Len())/(cpuTime()-cpu0).Seconds(), "groups/cpu-s")
}

// pageTask returns a Task of p (GROUP BY page) that has consumed one row
// per page in pages.
func pageTask(b *testing.B, mem memory.Allocator, p *Program, pages []string) *Task {
	bld := array.NewStringBuilder(mem)
	defer bld.Release()
	bld.AppendValues(pages, nil)
	col := bld.NewArray()
	defer col.Release()
	rec := array.NewRecord(must(ParseSchema("page STRING")).Arrow(), []arrow.Array{col}, int64(len(pages)))
	defer rec.Release()
	t := p.NewTask(mem)
	if err := t.Consume(rec); err != nil {
		b.Fatal(err)
	}
	return t
}

// benchState1M measures one batch of the bench's 1M-key query (GROUP BY
// page, count(*)) at steady state: a State of 1M groups merges a Task of
// 75k changed groups, fresh of them new (inserted all over the key order),
// then run is timed (Merge, ResetChanged and the Task are not); a nil run
// times the Merge.
func benchState1M(b *testing.B, fresh int, run func(st *State) error) {
	const groups, changed = 1_000_000, 75_000
	mem := memory.NewGoAllocator()
	p := must(Compile(Source("events", must(ParseSchema("page STRING"))).GroupBy(Col("page")).Agg(Count().As("views")), Complete))
	page := func(i int) string { return fmt.Sprintf("/p/%d", i) }
	all := make([]string, groups)
	for i := range all {
		all[i] = page(i)
	}
	st := p.NewState(mem)
	t := pageTask(b, mem, p, all)
	if err := st.Merge(t); err != nil {
		b.Fatal(err)
	}
	t.Release()
	if run != nil {
		if err := run(st); err != nil { // a first batch fills any cache
			b.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	tasks := make([]*Task, b.N)
	for i := range tasks {
		pages := make([]string, 0, changed)
		for j := 0; j < changed-fresh; j++ {
			pages = append(pages, page(r.IntN(groups)))
		}
		for j := 0; j < fresh; j++ {
			pages = append(pages, fmt.Sprintf("%sn%d", page(r.IntN(groups)), i))
		}
		tasks[i] = pageTask(b, mem, p, pages)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st.ResetChanged()
		if run == nil {
			b.StartTimer()
		}
		if err := st.Merge(tasks[i]); err != nil {
			b.Fatal(err)
		}
		tasks[i].Release()
		if run == nil {
			continue
		}
		b.StartTimer()
		if err := run(st); err != nil {
			b.Fatal(err)
		}
	}
}

func resultRun(onlyChanged bool) func(st *State) error {
	return func(st *State) error {
		rec, err := st.Result(onlyChanged)
		if err != nil {
			return err
		}
		rec.Release()
		return nil
	}
}

func BenchmarkStateResultComplete1M(b *testing.B) {
	b.Run("fresh=0", func(b *testing.B) { benchState1M(b, 0, resultRun(false)) })
	b.Run("fresh=1000", func(b *testing.B) { benchState1M(b, 1000, resultRun(false)) })
	// The bench's batches (go run ./bench -keys 1000000): every group new.
	b.Run("fresh=75000", func(b *testing.B) { benchState1M(b, 75000, resultRun(false)) })
}

func BenchmarkStateResultUpdate1M(b *testing.B) {
	benchState1M(b, 1000, resultRun(true))
}

func BenchmarkStateMerge1M(b *testing.B) {
	b.Run("fresh=1000", func(b *testing.B) { benchState1M(b, 1000, nil) })
	b.Run("fresh=40000", func(b *testing.B) { benchState1M(b, 40000, nil) })
}

func BenchmarkStateChanges1M(b *testing.B) {
	benchState1M(b, 1000, func(st *State) error {
		return st.Changes(nil, func(_ uint16, k, v []byte, _ bool) error { return nil })
	})
}

// BenchmarkStream1M runs the bench's 1M-key query (WHERE action = 'view'
// GROUP BY page, count(*), complete mode) over 10 batches of 100k records
// as the engine drives it: two Tasks of 50k rows each per batch, Merge,
// Result, Changes, ResetChanged. Pages are drawn from 1M, so most groups
// of a batch are new and the State ends with about 630k groups. One op is
// the 10 batches; the inputs are built outside the timer.
func BenchmarkStream1M(b *testing.B) {
	const keys, batches, tasks, rows = 1_000_000, 10, 2, 50_000
	mem := memory.NewGoAllocator()
	s := must(ParseSchema("page STRING, action STRING"))
	p := must(Compile(Source("events", s).Filter(Col("action").Eq(Lit("view"))).
		GroupBy(Col("page")).Agg(Count().As("views")), Complete))
	r := rand.New(rand.NewPCG(7, 8))
	actions := []string{"view", "click"}
	if in := p.InputColumns(); len(in) != 2 || in[0] != "action" {
		b.Fatalf("input columns %v", in)
	}
	s = must(ParseSchema("action STRING, page STRING"))
	recs := make([]arrow.Record, batches*tasks)
	for i := range recs {
		pb, ab := array.NewStringBuilder(mem), array.NewStringBuilder(mem)
		for range rows {
			pb.Append(fmt.Sprintf("/products/%d", r.IntN(keys)))
			ab.Append(actions[r.IntN(2)])
		}
		pa, aa := pb.NewArray(), ab.NewArray()
		recs[i] = array.NewRecord(s.Arrow(), []arrow.Array{aa, pa}, rows)
		pa.Release()
		aa.Release()
		pb.Release()
		ab.Release()
	}
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		st := p.NewState(mem)
		for k := 0; k < batches; k++ {
			ts := make([]*Task, tasks)
			for j := range ts {
				ts[j] = p.NewTask(mem)
				if err := ts[j].Consume(recs[k*tasks+j]); err != nil {
					b.Fatal(err)
				}
			}
			for _, t := range ts {
				if err := st.Merge(t); err != nil {
					b.Fatal(err)
				}
				t.Release()
			}
			out, err := st.Result(false)
			if err != nil {
				b.Fatal(err)
			}
			out.Release()
			if err := st.Changes(nil, func(_ uint16, k, v []byte, _ bool) error { return nil }); err != nil {
				b.Fatal(err)
			}
			st.ResetChanged()
		}
	}
	reportRows(b, b.N*batches*tasks*rows, cpu0)
}

// BenchmarkStateRemove1M removes 10k random groups of a 1M-group State
// (GROUP BY page, count(*), update mode, its order built) and writes the
// deletes with key groups (Changes), as window eviction and the commit
// will; the groups are merged back, untimed, between ops, so the State
// keeps its size and recycles the removed ids.
func BenchmarkStateRemove1M(b *testing.B) {
	const groups, removed = 1_000_000, 10_000
	mem := memory.NewGoAllocator()
	p := must(Compile(Source("events", must(ParseSchema("page STRING"))).GroupBy(Col("page")).Agg(Count().As("views")), Update))
	page := func(i int) string { return fmt.Sprintf("/p/%d", i) }
	all := make([]string, groups)
	for i := range all {
		all[i] = page(i)
	}
	st := p.NewState(mem)
	t := pageTask(b, mem, p, all)
	if err := st.Merge(t); err != nil {
		b.Fatal(err)
	}
	t.Release()
	if err := resultRun(true)(st); err != nil { // builds the order
		b.Fatal(err)
	}
	st.ResetChanged()
	r := rand.New(rand.NewPCG(9, 10))
	group := func(k []byte) uint16 { return uint16(hashKey(k) % 128) }
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		pages := make([]string, removed)
		keys := make([][]byte, removed)
		for j := range keys {
			pages[j] = page(r.IntN(groups))
			keys[j] = appendKeyString([]byte{byte(String)}, pages[j])
		}
		b.StartTimer()
		if _, err := st.removeGroups(keys); err != nil {
			b.Fatal(err)
		}
		if err := st.Changes(group, func(uint16, []byte, []byte, bool) error { return nil }); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st.ResetChanged()
		t := pageTask(b, mem, p, pages)
		if err := st.Merge(t); err != nil {
			b.Fatal(err)
		}
		t.Release()
		if err := resultRun(true)(st); err != nil {
			b.Fatal(err)
		}
		st.ResetChanged()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*removed)/b.Elapsed().Seconds(), "removals/s")
}
