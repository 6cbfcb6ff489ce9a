package dataframe

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestLike(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"abc", "abc", true}, {"abc", "abcd", false},
		{"ab%", "abxyz", true}, {"ab%", "a", false},
		{"%yz", "xyz", true}, {"%yz", "yzx", false},
		{"%b%", "abc", true}, {"%b%", "ac", false},
		{"a_c", "abc", true}, {"a_c", "ac", false}, {"a_c", "aéc", true},
		{"a%c%e", "abcde", true}, {"a%c%e", "abcdf", false}, {"a%c%e", "ace", true},
		{"%a%a%", "banana", true}, {"_%_", "x", false}, {"_%_", "xy", true},
		{`100\%`, "100%", true}, {`100\%`, "1000", false}, {`a\_b`, "a_b", true}, {`a\_b`, "axb", false},
		{"", "", true}, {"%", "", true}, {"%%", "anything", true}, {"a%a", "a", false},
	} {
		p, err := compileLike(c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.match(c.s); got != c.want {
			t.Errorf("%q LIKE %q = %v, want %v", c.s, c.pattern, got, c.want)
		}
	}
}

func TestCastValue(t *testing.T) {
	for _, c := range []struct {
		v        value
		from, to Type
		want     value
		ok       bool
	}{
		{value{s: " 42 "}, String, Int32, value{i: 42}, true},
		{value{s: "4.9"}, String, Int64, value{i: 4}, true},
		{value{s: "x"}, String, Int64, value{}, false},
		{value{s: "3000000000"}, String, Int32, value{}, false},
		{value{i: 3000000000}, Int64, Int32, value{i: -1294967296}, true},
		{value{f: -2.7}, Float64, Int64, value{i: -2}, true},
		{value{f: math.NaN()}, Float64, Int32, value{i: 0}, true},
		{value{f: 1e300}, Float64, Int32, value{i: math.MaxInt32}, true},
		{value{f: 1e20}, Float64, Int64, value{i: math.MaxInt64}, true},
		{value{f: math.Inf(1)}, Float64, Int64, value{i: math.MaxInt64}, true},
		{value{f: -1e20}, Float64, Int64, value{i: math.MinInt64}, true},
		{value{f: math.Inf(-1)}, Float64, Int32, value{i: math.MinInt32}, true},
		{value{f: 9.2233720368547748e18}, Float64, Int64, value{i: 9223372036854774784}, true}, // the largest double below 2^63
		{value{s: "1e3"}, String, Int32, value{}, false},
		{value{s: "0x10"}, String, Int64, value{}, false},
		{value{s: "Infinity"}, String, Int64, value{}, false},
		{value{s: "1_000"}, String, Int64, value{}, false},
		{value{s: "-7.99"}, String, Int64, value{i: -7}, true},
		{value{s: "+3."}, String, Int64, value{i: 3}, true},
		{value{s: ".5"}, String, Int64, value{i: 0}, true},
		{value{s: "-.5"}, String, Int64, value{i: 0}, true},
		{value{s: "."}, String, Int64, value{}, false},
		{value{s: "+-1"}, String, Int64, value{}, false},
		{value{s: "1.2.3"}, String, Int64, value{}, false},
		{value{s: "9223372036854775808"}, String, Int64, value{}, false},
		{value{s: "Yes"}, String, Bool, value{i: 1}, true},
		{value{s: "maybe"}, String, Bool, value{}, false},
		{value{i: 1}, Bool, Float64, value{f: 1}, true},
		{value{f: 0.5}, Float64, String, value{s: "0.5"}, true},
		{value{f: 1e-5}, Float64, String, value{s: "1.0E-5"}, true},
		{value{f: math.Inf(-1)}, Float64, String, value{s: "-Infinity"}, true},
		{value{i: 1500000}, Timestamp, Int64, value{i: 1}, true},
		{value{i: -1}, Timestamp, Int64, value{i: -1}, true},
		{value{i: 1500000}, Timestamp, Float64, value{f: 1.5}, true},
		{value{i: 2}, Int64, Timestamp, value{i: 2000000}, true},
		{value{s: "2024-01-01 00:00:00"}, String, Timestamp, value{i: 1704067200000000}, true},
		{value{i: 1704067200000000}, Timestamp, String, value{s: "2024-01-01 00:00:00"}, true},
		{value{i: 0}, Bool, String, value{s: "false"}, true},
	} {
		got, ok := castValue(c.v, c.from, c.to)
		if ok != c.ok || ok && got != c.want {
			t.Errorf("cast %+v %v->%v = %+v %v, want %+v %v", c.v, c.from, c.to, got, ok, c.want, c.ok)
		}
	}
}

