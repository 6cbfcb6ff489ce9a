package dataframe

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// BenchmarkCloseWindows measures the steady state of an append query
// with a watermark: each batch opens a new one-minute window of 1,000
// keys and closes the oldest, so the state keeps 10 or 1,000 windows
// open (10k or 1M groups). Only CloseWindows is timed: its cost follows
// the windows closed, not the state's size.
func BenchmarkCloseWindows(b *testing.B) {
	s := must(ParseSchema("ts TIMESTAMP, k STRING"))
	const keys = 1000
	for _, windows := range []int{10, 1000} {
		b.Run(fmt.Sprintf("open=%d", windows), func(b *testing.B) {
			mem := memory.NewGoAllocator()
			df := Source("t", s).WithWatermark("ts", 0).GroupBy(Window(Col("ts"), time.Minute, 0, 0), Col("k")).Agg(Count())
			p := must(Compile(df, Append))
			d := must(NewDecoder(mem, s, DecoderOptions{Format: FormatJSON, Columns: p.InputColumns()}))
			defer d.Release()
			st := p.NewState(mem)
			recs := make([][]byte, keys)
			// merge adds window w, as one batch the engine commits.
			merge := func(w int) {
				ts := time.Unix(int64(w*60), 0).UTC().Format(time.RFC3339)
				for k := range recs {
					recs[k] = fmt.Appendf(recs[k][:0], `{"ts":%q,"k":"k%d"}`, ts, k)
				}
				t := decodeInto(b, d, p.NewTask(mem), recs)
				if err := st.Merge(t); err != nil {
					b.Fatal(err)
				}
				t.Release()
				st.ResetChanged()
			}
			for w := range windows {
				merge(w)
			}
			var took time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				merge(windows + i)
				start := time.Now()
				out, n, err := st.CloseWindows(time.Unix(int64(i+1)*60, 0), true)
				took += time.Since(start)
				if err != nil || n != keys || out.NumRows() != keys {
					b.Fatalf("closed %d groups (%v), want %d", n, err, keys)
				}
				out.Release()
				st.ResetChanged()
			}
			if st.Len() != windows*keys {
				b.Fatalf("state holds %d groups, want %d", st.Len(), windows*keys)
			}
			b.ReportMetric(float64(took.Microseconds())/float64(b.N), "us/close")
			b.ReportMetric(0, "ns/op")
		})
	}
}
