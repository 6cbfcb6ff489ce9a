package sql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/apache/arrow/go/v17/arrow"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/microbatch/microbatch/dataframe"
)

// WINDOW is a reserved word of PostgreSQL's grammar, so window(ts, ...)
// and window.start are syntax errors to its parser. windowWord rewrites
// the keyword, unless a name follows it (the WINDOW clause), into windowAlias, an
// identifier of the same length (positions are kept), which refParts and
// call read back as "window".
const windowAlias = "mbwin_"

// windowWord rewrites each WINDOW keyword that does not start a WINDOW
// clause (see windowAlias).
func windowWord(q string) string {
	if !strings.Contains(strings.ToLower(q), "window") {
		return q
	}
	return rewriteTokens(q, func(toks []*pg.ScanToken, i int, b []byte) {
		t := toks[i]
		if t.GetToken() != pg.Token_WINDOW || i+1 == len(toks) {
			return
		}
		// The WINDOW clause is WINDOW name AS (...): a name follows it.
		next := toks[i+1]
		s, e := int(t.GetStart()), int(t.GetEnd())
		if next.GetToken() == pg.Token_IDENT || next.GetKeywordKind() == pg.KeywordKind_UNRESERVED_KEYWORD ||
			next.GetKeywordKind() == pg.KeywordKind_COL_NAME_KEYWORD || e-s != len(windowAlias) || e > len(b) {
			return
		}
		copy(b[s:e], windowAlias)
	})
}

// rewriteTokens returns q after fn has looked at each of its tokens (toks[i])
// and rewritten bytes of b, a copy of q, in place: the rewrites keep every
// byte offset. q is returned as it is when the scanner refuses it.
func rewriteTokens(q string, fn func(toks []*pg.ScanToken, i int, b []byte)) string {
	scan, err := pg.Scan(q)
	if err != nil {
		return q
	}
	toks := scan.GetTokens()
	b := []byte(q)
	for i := range toks {
		fn(toks, i, b)
	}
	return string(b)
}

// unalias turns windowAlias back into "window".
func unalias(name string) string {
	if name == windowAlias {
		return "window"
	}
	return name
}

// windowFuncs are the window functions, by lower-case name.
var windowFuncs = map[string]bool{"window": true, "tumble": true, "hop": true, "session_window": true}

// winKey is the query's GROUP BY window.
type winKey struct {
	e     dataframe.Expr
	pos   int
	start string // the names of its key columns
	end   string
	group string // the name the whole window is selected by ("window"), or ""
}

// windowKey finds the window function among the GROUP BY entries, if any,
// and translates it. Window functions elsewhere are refused by call.
func (c *compiler) windowKey(srcCols []string) (*winKey, *Error) {
	var found *winKey
	for _, g := range c.p.stmt.GetGroupClause() {
		f := g.GetFuncCall()
		if f == nil || !windowFuncs[strings.ToLower(unalias(opName(f.GetFuncname())))] {
			continue
		}
		pos := int(f.GetLocation())
		if found != nil {
			return nil, c.errAt(pos, "more than one window function in GROUP BY: a query groups by one window (as in Spark)")
		}
		w, err := c.window(f, srcCols)
		if err != nil {
			return nil, err
		}
		found = w
	}
	return found, nil
}

