package dataframe

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// The approximate aggregates: approx_count_distinct (HyperLogLog, hll.go)
// and percentile_approx (KLL, kll.go). Both states are small, fixed-bound
// sketches that merge without loss of their guarantees, so a task's partial
// state, the running state and a restored state combine like count's.

// aggParams are an aggregate call's constant parameters, checked and
// defaulted by bindAggParams.
type aggParams struct {
	hllP        uint8   // approx_count_distinct: the HyperLogLog precision
	pct         float64 // percentile_approx: the percentage, in [0, 1]
	k           int     // percentile_approx: the KLL sketch's k
	ignoreNulls bool    // first, last
	// text is the parameters as written (", 0.01D"), part of the call's
	// text; canon is their effective values (", precision 11"), part of
	// Program.Aggregates: a change of state shape changes it.
	text, canon string
}

// paramCount is the number of constant parameters an aggregate takes after
// its argument.
func (f aggFunc) paramCount() (lo, hi int) {
	switch f {
	case aggApproxDistinct, aggFirst, aggLast:
		return 0, 1
	case aggPercentile:
		return 1, 2
	}
	return 0, 0
}

// Defaults of the parameters, as Spark's.
const (
	defaultRSD      = 0.05
	defaultAccuracy = 10000
	// collectSetLimit is the number of distinct values collect_set keeps
	// per group: the smallest ones, in the values' order.
	collectSetLimit = 1000
)

// bindAggParams checks the parameters n.args[1:] of an aggregate call.
func bindAggParams(call *aggCall, n *node) error {
	name := aggText[call.fn]
	var params []*node
	if len(n.args) > 1 {
		params = n.args[1:]
	}
	lo, hi := call.fn.paramCount()
	if len(params) < lo || len(params) > hi {
		if hi == 0 {
			return fmt.Errorf("%w: %s takes one argument, got %d", ErrPlan, name, len(n.args))
		}
		return fmt.Errorf("%w: %s takes %d to %d arguments, got %d", ErrPlan, name, lo+1, hi+1, len(n.args))
	}
	num := func(i int, what string) (float64, error) {
		p := params[i]
		if p.kind == kFunc && p.name == "array" {
			return 0, fmt.Errorf("%w: %s: an array of %ss is not supported (there is no ARRAY type): call %s once per %s", ErrPlan, name, what, name, what)
		}
		if p.kind != kLit || p.null || !p.typ.numeric() {
			return 0, fmt.Errorf("%w: %s: the %s must be a constant number, got %s", ErrPlan, name, what, p)
		}
		if p.typ == Float64 {
			return p.f, nil
		}
		return float64(p.i), nil
	}
	for _, p := range params {
		call.params.text += ", " + p.String()
	}
	switch call.fn {
	case aggApproxDistinct:
		rsd := defaultRSD
		if len(params) == 1 {
			var err error
			if rsd, err = num(0, "relative standard deviation"); err != nil {
				return err
			}
		}
		p := 0
		if rsd > 0 {
			p = hllPrecision(rsd)
		}
		switch {
		case rsd <= 0 || math.IsNaN(rsd) || p > hllMaxP:
			return fmt.Errorf("%w: %s: relative standard deviation %g is too small: at least 0.0044 (a %d KiB sketch per group)", ErrPlan, name, rsd, 1<<hllMaxP>>10)
		case p < hllMinP:
			return fmt.Errorf("%w: %s: relative standard deviation %g is too large: at most 0.39", ErrPlan, name, rsd)
		}
		call.params.hllP = uint8(p)
		call.params.canon = ", precision " + strconv.Itoa(p)
	case aggPercentile:
		pct, err := num(0, "percentage")
		if err != nil {
			return err
		}
		if !(pct >= 0 && pct <= 1) {
			return fmt.Errorf("%w: %s: the percentage must be between 0.0 and 1.0, got %g", ErrPlan, name, pct)
		}
		acc := float64(defaultAccuracy)
		if len(params) == 2 {
			if acc, err = num(1, "accuracy"); err != nil {
				return err
			}
			if acc <= 0 || acc != math.Trunc(acc) || acc > math.MaxInt32 {
				return fmt.Errorf("%w: %s: the accuracy must be a positive integer, got %g", ErrPlan, name, acc)
			}
		}
		call.params.pct, call.params.k = pct, kllK(int64(acc))
		call.params.canon = ", " + strconv.FormatFloat(pct, 'g', -1, 64) + ", k " + strconv.Itoa(call.params.k)
	case aggFirst, aggLast:
		if len(params) == 1 {
			p := params[0]
			if p.kind != kLit || p.null || p.typ != Bool {
				return fmt.Errorf("%w: %s: ignoreNulls must be TRUE or FALSE, got %s", ErrPlan, name, p)
			}
			call.params.ignoreNulls = p.i != 0
		}
		if call.params.ignoreNulls {
			call.params.canon = ", ignoreNulls"
		}
	}
	return nil
}

