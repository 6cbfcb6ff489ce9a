package dataframe

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A dtPattern is a compiled Spark datetime pattern ("yyyy-MM-dd HH:mm:ss",
// see Spark's "Datetime Patterns" reference) that formats and parses
// TIMESTAMPs in UTC. Letters: y (year; yy is 2000-2099 when parsing), M or
// L (month; MMM Jan, MMMM January), d (day of month), D (day of year), H
// (0-23), h (1-12), k (1-24), K (0-11), m, s, S (fraction of a second, up
// to 9), a (AM/PM), E (EEE Mon, EEEE Monday), X, x and Z (UTC offsets), z
// (zone name: UTC). Text in single quotes is literal (” is a quote); other
// non-letters are literal.
type dtPattern struct {
	src  string
	toks []dtTok
}

type dtTok struct {
	letter byte // 0: literal text
	count  int
	lit    string
}

const dtLetters = "yMLdDHhkKmsSaEXxZz"

func compilePattern(p string) (*dtPattern, error) {
	out := &dtPattern{src: p}
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			j := i + 1
			var lit strings.Builder
			for {
				if j >= len(p) {
					return nil, fmt.Errorf("datetime pattern %s: unterminated quote at %d", quoteString(p), i+1)
				}
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						lit.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				lit.WriteByte(p[j])
				j++
			}
			if j == i+1 { // '' is one quote
				lit.WriteByte('\'')
			}
			out.toks = append(out.toks, dtTok{lit: lit.String()})
			i = j + 1
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(p) && p[j] == c {
				j++
			}
			if !strings.ContainsRune(dtLetters, rune(c)) {
				return nil, fmt.Errorf("datetime pattern %s: letter %c is not supported (supported: %s)", quoteString(p), c, dtLetters)
			}
			n := j - i
			if c == 'S' && n > 9 || (c == 'M' || c == 'L' || c == 'E') && n > 4 || c != 'S' && c != 'y' && c != 'M' && c != 'L' && c != 'E' && c != 'Z' && c != 'X' && c != 'x' && n > 3 || c == 'a' && n > 1 {
				return nil, fmt.Errorf("datetime pattern %s: too many pattern letters %c", quoteString(p), c)
			}
			out.toks = append(out.toks, dtTok{letter: c, count: n})
			i = j
		default:
			out.toks = append(out.toks, dtTok{lit: string(c)})
			i++
		}
	}
	return out, nil
}

var monthNames = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
var dayNames = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

