package sql_test

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	. "github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/gen"
	"github.com/microbatch/microbatch/sql"
)

// The cross-check suite: queries over generated e-commerce and IoT data,
// each compiled from SQL and run by the dataframe package as the engine
// does (a decoder, one Task per chunk of records, partial states merged
// into one State), against a reference computed here in plain Go from the
// records decoded with encoding/csv and encoding/json, without the engine.

const xcheckRecords = 3000

// ecoEvent is one e-commerce CSV line (see internal/gen/ecommerce.go).
type ecoEvent struct {
	Time       time.Time
	Type       string
	ProductID  int64
	CategoryID int64
	Code       *string // NULL when the field is empty
	Brand      *string
	PriceText  string
	Price      float64
	Cents      int64 // the price in cents, exactly, from its text
	UserID     int64
	Session    string
}

// iotReading is one IoT JSON record (see internal/gen/iot.go).
type iotReading struct {
	DeviceID    string    `json:"device_id"`
	TS          time.Time `json:"ts"`
	Temperature float64   `json:"temperature"`
	Pressure    float64   `json:"pressure"`
	Lat         float64   `json:"lat"`
	Lon         float64   `json:"lon"`
}

func generate(t *testing.T, name string, n int) [][]byte {
	t.Helper()
	g, err := gen.New(name, 20191101)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, n)
	var r gen.Record
	for i := range out {
		g.Next(&r)
		out[i] = slices.Clone(r.Value)
	}
	return out
}

func decodeEcommerce(t *testing.T, raw [][]byte) []ecoEvent {
	t.Helper()
	out := make([]ecoEvent, len(raw))
	for i, line := range raw {
		f, err := csv.NewReader(strings.NewReader(string(line))).Read()
		if err != nil || len(f) != 9 {
			t.Fatalf("record %d %q: %v", i, line, err)
		}
		e := &out[i]
		if e.Time, err = time.Parse("2006-01-02 15:04:05 UTC", f[0]); err != nil {
			t.Fatal(err)
		}
		e.Type = f[1]
		e.ProductID = mustInt(t, f[2])
		e.CategoryID = mustInt(t, f[3])
		if f[4] != "" {
			e.Code = &f[4]
		}
		if f[5] != "" {
			e.Brand = &f[5]
		}
		e.PriceText = f[6]
		if e.Price, err = strconv.ParseFloat(f[6], 64); err != nil {
			t.Fatal(err)
		}
		whole, frac, ok := strings.Cut(f[6], ".")
		if !ok || len(frac) != 2 {
			t.Fatalf("price %q: want two decimals", f[6])
		}
		e.Cents = mustInt(t, whole)*100 + mustInt(t, frac)
		e.UserID = mustInt(t, f[7])
		e.Session = f[8]
	}
	return out
}

