package dataframe

import (
	"fmt"
	"strings"
	"time"
)

// Date and time functions, on the wall clock of the session time zone
// (Spark's spark.sql.session.timeZone; UTC by default): each binds with
// the binder's zone (funcDef.bindIn).
// The functions Spark types DATE (to_date, date_add) return a DATE; those
// that take a TIMESTAMP take a DATE as its midnight, and those that take a
// DATE take a TIMESTAMP's day or a string that casts to a DATE.

const usPerDay = 86400e6

func init() {
	register(
		&funcDef{name: "date_trunc", group: "datetime", usage: "date_trunc(unit, ts)", doc: "ts truncated to the unit: year, quarter, month, week (to Monday), day, hour, minute, second, millisecond, microsecond", minArgs: 2, maxArgs: 2, bindIn: bindDateTrunc},
		&funcDef{name: "to_timestamp", group: "datetime", usage: "to_timestamp(str[, fmt])", doc: "str parsed with the Spark datetime pattern fmt (default: as CAST AS TIMESTAMP); NULL when it does not parse", minArgs: 1, maxArgs: 2, bindIn: bindToTimestamp},
		&funcDef{name: "to_date", group: "datetime", usage: "to_date(str[, fmt])", doc: "str parsed with fmt (default: as CAST AS DATE), or the day of a TIMESTAMP, as a DATE; NULL when it does not parse", minArgs: 1, maxArgs: 2, bindIn: bindToDate},
		&funcDef{name: "from_unixtime", group: "datetime", usage: "from_unixtime(sec[, fmt])", doc: "seconds since the epoch formatted with fmt (default yyyy-MM-dd HH:mm:ss)", minArgs: 1, maxArgs: 2, bindIn: bindFromUnixtime},
		&funcDef{name: "unix_timestamp", group: "datetime", usage: "unix_timestamp([ts_or_str[, fmt]])", doc: "seconds since the epoch (BIGINT) of a TIMESTAMP, or of a string parsed with fmt (default yyyy-MM-dd HH:mm:ss); without arguments, of the batch's processing time (current_timestamp())", minArgs: 0, maxArgs: 2, bindIn: bindUnixTimestamp},
		fieldFunc("year", "the year of ts (INT)", func(t time.Time) int { return t.Year() }),
		fieldFunc("month", "the month of ts, 1-12 (INT)", func(t time.Time) int { return int(t.Month()) }),
		fieldFunc("day", "the day of the month of ts, 1-31 (INT)", func(t time.Time) int { return t.Day() }),
		fieldFunc("dayofweek", "the day of the week of ts, 1 (Sunday) to 7 (Saturday) (INT)", func(t time.Time) int { return int(t.Weekday()) + 1 }),
		fieldFunc("hour", "the hour of ts, 0-23 (INT)", func(t time.Time) int { return t.Hour() }),
		fieldFunc("minute", "the minute of ts, 0-59 (INT)", func(t time.Time) int { return t.Minute() }),
		fieldFunc("second", "the second of ts, 0-59 (INT)", func(t time.Time) int { return t.Second() }),
		nowFunc,
		&funcDef{name: "date_format", group: "datetime", usage: "date_format(ts, fmt)", doc: "ts formatted with the Spark datetime pattern fmt", minArgs: 2, maxArgs: 2, bindIn: bindDateFormat},
		&funcDef{name: "date_add", group: "datetime", usage: "date_add(start, days)", doc: "the DATE days after start (before, when negative)", minArgs: 2, maxArgs: 2, bind: bindDateAdd},
		&funcDef{name: "datediff", group: "datetime", usage: "datediff(end, start)", doc: "the days from the DATE start to the DATE end (INT)", minArgs: 2, maxArgs: 2, bind: bindDateDiff},
	)
	alias("dayofmonth", "day")
}

const defaultDatetimePattern = "yyyy-MM-dd HH:mm:ss"

// patternArg compiles the literal pattern args[i], or def when absent.
func patternArg(args []*bexpr, i int, def string) (*dtPattern, bool, error) {
	p := def
	if i < len(args) {
		s, null, err := stringLiteral(args, i, "datetime pattern")
		if err != nil || null {
			return nil, null, err
		}
		p = s
	}
	dp, err := compilePattern(p)
	return dp, false, err
}

var truncUnits = map[string]string{
	"year": "year", "yyyy": "year", "yy": "year", "quarter": "quarter", "month": "month", "mm": "month", "mon": "month",
	"week": "week", "day": "day", "dd": "day", "hour": "hour", "minute": "minute", "second": "second",
	"millisecond": "millisecond", "microsecond": "microsecond",
}

