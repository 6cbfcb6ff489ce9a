package dataframe

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// value is one scalar of some Type: INT, BIGINT, TIMESTAMP, DATE and BOOLEAN in i,
// DOUBLE in f, STRING in s.
type value struct {
	null bool
	i    int64
	f    float64
	s    string
}

func litValue(n *node) value {
	return value{null: n.null, i: n.i, f: n.f, s: n.s}
}

func castLiteral(n *node, t Type) (*node, bool) {
	if n.null {
		return &node{kind: kLit, typ: t, null: true}, true
	}
	v, ok := castValue(litValue(n), n.typ, t)
	if !ok {
		return &node{kind: kLit, typ: t, null: true}, true // a failed cast is NULL
	}
	return &node{kind: kLit, typ: t, i: v.i, f: v.f, s: v.s}, true
}

// castValue converts a non-null v from one type to another like Spark's
// non-ANSI CAST; ok is false when the result is NULL. DATE casts only to and
// from STRING and TIMESTAMP (canCast refuses the rest, as Spark 3 does).
func castValue(v value, from, to Type) (value, bool) { return castValueIn(v, from, to, nil) }

// castValueIn is castValue in the session time zone loc (nil: UTC), which
// the casts between TIMESTAMP and STRING or DATE read and show wall-clock
// time in (zoneDependent).
func castValueIn(v value, from, to Type, loc *time.Location) (value, bool) {
	if from == to {
		return v, true
	}
	switch to {
	case String:
		if from == Timestamp {
			return value{s: FormatTimestampIn(v.i, loc)}, true
		}
		return value{s: formatValue(v, from)}, true
	case Int32, Int64:
		var n int64
		switch from {
		case Int32, Int64, Bool:
			n = v.i
		case Float64:
			n = floatToInt(v.f, to)
		case Timestamp:
			n = floorDiv(v.i, 1e6)
		case String:
			x, ok := parseIntTrunc(strings.TrimSpace(v.s))
			if !ok {
				return value{}, false
			}
			if to == Int32 && (x > math.MaxInt32 || x < math.MinInt32) {
				return value{}, false
			}
			return value{i: x}, true
		}
		if to == Int32 {
			n = int64(int32(n)) // wraps, as Spark's non-ANSI cast
		}
		return value{i: n}, true
	case Float64:
		switch from {
		case Int32, Int64, Bool:
			return value{f: float64(v.i)}, true
		case Timestamp:
			return value{f: float64(v.i) / 1e6}, true
		case String:
			s := strings.TrimSpace(v.s)
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return value{}, false
			}
			return value{f: f}, true
		}
	case Bool:
		switch from {
		case Int32, Int64:
			return boolValue(v.i != 0), true
		case Float64:
			return boolValue(v.f != 0), true
		case String:
			switch strings.ToLower(strings.TrimSpace(v.s)) {
			case "t", "true", "y", "yes", "1":
				return boolValue(true), true
			case "f", "false", "n", "no", "0":
				return boolValue(false), true
			}
			return value{}, false
		}
	case Timestamp:
		switch from {
		case Int32, Int64:
			return value{i: v.i * 1e6}, true
		case Float64:
			if math.IsNaN(v.f) || math.IsInf(v.f, 0) || math.Abs(v.f) > math.MaxInt64/1e6 {
				return value{}, false
			}
			return value{i: int64(v.f * 1e6)}, true
		case String:
			us, zoned, ok := parseTimestampZ([]byte(strings.TrimSpace(v.s)))
			if ok && !zoned {
				us = wallToInstant(us, loc)
			}
			return value{i: us}, ok
		case Date:
			return value{i: wallToInstant(v.i*usPerDay, loc)}, true
		}
	case Date:
		switch from {
		case Timestamp:
			return value{i: timestampToDate(instantToWall(v.i, loc))}, true
		case String:
			d, ok := castStringToDate(strings.TrimSpace(v.s))
			return value{i: int64(d)}, ok
		}
	}
	return value{}, false
}

// zoneDependent reports whether a cast from one type to another reads or
// shows wall-clock time, so depends on the session time zone.
func zoneDependent(from, to Type) bool {
	switch {
	case from == to:
		return false
	case from == Timestamp:
		return to == String || to == Date
	case to == Timestamp:
		return from == String || from == Date
	}
	return false
}

// parseIntTrunc parses s as Spark's (non-ANSI) CAST(string AS BIGINT)
// does: an optional sign, decimal digits, and an optional '.' followed by
// digits, which are dropped ("4.9" is 4, ".5" is 0). Anything else (an
// exponent, "Infinity", hex) or an overflow is not a number.
func parseIntTrunc(s string) (int64, bool) {
	whole, frac, dot := strings.Cut(s, ".")
	if dot {
		for i := 0; i < len(frac); i++ {
			if frac[i] < '0' || frac[i] > '9' {
				return 0, false
			}
		}
		if digits := strings.TrimLeft(whole, "+-"); digits == "" {
			// ".5" and "-.5" are 0; "." and "-" are not numbers.
			return 0, frac != "" && len(whole) <= 1
		}
	}
	x, err := strconv.ParseInt(whole, 10, 64)
	return x, err == nil
}

func boolValue(b bool) value {
	if b {
		return value{i: 1}
	}
	return value{}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floatToInt(f float64, to Type) int64 {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if to == Int32 {
		lo, hi = math.MinInt32, math.MaxInt32
	}
	// float64(hi) rounds MaxInt64 up to 2^63, which int64() cannot hold:
	// compare in float64, return the integer bound.
	switch {
	case math.IsNaN(f):
		return 0
	case f >= float64(hi):
		return hi
	case f <= float64(lo):
		return lo
	}
	return int64(f)
}

// formatValue renders a non-null value as CAST(... AS STRING) does.
func formatValue(v value, t Type) string {
	switch t {
	case String:
		return v.s
	case Int32, Int64:
		return strconv.FormatInt(v.i, 10)
	case Float64:
		return formatDouble(v.f)
	case Bool:
		if v.i != 0 {
			return "true"
		}
		return "false"
	case Timestamp:
		return FormatTimestamp(v.i)
	case Date:
		return formatDate(int32(v.i))
	}
	return ""
}

// FormatTimestamp renders a TIMESTAMP (microseconds since the epoch) as
// Spark's CAST(t AS STRING) and show() do, in UTC: 2019-11-01 00:00:01,
// with the fraction of a second when there is one (00:00:01.5).
func FormatTimestamp(us int64) string {
	ts := time.UnixMicro(us).UTC()
	if us%1e6 != 0 {
		return strings.TrimRight(ts.Format("2006-01-02 15:04:05.000000"), "0")
	}
	return ts.Format("2006-01-02 15:04:05")
}

// FormatDouble renders a DOUBLE as Spark's CAST(x AS STRING) and show()
// do: 1.0, 0.5, 1.0E20, 1.0E-7, NaN, Infinity, -Infinity.
func FormatDouble(f float64) string { return formatDouble(f) }

// formatDouble renders a DOUBLE like Spark: 1.0, 0.5, 1.0E20, NaN, Infinity.
func formatDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	abs := math.Abs(f)
	if abs != 0 && (abs >= 1e7 || abs < 1e-3) {
		s := strconv.FormatFloat(f, 'E', -1, 64)
		mant, exp, _ := strings.Cut(s, "E")
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		n, _ := strconv.Atoi(exp)
		return mant + "E" + strconv.Itoa(n)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