// window translates one window function call.
func (c *compiler) window(f *pg.FuncCall, srcCols []string) (*winKey, *Error) {
	pos := int(f.GetLocation())
	name := strings.ToLower(unalias(opName(f.GetFuncname())))
	args := f.GetArgs()
	switch {
	case f.GetOver() != nil || f.GetAggStar() || f.GetAggDistinct() || f.GetAggFilter() != nil:
		return nil, c.errAt(pos, "%s(...) takes an event-time column and durations", name)
	case name == "window" && (len(args) < 2 || len(args) > 4):
		return nil, c.errAt(pos, "window takes 2 to 4 arguments (timeColumn, windowDuration[, slideDuration[, startTime]]), got %d", len(args))
	case name == "tumble" && len(args) != 2:
		return nil, c.errAt(pos, "tumble takes 2 arguments (timeColumn, size), got %d", len(args))
	case name == "session_window" && len(args) != 2:
		return nil, c.errAt(pos, "session_window takes 2 arguments (timeColumn, gapDuration), got %d", len(args))
	case name == "session_window" && len(c.p.stmt.GetGroupClause()) < 2:
		return nil, c.errAt(pos, "a session window needs another grouping key (GROUP BY user_id, session_window(ts, '5 minutes')), as in Spark")
	case name == "hop" && len(args) != 3:
		return nil, c.errAt(pos, "hop takes 3 arguments (timeColumn, slide, size), got %d", len(args))
	}
	ts, err := c.t.expr(args[0], &scope{clause: "GROUP BY", cols: srcCols})
	if err != nil {
		return nil, asError(err)
	}
	if s, serr := c.src.Select(ts.e).Schema(); serr == nil && !arrow.TypeEqual(s.Field(0).Type, dataframe.Timestamp.Arrow()) {
		typ := s.Field(0).Type.String()
		for _, k := range []dataframe.Type{dataframe.String, dataframe.Int32, dataframe.Int64, dataframe.Float64, dataframe.Bool, dataframe.Date} {
			if arrow.TypeEqual(s.Field(0).Type, k.Arrow()) {
				typ = k.String()
			}
		}
		return nil, c.errAt(ts.start(), "%s needs a TIMESTAMP event-time column; %s is %s", name, ts.e, typ)
	}
	durs := make([]time.Duration, len(args)-1)
	for i, a := range args[1:] {
		d, derr := c.duration(a)
		if derr != nil {
			return nil, derr
		}
		durs[i] = d
	}
	var size, slide, start time.Duration
	sizeArg, slideArg := 1, -1
	if name == "session_window" {
		if durs[0] <= 0 {
			return nil, c.errAt(nodeLocation(args[1], pos), "the session gap must be positive, got %s", durs[0])
		}
		return &winKey{pos: pos, e: dataframe.SessionWindow(ts.e, durs[0]), start: "session_window.start", end: "session_window.end", group: "session_window"}, nil
	}
	switch name {
	case "hop":
		slide, size = durs[0], durs[1]
		sizeArg, slideArg = 2, 1
	default:
		size = durs[0]
		slide = size
		if len(durs) > 1 {
			slide, slideArg = durs[1], 2
		}
		if len(durs) > 2 {
			start = durs[2]
		}
	}
	at := func(i int) int { return nodeLocation(args[i], pos) }
	switch {
	case size <= 0:
		return nil, c.errAt(at(sizeArg), "the window size must be positive, got %s", size)
	case slideArg > 0 && slide <= 0:
		return nil, c.errAt(at(slideArg), "the window slide must be positive, got %s", slide)
	case slide > size:
		return nil, c.errAt(at(slideArg), "the window slide %s is longer than its size %s", slide, size)
	case start < 0 || start >= slide:
		return nil, c.errAt(at(3), "the window startTime %s must be at least 0 and less than the slide %s", start, slide)
	}
	w := &winKey{pos: pos}
	switch name {
	case "window":
		w.e, w.start, w.end, w.group = dataframe.Window(ts.e, size, slide, start), "window.start", "window.end", "window"
	case "tumble":
		w.e, w.start, w.end = dataframe.Tumble(ts.e, size), "window_start", "window_end"
	default:
		w.e, w.start, w.end = dataframe.Hop(ts.e, slide, size), "window_start", "window_end"
	}
	return w, nil
}

// duration reads a window duration: a string in Spark's form ('10
// minutes', '1 hour 30 minutes') or an interval literal (interval '1
// minute').
func (c *compiler) duration(n *pg.Node) (time.Duration, *Error) {
	pos := nodeLocation(n, c.p.start)
	if tc := n.GetTypeCast(); tc != nil {
		arg := nodeLocation(tc.GetArg(), pos)
		for _, t := range c.p.tokens { // the INTERVAL keyword before the string
			if t.GetToken() == pg.Token_INTERVAL && int(t.GetStart()) < arg {
				pos = int(t.GetStart())
			}
		}
		var names []string
		for _, x := range tc.GetTypeName().GetNames() {
			names = append(names, x.GetString_().GetSval())
		}
		if strings.Join(names, ".") != "pg_catalog.interval" && strings.Join(names, ".") != "interval" {
			return 0, c.errAt(pos, "a window duration is a string ('10 minutes') or an interval literal (interval '10 minutes')")
		}
		if len(tc.GetTypeName().GetTypmods()) > 0 {
			return 0, c.errAt(pos, "write the interval's unit inside the quotes: interval '1 minute'")
		}
		n = tc.GetArg()
	}
	k := n.GetAConst()
	if k == nil || k.GetSval() == nil {
		return 0, c.errAt(pos, "a window duration is a string ('10 minutes') or an interval literal (interval '10 minutes')")
	}
	d, err := ParseDuration(k.GetSval().GetSval())
	if err != nil {
		return 0, c.errAt(pos, "%v", err)
	}
	return d, nil
}