// truncTimestamp truncates us to unit (a value of truncUnits).
func truncTimestamp(us int64, unit string) int64 {
	switch unit {
	case "microsecond":
		return us
	case "millisecond":
		return floorDiv(us, 1e3) * 1e3
	case "second":
		return floorDiv(us, 1e6) * 1e6
	case "minute":
		return floorDiv(us, 60e6) * 60e6
	case "hour":
		return floorDiv(us, 3600e6) * 3600e6
	}
	days := floorDiv(us, usPerDay)
	switch unit {
	case "day":
		return days * usPerDay
	case "week": // 1970-01-01 was a Thursday: Mondays are days ≡ 4 (mod 7)
		return (days - ((days-4)%7+7)%7) * usPerDay
	}
	t := time.UnixMicro(us).UTC()
	y, m := int64(t.Year()), int64(t.Month())
	switch unit {
	case "year":
		m = 1
	case "quarter":
		m = (m-1)/3*3 + 1
	}
	return daysFromCivil(y, m, 1) * usPerDay
}

func bindDateTrunc(args []*bexpr, loc *time.Location) (Type, kernel, error) {
	u, null, err := stringLiteral(args, 0, "unit")
	if err != nil {
		return 0, nil, err
	}
	if err := argAs(args, 1, Timestamp); err != nil {
		return 0, nil, err
	}
	if null {
		return Timestamp, nullKernel(Timestamp), nil
	}
	unit, ok := truncUnits[strings.ToLower(u)]
	if !ok {
		return 0, nil, fmt.Errorf("unknown unit %s (want YEAR, QUARTER, MONTH, WEEK, DAY, HOUR, MINUTE, SECOND, MILLISECOND or MICROSECOND)", quoteString(u))
	}
	return Timestamp, func(n int, a []*vector, sel []int32) *vector {
		out := newVector(Timestamp, n)
		out.valid = a[1].valid
		x, o := a[1].i64, out.i64
		if loc == nil {
			for _, i := range sel {
				o[i] = truncTimestamp(x[i], unit)
			}
			return out
		}
		live(out.valid, sel, func(i int32) {
			off := offsetAt(x[i], loc)
			o[i] = wallToInstantKeep(truncTimestamp(x[i]+off, unit), off, loc)
		})
		return out
	}, nil
}

func bindToTimestamp(args []*bexpr, loc *time.Location) (Type, kernel, error) {
	if len(args) == 1 || args[0].typ == Timestamp || args[0].typ == Date {
		if err := argAs(args, 0, Timestamp); err != nil {
			return 0, nil, err
		}
		return Timestamp, strict(Timestamp, func(out *vector, a []*vector, i int32) { out.i64[i] = a[0].i64[i] }), nil
	}
	if err := argAs(args, 0, String); err != nil {
		return 0, nil, err
	}
	p, null, err := patternArg(args, 1, "")
	if err != nil || null {
		return Timestamp, nullKernel(Timestamp), err
	}
	return Timestamp, strictNullable(Timestamp, func(out *vector, a []*vector, i int32) bool {
		us, ok := p.parseIn(a[0].str(i), loc)
		out.i64[i] = us
		return ok
	}), nil
}

// bindToDate is to_date: without a pattern it is CAST(x AS DATE), as in
// Spark; with one, the string parsed as to_timestamp does, then its day.
func bindToDate(args []*bexpr, loc *time.Location) (Type, kernel, error) {
	if len(args) == 1 || args[0].typ == Timestamp || args[0].typ == Date {
		if err := argAs(args, 0, Date); err != nil {
			return 0, nil, err
		}
		return Date, strict(Date, func(out *vector, a []*vector, i int32) { out.i32[i] = a[0].i32[i] }), nil
	}
	if err := argAs(args, 0, String); err != nil {
		return 0, nil, err
	}
	p, null, err := patternArg(args, 1, "")
	if err != nil || null {
		return Date, nullKernel(Date), err
	}
	return Date, strictNullable(Date, func(out *vector, a []*vector, i int32) bool {
		us, ok := p.parseIn(a[0].str(i), loc)
		out.i32[i] = int32(timestampToDate(instantToWall(us, loc)))
		return ok
	}), nil
}

func bindFromUnixtime(args []*bexpr, loc *time.Location) (Type, kernel, error) {
	if err := argAs(args, 0, Int64); err != nil {
		return 0, nil, err
	}
	p, null, err := patternArg(args, 1, defaultDatetimePattern)
	if err != nil || null {
		return String, nullKernel(String), err
	}
	return String, strict(String, func(out *vector, a []*vector, i int32) { out.s[i] = p.formatIn(a[0].i64[i]*1e6, loc) }), nil
}

