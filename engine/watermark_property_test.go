package engine

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/offsets"
)

// wmEvent is one generated record of the property test: its event time
// (µs since the epoch), key and value.
type wmEvent struct {
	ts int64
	k  string
	v  int64
}

// wmCase is one random case of TestWatermarkProperty.
type wmCase struct {
	seed    int64
	sliding bool // a sliding window (slide = size/2), else tumbling
	late    int  // rows made later than the delay
}

// TestWatermarkProperty runs random out-of-order data through a windowed
// count and sum per key in append mode with a watermark, availableNow
// with flushOnExit, under random partition counts and rate caps, and
// checks the engine against a reference model that replays the committed
// plans: each plan's watermark is max(previous, greatest event time of
// the previous batch's records - delay) (the flush batch's the last open
// window's end), each batch emits exactly the windows its watermark
// closes with exact counts and sums, each (key, window) once, and the
// rows dropped as late are those the model drops. Without late rows (the
// disorder stays under the delay) nothing is dropped and the union of the
// output is a plain GROUP BY over all the input.
func TestWatermarkProperty(t *testing.T) {
	cases := []wmCase{{seed: 1}, {seed: 2}, {seed: 3}, {seed: 4}, {seed: 5, sliding: true}, {seed: 6, late: 12},
		{seed: 7}, {seed: 8}, {seed: 9, sliding: true}, {seed: 10, late: 30}}
	for _, c := range cases {
		t.Run(fmt.Sprint("seed", c.seed), func(t *testing.T) { runWMProperty(t, c) })
	}
}

// wmWindowKey is a (key, window) group.
type wmWindowKey struct {
	k          string
	start, end int64
}

type wmAcc struct{ n, s int64 }

