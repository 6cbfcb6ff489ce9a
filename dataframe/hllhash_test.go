package dataframe

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// The fixed-width hashes equal xxhash.Sum64 of appendKey's bytes, the
// generic path's hash, for every type they serve.
func TestHLLFixedWidthHash(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	i64 := []int64{0, 1, -1, math.MinInt64, math.MaxInt64, 255, 256, -256}
	f64 := []float64{0, math.Copysign(0, -1), 1.5, -1.5, math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64, math.SmallestNonzeroFloat64}
	i32 := []int32{0, 1, -1, math.MinInt32, math.MaxInt32, 255, 256}
	for range 10000 {
		i64 = append(i64, int64(r.Uint64()))
		f64 = append(f64, r.NormFloat64()*1e6)
		i32 = append(i32, int32(r.Uint32()))
	}
	var buf []byte
	check := func(v *vector, got uint64) {
		t.Helper()
		buf = appendKey(buf[:0], v, 0)
		if want := xxhash.Sum64(buf); got != want {
			t.Fatalf("%v %x: fixed-width hash %x, xxhash.Sum64 %x", v.typ, buf, got, want)
		}
	}
	for _, typ := range []Type{Int64, Timestamp} {
		for _, x := range i64 {
			v := &vector{typ: typ, i64: []int64{x}}
			check(v, hllHashAt(v, 0))
		}
	}
	for _, x := range f64 {
		v := &vector{typ: Float64, f64: []float64{x}}
		check(v, hllHashAt(v, 0))
	}
	for _, typ := range []Type{Int32, Date} {
		for _, x := range i32 {
			v := &vector{typ: typ, i32: []int32{x}}
			check(v, hllHashAt(v, 0))
		}
	}
}
