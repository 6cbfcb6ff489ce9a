package dataframe

import (
	"strconv"
	"strings"
	"unsafe"
)

// tableIndex is a hash index of a static table snapshot on some key
// columns, built once per snapshot and key. Rows with a NULL in a key
// column are not indexed (NULL never equals anything). The rows of one key
// are chained in table order: head (or slots) gives the first, next[row]
// the following one, -1 ends the chain.
type tableIndex struct {
	cols []int
	next []int32
	// One integer key column (INT, BIGINT, TIMESTAMP): open addressing over
	// slots (row+1, 0 empty) with the key values in ints.
	ints  []int64
	slots []int32
	shift uint
	// Any other key: the rows by their encoded key (appendKey).
	head map[string]int32
}

// index returns the snapshot's index on cols, building it on first use.
func (s *tableSnap) index(cols []int) *tableIndex {
	var b strings.Builder
	for _, c := range cols {
		b.WriteString(strconv.Itoa(c))
		b.WriteByte(',')
	}
	name := b.String()
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	if ix := s.idx[name]; ix != nil {
		return ix
	}
	ix := buildIndex(s.cols, int(s.rec.NumRows()), cols)
	s.idx[name] = ix
	return ix
}

func isIntKey(t Type) bool { return t == Int32 || t == Int64 || t == Timestamp || t == Date }

func intAt(v *vector, i int32) int64 {
	if v.typ == Int32 || v.typ == Date {
		return int64(v.i32[i])
	}
	return v.i64[i]
}

const hashMul = 0x9E3779B97F4A7C15

func buildIndex(vs []*vector, n int, cols []int) *tableIndex {
	ix := &tableIndex{cols: cols, next: make([]int32, n)}
	for i := range ix.next {
		ix.next[i] = -1
	}
	if len(cols) == 1 && isIntKey(vs[cols[0]].typ) {
		v := vs[cols[0]]
		size, shift := 16, uint(60)
		for size < 2*n {
			size, shift = size*2, shift-1
		}
		ix.slots, ix.shift, ix.ints = make([]int32, size), shift, make([]int64, n)
		mask := uint64(size - 1)
		for row := n - 1; row >= 0; row-- { // descending: chains end up ascending
			if v.null(int32(row)) {
				continue
			}
			k := intAt(v, int32(row))
			ix.ints[row] = k
			for h := (uint64(k) * hashMul) >> shift; ; h = (h + 1) & mask {
				r := ix.slots[h] - 1
				if r < 0 {
					ix.slots[h] = int32(row) + 1
					break
				}
				if ix.ints[r] == k {
					ix.next[row] = r
					ix.slots[h] = int32(row) + 1
					break
				}
			}
		}
		return ix
	}
	ix.head = make(map[string]int32, n)
	var key []byte
rows:
	for row := n - 1; row >= 0; row-- {
		key = key[:0]
		for _, c := range cols {
			if vs[c].null(int32(row)) {
				continue rows
			}
			key = appendKey(key, vs[c], int32(row))
		}
		if r, ok := ix.head[string(key)]; ok {
			ix.next[row] = r
		}
		ix.head[string(key)] = int32(row)
	}
	return ix
}

// lookupInt returns the first row of integer key k, or -1.
func (ix *tableIndex) lookupInt(k int64) int32 {
	mask := uint64(len(ix.slots) - 1)
	for h := (uint64(k) * hashMul) >> ix.shift; ; h = (h + 1) & mask {
		r := ix.slots[h] - 1
		if r < 0 || ix.ints[r] == k {
			return r
		}
	}
}

// lookupKey returns the first row of encoded key k, or -1.
func (ix *tableIndex) lookupKey(k []byte) int32 {
	if r, ok := ix.head[unsafe.String(unsafe.SliceData(k), len(k))]; ok {
		return r
	}
	return -1
}

// bytes estimates the index's memory.
func (ix *tableIndex) bytes() int64 {
	b := int64(len(ix.next))*4 + int64(len(ix.slots))*4 + int64(len(ix.ints))*8
	for k := range ix.head {
		b += int64(len(k)) + 16 + 4 + 8 // key bytes, string header, value, map overhead (roughly)
	}
	return b
}

// keyText shows row's key for an error message: name=value, ...
func (ix *tableIndex) keyText(s *tableSnap, row int32) string {
	parts := make([]string, len(ix.cols))
	for i, c := range ix.cols {
		parts[i] = s.rec.Schema().Field(c).Name + "=" + formatValue(s.cols[c].get(row), s.cols[c].typ)
	}
	return strings.Join(parts, ", ")
}