// hllHash is the 64-bit hash approx_count_distinct records for row i of v:
// xxHash64 of the value's group-key encoding (keys.go), which is the same
// in every process, so sketches stored by one run merge with the next's.
// A fixed-width value is hashed without encoding it (hllHashAt).
func hllHash(buf []byte, v *vector, i int32) ([]byte, uint64) {
	if hllFixed(v.typ) {
		return buf, hllHashAt(v, i)
	}
	buf = appendKey(buf[:0], v, i)
	return buf, xxhash.Sum64(buf)
}

// hllFixed reports whether values of t hash without being encoded.
func hllFixed(t Type) bool {
	switch t {
	case Int64, Timestamp, Float64, Int32, Date:
		return true
	}
	return false
}

// hllHashAt is hllHash of row i of v, whose type is hllFixed.
func hllHashAt(v *vector, i int32) uint64 {
	switch v.typ {
	case Int64, Timestamp:
		return xxKey9(byte(v.typ), uint64(v.i64[i])^(1<<63))
	case Float64:
		return xxKey9(byte(v.typ), floatKey(v.f64[i]))
	default: // Int32, Date
		return xxKey5(byte(v.typ), uint32(v.i32[i])^(1<<31))
	}
}

func (a *acc) hllRegs(g int32) []byte {
	m := 1 << a.p.hllP
	return a.regs[int(g)*m : (int(g)+1)*m]
}

func (a *acc) updateHLL(gid []int32, sel []int32, v *vector) {
	p := a.p.hllP
	m := 1 << p
	if hllFixed(v.typ) {
		for k, i := range sel {
			if !v.null(i) {
				g := int(gid[k])
				hllAdd(a.regs[g*m:(g+1)*m], p, hllHashAt(v, i))
			}
		}
		return
	}
	var buf []byte
	var h uint64
	for k, i := range sel {
		if v.null(i) {
			continue
		}
		buf, h = hllHash(buf, v, i)
		g := int(gid[k])
		hllAdd(a.regs[g*m:(g+1)*m], p, h)
	}
}

// appendHLL encodes a sketch: the precision, then either 0 and the 2^p
// registers (dense) or 1, the count of non-zero registers and each one's
// index (uvarint, as the gap from the previous one) and value (sparse),
// whichever is shorter: a group of few values stores a few bytes.
func (a *acc) appendHLL(buf []byte, id int32) []byte {
	regs := a.hllRegs(id)
	buf = append(buf, a.p.hllP)
	nz := 0
	for _, r := range regs {
		if r != 0 {
			nz++
		}
	}
	if nz*3 >= len(regs) {
		buf = append(buf, 0)
		return append(buf, regs...)
	}
	buf = append(buf, 1)
	buf = binary.AppendUvarint(buf, uint64(nz))
	prev := 0
	for i, r := range regs {
		if r != 0 {
			buf = binary.AppendUvarint(buf, uint64(i-prev))
			buf = append(buf, r)
			prev = i
		}
	}
	return buf
}