func decodeIoT(t *testing.T, raw [][]byte) []iotReading {
	t.Helper()
	out := make([]iotReading, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatalf("record %d %s: %v", i, r, err)
		}
	}
	return out
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// xrun compiles q and runs it over records in chunks: each chunk is
// decoded, consumed by its own Task (its own partition), and merged into
// one State for an aggregation. It returns the column names and the rows
// as Go values: nil (NULL), string, int64, float64, bool, or time.Time
// (TIMESTAMP, and DATE at midnight UTC).
func xrun(t *testing.T, q, ddl string, format Format, records [][]byte, chunks int) ([]string, [][]any) {
	t.Helper()
	s := schema(t, ddl)
	df, err := sql.Compile(q, "events", s)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	mode := Append
	if strings.Contains(df.String(), "Aggregate") {
		mode = Complete
	}
	prog, err := Compile(df, mode)
	if err != nil {
		t.Fatalf("%s: dataframe.Compile: %v", q, err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dec, err := NewDecoder(mem, s, DecoderOptions{Format: format, Mode: FailFast, Columns: prog.InputColumns()})
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Release()
	var rows [][]any
	var chunked [][][]byte
	size := (len(records) + chunks - 1) / chunks
	for part := 0; part*size < len(records); part++ {
		chunked = append(chunked, records[part*size:min(len(records), (part+1)*size)])
	}
	runChunks(t, prog, dec, mem, chunked, nil, func(rec arrow.Record) { rows = append(rows, values(t, rec)...) })
	return df.Columns(), rows
}

func values(t *testing.T, rec arrow.Record) [][]any {
	rows := make([][]any, rec.NumRows())
	for i := range rows {
		rows[i] = make([]any, rec.NumCols())
		for j, c := range rec.Columns() {
			if c.IsNull(i) {
				continue
			}
			switch a := c.(type) {
			case *array.String:
				rows[i][j] = a.Value(i)
			case *array.Int64:
				rows[i][j] = a.Value(i)
			case *array.Int32:
				rows[i][j] = int64(a.Value(i))
			case *array.Float64:
				rows[i][j] = a.Value(i)
			case *array.Boolean:
				rows[i][j] = a.Value(i)
			case *array.Timestamp:
				rows[i][j] = a.Value(i).ToTime(a.DataType().(*arrow.TimestampType).Unit).UTC()
			case *array.Date32:
				rows[i][j] = a.Value(i).ToTime()
			default:
				t.Fatalf("column %d: type %s not handled", j, c.DataType())
			}
		}
	}
	return rows
}

// rowKey orders rows by their exact (non-float) cells.
func rowKey(r []any) string {
	var b strings.Builder
	for _, v := range r {
		if _, ok := v.(float64); ok {
			continue
		}
		fmt.Fprintf(&b, "%v\x00", v)
	}
	return b.String()
}

// sameValue compares exactly, floats within a relative 1e-9 (sums in
// another order) or an absolute 1e-12 near zero (the variance of equal
// values: the reference's two passes leave ~1e-26 where the engine's
// merge gives 0).
func sameValue(got, want any) bool {
	if w, ok := want.(float64); ok {
		g, ok := got.(float64)
		return ok && (g == w || math.Abs(g-w) <= max(1e-12, 1e-9*math.Max(math.Abs(g), math.Abs(w))))
	}
	if w, ok := want.(time.Time); ok {
		g, ok := got.(time.Time)
		return ok && g.Equal(w)
	}
	return got == want
}

// check compares rows as sets (ordered by rowKey unless ordered is set).
func check(t *testing.T, q string, gotCols []string, got [][]any, wantCols []string, want [][]any, ordered bool) {
	t.Helper()
	if !slices.Equal(gotCols, wantCols) {
		t.Errorf("%s: columns %q, want %q", q, gotCols, wantCols)
		return
	}
	if len(want) == 0 {
		t.Errorf("%s: the reference has no rows: the query checks nothing", q)
	}
	if !ordered {
		byKey := func(a, b []any) int {
			if c := strings.Compare(rowKey(a), rowKey(b)); c != 0 {
				return c
			}
			for j := range a { // then the floats, for rows alike but for them
				if x, ok := a[j].(float64); ok {
					if y, ok := b[j].(float64); ok && x != y {
						return cmp.Compare(x, y)
					}
				}
			}
			return 0
		}
		slices.SortFunc(got, byKey)
		slices.SortFunc(want, byKey)
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d\ngot  %v\nwant %v", q, len(got), len(want), head(got), head(want))
		return
	}
	for i := range want {
		for j := range want[i] {
			if !sameValue(got[i][j], want[i][j]) {
				t.Errorf("%s: row %d column %s = %#v, want %#v\ngot  row %v\nwant row %v", q, i, wantCols[j], got[i][j], want[i][j], got[i], want[i])
				return
			}
		}
	}
}

func head(rows [][]any) [][]any { return rows[:min(len(rows), 5)] }

// Reference helpers.

// groups collects the records of each key, keeping the keys' first-seen
// order.
func groups[R any, K comparable](recs []R, key func(R) (K, bool)) ([]K, map[K][]R) {
	m := map[K][]R{}
	var keys []K
	for _, r := range recs {
		k, ok := key(r)
		if !ok {
			continue
		}
		if _, seen := m[k]; !seen {
			keys = append(keys, k)
		}
		m[k] = append(m[k], r)
	}
	return keys, m
}

func sumOf[R any](rs []R, f func(R) float64) float64 {
	s := 0.0
	for _, r := range rs {
		s += f(r)
	}
	return s
}

func countOf[R any](rs []R, f func(R) bool) int64 {
	n := int64(0)
	for _, r := range rs {
		if f(r) {
			n++
		}
	}
	return n
}

func minOf[R any](rs []R, f func(R) float64) float64 {
	m := math.Inf(1)
	for _, r := range rs {
		m = math.Min(m, f(r))
	}
	return m
}

func maxOf[R any](rs []R, f func(R) float64) float64 {
	m := math.Inf(-1)
	for _, r := range rs {
		m = math.Max(m, f(r))
	}
	return m
}

// variance is the population (sample=false) or sample variance, two-pass;
// NULL (nil) for a sample variance of one value, as Spark.
func variance[R any](rs []R, f func(R) float64, sample bool) any {
	n := float64(len(rs))
	if sample && n < 2 {
		return nil
	}
	mean := sumOf(rs, f) / n
	ss := 0.0
	for _, r := range rs {
		d := f(r) - mean
		ss += d * d
	}
	if sample {
		return ss / (n - 1)
	}
	return ss / n
}

func stddev[R any](rs []R, f func(R) float64) any {
	v := variance(rs, f, true)
	if v == nil {
		return nil
	}
	return math.Sqrt(v.(float64))
}

func distinct[R any, K comparable](rs []R, f func(R) K) int64 {
	m := map[K]bool{}
	for _, r := range rs {
		m[f(r)] = true
	}
	return int64(len(m))
}

func price(e ecoEvent) float64   { return e.Price }
func temp(r iotReading) float64  { return r.Temperature }
func press(r iotReading) float64 { return r.Pressure }

// roundCentsToDimes rounds a price to one decimal, halves up, on its
// decimal text (Spark's round on the value as written).
func roundCentsToDimes(cents int64) float64 {
	dimes := (cents + 5) / 10
	f, _ := strconv.ParseFloat(fmt.Sprintf("%d.%d", dimes/10, dimes%10), 64)
	return f
}

type xcase struct {
	q       string
	cols    []string
	ordered bool
	want    func() [][]any
}

func TestCrossCheckEcommerce(t *testing.T) {
	raw := generate(t, "ecommerce", xcheckRecords)
	ev := decodeEcommerce(t, raw)
	day := time.Date(2019, 11, 1, 0, 0, 0, 0, time.UTC)
	cases := []xcase{
		{
			q:    "SELECT lower(upper(brand) || 'X') AS b, upper(event_type) AS t, count(*) AS n FROM events WHERE brand IS NOT NULL GROUP BY 1, 2",
			cols: []string{"b", "t", "n"},
			want: func() [][]any {
				type k struct{ b, t string }
				keys, m := groups(ev, func(e ecoEvent) (k, bool) {
					if e.Brand == nil {
						return k{}, false
					}
					return k{strings.ToLower(strings.ToUpper(*e.Brand) + "X"), strings.ToUpper(e.Type)}, true
				})
				var rows [][]any
				for _, key := range keys {
					rows = append(rows, []any{key.b, key.t, int64(len(m[key]))})
				}
				return rows
			},
		},
		{
			q:    "SELECT coalesce(category_code, 'none') AS c, count(*) AS n, sum(price) AS revenue, count(DISTINCT user_id) AS users FROM events GROUP BY coalesce(category_code, 'none') HAVING count(*) >= 40",
			cols: []string{"c", "n", "revenue", "users"},
			want: func() [][]any {
				keys, m := groups(ev, func(e ecoEvent) (string, bool) {
					if e.Code == nil {
						return "none", true
					}
					return *e.Code, true
				})
				var rows [][]any
				for _, key := range keys {
					g := m[key]
					if len(g) >= 40 {
						rows = append(rows, []any{key, int64(len(g)), sumOf(g, price), distinct(g, func(e ecoEvent) int64 { return e.UserID })})
					}
				}
				return rows
			},
		},
		{
			q:    "SELECT split_part(category_code, '.', 1) AS top, count(*) AS n, avg(price) AS avg_price, min(price) AS lo, max(price) AS hi FROM events WHERE category_code IS NOT NULL GROUP BY 1",
			cols: []string{"top", "n", "avg_price", "lo", "hi"},
			want: func() [][]any {
				keys, m := groups(ev, func(e ecoEvent) (string, bool) {
					if e.Code == nil {
						return "", false
					}
					top, _, _ := strings.Cut(*e.Code, ".")
					return top, true
				})
				var rows [][]any
				for _, key := range keys {
					g := m[key]
					rows = append(rows, []any{key, int64(len(g)), sumOf(g, price) / float64(len(g)), minOf(g, price), maxOf(g, price)})
				}
				return rows
			},
		},
		{
			q:    "SELECT substring(user_session, 1, 8) || '-' || event_type AS s, user_id, price FROM events WHERE event_type IN ('cart', 'purchase')",
			cols: []string{"s", "user_id", "price"},
			want: func() [][]any {
				var rows [][]any
				for _, e := range ev {
					if e.Type == "cart" || e.Type == "purchase" {
						rows = append(rows, []any{e.Session[:8] + "-" + e.Type, e.UserID, e.Price})
					}
				}
				return rows
			},
		},
		{
			// concat is NULL when an argument is NULL, as Spark's.
			q:    "SELECT concat(brand, ':', event_type) AS be, count(*) AS n FROM events GROUP BY 1",
			cols: []string{"be", "n"},
			want: func() [][]any {
				keys, m := groups(ev, func(e ecoEvent) (any, bool) {
					if e.Brand == nil {
						return nil, true
					}
					return *e.Brand + ":" + e.Type, true
				})
				var rows [][]any
				for _, key := range keys {
					rows = append(rows, []any{key, int64(len(m[key]))})
				}
				return rows
			},
		},
		{
			q:    "SELECT product_id, round(price, 1) AS r, round(price) AS r0, price * 2 AS double FROM events WHERE price BETWEEN 100 AND 200",
			cols: []string{"product_id", "r", "r0", "double"},
			want: func() [][]any {
				var rows [][]any
				for _, e := range ev {
					if e.Price >= 100 && e.Price <= 200 {
						rows = append(rows, []any{e.ProductID, roundCentsToDimes(e.Cents), float64((e.Cents + 50) / 100), e.Price * 2})
					}
				}
				return rows
			},
		},
		{
			q:    "SELECT date_trunc('minute', event_time) AS m, count(*) AS n, count_if(event_type = 'view') AS views, max(price) AS hi FROM events GROUP BY date_trunc('minute', event_time)",
			cols: []string{"m", "n", "views", "hi"},
			want: func() [][]any {
				keys, m := groups(ev, func(e ecoEvent) (time.Time, bool) { return e.Time.Truncate(time.Minute), true })
				var rows [][]any
				for _, key := range keys {
					g := m[key]
					rows = append(rows, []any{key, int64(len(g)), countOf(g, func(e ecoEvent) bool { return e.Type == "view" }), maxOf(g, price)})
				}
				return rows
			},
		},
		{
			q:    "SELECT hour(event_time) AS h, minute(event_time) AS mi, second(event_time) % 10 AS s10, count(*) AS n FROM events GROUP BY 1, 2, 3",
			cols: []string{"h", "mi", "s10", "n"},
			want: func() [][]any {
				type k struct{ h, m, s int64 }
				keys, m := groups(ev, func(e ecoEvent) (k, bool) {
					return k{int64(e.Time.Hour()), int64(e.Time.Minute()), int64(e.Time.Second() % 10)}, true
				})
				var rows [][]any
				for _, key := range keys {
					rows = append(rows, []any{key.h, key.m, key.s, int64(len(m[key]))})
				}
				return rows
			},
		},
		{
			q:    "SELECT regexp_extract(user_session, '^([0-9a-f])[0-9a-f]*-([0-9a-f]{2})', 2) AS p, count(*) AS n FROM events GROUP BY 1 HAVING count(*) > 12",
			cols: []string{"p", "n"},
			want: func() [][]any {
				re := regexp.MustCompile(`^([0-9a-f])[0-9a-f]*-([0-9a-f]{2})`)
				keys, m := groups(ev, func(e ecoEvent) (string, bool) {
					sm := re.FindStringSubmatch(e.Session)
					if sm == nil {
						return "", true
					}
					return sm[2], true
				})
				var rows [][]any
				for _, key := range keys {
					if n := len(m[key]); n > 12 {
						rows = append(rows, []any{key, int64(n)})
					}
				}
				return rows
			},
		},
		{
			q:    "SELECT if(price > 100, 'expensive', 'cheap') AS band, nullif(event_type, 'view') AS nv, count(*) AS n, sum(price) AS total FROM events GROUP BY 1, 2",
			cols: []string{"band", "nv", "n", "total"},
			want: func() [][]any {
				type k struct{ band, nv any }
				keys, m := groups(ev, func(e ecoEvent) (k, bool) {
					key := k{"cheap", e.Type}
					if e.Price > 100 {
						key.band = "expensive"
					}
					if e.Type == "view" {
						key.nv = nil
					}
					return key, true
				})
				var rows [][]any
				for _, key := range keys {
					rows = append(rows, []any{key.band, key.nv, int64(len(m[key])), sumOf(m[key], price)})
				}
				return rows
			},
		},
		{
			q: `SELECT count(*) AS n, count(brand) AS branded, sum(price) AS total, avg(price) AS mean, min(price) AS lo, max(price) AS hi,
				count_if(brand IS NULL) AS unbranded, stddev_samp(price) AS sd, var_pop(price) AS vp, bool_or(price > 2000) AS any_2k,
				bool_or(price > 1000000) AS any_1m, every(price > 0) AS all_pos FROM events`,
			cols: []string{"n", "branded", "total", "mean", "lo", "hi", "unbranded", "sd", "vp", "any_2k", "any_1m", "all_pos"},
			want: func() [][]any {
				return [][]any{{int64(len(ev)), countOf(ev, func(e ecoEvent) bool { return e.Brand != nil }), sumOf(ev, price),
					sumOf(ev, price) / float64(len(ev)), minOf(ev, price), maxOf(ev, price),
					countOf(ev, func(e ecoEvent) bool { return e.Brand == nil }), stddev(ev, price), variance(ev, price, false),
					countOf(ev, func(e ecoEvent) bool { return e.Price > 2000 }) > 0, false, true}}
			},
		},
		{
			q:    "SELECT event_type, stddev_samp(price) AS sd, var_pop(price) AS vp, avg(price) AS mean FROM events GROUP BY event_type",
			cols: []string{"event_type", "sd", "vp", "mean"},
			want: func() [][]any {
				keys, m := groups(ev, func(e ecoEvent) (string, bool) { return e.Type, true })
				var rows [][]any
				for _, key := range keys {
					g := m[key]
					rows = append(rows, []any{key, stddev(g, price), variance(g, price, false), sumOf(g, price) / float64(len(g))})
				}
				return rows
			},
		},
		{
			q:    "SELECT brand, count(*) AS n, sum(price) AS total FROM events WHERE brand LIKE 's%' AND event_type IN ('view', 'cart') AND category_code NOT LIKE '%.kitchen.%' GROUP BY brand",
			cols: []string{"brand", "n", "total"},
			want: func() [][]any {
				keys, m := groups(ev, func(e ecoEvent) (string, bool) {
					ok := e.Brand != nil && strings.HasPrefix(*e.Brand, "s") && (e.Type == "view" || e.Type == "cart") &&
						e.Code != nil && !strings.Contains(*e.Code, ".kitchen.")
					if !ok {
						return "", false
					}
					return *e.Brand, true
				})
				var rows [][]any
				for _, key := range keys {
					rows = append(rows, []any{key, int64(len(m[key])), sumOf(m[key], price)})
				}
				return rows
			},
		},
		{
			// CAST of a DOUBLE to BIGINT truncates towards zero.
			q:    "SELECT CAST(price AS BIGINT) AS whole, count(*) AS n, count(DISTINCT CAST(product_id AS STRING)) AS products FROM events WHERE price < 12.5 GROUP BY 1",
			cols: []string{"whole", "n", "products"},
			want: func() [][]any {
				keys, m := groups(ev, func(e ecoEvent) (int64, bool) { return e.Cents / 100, e.Price < 12.5 })
				var rows [][]any
				for _, key := range keys {
					rows = append(rows, []any{key, int64(len(m[key])), distinct(m[key], func(e ecoEvent) int64 { return e.ProductID })})
				}
				return rows
			},
		},
		{
			q:    "SELECT CAST(user_id AS STRING) AS u, CAST(price AS STRING) AS p FROM events WHERE event_type = 'purchase'",
			cols: []string{"u", "p"},
			want: func() [][]any {
				var rows [][]any
				for _, e := range ev {
					if e.Type == "purchase" {
						// Spark's DOUBLE to STRING: the shortest text, with ".0" for a whole number.
						p := strconv.FormatFloat(e.Price, 'f', -1, 64)
						if !strings.Contains(p, ".") {
							p += ".0"
						}
						rows = append(rows, []any{strconv.FormatInt(e.UserID, 10), p})
					}
				}
				return rows
			},
		},
		{
			q: `SELECT to_date(event_time) AS d, CAST(event_time AS DATE) AS d2,
				date_add(to_date(concat('2019-11-', lpad(CAST(user_id % 28 + 1 AS STRING), 2, '0'))), 3) AS d3,
				count(*) AS n FROM events WHERE to_date(event_time) = DATE '2019-11-01' GROUP BY 1, 2, 3`,
			cols: []string{"d", "d2", "d3", "n"},
			want: func() [][]any {
				keys, m := groups(ev, func(e ecoEvent) (time.Time, bool) {
					return time.Date(2019, 11, int(e.UserID%28+1)+3, 0, 0, 0, 0, time.UTC), true
				})
				var rows [][]any
				for _, key := range keys {
					rows = append(rows, []any{day, day, key, int64(len(m[key]))})
				}
				return rows
			},
		},
		{
			q:    "SELECT user_id, count(*) AS n, count_if(event_type = 'view') AS views, max(event_time) AS last_seen FROM events GROUP BY user_id HAVING count(*) >= 8",
			cols: []string{"user_id", "n", "views", "last_seen"},
			want: func() [][]any {
				keys, m := groups(ev, func(e ecoEvent) (int64, bool) { return e.UserID, true })
				var rows [][]any
				for _, key := range keys {
					g := m[key]
					if len(g) >= 8 {
						last := g[0].Time
						for _, e := range g {
							if e.Time.After(last) {
								last = e.Time
							}
						}
						rows = append(rows, []any{key, int64(len(g)), countOf(g, func(e ecoEvent) bool { return e.Type == "view" }), last})
					}
				}
				return rows
			},
		},
		{
			// NULLs from nullif are not counted; substr with a negative start counts from the end.
			q:    "SELECT event_type, count(nullif(brand, 'samsung')) AS c, min(coalesce(brand, '~')) AS lo, max(substr(user_session, -4)) AS tail FROM events GROUP BY event_type",
			cols: []string{"event_type", "c", "lo", "tail"},
			want: func() [][]any {
				keys, m := groups(ev, func(e ecoEvent) (string, bool) { return e.Type, true })
				var rows [][]any
				for _, key := range keys {
					g := m[key]
					lo, tail := "~", ""
					for _, e := range g {
						if e.Brand != nil && *e.Brand < lo {
							lo = *e.Brand
						}
						tail = max(tail, e.Session[len(e.Session)-4:])
					}
					rows = append(rows, []any{key, countOf(g, func(e ecoEvent) bool { return e.Brand != nil && *e.Brand != "samsung" }), lo, tail})
				}
				return rows
			},
		},
		{
			q:       "SELECT brand, count(*) AS n FROM events WHERE brand IS NOT NULL GROUP BY brand ORDER BY n DESC, brand LIMIT 7",
			cols:    []string{"brand", "n"},
			ordered: true,
			want: func() [][]any {
				keys, m := groups(ev, func(e ecoEvent) (string, bool) { return strOrNilString(e.Brand) })
				slices.SortFunc(keys, func(a, b string) int {
					if d := len(m[b]) - len(m[a]); d != 0 {
						return d
					}
					return strings.Compare(a, b)
				})
				var rows [][]any
				for _, key := range keys[:7] {
					rows = append(rows, []any{key, int64(len(m[key]))})
				}
				return rows
			},
		},
	}
	for _, c := range cases {
		cols, got := xrun(t, c.q, shopDDL, FormatCSV, raw, 4)
		check(t, c.q, cols, got, c.cols, c.want(), c.ordered)
	}

	// Approximate aggregates, within their stated bounds.
	q := "SELECT event_type, approx_count_distinct(user_id) AS u, approx_count_distinct(user_session, 0.01) AS s, count(DISTINCT user_id) AS exact FROM events GROUP BY event_type"
	_, got := xrun(t, q, shopDDL, FormatCSV, raw, 3)
	_, m := groups(ev, func(e ecoEvent) (string, bool) { return e.Type, true })
	if len(got) != len(m) {
		t.Fatalf("%s: %d rows, want %d", q, len(got), len(m))
	}
	for _, r := range got {
		g := m[r[0].(string)]
		users := distinct(g, func(e ecoEvent) int64 { return e.UserID })
		sessions := distinct(g, func(e ecoEvent) string { return e.Session })
		checkDistinct(t, q, r[0], r[1], users, 0.05)
		checkDistinct(t, q, r[0], r[2], sessions, 0.01)
		if r[3] != users {
			t.Errorf("%s: %v: count(DISTINCT user_id) = %v, want %d", q, r[0], r[3], users)
		}
	}
	q = "SELECT percentile_approx(price, 0.5) AS p50, percentile_approx(price, 0.9) AS p90, approx_percentile(price, 0.99, 100) AS p99, percentile_approx(price, 0.25, 50) AS p25 FROM events"
	_, got = xrun(t, q, shopDDL, FormatCSV, raw, 4)
	prices := make([]float64, len(ev))
	for i, e := range ev {
		prices[i] = e.Price
	}
	for j, pa := range []struct{ p, acc float64 }{{0.5, 10000}, {0.9, 10000}, {0.99, 100}, {0.25, 50}} {
		checkPercentile(t, q, got[0][j], prices, pa.p, pa.acc)
	}
}

func strOrNilString(p *string) (string, bool) {
	if p == nil {
		return "", false
	}
	return *p, true
}

// checkDistinct: an approx_count_distinct within 3 relative standard
// deviations of the exact count.
func checkDistinct(t *testing.T, q string, group, got any, exact int64, rsd float64) {
	t.Helper()
	g, ok := got.(int64)
	if !ok {
		t.Errorf("%s: %v: %#v, want an int64", q, group, got)
		return
	}
	if e := math.Abs(float64(g-exact)) / float64(exact); e > 3*rsd {
		t.Errorf("%s: %v: %d, exact %d: error %.4f over 3 x rsd %g", q, group, g, exact, e, rsd)
	}
}

// checkPercentile: percentile_approx returns one of the values, whose rank
// is within 1/accuracy of the one Spark's exact percentile has: the
// smallest value with at least ceil(p*n) values at or below it.
func checkPercentile(t *testing.T, q string, got any, xs []float64, p, accuracy float64) {
	t.Helper()
	v, ok := got.(float64)
	if !ok {
		t.Errorf("%s: percentile %g: %#v, want a float64", q, p, got)
		return
	}
	if !slices.Contains(xs, v) {
		t.Errorf("%s: percentile %g: %g is not one of the values", q, p, v)
		return
	}
	n := float64(len(xs))
	below := float64(countOf(xs, func(x float64) bool { return x < v }))
	atOrBelow := float64(countOf(xs, func(x float64) bool { return x <= v }))
	target := math.Ceil(p * n)
	eps := n / accuracy
	// The ranks v holds are (below, atOrBelow]; one of them must be within eps of target.
	if atOrBelow < target-eps || below+1 > target+eps {
		t.Errorf("%s: percentile %g: %g holds ranks %g..%g, want within %g of %g", q, p, v, below+1, atOrBelow, eps, target)
	}
}

func TestCrossCheckIoT(t *testing.T) {
	raw := generate(t, "iot", xcheckRecords)
	rd := decodeIoT(t, raw)
	cases := []xcase{
		{
			q:    "SELECT device_id, count(*) AS n, avg(temperature) AS t, min(temperature) AS lo, max(pressure) AS hi FROM events GROUP BY device_id HAVING count(*) >= 6",
			cols: []string{"device_id", "n", "t", "lo", "hi"},
			want: func() [][]any {
				keys, m := groups(rd, func(r iotReading) (string, bool) { return r.DeviceID, true })
				var rows [][]any
				for _, key := range keys {
					g := m[key]
					if len(g) >= 6 {
						rows = append(rows, []any{key, int64(len(g)), sumOf(g, temp) / float64(len(g)), minOf(g, temp), maxOf(g, press)})
					}
				}
				return rows
			},
		},
		{
			// A device with one reading has a NULL sample deviation and variance.
			q:    "SELECT device_id, stddev_samp(temperature) AS sd, var_samp(pressure) AS vs, stddev_pop(temperature) AS sp FROM events GROUP BY device_id",
			cols: []string{"device_id", "sd", "vs", "sp"},
			want: func() [][]any {
				keys, m := groups(rd, func(r iotReading) (string, bool) { return r.DeviceID, true })
				var rows [][]any
				for _, key := range keys {
					g := m[key]
					rows = append(rows, []any{key, stddev(g, temp), variance(g, press, true), math.Sqrt(variance(g, temp, false).(float64))})
				}
				return rows
			},
		},
		{
			q:    "SELECT substring(device_id, 5, 2) AS bucket, avg(temperature) AS t, stddev_samp(temperature) AS sd, var_pop(pressure) AS vp, count(DISTINCT device_id) AS devices FROM events GROUP BY 1",
			cols: []string{"bucket", "t", "sd", "vp", "devices"},
			want: func() [][]any {
				keys, m := groups(rd, func(r iotReading) (string, bool) { return r.DeviceID[4:6], true })
				var rows [][]any
				for _, key := range keys {
					g := m[key]
					rows = append(rows, []any{key, sumOf(g, temp) / float64(len(g)), stddev(g, temp), variance(g, press, false),
						distinct(g, func(r iotReading) string { return r.DeviceID })})
				}
				return rows
			},
		},
		{
			q:    "SELECT round(lat, 0) AS la, round(lon, 0) AS lo, count(*) AS n, count(DISTINCT device_id) AS devices FROM events GROUP BY 1, 2",
			cols: []string{"la", "lo", "n", "devices"},
			want: func() [][]any {
				type k struct{ la, lo float64 }
				keys, m := groups(rd, func(r iotReading) (k, bool) { return k{math.Round(r.Lat), math.Round(r.Lon)}, true })
				var rows [][]any
				for _, key := range keys {
					rows = append(rows, []any{key.la, key.lo, int64(len(m[key])), distinct(m[key], func(r iotReading) string { return r.DeviceID })})
				}
				return rows
			},
		},
		{
			q:    "SELECT device_id, ts, temperature, upper(device_id) AS up FROM events WHERE temperature > 27",
			cols: []string{"device_id", "ts", "temperature", "up"},
			want: func() [][]any {
				var rows [][]any
				for _, r := range rd {
					if r.Temperature > 27 {
						rows = append(rows, []any{r.DeviceID, r.TS, r.Temperature, strings.ToUpper(r.DeviceID)})
					}
				}
				return rows
			},
		},
		{
			q:    "SELECT date_trunc('second', ts) AS s, count(*) AS n, max(temperature) AS hi, bool_or(temperature > 30) AS hot, count_if(pressure < 1005) AS low FROM events GROUP BY 1",
			cols: []string{"s", "n", "hi", "hot", "low"},
			want: func() [][]any {
				keys, m := groups(rd, func(r iotReading) (time.Time, bool) { return r.TS.Truncate(time.Second), true })
				var rows [][]any
				for _, key := range keys {
					g := m[key]
					rows = append(rows, []any{key, int64(len(g)), maxOf(g, temp), countOf(g, func(r iotReading) bool { return r.Temperature > 30 }) > 0,
						countOf(g, func(r iotReading) bool { return r.Pressure < 1005 })})
				}
				return rows
			},
		},
		{
			q:    "SELECT CAST(regexp_extract(device_id, '([0-9]+)$', 1) AS BIGINT) % 10 AS d, count(*) AS n, min(ts) AS first_seen FROM events WHERE device_id BETWEEN 'dev-0100' AND 'dev-0499' GROUP BY 1",
			cols: []string{"d", "n", "first_seen"},
			want: func() [][]any {
				keys, m := groups(rd, func(r iotReading) (int64, bool) {
					n, _ := strconv.ParseInt(r.DeviceID[4:], 10, 64)
					return n % 10, r.DeviceID >= "dev-0100" && r.DeviceID <= "dev-0499"
				})
				var rows [][]any
				for _, key := range keys {
					first := m[key][0].TS
					for _, r := range m[key] {
						if r.TS.Before(first) {
							first = r.TS
						}
					}
					rows = append(rows, []any{key, int64(len(m[key])), first})
				}
				return rows
			},
		},
		{
			q:    "SELECT if(temperature > 25, 'warm', if(temperature < 18, 'cold', 'mild')) AS band, count(*) AS n, avg(pressure) AS p, stddev_samp(pressure) AS sd FROM events GROUP BY 1",
			cols: []string{"band", "n", "p", "sd"},
			want: func() [][]any {
				keys, m := groups(rd, func(r iotReading) (string, bool) {
					switch {
					case r.Temperature > 25:
						return "warm", true
					case r.Temperature < 18:
						return "cold", true
					}
					return "mild", true
				})
				var rows [][]any
				for _, key := range keys {
					g := m[key]
					rows = append(rows, []any{key, int64(len(g)), sumOf(g, press) / float64(len(g)), stddev(g, press)})
				}
				return rows
			},
		},
		{
			q:    "SELECT split_part(device_id, '-', 2) AS num, concat_ws('/', device_id, CAST(hour(ts) AS STRING)) AS dh, second(ts) AS s FROM events WHERE device_id IN ('dev-0007', 'dev-0042', 'dev-0123', 'dev-0500', 'dev-0999') AND pressure BETWEEN 990 AND 1030",
			cols: []string{"num", "dh", "s"},
			want: func() [][]any {
				var rows [][]any
				for _, r := range rd {
					if slices.Contains([]string{"dev-0007", "dev-0042", "dev-0123", "dev-0500", "dev-0999"}, r.DeviceID) && r.Pressure >= 990 && r.Pressure <= 1030 {
						rows = append(rows, []any{r.DeviceID[4:], fmt.Sprintf("%s/%d", r.DeviceID, r.TS.Hour()), int64(r.TS.Second())})
					}
				}
				return rows
			},
		},
	}
	for _, c := range cases {
		cols, got := xrun(t, c.q, iotDDL, FormatJSON, raw, 3)
		check(t, c.q, cols, got, c.cols, c.want(), c.ordered)
	}

	q := "SELECT approx_count_distinct(device_id) AS u, percentile_approx(temperature, 0.5) AS p50, percentile_approx(pressure, 0.95, 200) AS p95 FROM events"
	_, got := xrun(t, q, iotDDL, FormatJSON, raw, 4)
	checkDistinct(t, q, "all", got[0][0], distinct(rd, func(r iotReading) string { return r.DeviceID }), 0.05)
	temps := make([]float64, len(rd))
	pressures := make([]float64, len(rd))
	for i, r := range rd {
		temps[i], pressures[i] = r.Temperature, r.Pressure
	}
	checkPercentile(t, q, got[0][1], temps, 0.5, 10000)
	checkPercentile(t, q, got[0][2], pressures, 0.95, 200)
}
