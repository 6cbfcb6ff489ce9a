package dataframe

// parseTimestamp parses the timestamp text formats the decoders and
// comparisons accept, without allocating:
//
//	2006-01-02T15:04:05Z07:00   RFC 3339, fraction up to nanoseconds (kept to µs)
//	2006-01-02 15:04:05         UTC
//	2006-01-02 15:04:05 UTC     (also "Z" or an offset after the space)
//	2006-01-02                  midnight UTC
//
// It returns microseconds since the Unix epoch.
func parseTimestamp(b []byte) (int64, bool) {
	us, _, ok := parseTimestampZ(b)
	return us, ok
}

// parseTimestampZ is parseTimestamp, also reporting whether b gives its
// zone (Z, UTC or an offset): without one, us is a wall-clock reading,
// which is UTC's unless a session time zone says otherwise
// (wallToInstant).
func parseTimestampZ(b []byte) (us int64, zoned, ok bool) {
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return 0, false, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return 0, false, false
	}
	days := daysFromCivil(year, month, day)
	if len(b) == 10 {
		return days * 86400e6, false, true
	}
	if b[10] != 'T' && b[10] != 't' && b[10] != ' ' || len(b) < 16 || b[13] != ':' {
		return 0, false, false
	}
	hour, ok1 := digits(b[11:13])
	min, ok2 := digits(b[14:16])
	if !ok1 || !ok2 || hour > 23 || min > 59 {
		return 0, false, false
	}
	i := 16
	var sec, frac int64
	if i < len(b) && b[i] == ':' {
		if len(b) < 19 {
			return 0, false, false
		}
		s, ok := digits(b[17:19])
		if !ok || s > 59 {
			return 0, false, false
		}
		sec = s
		i = 19
		if i < len(b) && b[i] == '.' {
			i++
			start := i
			scale := int64(100000)
			for i < len(b) && b[i] >= '0' && b[i] <= '9' {
				frac += int64(b[i]-'0') * scale
				scale /= 10
				i++
			}
			if i == start || i-start > 9 {
				return 0, false, false
			}
		}
	}
	us = days*86400e6 + (hour*3600+min*60+sec)*1e6 + frac
	rest := b[i:]
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
		if len(rest) == 0 {
			return 0, false, false
		}
	}
	switch {
	case len(rest) == 0:
		return us, false, true
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
		return us, true, true
	case len(rest) == 3 && rest[0] == 'U' && rest[1] == 'T' && rest[2] == 'C':
		return us, true, true
	case rest[0] == '+' || rest[0] == '-':
		var oh, om int64
		var ok1, ok2 bool
		switch len(rest) {
		case 3: // +07
			oh, ok1 = digits(rest[1:3])
			ok2 = true
		case 5: // +0700
			oh, ok1 = digits(rest[1:3])
			om, ok2 = digits(rest[3:5])
		case 6: // +07:00
			oh, ok1 = digits(rest[1:3])
			om, ok2 = digits(rest[4:6])
			ok2 = ok2 && rest[3] == ':'
		}
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false, false
		}
		off := (oh*3600 + om*60) * 1e6
		if rest[0] == '+' {
			return us - off, true, true
		}
		return us + off, true, true
	}
	return 0, false, false
}

func digits(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func daysIn(year, month int64) int64 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
