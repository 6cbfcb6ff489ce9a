package dataframe

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"time"
)

// first, last and collect_set.
//
// first(x) and last(x) follow the order rows reach the state, which is
// deterministic: batch by batch, within a batch the plan's offset ranges
// in order (partition by partition, as the write-ahead plan lists them),
// and within a range offset by offset. A re-run batch reads the same ranges
// and so picks the same rows. As in Spark, a NULL x is a value unless the
// second argument (ignoreNulls) is TRUE.
//
// collect_set(x) is the distinct non-NULL values of x as a JSON array (a
// STRING: there is no ARRAY type), in the values' order, capped at
// collectSetLimit values: beyond it the smallest are kept, which is the
// same whatever order the values came in.

// First-or-last state: cnt is 0 (no row yet), 1 (a value) or 2 (NULL).
const firstNull = 2

func (a *acc) updateFirstLast(gid []int32, sel []int32, v *vector) {
	for k, i := range sel {
		g := gid[k]
		if a.fn == aggFirst && a.cnt[g] != 0 {
			continue
		}
		if v.null(i) {
			if !a.p.ignoreNulls {
				a.cnt[g] = firstNull
			}
			continue
		}
		a.cnt[g] = 1
		a.store(g, v.get(i), true)
	}
}

// mergeFirstLast folds src, whose rows came after a's, into a.
func (a *acc) mergeFirstLast(dg int32, src *acc, sg int32) {
	if src.cnt[sg] == 0 || a.fn == aggFirst && a.cnt[dg] != 0 {
		return
	}
	a.cnt[dg] = src.cnt[sg]
	if src.cnt[sg] == 1 {
		a.store(dg, src.load(sg), false)
	}
}

// load is the value stored at g by store.
func (a *acc) load(g int32) value {
	switch a.in {
	case String:
		return value{s: a.str[g]}
	case Float64:
		return value{f: a.f64[g]}
	}
	return value{i: a.i64[g]}
}

func (a *acc) updateCollectSet(gid []int32, sel []int32, v *vector) {
	var buf []byte
	for k, i := range sel {
		if v.null(i) {
			continue
		}
		buf = appendKey(buf[:0], v, i)
		a.addToSet(gid[k], string(buf))
	}
}

// addToSet adds the encoded value x to group g's collect_set, keeping the
// collectSetLimit smallest.
func (a *acc) addToSet(g int32, x string) {
	m := a.set[g]
	if m == nil {
		m = map[string]struct{}{}
		a.set[g] = m
	}
	if _, ok := m[x]; ok {
		return
	}
	m[x] = struct{}{}
	if len(m) > collectSetLimit {
		var top string // the largest: encoded keys sort as their values
		for k := range m {
			if k > top {
				top = k
			}
		}
		delete(m, top)
	}
}

func (a *acc) finalCollectSet(g int32) value {
	keys := make([]string, 0, len(a.set[g]))
	for k := range a.set[g] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf := []byte{'['}
	for j, k := range keys {
		if j > 0 {
			buf = append(buf, ',')
		}
		x, _, err := decodeKeyValue([]byte(k), a.in)
		if err != nil { // keys are encoded by appendKey or checked by decodeValue
			panic(err)
		}
		buf = appendJSONScalar(buf, x, a.in)
	}
	return value{s: string(append(buf, ']'))}
}

// appendJSONScalar appends x of type t as AppendJSONValue renders a cell.
func appendJSONScalar(dst []byte, x value, t Type) []byte {
	switch {
	case x.null:
		return append(dst, "null"...)
	case t == String:
		return appendJSONString(dst, x.s)
	case t == Float64 && (math.IsNaN(x.f) || math.IsInf(x.f, 0)):
		return append(append(append(dst, '"'), FormatDouble(x.f)...), '"')
	case t == Float64:
		return strconv.AppendFloat(dst, x.f, 'g', -1, 64)
	case t == Bool:
		return strconv.AppendBool(dst, x.i != 0)
	case t == Timestamp:
		dst = append(dst, '"')
		dst = time.UnixMicro(x.i).UTC().AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"')
	case t == Date:
		return append(append(append(dst, '"'), formatDate(int32(x.i))...), '"')
	}
	return strconv.AppendInt(dst, x.i, 10)
}

func (a *acc) appendFirstLast(buf []byte, id int32) []byte {
	buf = binary.AppendUvarint(buf, uint64(a.cnt[id]))
	if a.cnt[id] != 1 {
		return buf
	}
	return a.appendStored(buf, id)
}

// appendStored encodes the value store kept at id: zigzag varint (INT,
// BIGINT, TIMESTAMP, BOOLEAN), 8 bytes IEEE (DOUBLE) or uvarint(len) bytes
// (STRING).
func (a *acc) appendStored(buf []byte, id int32) []byte {
	switch a.in {
	case String:
		buf = binary.AppendUvarint(buf, uint64(len(a.str[id])))
		return append(buf, a.str[id]...)
	case Float64:
		return binary.LittleEndian.AppendUint64(buf, math.Float64bits(a.f64[id]))
	}
	return binary.AppendVarint(buf, a.i64[id])
}

func (a *acc) decodeStored(r *valueReader, id int32, what string) {
	switch a.in {
	case String:
		a.str[id] = r.bytes(what)
	case Float64:
		a.f64[id] = r.float(what)
	default:
		a.i64[id] = r.varint(what)
	}
}

func (a *acc) decodeFirstLast(r *valueReader, id int32) {
	c := r.uvarint("first/last flag")
	if c > firstNull {
		r.fail("first/last flag")
		return
	}
	a.cnt[id] = int64(c)
	if c == 1 {
		a.decodeStored(r, id, "first/last")
	}
}
