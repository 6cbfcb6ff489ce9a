package gen_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"hash/fnv"
	"strings"
	"testing"

	"github.com/microbatch/microbatch/internal/gen"
)

func mustNew(t testing.TB, name string, seed int64) gen.Generator {
	t.Helper()
	g, err := gen.New(name, seed)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGolden pins the exact bytes of the first records for seed 7: a
// change here changes every dataset users and benchmarks have recorded.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		want []string // "key value"
	}{
		{"clickstream", []string{
			`u37108 {"timestamp":"2024-01-01T00:00:00.009Z","userid":"u37108","page":"/","action":"view"}`,
			`u279 {"timestamp":"2024-01-01T00:00:00.010Z","userid":"u279","page":"/products/9","action":"view"}`,
			`u101 {"timestamp":"2024-01-01T00:00:00.023Z","userid":"u101","page":"/products/19","action":"click"}`,
		}},
		{"ecommerce", []string{
			`528422738 2019-11-01 00:00:00 UTC,view,14625931,2053013555215540041,electronics.audio.headphone,sony,55.09,528422738,b9e84a34-60a3-45ee-8416-cf02cce2a37c`,
			`588370808 2019-11-01 00:00:00 UTC,view,35681466,2053013555748301882,electronics.smartphone,garmin,397.21,588370808,46790200-74d5-4a78-a42c-62c80003d258`,
			`594891505 2019-11-01 00:00:00 UTC,view,8579443,2053013552848553766,kids.toys,samsung,406.87,594891505,a2000733-39ff-4d6e-a92a-5b0a9fb848cf`,
		}},
		{"iot", []string{
			`dev-0332 {"device_id":"dev-0332","ts":"2024-01-01T00:00:00.007Z","temperature":19.4,"pressure":1006.9,"lat":40.65523,"lon":-73.88656}`,
			`dev-0290 {"device_id":"dev-0290","ts":"2024-01-01T00:00:00.015Z","temperature":18.2,"pressure":1006.1,"lat":51.61707,"lon":0.01997}`,
			`dev-0814 {"device_id":"dev-0814","ts":"2024-01-01T00:00:00.023Z","temperature":20.1,"pressure":1003.7,"lat":1.50999,"lon":103.79631}`,
		}},
	} {
		g := mustNew(t, tc.name, 7)
		var r gen.Record
		for i, want := range tc.want {
			g.Next(&r)
			if got := string(r.Key) + " " + string(r.Value); got != want {
				t.Errorf("%s record %d:\n got %s\nwant %s", tc.name, i, got, want)
			}
		}
	}
}