// TestKeyOrder checks that encoded group keys sort like the values (NULL
// first) and decode back.
func TestKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	strs := []string{"", "a", "a\x00", "a\x00b", "ab", "b", "\x00", "\xff", "é"}
	for _, typ := range []Type{String, Int32, Int64, Float64, Bool, Timestamp} {
		n := 200
		v := newVector(typ, n)
		for i := 0; i < n; i++ {
			switch typ {
			case String:
				v.s[i] = strs[r.IntN(len(strs))]
			case Int32:
				v.i32[i] = int32(r.Uint32())
			case Int64, Timestamp:
				v.i64[i] = int64(r.Uint64())
			case Float64:
				v.f64[i] = []float64{0, 1, -1, 1e300, -1e-300, math.Inf(1), math.Inf(-1), r.NormFloat64()}[r.IntN(8)]
			case Bool:
				v.b[i] = r.IntN(2) == 1
			}
			if r.IntN(10) == 0 {
				v.setNull(int32(i), n)
			}
		}
		idx := make([]int32, n)
		for i := range idx {
			idx[i] = int32(i)
		}
		slices.SortFunc(idx, func(a, b int32) int {
			return bytes.Compare(appendKey(nil, v, a), appendKey(nil, v, b))
		})
		for k := 1; k < n; k++ {
			if compareRows(v, idx[k-1], idx[k], false) > 0 {
				t.Fatalf("%v: key order disagrees with value order at %v, %v", typ, v.get(idx[k-1]), v.get(idx[k]))
			}
		}
		for i := 0; i < n; i++ {
			key := appendKey(nil, v, int32(i))
			x, rest, err := decodeKeyValue(key, typ)
			if err != nil || len(rest) != 0 || x != v.get(int32(i)) {
				t.Fatalf("%v: decode(%x) = %+v %v, want %+v", typ, key, x, err, v.get(int32(i)))
			}
		}
	}
	// -0 and 0 group together, as do all NaNs.
	f := &vector{typ: Float64, f64: []float64{0, math.Copysign(0, -1), math.NaN(), -math.NaN()}}
	if !bytes.Equal(appendKey(nil, f, 0), appendKey(nil, f, 1)) || !bytes.Equal(appendKey(nil, f, 2), appendKey(nil, f, 3)) {
		t.Error("0/-0 or NaN keys differ")
	}
}

func TestThreeValuedLogic(t *testing.T) {
	// a, b over {TRUE, FALSE, NULL}: row i is (a[i/3], b[i%3]).
	mem := newMem(t)
	s := mustSchema(t, "a BOOLEAN, b BOOLEAN")
	var vals []string
	lit := []string{"true", "false", "null"}
	for _, a := range lit {
		for _, b := range lit {
			vals = append(vals, `{"a":`+a+`,"b":`+b+`}`)
		}
	}
	p := must(Compile(Source("x", s).Select(Col("a").And(Col("b")), Col("a").Or(Col("b")), Not(Col("a")), Col("a").Eq(Col("b")), Col("a").Lt(Col("b"))), Append))
	tasks := runTasks(t, mem, p, s, FormatJSON, vals, 1, 100, nil)
	defer release(tasks)
	out := tasks[0].Output()
	defer out[0].Release()
	T, F := any(true), any(false)
	equalRows(t, rows(t, out[0]), [][]any{
		{T, T, F, T, F}, {F, T, F, F, F}, {nil, T, F, nil, nil},
		{F, T, T, F, T}, {F, F, T, T, F}, {F, nil, T, nil, nil},
		{nil, T, nil, nil, nil}, {F, nil, nil, nil, nil}, {nil, nil, nil, nil, nil},
	})
	// Filter keeps TRUE only.
	p2 := must(Compile(Source("x", s).Filter(Col("a").Or(Col("b"))).Select(Col("_offset")), Append))
	tasks2 := runTasks(t, mem, p2, s, FormatJSON, vals, 1, 100, nil)
	defer release(tasks2)
	out2 := tasks2[0].Output()
	defer out2[0].Release()
	equalRows(t, rows(t, out2[0]), [][]any{{int64(0)}, {int64(1)}, {int64(2)}, {int64(3)}, {int64(6)}})
}