// wmRow renders a group as the sink's strings: window.start,
// window.end, k, count, sum.
func wmRow(g wmWindowKey, a wmAcc) string {
	f := func(us int64) string { return time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05.999999999Z0700") }
	return fmt.Sprintf("%s|%s|%s|%d|%d", f(g.start), f(g.end), g.k, a.n, a.s)
}

// wmWindows returns the starts of the windows holding ts (startTime 0).
func wmWindows(ts, size, slide int64) []int64 {
	var out []int64
	for s := ts - ((ts%slide)+slide)%slide; s > ts-size; s -= slide {
		out = append(out, s)
	}
	return out
}

// wmReadBack reads the topic "events" with kgo and returns its records'
// events by partition and offset, as the log holds them: the model
// replays offsets, whatever order the producer delivered in.
func wmReadBack(t *testing.T, addr string, byPart [][]wmEvent, recs []kafkatest.Record) [][]wmEvent {
	t.Helper()
	ev := map[string]wmEvent{}
	next := make([]int, len(byPart))
	for _, r := range recs {
		ev[string(r.Value)] = byPart[r.Partition][next[r.Partition]]
		next[r.Partition]++
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("events"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make([][]wmEvent, len(byPart))
	for got := 0; got < len(recs); {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("reading back %d of %d records: %v", got, len(recs), err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != int64(len(out[r.Partition])) {
				t.Fatalf("events-%d: offset %d after %d records", r.Partition, r.Offset, len(out[r.Partition]))
			}
			out[r.Partition] = append(out[r.Partition], ev[string(r.Value)])
			got++
		})
	}
	return out
}

func runWMProperty(t *testing.T, c wmCase) {
	rng := rand.New(rand.NewSource(c.seed))
	parts := 1 + rng.Intn(4)
	n := 300 + rng.Intn(1701)
	delay := time.Duration(2+rng.Intn(29)) * time.Second
	size := time.Duration(5+rng.Intn(56)) * time.Second
	slide := size
	if c.sliding {
		slide = size / 2
	}
	maxStepMs := int64(50 + rng.Intn(700))
	keys := []string{"a", "b", "c", "d", "e", "f"}[:1+rng.Intn(6)]
	// The rate cap: records per partition per batch, for 3 to 30 data
	// batches; seed 3 has none (one data batch).
	perPart := (n + parts - 1) / parts
	rate := int64(0)
	if c.seed != 3 {
		nb := 3 + rng.Intn(28)
		rate = int64((perPart + nb - 1) / nb)
	}
	t.Logf("partitions %d, records %d, rate %d, delay %v, size %v, slide %v, keys %d, step < %d ms, late %d",
		parts, n, rate, delay, size, slide, len(keys), maxStepMs, c.late)

	// Event times advance by a random step and are moved back by a
	// disorder strictly under the delay; records go round robin to the
	// partitions, so under an equal per-partition cap every batch reads
	// a prefix of the stream and no row can be late. A late case makes
	// c.late rows of the second half older than the delay.
	lateAt := map[int]bool{}
	for len(lateAt) < c.late {
		lateAt[n/2+rng.Intn(n/2)] = true
	}
	byPart := make([][]wmEvent, parts)
	recs := make([]kafkatest.Record, 0, n)
	clock := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	delayUs, sizeUs, slideUs := delay.Microseconds(), size.Microseconds(), slide.Microseconds()
	for i := 0; i < n; i++ {
		clock += rng.Int63n(maxStepMs) * 1000
		ts := clock - rng.Int63n(delayUs/1000)*1000
		if lateAt[i] {
			ts = clock - delayUs - rng.Int63n(3*sizeUs/1000)*1000
		}
		e := wmEvent{ts: ts, k: keys[rng.Intn(len(keys))], v: rng.Int63n(1000) - 100}
		p := i % parts
		byPart[p] = append(byPart[p], e)
		v := fmt.Sprintf(`{"ts":%q,"k":%q,"v":%d}`, time.UnixMicro(ts).UTC().Format("2006-01-02T15:04:05.000Z"), e.k, e.v)
		recs = append(recs, kafkatest.Record{Partition: int32(p), Value: []byte(v)})
	}
	b := kafkatest.Start(t, map[string]int32{"events": int32(parts)})
	b.Produce(t, "events", recs)
	byPart = wmReadBack(t, b.Addr, byPart, recs)

	schema, err := dataframe.ParseSchema("ts TIMESTAMP, k STRING, v BIGINT")
	if err != nil {
		t.Fatal(err)
	}
	df := dataframe.Source("events", schema).WithWatermark("ts", delay).
		GroupBy(dataframe.Window(dataframe.Col("ts"), size, slide, 0), dataframe.Col("k")).
		Agg(dataframe.Count().As("n"), dataframe.Sum(dataframe.Col("v")).As("s"))
	if err := df.Err(); err != nil {
		t.Fatal(err)
	}
	sink := &collector{}
	cfg := baseConfig(schema, df, b.Addr, "events", t.TempDir(), sink)
	cfg.OutputMode = dataframe.Append
	cfg.Watermark.FlushOnExit = true
	cfg.Source.MaxRatePerPartition = rate
	cfg.Allocator = checkedAlloc(t)
	var mu sync.Mutex
	var progress []Progress
	cfg.OnProgress = func(p Progress) {
		mu.Lock()
		progress = append(progress, p)
		mu.Unlock()
	}
	start := time.Now()
	q := runQuery(t, cfg)
	ends := map[offsets.TopicPartition]int64{}
	for p := range byPart {
		ends[offsets.TopicPartition{Topic: "events", Partition: int32(p)}] = int64(len(byPart[p]))
	}
	checkContiguous(t, q, ends)
	infos, err := q.Batches()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d batches in %v", len(infos), time.Since(start).Round(time.Millisecond))
	if len(infos) < 2 || infos[0].Plan.ID != 0 {
		t.Fatalf("%d batches, the first %d", len(infos), infos[0].Plan.ID)
	}

	// The sink's rows, by batch, as wmRow strings.
	got := map[int64][]string{}
	var union []string
	for _, cb := range sink.all() {
		for _, r := range cb.rows {
			if len(r) != 5 {
				t.Fatalf("batch %d: row %v, want window.start, window.end, k, n, s", cb.id, r)
			}
			var nums [2]int64
			for i, s := range r[3:] {
				f, err := strconv.ParseFloat(s, 64)
				if err != nil {
					t.Fatalf("batch %d: row %v: %v", cb.id, r, err)
				}
				nums[i] = int64(f)
			}
			row := fmt.Sprintf("%s|%s|%s|%d|%d", r[0], r[1], r[2], nums[0], nums[1])
			got[cb.id] = append(got[cb.id], row)
			union = append(union, row)
		}
	}

	// The model replays the committed plans in order.
	open := map[wmWindowKey]*wmAcc{}
	emitted := map[wmWindowKey]int64{} // the batch that emitted it
	var wm, prevMax int64              // µs; prevMax valid when prevHad
	prevHad := false
	var modelDropped int64
	last := len(infos) - 1
	for i, bi := range infos {
		plan := bi.Plan
		if !bi.Committed || plan.ID != int64(i) {
			t.Fatalf("batch %d: id %d committed %v", i, plan.ID, bi.Committed)
		}
		var batch []wmEvent
		for _, r := range plan.Ranges {
			batch = append(batch, byPart[r.Partition][r.From:r.Until]...)
		}
		// The watermark: 0, then max(previous, previous batch's
		// greatest event time - delay); the flush batch (the last, no
		// input) moves it to the end of the last open window.
		want := wm
		if prevHad && prevMax-delayUs > want {
			want = prevMax - delayUs
		}
		if i == last {
			if len(batch) != 0 {
				t.Fatalf("last batch %d reads %d records, want the flush batch without input", i, len(batch))
			}
			if want != wm {
				t.Fatalf("batch %d: the watermark %v had not settled (no-data batch missing) before the flush batch", i, time.UnixMicro(want).UTC())
			}
			for g := range open {
				want = max(want, g.end)
			}
		}
		if got := plan.Meta.Watermark; !got.Equal(time.UnixMicro(want)) {
			t.Fatalf("batch %d: watermark %v, model %v", i, got.UTC(), time.UnixMicro(want).UTC())
		}
		wm = want
		prevHad = len(batch) > 0
		prevMax = 0
		for j, e := range batch {
			if j == 0 || e.ts > prevMax {
				prevMax = e.ts
			}
			kept := false
			for _, s := range wmWindows(e.ts, sizeUs, slideUs) {
				g := wmWindowKey{e.k, s, s + sizeUs}
				if g.end <= wm {
					continue // late for this window
				}
				if _, done := emitted[g]; done {
					t.Fatalf("batch %d: row %v on time for window %v, emitted already in batch %d", i, e, g, emitted[g])
				}
				a := open[g]
				if a == nil {
					a = &wmAcc{}
					open[g] = a
				}
				a.n++
				a.s += e.v
				kept = true
			}
			if !kept {
				modelDropped++
			}
		}
		// Append: the windows the watermark closed, each once.
		var wantRows []string
		for g, a := range open {
			if g.end <= wm {
				wantRows = append(wantRows, wmRow(g, *a))
				emitted[g] = plan.ID
				delete(open, g)
			}
		}
		slices.Sort(wantRows)
		gotRows := slices.Sorted(slices.Values(got[plan.ID]))
		if strings.Join(gotRows, "\n") != strings.Join(wantRows, "\n") {
			t.Fatalf("batch %d (watermark %v): output\n got %d rows %v\nwant %d rows %v", i, time.UnixMicro(wm).UTC(), len(gotRows), gotRows, len(wantRows), wantRows)
		}
		delete(got, plan.ID)
	}
	if len(got) > 0 || len(open) > 0 {
		t.Fatalf("output of batches not committed: %v; windows never emitted: %d", got, len(open))
	}

	// Each (key, window) appears once in all the output (checked per
	// batch above; here over the union, from the sink's own rows).
	seen := map[string]int64{}
	for _, cb := range sink.all() {
		for _, r := range cb.rows {
			k := strings.Join(r[:3], "|")
			if prev, dup := seen[k]; dup {
				t.Fatalf("(key, window) %s emitted in batch %d and again in batch %d", k, prev, cb.id)
			}
			seen[k] = cb.id
		}
	}

	var dropped int64
	byID := map[int64]Progress{}
	for _, p := range progress {
		dropped += p.NumRowsDroppedByWatermark
		byID[p.BatchID] = p
	}
	for _, bi := range infos {
		p, ok := byID[bi.Plan.ID]
		if !ok || p.EventTime == nil || !p.EventTime.Watermark.Equal(bi.Plan.Meta.Watermark) {
			t.Fatalf("batch %d: progress %+v, plan watermark %v", bi.Plan.ID, p.EventTime, bi.Plan.Meta.Watermark)
		}
	}
	if dropped != modelDropped {
		t.Fatalf("rows dropped by the watermark: %d, model %d", dropped, modelDropped)
	}
	if c.late > 0 {
		if modelDropped == 0 {
			t.Fatalf("no late row was dropped: the case tests nothing")
		}
		t.Logf("%d of %d late rows dropped", modelDropped, c.late)
		return
	}
	if dropped != 0 {
		t.Fatalf("%d rows dropped with a disorder under the delay", dropped)
	}
	// The union is a plain GROUP BY over all the input.
	all := map[wmWindowKey]*wmAcc{}
	for _, evs := range byPart {
		for _, e := range evs {
			for _, s := range wmWindows(e.ts, sizeUs, slideUs) {
				g := wmWindowKey{e.k, s, s + sizeUs}
				if all[g] == nil {
					all[g] = &wmAcc{}
				}
				all[g].n++
				all[g].s += e.v
			}
		}
	}
	var want []string
	for g, a := range all {
		want = append(want, wmRow(g, *a))
	}
	slices.Sort(want)
	slices.Sort(union)
	if strings.Join(union, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the union of the output (%d rows) differs from a GROUP BY over the input (%d rows)", len(union), len(want))
	}
}
