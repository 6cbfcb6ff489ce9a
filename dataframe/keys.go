package dataframe

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// Group keys are the concatenation of one encoded value per grouping
// expression. Each value starts with a tag: 0x00 for NULL, else the Type's
// byte; then an order-preserving body, so comparing encoded keys as bytes
// orders groups like ORDER BY of the grouping columns, ascending, NULLs
// first:
//
//	INT        4 bytes big-endian, sign bit flipped
//	BIGINT     8 bytes big-endian, sign bit flipped (TIMESTAMP likewise, µs)
//	DOUBLE     8 bytes: IEEE bits, all flipped when negative, else sign flipped
//	           (-0 is encoded as 0 and every NaN alike, so they group together)
//	BOOLEAN    1 byte, 0 or 1
//	STRING     the bytes with 0x00 escaped as 0x00 0xFF, then 0x00 0x01
//
// A global aggregate (no grouping expressions) has one group, whose key is
// empty; State.Changes stores it as the single byte 0x00 (globalKey).
const tagNull = 0x00

func appendKey(buf []byte, v *vector, i int32) []byte {
	if v.null(i) || v.typ == nullType {
		return append(buf, tagNull)
	}
	buf = append(buf, byte(v.typ))
	switch v.typ {
	case String:
		return appendKeyString(buf, v.str(i))
	case Int32, Date:
		return binary.BigEndian.AppendUint32(buf, uint32(v.i32[i])^(1<<31))
	case Int64, Timestamp:
		return binary.BigEndian.AppendUint64(buf, uint64(v.i64[i])^(1<<63))
	case Float64:
		return binary.BigEndian.AppendUint64(buf, floatKey(v.f64[i]))
	case Bool:
		if v.b[i] {
			return append(buf, 1)
		}
		return append(buf, 0)
	}
	return buf
}

func appendKeyString(buf []byte, s string) []byte {
	for {
		j := indexZero(s)
		if j < 0 {
			buf = append(buf, s...)
			return append(buf, 0x00, 0x01)
		}
		buf = append(buf, s[:j]...)
		buf = append(buf, 0x00, 0xFF)
		s = s[j+1:]
	}
}

func indexZero(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return i
		}
	}
	return -1
}

func floatKey(f float64) uint64 {
	if f == 0 {
		f = 0 // -0 groups with 0
	}
	if math.IsNaN(f) {
		f = math.NaN()
	}
	b := math.Float64bits(f)
	if b&(1<<63) != 0 {
		return ^b
	}
	return b ^ (1 << 63)
}

func floatFromKey(k uint64) float64 {
	if k&(1<<63) != 0 {
		return math.Float64frombits(k ^ (1 << 63))
	}
	return math.Float64frombits(^k)
}

// decodeKeyValue reads one encoded value of type t from key, returning it
// and the rest of the key.
func decodeKeyValue(key []byte, t Type) (value, []byte, error) {
	if len(key) == 0 {
		return value{}, nil, fmt.Errorf("%w: group key too short", ErrState)
	}
	if key[0] == tagNull {
		return value{null: true}, key[1:], nil
	}
	if Type(key[0]) != t {
		return value{}, nil, fmt.Errorf("%w: group key has type tag %d, want %v", ErrState, key[0], t)
	}
	key = key[1:]
	if len(key) < keyWidth(t) {
		return value{}, nil, fmt.Errorf("%w: group key too short for %v", ErrState, t)
	}
	switch t {
	case Int32, Date:
		return value{i: int64(int32(binary.BigEndian.Uint32(key) ^ (1 << 31)))}, key[4:], nil
	case Int64, Timestamp:
		return value{i: int64(binary.BigEndian.Uint64(key) ^ (1 << 63))}, key[8:], nil
	case Float64:
		return value{f: floatFromKey(binary.BigEndian.Uint64(key))}, key[8:], nil
	case Bool:
		if key[0] > 1 {
			return value{}, nil, fmt.Errorf("%w: group key has BOOLEAN byte %d", ErrState, key[0])
		}
		return value{i: int64(key[0])}, key[1:], nil
	case String:
		s, rest, err := unescapeKeyString(nil, key)
		if err != nil {
			return value{}, nil, err
		}
		return value{s: string(s)}, rest, nil
	}
	return value{}, nil, fmt.Errorf("%w: group key of invalid type %v", ErrState, t)
}

// keyWidth is the size of an encoded non-NULL value of t after its tag; 0
// for STRING, whose body is terminated instead.
func keyWidth(t Type) int {
	switch t {
	case Int32, Date:
		return 4
	case Int64, Timestamp, Float64:
		return 8
	case Bool:
		return 1
	}
	return 0
}

// unescapeKeyString appends the STRING body that key starts with (after the
// tag) to dst and returns dst and the rest of the key.
func unescapeKeyString(dst, key []byte) ([]byte, []byte, error) {
	for {
		i := bytes.IndexByte(key, 0)
		if i < 0 || i+1 >= len(key) {
			return nil, nil, fmt.Errorf("%w: unterminated STRING in group key", ErrState)
		}
		dst = append(dst, key[:i]...)
		switch key[i+1] {
		case 0x01:
			return dst, key[i+2:], nil
		case 0xFF:
			dst = append(dst, 0)
			key = key[i+2:]
			continue
		}
		return nil, nil, fmt.Errorf("%w: bad escape in STRING group key", ErrState)
	}
}
