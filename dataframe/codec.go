package dataframe

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// stateVersion is the first byte of every encoded state value.
//
// Version 1 layout: the version byte, uvarint(number of aggregates), then per
// aggregate in plan order:
//
//	count                uvarint(count)
//	count(DISTINCT)      uvarint(n), then n sorted encoded values, each uvarint(len) bytes
//	sum, avg             uvarint(non-NULL inputs), then the sum: zigzag varint
//	                     (sum of integers) or 8 bytes little-endian IEEE (sum of
//	                     DOUBLE, every avg)
//	min, max, bool_and,  uvarint(0 or 1); when 1 the value: zigzag varint (INT,
//	bool_or              BIGINT, TIMESTAMP, BOOLEAN), 8 bytes IEEE (DOUBLE) or
//	                     uvarint(len) bytes (STRING)
//	count_if             uvarint(count)
//	var_*, stddev_*      uvarint(n), then the mean and the sum of squared
//	                     deviations, each 8 bytes IEEE
//	first, last          uvarint(0: no row, 1: a value, 2: NULL); when 1 the
//	                     value as min's
//	collect_set          as count(DISTINCT)
//	approx_count_distinct  a HyperLogLog sketch (acc.appendHLL)
//	percentile_approx    a KLL sketch (acc.appendKLL)
//
// The encoding is deterministic: equal states give equal bytes.
const stateVersion = 1

func (g *groupTable) appendValue(buf []byte, id int32) []byte {
	buf = append(buf, stateVersion)
	buf = binary.AppendUvarint(buf, uint64(len(g.accs)))
	for i := range g.accs {
		a := &g.accs[i]
		switch a.fn {
		case aggCount, aggCountIf:
			buf = binary.AppendUvarint(buf, uint64(a.cnt[id]))
		case aggVarSamp, aggVarPop, aggStddevSamp, aggStddevPop:
			buf = a.appendMoments(buf, id)
		case aggFirst, aggLast:
			buf = a.appendFirstLast(buf, id)
		case aggApproxDistinct:
			buf = a.appendHLL(buf, id)
		case aggPercentile:
			buf = a.appendKLL(buf, id)
		case aggCountDistinct, aggCollectSet:
			set := a.set[id]
			keys := make([]string, 0, len(set))
			for k := range set {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			buf = binary.AppendUvarint(buf, uint64(len(keys)))
			for _, k := range keys {
				buf = binary.AppendUvarint(buf, uint64(len(k)))
				buf = append(buf, k...)
			}
		case aggSum, aggAvg:
			buf = binary.AppendUvarint(buf, uint64(a.cnt[id]))
			if a.in == Float64 {
				buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(a.f64[id]))
			} else {
				buf = binary.AppendVarint(buf, a.i64[id])
			}
		case aggMin, aggMax, aggBoolAnd, aggBoolOr:
			buf = binary.AppendUvarint(buf, uint64(a.cnt[id]))
			if a.cnt[id] != 0 {
				buf = a.appendStored(buf, id)
			}
		}
	}
	return buf
}

type valueReader struct {
	b   []byte
	err error
}

func (r *valueReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: state value: bad %s", ErrState, what)
	}
}

func (r *valueReader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *valueReader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *valueReader) float(what string) float64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.fail(what)
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

func (r *valueReader) byte(what string) byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail(what)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *valueReader) bytes(what string) string {
	n := r.uvarint(what)
	if r.err != nil {
		return ""
	}
	if uint64(len(r.b)) < n {
		r.fail(what)
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// decodeValue replaces group id's accumulators with the encoded value.
func (g *groupTable) decodeValue(id int32, value []byte) error {
	if len(value) == 0 || value[0] != stateVersion {
		if len(value) == 0 {
			return fmt.Errorf("%w: empty state value", ErrState)
		}
		return fmt.Errorf("%w: state value version %d, want %d", ErrState, value[0], stateVersion)
	}
	r := &valueReader{b: value[1:]}
	if n := r.uvarint("aggregate count"); r.err == nil && n != uint64(len(g.accs)) {
		return fmt.Errorf("%w: state value has %d aggregates, the query %d", ErrState, n, len(g.accs))
	}
	g.reset(id)
	for i := range g.accs {
		a := &g.accs[i]
		switch a.fn {
		case aggCount, aggCountIf:
			a.cnt[id] = int64(r.uvarint("count"))
		case aggVarSamp, aggVarPop, aggStddevSamp, aggStddevPop:
			a.decodeMoments(r, id)
		case aggFirst, aggLast:
			a.decodeFirstLast(r, id)
		case aggApproxDistinct:
			a.decodeHLL(r, id)
		case aggPercentile:
			a.decodeKLL(r, id)
		case aggCountDistinct, aggCollectSet:
			n := r.uvarint("distinct count")
			if r.err == nil && n > uint64(len(r.b)) {
				r.fail("distinct count")
			}
			if r.err != nil {
				break
			}
			if a.fn == aggCollectSet && n > collectSetLimit {
				r.fail("collect_set size")
				break
			}
			m := make(map[string]struct{}, n)
			for j := uint64(0); j < n && r.err == nil; j++ {
				v := r.bytes("distinct value")
				if a.fn == aggCollectSet && r.err == nil {
					if _, rest, err := decodeKeyValue([]byte(v), a.in); err != nil || len(rest) != 0 {
						r.fail("collect_set value")
					}
				}
				m[v] = struct{}{}
			}
			a.set[id] = m
		case aggSum, aggAvg:
			a.cnt[id] = int64(r.uvarint("sum count"))
			if a.in == Float64 {
				a.f64[id] = r.float("sum")
			} else {
				a.i64[id] = r.varint("sum")
			}
		case aggMin, aggMax, aggBoolAnd, aggBoolOr:
			has := r.uvarint("min/max flag")
			if has > 1 {
				r.fail("min/max flag")
			}
			a.cnt[id] = int64(has)
			if has == 1 && r.err == nil {
				a.decodeStored(r, id, "min/max")
			}
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("length (trailing bytes)")
	}
	if r.err != nil {
		g.reset(id)
	}
	return r.err
}

// globalKey is the stored key of a global aggregate's one group (no
// grouping expressions): its key is empty in memory, and a checkpoint keeps
// no empty keys (offsets' CommitTx.PutState takes 1 byte or more).
// Changes gives it, Restore takes it (or the empty key).
var globalKey = []byte{tagNull}

// storedKey returns the key under which Changes stores key.
func storedKey(key []byte) []byte {
	if len(key) == 0 {
		return globalKey
	}
	return key
}

// checkKey verifies that key decodes as the grouping columns' types, and
// returns it as the group table keys it (a global aggregate's stored key is
// the empty key).
func (g *groupTable) checkKey(key []byte) ([]byte, error) {
	if len(g.spec.groups) == 0 && bytes.Equal(key, globalKey) {
		return nil, nil
	}
	rest := key
	for _, grp := range g.spec.groups {
		var err error
		if _, rest, err = decodeKeyValue(rest, grp.e.typ); err != nil {
			return nil, err
		}
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: group key has %d trailing bytes", ErrState, len(rest))
	}
	return key, nil
}
