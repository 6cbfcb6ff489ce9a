package dataframe

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// BenchmarkClickQueryFunctions decodes and runs a clickstream query with
// and without three scalar functions in its projection and filter (issue
// 18's target: with >= 0.8x the rows/s of without).
func BenchmarkClickQueryFunctions(b *testing.B) {
	s := must(ParseSchema(clickDDL))
	plain := Source("clicks", s).
		Filter(Col("action").Eq(Lit("view")).And(Col("page").Like("/products/%"))).
		Select(Col("userid"), Col("page"), Col("timestamp"))
	funcs := Source("clicks", s).
		Filter(Call("lower", Col("action")).Eq(Lit("view")).And(Call("startswith", Col("page"), Lit("/products/")))).
		Select(Col("userid"), Call("split_part", Col("page"), Lit("/"), Lit(3)), Call("date_trunc", Lit("hour"), Col("timestamp")))
	recs := clickRecords(benchRows)
	for _, c := range []struct {
		name string
		df   *DataFrame
	}{{"plain", plain}, {"functions", funcs}} {
		b.Run(c.name, func(b *testing.B) {
			mem := memory.NewGoAllocator()
			p := must(Compile(c.df, Append))
			d := must(NewDecoder(mem, s, DecoderOptions{Format: FormatJSON, Columns: p.InputColumns()}))
			defer d.Release()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				for _, r := range recs {
					if err := d.Append(nil, r); err != nil {
						b.Fatal(err)
					}
				}
				rec := d.Flush()
				t := p.NewTask(mem)
				if err := t.Consume(rec); err != nil {
					b.Fatal(err)
				}
				rec.Release()
				for _, r := range t.Output() {
					r.Release()
				}
				t.Release()
			}
			reportRows(b, b.N*benchRows, cpu0)
		})
	}
}