func pad(b []byte, v int64, width int) []byte {
	s := strconv.FormatInt(v, 10)
	for k := len(s); k < width; k++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// format renders us (µs since the epoch) in UTC.
func (p *dtPattern) format(us int64) string { return p.formatIn(us, nil) }

// formatIn renders us (µs since the epoch) on loc's wall clock (nil: UTC),
// zone letters giving loc's offset and name at that instant.
func (p *dtPattern) formatIn(us int64, loc *time.Location) string {
	t := inZone(us, loc)
	zname, off := t.Zone()
	var b []byte
	for _, k := range p.toks {
		switch k.letter {
		case 0:
			b = append(b, k.lit...)
		case 'y':
			y := int64(t.Year())
			if k.count == 2 {
				b = pad(b, (y%100+100)%100, 2)
			} else {
				b = pad(b, y, k.count)
			}
		case 'M', 'L':
			switch k.count {
			case 3:
				b = append(b, monthNames[t.Month()-1][:3]...)
			case 4:
				b = append(b, monthNames[t.Month()-1]...)
			default:
				b = pad(b, int64(t.Month()), k.count)
			}
		case 'd':
			b = pad(b, int64(t.Day()), k.count)
		case 'D':
			b = pad(b, int64(t.YearDay()), k.count)
		case 'H':
			b = pad(b, int64(t.Hour()), k.count)
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			b = pad(b, int64(h), k.count)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b = pad(b, int64(h), k.count)
		case 'K':
			b = pad(b, int64(t.Hour()%12), k.count)
		case 'm':
			b = pad(b, int64(t.Minute()), k.count)
		case 's':
			b = pad(b, int64(t.Second()), k.count)
		case 'S':
			frac := pad(nil, int64(t.Nanosecond()), 9)
			b = append(b, frac[:k.count]...)
		case 'a':
			if t.Hour() < 12 {
				b = append(b, "AM"...)
			} else {
				b = append(b, "PM"...)
			}
		case 'E':
			name := dayNames[t.Weekday()]
			if k.count < 4 {
				name = name[:3]
			}
			b = append(b, name...)
		case 'X':
			if off == 0 {
				b = append(b, 'Z')
			} else {
				b = appendOffset(b, off, min(k.count, 3))
			}
		case 'x':
			b = appendOffset(b, off, min(k.count, 3))
		case 'Z':
			switch {
			case k.count == 4:
				b = append(b, "GMT"...)
				if off != 0 {
					b = appendOffset(b, off, 3)
				}
			case k.count == 5 && off == 0:
				b = append(b, 'Z')
			case k.count == 5:
				b = appendOffset(b, off, 3)
			default:
				b = appendOffset(b, off, 2)
			}
		case 'z':
			b = append(b, zname...)
		}
	}
	return string(b)
}

// appendOffset appends the UTC offset off (seconds) as +HH (width 1),
// +HHMM (2) or +HH:MM (3).
func appendOffset(b []byte, off, width int) []byte {
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b = pad(append(b, sign), int64(off/3600), 2)
	switch width {
	case 2:
		b = pad(b, int64(off/60%60), 2)
	case 3:
		b = pad(append(b, ':'), int64(off/60%60), 2)
	}
	return b
}

// parse reads s, which must match the whole pattern; fields the pattern
// lacks default to 1970-01-01 00:00:00 UTC.
func (p *dtPattern) parse(s string) (int64, bool) {
	us, _, ok := p.parseZ(s)
	return us, ok
}

// parseIn is parse on loc's wall clock (nil: UTC): a string that gives no
// zone reads as loc's local time.
func (p *dtPattern) parseIn(s string, loc *time.Location) (int64, bool) {
	us, zoned, ok := p.parseZ(s)
	if ok && !zoned {
		us = wallToInstant(us, loc)
	}
	return us, ok
}

// parseZ is parse, also reporting whether s gave a zone or offset.
func (p *dtPattern) parseZ(s string) (us int64, zoned, ok bool) {
	year, month, day, yday := int64(1970), int64(1), int64(1), int64(0)
	var hour, minute, sec, nanos, offset int64
	pm, hasAmPm, h12 := false, false, int64(-1)
	i := 0
	num := func(minW, maxW int) (int64, bool) {
		j := i
		for j < len(s) && j-i < maxW && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j-i < minW {
			return 0, false
		}
		v, _ := strconv.ParseInt(s[i:j], 10, 64)
		i = j
		return v, true
	}
	for _, k := range p.toks {
		var ok bool
		width := k.count
		minW, maxW := width, width
		if width == 1 {
			minW, maxW = 1, 2
		}
		switch k.letter {
		case 0:
			if !strings.HasPrefix(s[i:], k.lit) {
				return 0, false, false
			}
			i += len(k.lit)
			continue
		case 'y':
			switch width {
			case 2:
				year, ok = num(2, 2)
				year += 2000
			case 1:
				year, ok = num(1, 9)
			default:
				year, ok = num(width, max(width, 9))
			}
		case 'M', 'L':
			if width >= 3 {
				ok = false
				for m, name := range monthNames {
					if width == 3 {
						name = name[:3]
					}
					if len(s)-i >= len(name) && strings.EqualFold(s[i:i+len(name)], name) {
						month, ok = int64(m+1), true
						i += len(name)
						break
					}
				}
			} else {
				month, ok = num(minW, maxW)
			}
		case 'd':
			day, ok = num(minW, maxW)
		case 'D':
			if width == 1 {
				maxW = 3
			}
			yday, ok = num(minW, maxW)
		case 'H', 'k':
			hour, ok = num(minW, maxW)
			if k.letter == 'k' && hour == 24 {
				hour = 0
			}
		case 'h', 'K':
			h12, ok = num(minW, maxW)
			if k.letter == 'h' && h12 == 12 {
				h12 = 0
			}
		case 'm':
			minute, ok = num(minW, maxW)
		case 's':
			sec, ok = num(minW, maxW)
		case 'S':
			j := i
			for j < len(s) && j-i < width && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if ok = j > i; ok {
				f := s[i:j] + strings.Repeat("0", 9-(j-i))
				nanos, _ = strconv.ParseInt(f, 10, 64)
				i = j
			}
		case 'a':
			if ok = len(s)-i >= 2; ok {
				switch strings.ToUpper(s[i : i+2]) {
				case "AM":
				case "PM":
					pm = true
				default:
					ok = false
				}
				hasAmPm = true
				i += 2
			}
		case 'E':
			ok = false
			for _, name := range dayNames {
				if width < 4 {
					name = name[:3]
				}
				if len(s)-i >= len(name) && strings.EqualFold(s[i:i+len(name)], name) {
					ok = true
					i += len(name)
					break
				}
			}
		case 'X', 'x', 'Z':
			offset, ok = p.parseOffset(s, &i)
			zoned = true
		case 'z':
			ok, zoned = false, true
			for _, z := range []string{"UTC", "GMT", "Z"} {
				if strings.HasPrefix(s[i:], z) {
					ok = true
					i += len(z)
					break
				}
			}
		}
		if !ok {
			return 0, false, false
		}
	}
	if i != len(s) {
		return 0, false, false
	}
	if h12 >= 0 {
		if h12 > 11 {
			return 0, false, false
		}
		hour = h12
		if pm {
			hour += 12
		}
	} else if hasAmPm && pm && hour < 12 {
		hour += 12
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false, false
	}
	days := daysFromCivil(year, month, day)
	if yday > 0 {
		if yday > 365 && daysIn(year, 2) == 28 || yday > 366 {
			return 0, false, false
		}
		days = daysFromCivil(year, 1, 1) + yday - 1
	}
	return days*86400e6 + (hour*3600+minute*60+sec)*1e6 + nanos/1000 - offset, zoned, true
}

// parseOffset reads Z, +HH, +HHMM or +HH:MM and returns it in µs.
func (p *dtPattern) parseOffset(s string, i *int) (int64, bool) {
	r := s[*i:]
	if strings.HasPrefix(r, "Z") {
		*i++
		return 0, true
	}
	if strings.HasPrefix(r, "GMT") {
		*i += 3
		r = r[3:]
		if r == "" || r[0] != '+' && r[0] != '-' {
			return 0, true
		}
	}
	if len(r) < 3 || r[0] != '+' && r[0] != '-' {
		return 0, false
	}
	h, ok := digits([]byte(r[1:3]))
	if !ok {
		return 0, false
	}
	n := 3
	var m int64
	switch {
	case len(r) >= 6 && r[3] == ':':
		if m, ok = digits([]byte(r[4:6])); !ok {
			return 0, false
		}
		n = 6
	case len(r) >= 5 && r[3] >= '0' && r[3] <= '9':
		if m, ok = digits([]byte(r[3:5])); !ok {
			return 0, false
		}
		n = 5
	}
	if h > 18 || m > 59 {
		return 0, false
	}
	off := (h*3600 + m*60) * 1e6
	if r[0] == '-' {
		off = -off
	}
	*i += n
	return off, true
}
