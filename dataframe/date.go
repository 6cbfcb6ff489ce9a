package dataframe

import (
	"strconv"
)

// DATE values are days since 1970-01-01 (Arrow date32), proleptic
// Gregorian, as Spark's DateType.

// parseDate parses a source field as a DATE: exactly yyyy-MM-dd, Spark's
// default dateFormat for JSON and CSV.
func parseDate(b []byte) (int32, bool) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	y, ok1 := digits(b[0:4])
	m, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 || y < 1 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return int32(daysFromCivil(y, m, d)), true
}

// castStringToDate parses s (already trimmed) as Spark's CAST(s AS DATE):
// yyyy, yyyy-[m]m, yyyy-[m]m-[d]d, optionally followed by a space or 'T'
// and anything (a time, which is dropped).
func castStringToDate(s string) (int32, bool) {
	var seg [3]int64
	n, i := 0, 0
	for n < 3 {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		width := i - start
		if n == 0 && width != 4 || n > 0 && (width < 1 || width > 2) {
			return 0, false
		}
		seg[n], _ = digits([]byte(s[start:i]))
		n++
		if i == len(s) {
			break
		}
		if s[i] == '-' && n < 3 {
			i++
			continue
		}
		if n == 3 && (s[i] == ' ' || s[i] == 'T') {
			break
		}
		return 0, false
	}
	y, m, d := seg[0], seg[1], seg[2]
	if n < 2 {
		m = 1
	}
	if n < 3 {
		d = 1
	}
	if y < 1 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return int32(daysFromCivil(y, m, d)), true
}

// timestampToDate is the day (UTC) of a TIMESTAMP.
func timestampToDate(us int64) int64 { return floorDiv(us, usPerDay) }

// formatDate renders a DATE as yyyy-MM-dd, as Spark's CAST(d AS STRING)
// and show() do.
func formatDate(days int32) string {
	return string(appendDate(make([]byte, 0, 10), days))
}

// appendDate appends days rendered as yyyy-MM-dd to dst.
func appendDate(dst []byte, days int32) []byte {
	y, m, d := civilFromDays(int64(days))
	if y >= 0 && y <= 9999 {
		dst = append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10))
	} else {
		dst = strconv.AppendInt(dst, y, 10)
	}
	return append(dst, '-', byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
}

// civilFromDays is the inverse of daysFromCivil (Howard Hinnant's
// algorithm).
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}