// durationUnits are Spark's interval units, by singular name and
// abbreviation.
var durationUnits = map[string]time.Duration{
	"microsecond": time.Microsecond, "us": time.Microsecond,
	"millisecond": time.Millisecond, "ms": time.Millisecond,
	"second": time.Second, "s": time.Second, "sec": time.Second,
	"minute": time.Minute, "m": time.Minute, "min": time.Minute,
	"hour": time.Hour, "h": time.Hour,
	"day": 24 * time.Hour, "d": 24 * time.Hour,
	"week": 7 * 24 * time.Hour,
}

// ParseDuration reads a duration as Spark writes them ("10 minutes",
// "1 hour 30 minutes", "interval 5 seconds", "500 milliseconds") or as Go
// does ("1m30s"). Months and years are refused: their length varies.
func ParseDuration(s string) (time.Duration, error) {
	text := strings.TrimSpace(s)
	if d, err := time.ParseDuration(text); err == nil {
		return d, nil
	}
	f := strings.Fields(strings.ToLower(text))
	if len(f) > 0 && f[0] == "interval" {
		f = f[1:]
	}
	// "10minutes" as well as "10 minutes".
	var parts []string
	for _, w := range f {
		i := strings.IndexFunc(w, func(r rune) bool { return !unicode.IsDigit(r) && r != '-' && r != '+' && r != '.' })
		if i > 0 {
			parts = append(parts, w[:i], w[i:])
		} else {
			parts = append(parts, w)
		}
	}
	if len(parts) == 0 || len(parts)%2 != 0 {
		return 0, fmt.Errorf("invalid duration %q: want a number and a unit, such as '10 minutes' or '1 hour 30 minutes'", s)
	}
	var total time.Duration
	for i := 0; i < len(parts); i += 2 {
		v, err := strconv.ParseInt(parts[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: %q is not a whole number", s, parts[i])
		}
		u := parts[i+1]
		unit, ok := durationUnits[u]
		if !ok && len(u) > 1 && strings.HasSuffix(u, "s") {
			unit, ok = durationUnits[strings.TrimSuffix(u, "s")]
		}
		if !ok {
			if strings.HasPrefix(u, "month") || strings.HasPrefix(u, "year") {
				return 0, fmt.Errorf("invalid duration %q: months and years have no fixed length; use days", s)
			}
			return 0, fmt.Errorf("invalid duration %q: unknown unit %q (want microseconds, milliseconds, seconds, minutes, hours, days or weeks)", s, u)
		}
		total += time.Duration(v) * unit
	}
	return total, nil
}

// windowItem reports which window columns a select-list column reference
// parts names, given the query's window: its start ("start"), its end
// ("end"), or both (the whole window); "" when none.
func (w *winKey) item(parts []string) string {
	if w == nil {
		return ""
	}
	switch {
	case len(parts) == 1 && w.group != "" && strings.EqualFold(parts[0], w.group):
		return "both"
	case len(parts) == 2 && w.group != "" && strings.EqualFold(parts[0], w.group) && strings.EqualFold(parts[1], "start"),
		len(parts) == 1 && strings.EqualFold(parts[0], w.start):
		return "start"
	case len(parts) == 2 && w.group != "" && strings.EqualFold(parts[0], w.group) && strings.EqualFold(parts[1], "end"),
		len(parts) == 1 && strings.EqualFold(parts[0], w.end):
		return "end"
	}
	return ""
}