func bindUnixTimestamp(args []*bexpr, loc *time.Location) (Type, kernel, error) {
	if args[0].typ == Timestamp {
		return Int64, strict(Int64, func(out *vector, a []*vector, i int32) { out.i64[i] = floorDiv(a[0].i64[i], 1e6) }), nil
	}
	if err := argAs(args, 0, String); err != nil {
		return 0, nil, err
	}
	p, null, err := patternArg(args, 1, defaultDatetimePattern)
	if err != nil || null {
		return Int64, nullKernel(Int64), err
	}
	return Int64, strictNullable(Int64, func(out *vector, a []*vector, i int32) bool {
		us, ok := p.parseIn(a[0].str(i), loc)
		out.i64[i] = floorDiv(us, 1e6)
		return ok
	}), nil
}

// fieldFunc registers a function of one TIMESTAMP's wall-clock time.
func fieldFunc(name, doc string, f func(time.Time) int) *funcDef {
	b := bindField(f)
	return &funcDef{name: name, group: "datetime", usage: name + "(ts)", doc: doc, minArgs: 1, maxArgs: 1, bindIn: b}
}

func bindField(f func(time.Time) int) func([]*bexpr, *time.Location) (Type, kernel, error) {
	return func(args []*bexpr, loc *time.Location) (Type, kernel, error) {
		if err := argAs(args, 0, Timestamp); err != nil {
			return 0, nil, err
		}
		return Int32, func(n int, a []*vector, sel []int32) *vector {
			out := newVector(Int32, n)
			out.valid = a[0].valid
			x, o := a[0].i64, out.i32
			live(out.valid, sel, func(i int32) { o[i] = int32(f(inZone(x[i], loc))) })
			return out
		}, nil
	}
}

func bindDateFormat(args []*bexpr, loc *time.Location) (Type, kernel, error) {
	if err := argAs(args, 0, Timestamp); err != nil {
		return 0, nil, err
	}
	p, null, err := patternArg(args, 1, "")
	if err != nil || null {
		return String, nullKernel(String), err
	}
	return String, strict(String, func(out *vector, a []*vector, i int32) { out.s[i] = p.formatIn(a[0].i64[i], loc) }), nil
}

func bindDateAdd(args []*bexpr) (Type, kernel, error) {
	if err := argAs(args, 0, Date); err != nil {
		return 0, nil, err
	}
	if t := args[1].typ; t != Int32 && t != Int64 && t != nullType {
		return 0, nil, fmt.Errorf("argument 2 must be an integer number of days, got %s of type %v", args[1].src, t)
	}
	if err := argAs(args, 1, Int32); err != nil {
		return 0, nil, err
	}
	return Date, strict(Date, func(out *vector, a []*vector, i int32) {
		out.i32[i] = a[0].i32[i] + a[1].i32[i]
	}), nil
}

func bindDateDiff(args []*bexpr) (Type, kernel, error) {
	if err := argsAs(args, 0, Date); err != nil {
		return 0, nil, err
	}
	return Int32, strict(Int32, func(out *vector, a []*vector, i int32) {
		out.i32[i] = a[0].i32[i] - a[1].i32[i]
	}), nil
}

// nowFunc is current_timestamp(): the batch's processing time, which the
// evaluator holds (Task.SetProcessingTime), not a kernel of its arguments.
var nowFunc = &funcDef{name: "current_timestamp", group: "datetime", usage: "current_timestamp()",
	doc:     "the batch's processing time, recorded in its write-ahead plan: the same for every row of the batch and when the batch is re-run",
	minArgs: 0, maxArgs: 0, bind: func([]*bexpr) (Type, kernel, error) { return Timestamp, nil, nil }}

func init() { alias("now", "current_timestamp") }

// now is the constant vector of current_timestamp() over rows sel.
func (ev *evaluator) now(sel []int32) *vector {
	out := newVector(Timestamp, ev.n)
	for _, i := range sel {
		out.i64[i] = ev.nowUS
	}
	return out
}

// SetProcessingTime sets the value of current_timestamp() for the rows
// the Task consumes from now on: the engine gives the batch's processing
// time from its write-ahead plan. A Task whose time was not set uses the
// time NewTask created it.
func (t *Task) SetProcessingTime(at time.Time) {
	t.nowUS = at.UnixMicro()
}