func digest(g gen.Generator, n int) uint64 {
	h := fnv.New64a()
	var r gen.Record
	for i := 0; i < n; i++ {
		g.Next(&r)
		h.Write(r.Key)
		h.Write([]byte{0})
		h.Write(r.Value)
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func TestDeterministic(t *testing.T) {
	for _, name := range gen.Names() {
		a := digest(mustNew(t, name, 42), 20000)
		b := digest(mustNew(t, name, 42), 20000)
		c := digest(mustNew(t, name, 43), 20000)
		if a != b {
			t.Errorf("%s: seed 42 twice gave different records", name)
		}
		if a == c {
			t.Errorf("%s: seeds 42 and 43 gave the same records", name)
		}
	}
}

func TestUnknown(t *testing.T) {
	_, err := gen.New("weblogs", 1)
	if err == nil || err.Error() != `unknown generator "weblogs" (want one of clickstream, ecommerce, iot)` {
		t.Fatalf("err = %v", err)
	}
}

func TestClickstreamShape(t *testing.T) {
	g := mustNew(t, "clickstream", 1)
	var r gen.Record
	actions := map[string]int{}
	pages := map[string]int{}
	size := 0
	const n = 50000
	for i := 0; i < n; i++ {
		g.Next(&r)
		size += len(r.Value)
		var ev struct{ Timestamp, Userid, Page, Action string }
		dec := json.NewDecoder(bytes.NewReader(r.Value))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("record %d %s: %v", i, r.Value, err)
		}
		if ev.Userid != string(r.Key) {
			t.Fatalf("record %d: key %s, userid %s", i, r.Key, ev.Userid)
		}
		actions[ev.Action]++
		pages[ev.Page]++
	}
	if avg := size / n; avg < 80 || avg > 100 {
		t.Errorf("average record size %d bytes, want about 90", avg)
	}
	if !(actions["view"] > actions["click"] && actions["click"] > actions["add_to_cart"] && actions["add_to_cart"] > actions["purchase"] && actions["purchase"] > 0) {
		t.Errorf("actions = %v, want view > click > add_to_cart > purchase > 0", actions)
	}
	if pages["/products/1"] < 10*pages["/products/500"] {
		t.Errorf("product popularity is not skewed: /products/1 %d, /products/500 %d", pages["/products/1"], pages["/products/500"])
	}
}

func TestEcommerceShape(t *testing.T) {
	g := mustNew(t, "ecommerce", 1)
	var r gen.Record
	events := map[string]int{}
	emptyCode, emptyBrand := 0, 0
	carted := map[string]bool{} // user+product put in a cart
	const n = 50000
	for i := 0; i < n; i++ {
		g.Next(&r)
		rd := csv.NewReader(bytes.NewReader(r.Value))
		rd.FieldsPerRecord = 9
		f, err := rd.Read()
		if err != nil {
			t.Fatalf("record %d %s: %v", i, r.Value, err)
		}
		if !strings.HasSuffix(f[0], " UTC") || len(f[0]) != len("2019-11-01 00:00:01 UTC") {
			t.Fatalf("record %d: event_time %q", i, f[0])
		}
		if f[7] != string(r.Key) {
			t.Fatalf("record %d: key %s, user_id %s", i, r.Key, f[7])
		}
		if len(f[8]) != 36 || f[8][14] != '4' {
			t.Fatalf("record %d: user_session %q is not a v4 UUID", i, f[8])
		}
		events[f[1]]++
		if f[4] == "" {
			emptyCode++
		}
		if f[5] == "" {
			emptyBrand++
		}
		switch up := f[7] + "/" + f[2]; f[1] {
		case "cart":
			carted[up] = true
		case "purchase":
			if !carted[up] {
				t.Fatalf("record %d: purchase of %s never put in the cart", i, up)
			}
		}
	}
	if !(events["view"] > 20*events["cart"] && events["cart"] > events["purchase"] && events["purchase"] > 0) || len(events) != 3 {
		t.Errorf("events = %v, want a view > cart > purchase funnel", events)
	}
	if emptyCode < n/10 || emptyBrand < n/50 {
		t.Errorf("empty category_code %d, empty brand %d of %d: want some of each", emptyCode, emptyBrand, n)
	}
}

func TestIoTShape(t *testing.T) {
	g := mustNew(t, "iot", 1)
	var r gen.Record
	spikes := 0
	const n = 50000
	for i := 0; i < n; i++ {
		g.Next(&r)
		var ev struct {
			DeviceID                        string `json:"device_id"`
			Ts                              string
			Temperature, Pressure, Lat, Lon float64
		}
		dec := json.NewDecoder(bytes.NewReader(r.Value))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("record %d %s: %v", i, r.Value, err)
		}
		if ev.DeviceID != string(r.Key) || len(ev.DeviceID) != 8 {
			t.Fatalf("record %d: key %s, device_id %s", i, r.Key, ev.DeviceID)
		}
		if ev.Temperature > 30 {
			spikes++
		}
		if ev.Pressure < 990 || ev.Pressure > 1040 {
			t.Fatalf("record %d: pressure %v", i, ev.Pressure)
		}
	}
	if spikes < n/2000 || spikes > n/200 {
		t.Errorf("%d temperature spikes in %d readings, want about 1 in 1000", spikes, n)
	}
}

func TestNextDoesNotAllocate(t *testing.T) {
	for _, name := range gen.Names() {
		g := mustNew(t, name, 1)
		var r gen.Record
		g.Next(&r)
		r.Key, r.Value = make([]byte, 0, 64), make([]byte, 0, 512)
		if a := testing.AllocsPerRun(10000, func() { g.Next(&r) }); a != 0 {
			t.Errorf("%s: %v allocations per Next, want 0", name, a)
		}
	}
}

func BenchmarkNext(b *testing.B) {
	for _, name := range gen.Names() {
		b.Run(name, func(b *testing.B) {
			g := mustNew(b, name, 1)
			var r gen.Record
			b.ReportAllocs()
			n := 0
			for i := 0; i < b.N; i++ {
				g.Next(&r)
				n += len(r.Value)
			}
			b.SetBytes(int64(n / b.N))
		})
	}
}
