package dataframe

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// BenchmarkCloseWindows closes the oldest one-minute window, 1,000 keys,
// of a state holding 10 or 1,000 open windows (10k or 1M groups): the
// cost follows the windows closed, not the state's size.
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
			recs := make([][]byte, 0, windows*keys)
			for w := range windows {
				for k := range keys {
					recs = append(recs, fmt.Appendf(nil, `{"ts":%q,"k":"k%d"}`, time.Unix(int64(w*60), 0).UTC().Format(time.RFC3339), k))
				}
			}
			var took time.Duration
			for i := 0; i < b.N; i++ {
				st := p.NewState(mem)
				for lo := 0; lo < len(recs); lo += 100_000 {
					t := decodeInto(b, d, p.NewTask(mem), recs[lo:min(lo+100_000, len(recs))])
					if err := st.Merge(t); err != nil {
						b.Fatal(err)
					}
					t.Release()
				}
				start := time.Now()
				out, n, err := st.CloseWindows(time.Unix(60, 0), true)
				took += time.Since(start)
				if err != nil || n != keys {
					b.Fatalf("closed %d groups (%v), want %d", n, err, keys)
				}
				out.Release()
			}
			b.ReportMetric(float64(took.Microseconds())/float64(b.N), "us/close")
			b.ReportMetric(0, "ns/op")
		})
	}
}
