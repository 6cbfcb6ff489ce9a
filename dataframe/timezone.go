package dataframe

import (
	"fmt"
	"strings"
	"time"
)

// The session time zone (Spark's spark.sql.session.timeZone) is the zone
// in which a query's date and time functions, its CASTs between TIMESTAMP
// and STRING or DATE, and its timestamp literals without an offset read
// and show wall-clock time. A TIMESTAMP is an instant (µs since the epoch,
// as Arrow's) whatever the zone: only its wall-clock views change. nil is
// UTC, the default.

// LoadTimeZone returns the session time zone name: an IANA name
// (America/New_York), UTC, or a fixed offset (+05:30, -08:00, UTC+01:00,
// GMT-3), as Spark's spark.sql.session.timeZone accepts them. UTC and
// +00:00 return nil.
func LoadTimeZone(name string) (*time.Location, error) {
	s := strings.TrimSpace(name)
	switch s {
	case "", "UTC", "Z", "GMT", "Etc/UTC":
		if s == "" {
			return nil, fmt.Errorf("%w: empty time zone", ErrOptions)
		}
		return nil, nil
	}
	rest := s
	for _, p := range []string{"UTC", "GMT"} {
		if strings.HasPrefix(rest, p) && len(rest) > len(p) && (rest[len(p)] == '+' || rest[len(p)] == '-') {
			rest = rest[len(p):]
		}
	}
	if rest[0] == '+' || rest[0] == '-' {
		var dp dtPattern
		i := 0
		off, ok := dp.parseOffset(rest, &i)
		if !ok || i != len(rest) {
			if h, okh := digits([]byte(rest[1:])); okh && len(rest) <= 3 && h <= 18 {
				off, ok = h*3600e6, true
				if rest[0] == '-' {
					off = -off
				}
			} else {
				return nil, fmt.Errorf("%w: time zone %q: want an IANA name (Europe/Paris), UTC, or an offset such as +05:30", ErrOptions, name)
			}
		}
		if off == 0 {
			return nil, nil
		}
		return time.FixedZone(s, int(off/1e6)), nil
	}
	if id, ok := shortZoneIDs[s]; ok {
		s = id
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, fmt.Errorf("%w: time zone %q: %w (want an IANA name such as Europe/Paris, UTC, or an offset such as +05:30)", ErrOptions, name, err)
	}
	if loc == time.UTC {
		return nil, nil
	}
	return loc, nil
}

// shortZoneIDs are the three-letter zone IDs Spark accepts (Java's
// ZoneId.SHORT_IDS), for the region each stands for there; EST, MST and
// HST are fixed offsets in both Java and the IANA database.
var shortZoneIDs = map[string]string{
	"ACT": "Australia/Darwin", "AET": "Australia/Sydney", "AGT": "America/Argentina/Buenos_Aires", "ART": "Africa/Cairo",
	"AST": "America/Anchorage", "BET": "America/Sao_Paulo", "BST": "Asia/Dhaka", "CAT": "Africa/Harare",
	"CNT": "America/St_Johns", "CST": "America/Chicago", "CTT": "Asia/Shanghai", "EAT": "Africa/Addis_Ababa",
	"ECT": "Europe/Paris", "IET": "America/Indiana/Indianapolis", "IST": "Asia/Kolkata", "JST": "Asia/Tokyo",
	"MIT": "Pacific/Apia", "NET": "Asia/Yerevan", "NST": "Pacific/Auckland", "PLT": "Asia/Karachi",
	"PNT": "America/Phoenix", "PRT": "America/Puerto_Rico", "PST": "America/Los_Angeles", "SST": "Pacific/Guadalcanal",
	"VST": "Asia/Ho_Chi_Minh",
}

// FormatTimestampIn is FormatTimestamp on loc's wall clock (nil: UTC),
// as Spark's CAST(t AS STRING) and show() render in the session time zone.
func FormatTimestampIn(us int64, loc *time.Location) string {
	return FormatTimestamp(instantToWall(us, loc))
}

// inZone is the wall-clock view of the instant us in loc (nil: UTC).
func inZone(us int64, loc *time.Location) time.Time {
	if loc == nil {
		return time.UnixMicro(us).UTC()
	}
	return time.UnixMicro(us).In(loc)
}

// instantToWall returns the wall-clock reading of the instant us in loc,
// as µs since 1970-01-01 00:00 of that wall clock.
func instantToWall(us int64, loc *time.Location) int64 {
	if loc == nil {
		return us
	}
	_, off := time.UnixMicro(us).In(loc).Zone()
	return us + int64(off)*1e6
}

// wallToInstant returns the instant at which loc's wall clock reads w (µs
// since 1970-01-01 00:00 of that wall clock), as Java's ZonedDateTime.of
// resolves it for Spark: a reading that occurs twice (clocks set back)
// takes the earlier offset, the one before the change; a reading the
// change skips (clocks set forward) moves later by the gap, i.e. takes
// the offset before the change too.
func wallToInstant(w int64, loc *time.Location) int64 {
	if loc == nil {
		return w
	}
	// Transitions are days apart: the offsets a day either side are the
	// one before and the one after any change near w.
	before, after := offsetAt(w-usPerDay, loc), offsetAt(w+usPerDay, loc)
	if c := w - before; before == after || offsetAt(c, loc) == before {
		return c
	}
	if c := w - after; offsetAt(c, loc) == after {
		return c
	}
	return w - before // in the gap
}

// wallToInstantKeep is wallToInstant, but keeps the offset prefer (µs)
// when loc's wall clock reads w with it at some instant: truncating a
// time in the hour that occurs twice stays in its own occurrence, as
// Java's ZonedDateTime.truncatedTo does for Spark's date_trunc.
func wallToInstantKeep(w, prefer int64, loc *time.Location) int64 {
	if loc == nil {
		return w
	}
	if c := w - prefer; offsetAt(c, loc) == prefer {
		return c
	}
	return wallToInstant(w, loc)
}

// offsetAt is loc's UTC offset at the instant us, in µs.
func offsetAt(us int64, loc *time.Location) int64 {
	_, off := time.UnixMicro(us).In(loc).Zone()
	return int64(off) * 1e6
}

// zoneName names loc for plan texts: "UTC" for nil.
func zoneName(loc *time.Location) string {
	if loc == nil {
		return "UTC"
	}
	return loc.String()
}