func (a *acc) decodeHLL(r *valueReader, id int32) {
	regs := a.hllRegs(id)
	p := r.byte("sketch precision")
	if r.err == nil && p != a.p.hllP {
		r.err = fmt.Errorf("%w: state value: approx_count_distinct sketch of precision %d, the query's is %d", ErrState, p, a.p.hllP)
	}
	maxRank := byte(65 - a.p.hllP)
	switch r.byte("sketch form") {
	case 0:
		if r.err == nil && len(r.b) < len(regs) {
			r.fail("sketch registers")
		}
		if r.err != nil {
			return
		}
		copy(regs, r.b)
		r.b = r.b[len(regs):]
	case 1:
		n := r.uvarint("sketch register count")
		if n > uint64(len(regs)) {
			r.fail("sketch register count")
		}
		idx := 0
		for j := uint64(0); j < n && r.err == nil; j++ {
			gap := r.uvarint("sketch register index")
			if gap > uint64(len(regs)) || idx+int(gap) >= len(regs) || j > 0 && gap == 0 {
				r.fail("sketch register index")
				return
			}
			idx += int(gap)
			regs[idx] = r.byte("sketch register")
		}
	default:
		r.fail("sketch form")
	}
	for _, x := range regs {
		if x > maxRank {
			r.fail("sketch register")
			return
		}
	}
}

func (a *acc) updateKLL(gid []int32, sel []int32, v *vector) {
	for k, i := range sel {
		if v.null(i) {
			continue
		}
		var x float64
		switch v.typ {
		case Float64:
			x = v.f64[i]
		case Int32, Date:
			x = float64(v.i32[i])
		default: // BIGINT, TIMESTAMP
			x = float64(v.i64[i])
		}
		s := a.kll[gid[k]]
		if s == nil {
			s = &kllSketch{}
			a.kll[gid[k]] = s
		}
		s.add(x, a.p.k)
	}
}

func (a *acc) mergeKLL(dg int32, src *acc, sg int32) {
	o := src.kll[sg]
	if o == nil || o.n == 0 {
		return
	}
	if a.kll[dg] == nil {
		a.kll[dg] = &kllSketch{}
	}
	a.kll[dg].merge(o, a.p.k)
}

func (a *acc) finalKLL(g int32) value {
	s := a.kll[g]
	if s == nil || s.n == 0 {
		return value{null: true}
	}
	x := s.quantile(a.p.pct)
	if a.in == Float64 {
		return value{f: x}
	}
	return value{i: int64(x)}
}

// appendKLL encodes a sketch: uvarint(values added), uvarint(compactions),
// uvarint(levels), then per level uvarint(items) and each item 8 bytes IEEE.
func (a *acc) appendKLL(buf []byte, id int32) []byte {
	s := a.kll[id]
	if s == nil {
		s = &kllSketch{}
	}
	buf = binary.AppendUvarint(buf, uint64(s.n))
	buf = binary.AppendUvarint(buf, s.flips)
	buf = binary.AppendUvarint(buf, uint64(len(s.levels)))
	for _, lv := range s.levels {
		buf = binary.AppendUvarint(buf, uint64(len(lv)))
		for _, x := range lv {
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(x))
		}
	}
	return buf
}

func (a *acc) decodeKLL(r *valueReader, id int32) {
	s := &kllSketch{n: int64(r.uvarint("percentile count")), flips: r.uvarint("percentile compactions")}
	nl := r.uvarint("percentile levels")
	if nl > 48 {
		r.fail("percentile levels")
	}
	var weight uint64
	for h := uint64(0); h < nl && r.err == nil; h++ {
		n := r.uvarint("percentile level size")
		if n > uint64(len(r.b))/8 {
			r.fail("percentile level size")
			break
		}
		lv := make([]float64, n)
		for j := range lv {
			lv[j] = r.float("percentile item")
		}
		s.levels = append(s.levels, lv)
		s.size += len(lv)
		weight += n << h
	}
	if r.err == nil && weight != uint64(s.n) {
		r.fail("percentile sketch (weights do not add up to its count)")
	}
	if r.err == nil && s.n > 0 {
		a.kll[id] = s
	}
}
