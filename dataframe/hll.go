package dataframe

import (
	"math"
	"math/bits"
)

// HyperLogLog (Flajolet et al.) with the 64-bit hash of HyperLogLog++
// (Heule et al.) and Ertl's improved estimator ("New cardinality
// estimation algorithms for HyperLogLog sketches", 2017), which is
// unbiased from 0 to beyond 2^50 distinct values without HLL++'s empirical
// bias tables or its switch to linear counting. A sketch of precision p is
// 2^p one-byte registers; sketches merge by taking each register's
// maximum, so a merge of partial sketches equals one pass over all values.

// hllMinP and hllMaxP bound the precision: Spark refuses p < 4 (rsd above
// 0.39); above 16 (64 KiB per group) the state stops being small.
const (
	hllMinP = 4
	hllMaxP = 16
)

// hllPrecision is the precision Spark's HyperLogLogPlusPlus derives from
// the relative standard deviation rsd: ceil(2 log2(1.106 / rsd)).
func hllPrecision(rsd float64) int {
	return int(math.Ceil(2 * math.Log(1.106/rsd) / math.Log(2)))
}

// hllAdd records hash h in the registers regs (len 2^p): the top p bits
// pick the register, which keeps the largest rank (position of the first
// 1 bit) of the remaining 64-p bits, 1 to 65-p.
func hllAdd(regs []byte, p uint8, h uint64) {
	idx := h >> (64 - p)
	r := uint8(bits.LeadingZeros64(h<<p|1<<(p-1))) + 1
	if r > regs[idx] {
		regs[idx] = r
	}
}

// hllMerge folds src into dst, register by register.
func hllMerge(dst, src []byte) {
	for i, r := range src {
		if r > dst[i] {
			dst[i] = r
		}
	}
}

// hllEstimate is Ertl's improved raw estimate of the number of distinct
// hashes recorded in regs.
func hllEstimate(regs []byte, p uint8) float64 {
	q := 64 - int(p)
	m := float64(len(regs))
	var c [66]int // c[k]: registers holding k
	for _, r := range regs {
		c[r]++
	}
	z := m * hllTau(1-float64(c[q+1])/m)
	for k := q; k >= 1; k-- {
		z = 0.5 * (z + float64(c[k]))
	}
	z += m * hllSigma(float64(c[0])/m)
	return m * m / (2 * math.Ln2 * z)
}

func hllSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		zp := z
		z += x * y
		y += y
		if z == zp {
			return z
		}
	}
}

func hllTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		zp := z
		y *= 0.5
		z -= (1 - x) * (1 - x) * y
		if z == zp {
			return z / 3
		}
	}
}
