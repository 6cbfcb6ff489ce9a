package dataframe

import (
	"math"
	"strconv"
	"time"
	"unsafe"
)

// Scalar parsers shared by the JSON and CSV decoders. They work on the
// record's bytes without allocating.

// bstr views b as a string without copying; the string must not outlive b.
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// parseInt parses an optionally signed decimal integer that fits in bits
// (32 or 64). ok is false with a reason when it does not.
func parseInt(b []byte, bits int) (int64, string) {
	neg := false
	i := 0
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i = 1
	}
	if i == len(b) {
		return 0, "not an integer"
	}
	var n uint64
	if len(b)-i <= 18 { // cannot overflow uint64
		for ; i < len(b); i++ {
			c := b[i] - '0'
			if c > 9 {
				return 0, "not an integer"
			}
			n = n*10 + uint64(c)
		}
	}
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, "not an integer"
		}
		if n > (math.MaxUint64-9)/10 {
			return 0, "integer out of range"
		}
		n = n*10 + uint64(c-'0')
	}
	limit := uint64(math.MaxInt64)
	if bits == 32 {
		limit = math.MaxInt32
	}
	if neg {
		if n > limit+1 {
			return 0, "integer out of range"
		}
		return -int64(n), ""
	}
	if n > limit {
		return 0, "integer out of range"
	}
	return int64(n), ""
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat parses a decimal number. Plain decimals of at most 15 digits
// (prices, measurements) take an exact fast path: the digits as an integer,
// exactly representable, divided by an exact power of ten is the correctly
// rounded result. Everything else goes to strconv.
func parseFloat(b []byte) (float64, bool) {
	if f, ok := parseSimpleFloat(b); ok {
		return f, true
	}
	f, err := strconv.ParseFloat(bstr(b), 64)
	if err != nil {
		// Out-of-range values are ±Inf with an error; treat them as malformed.
		return 0, false
	}
	return f, true
}

// parseBool accepts true and false in any case.
func parseBool(b []byte) (bool, bool) {
	switch len(b) {
	case 4:
		if b[0]|0x20 == 't' && b[1]|0x20 == 'r' && b[2]|0x20 == 'u' && b[3]|0x20 == 'e' {
			return true, true
		}
	case 5:
		if b[0]|0x20 == 'f' && b[1]|0x20 == 'a' && b[2]|0x20 == 'l' && b[3]|0x20 == 's' && b[4]|0x20 == 'e' {
			return false, true
		}
	}
	return false, false
}

// parseTimestampField parses a record's timestamp text (a JSON string, a
// CSV field): parseTimestamp's formats, or an integer of epoch
// milliseconds. Both decoders take the same text.
func parseTimestampField(b []byte, loc *time.Location) (int64, bool) {
	if us, zoned, ok := parseTimestampZ(b); ok {
		if !zoned && loc != nil {
			us = wallToInstant(us, loc)
		}
		return us, true
	}
	if ms, reason := parseInt(b, 64); reason == "" {
		return epochMillis(ms)
	}
	return 0, false
}

// epochMillis converts milliseconds since the epoch to microseconds,
// refusing overflow.
func epochMillis(ms int64) (int64, bool) {
	if ms > math.MaxInt64/1000 || ms < math.MinInt64/1000 {
		return 0, false
	}
	return ms * 1000, true
}

func parseSimpleFloat(b []byte) (float64, bool) {
	i := 0
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		i = 1
	}
	var m uint64
	digits, frac := 0, -1
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0:
			frac = 0
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 || frac == 0 {
		return 0, false
	}
	f := float64(m)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}
