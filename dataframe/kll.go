package dataframe

import (
	"math"
	"slices"
)

// kllSketch is Karnin, Lang and Liberty's quantile sketch ("Optimal
// Quantile Approximation in Streams", 2016): level h holds items of weight
// 2^h, and a level over its capacity is sorted and compacted, every other
// item moving up a level with twice the weight. Level capacities shrink
// geometrically (by 2/3) below the top one, which holds k. Until a group
// has seen about k values its sketch is exact.
//
// Which half of a level a compaction keeps is a coin flip; here the coin is
// a hash of the sketch's count of compactions, kept in the state, so that
// a sketch is a deterministic function of its input order: a batch re-run
// after a restart computes the same sketch.
type kllSketch struct {
	n      int64 // values added (the total weight)
	flips  uint64
	size   int // items held, over every level
	levels [][]float64
}

// kllMaxK bounds k: 2048 keeps a group's sketch under about 6,000 items
// (48 KiB) for a rank error of about 0.15%.
const kllMaxK = 2048

// kllK is the k whose rank error is about 1/accuracy (Spark's meaning of
// accuracy), by the empirical bound 2.296/k^0.9723 of Apache DataSketches'
// KLL sketch, within [8, kllMaxK].
func kllK(accuracy int64) int {
	k := math.Ceil(math.Pow(2.296*float64(accuracy), 1/0.9723))
	return int(max(8, min(k, kllMaxK)))
}

// kllRankError is the rank error (a fraction of the values) documented for
// a sketch of parameter k.
func kllRankError(k int) float64 { return 2.296 / math.Pow(float64(k), 0.9723) }

func (s *kllSketch) capacity(h, k int) int {
	c := float64(k) * math.Pow(2.0/3, float64(len(s.levels)-1-h))
	return max(8, int(math.Ceil(c)))
}

func (s *kllSketch) totalCapacity(k int) int {
	t := 0
	for h := range s.levels {
		t += s.capacity(h, k)
	}
	return t
}

func (s *kllSketch) add(x float64, k int) {
	if len(s.levels) == 0 {
		s.levels = [][]float64{nil}
	}
	s.levels[0] = append(s.levels[0], x)
	s.n++
	s.size++
	if len(s.levels[0]) >= s.capacity(0, k) {
		s.compress(k)
	}
}

// compress compacts the lowest level over its capacity until the sketch
// fits its total capacity.
func (s *kllSketch) compress(k int) {
	for s.size > s.totalCapacity(k) || len(s.levels[0]) >= s.capacity(0, k) {
		h := 0
		for h < len(s.levels)-1 && len(s.levels[h]) < s.capacity(h, k) {
			h++
		}
		s.compact(h)
	}
}

func (s *kllSketch) compact(h int) {
	if h+1 == len(s.levels) {
		s.levels = append(s.levels, nil)
	}
	lv := s.levels[h]
	slices.SortFunc(lv, compareFloat)
	even := len(lv) &^ 1
	off := int(splitmix64(s.flips) & 1)
	s.flips++
	up := s.levels[h+1]
	for i := off; i < even; i += 2 {
		up = append(up, lv[i])
	}
	s.levels[h+1] = up
	s.size -= even / 2
	s.levels[h] = append(lv[:0], lv[even:]...)
}

// merge folds o into s.
func (s *kllSketch) merge(o *kllSketch, k int) {
	if o == nil || o.n == 0 {
		return
	}
	for len(s.levels) < len(o.levels) {
		s.levels = append(s.levels, nil)
	}
	for h, lv := range o.levels {
		s.levels[h] = append(s.levels[h], lv...)
	}
	s.n += o.n
	s.size += o.size
	s.flips += o.flips
	s.compress(k)
}

// quantile is Spark's percentile of fraction p: the smallest value v such
// that at least ceil(p*n) values (by the sketch's weights) are <= v.
func (s *kllSketch) quantile(p float64) float64 {
	type item struct {
		v float64
		w int64
	}
	items := make([]item, 0, s.size)
	for h, lv := range s.levels {
		for _, v := range lv {
			items = append(items, item{v, 1 << h})
		}
	}
	slices.SortFunc(items, func(a, b item) int { return compareFloat(a.v, b.v) })
	target := max(1, int64(math.Ceil(p*float64(s.n))))
	var cum int64
	for _, it := range items {
		cum += it.w
		if cum >= target {
			return it.v
		}
	}
	return items[len(items)-1].v
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
