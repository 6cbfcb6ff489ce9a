package dataframe

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParsePlan rebuilds a DataFrame from its canonical plan text (String):
// ParsePlan(df.String()) is a DataFrame with the same String, whether df was
// built with this package's API or compiled from SQL. It exists to read
// plans recorded by earlier releases, which kept only that text; an error
// says which operation and byte offset it could not read.
func ParsePlan(text string) (*DataFrame, error) {
	p := &planParser{s: text}
	df, err := p.plan()
	if err != nil {
		return nil, fmt.Errorf("%w: plan text at byte %d: %w", ErrPlan, p.pos, err)
	}
	return df, df.Err()
}

// planParser reads the text written by DataFrame.String and node.write. It
// is exact: every space and parenthesis that write emits is expected, so
// there is no precedence to resolve.
type planParser struct {
	s   string
	pos int
}

func (p *planParser) rest() string { return p.s[p.pos:] }

func (p *planParser) eat(lit string) bool {
	if strings.HasPrefix(p.rest(), lit) {
		p.pos += len(lit)
		return true
	}
	return false
}

// eatWord is eat of a keyword not followed by more of a name.
func (p *planParser) eatWord(w string) bool {
	r := p.rest()
	if !strings.HasPrefix(r, w) || len(r) > len(w) && (isIdentByte(r[len(w)]) || r[len(w)] == '.') {
		return false
	}
	p.pos += len(w)
	return true
}

func (p *planParser) expect(lit string) error {
	if !p.eat(lit) {
		return fmt.Errorf("expected %q, found %q", lit, p.peekText())
	}
	return nil
}

func (p *planParser) peekText() string {
	r := p.rest()
	if len(r) > 20 {
		r = r[:20] + "..."
	}
	return r
}

func (p *planParser) plan() (*DataFrame, error) {
	if err := p.expect("Source "); err != nil {
		return nil, err
	}
	table, err := p.name()
	if err != nil {
		return nil, err
	}
	if err := p.expect(" ["); err != nil {
		return nil, err
	}
	end := strings.Index(p.rest(), "]\n")
	if end < 0 {
		if !strings.HasSuffix(p.rest(), "]") {
			return nil, fmt.Errorf("unterminated source schema")
		}
		end = len(p.rest()) - 1
	}
	schema, err := ParseSchema(p.rest()[:end])
	if err != nil {
		return nil, err
	}
	p.pos += end + 1
	df := Source(table, schema)
	for p.eat("\n") {
		switch {
		case p.eat("Filter "):
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			df = df.Filter(e)
		case p.eat("Select "):
			es, err := p.list("\n")
			if err != nil {
				return nil, err
			}
			df = df.Select(es...)
		case p.eat("Aggregate ["):
			groups, err := p.list("]")
			if err != nil {
				return nil, err
			}
			if err := p.expect("] ["); err != nil {
				return nil, err
			}
			aggs, err := p.list("]")
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			df = df.GroupBy(groups...).Agg(aggs...)
		case p.eat("OrderBy "):
			var orders []SortOrder
			for {
				e, err := p.expr()
				if err != nil {
					return nil, err
				}
				switch {
				case p.eat(" ASC NULLS FIRST"):
					orders = append(orders, e.Asc())
				case p.eat(" DESC NULLS LAST"):
					orders = append(orders, e.Desc())
				default:
					return nil, fmt.Errorf("expected ASC NULLS FIRST or DESC NULLS LAST, found %q", p.peekText())
				}
				if !p.eat(", ") {
					break
				}
			}
			df = df.OrderBy(orders...)
		case p.eat("SessionTimeZone "):
			name := p.rest()
			if i := strings.IndexByte(name, '\n'); i >= 0 {
				name = name[:i]
			}
			p.pos += len(name)
			loc, err := LoadTimeZone(name)
			if err != nil {
				return nil, err
			}
			df = df.WithSessionTimeZone(loc)
		case p.eat("Limit "):
			n, err := p.integer()
			if err != nil {
				return nil, err
			}
			df = df.Limit(n)
		default:
			return nil, fmt.Errorf("unknown operation %q", p.peekText())
		}
	}
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("unexpected %q after the plan", p.peekText())
	}
	return df, nil
}

// list reads comma-separated expressions, each with an optional alias, up to
// (not including) end or the end of the text; it may be empty.
func (p *planParser) list(end string) ([]Expr, error) {
	var out []Expr
	if p.pos == len(p.s) || strings.HasPrefix(p.rest(), end) {
		return nil, nil
	}
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.eat(" AS ") {
			alias, err := p.name()
			if err != nil {
				return nil, err
			}
			e = e.As(alias)
		}
		out = append(out, e)
		if !p.eat(", ") {
			return out, nil
		}
	}
}

func (p *planParser) integer() (int64, error) {
	i := p.pos
	if i < len(p.s) && p.s[i] == '-' {
		i++
	}
	for i < len(p.s) && p.s[i] >= '0' && p.s[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(p.s[p.pos:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("expected an integer, found %q", p.peekText())
	}
	p.pos = i
	return n, nil
}

// name reads a bare (dotted) identifier or a backquoted name.
func (p *planParser) name() (string, error) {
	if p.eat("`") {
		var b strings.Builder
		for {
			i := strings.IndexByte(p.rest(), '`')
			if i < 0 {
				return "", fmt.Errorf("unterminated quoted name")
			}
			b.WriteString(p.rest()[:i])
			p.pos += i + 1
			if !p.eat("`") {
				return b.String(), nil
			}
			b.WriteByte('`')
		}
	}
	i := p.pos
	for i < len(p.s) && (p.s[i] == '.' || isIdentByte(p.s[i]) && p.s[i] < 0x80) {
		i++
	}
	if i == p.pos {
		return "", fmt.Errorf("expected a name, found %q", p.peekText())
	}
	name := p.s[p.pos:i]
	p.pos = i
	return name, nil
}

func (p *planParser) str() (string, error) {
	if err := p.expect("'"); err != nil {
		return "", err
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(p.rest(), '\'')
		if i < 0 {
			return "", fmt.Errorf("unterminated string literal")
		}
		b.WriteString(p.rest()[:i])
		p.pos += i + 1
		if !p.eat("'") {
			return b.String(), nil
		}
		b.WriteByte('\'')
	}
}

var planBinOps = func() map[string]binOp {
	m := map[string]binOp{}
	for op, text := range binOpText {
		if text != "" {
			m[text] = binOp(op)
		}
	}
	return m
}()

var planAggs = map[string]aggFunc{"count": aggCount, "sum": aggSum, "min": aggMin, "max": aggMax, "avg": aggAvg}

func (p *planParser) typ() (Type, error) {
	i := p.pos
	for i < len(p.s) && p.s[i] >= 'A' && p.s[i] <= 'Z' {
		i++
	}
	t, err := ParseType(p.s[p.pos:i])
	if err == nil {
		p.pos = i
	}
	return t, err
}

func (p *planParser) expr() (Expr, error) {
	switch {
	case p.eat("(NOT "):
		return p.unary(kNot)
	case p.eat("(- "):
		return p.unary(kNeg)
	case p.eat("("):
		return p.parenthesized()
	case p.eat("CAST("):
		e, err := p.expr()
		if err != nil {
			return Expr{}, err
		}
		if err := p.expect(" AS "); err != nil {
			return Expr{}, err
		}
		t, err := p.typ()
		if err != nil {
			return Expr{}, err
		}
		return e.Cast(t), p.expect(")")
	case p.eat("CASE"):
		return p.caseExpr()
	case p.eat("TIMESTAMP "):
		s, err := p.str()
		if err != nil {
			return Expr{}, err
		}
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return Expr{}, err
		}
		return Lit(ts), nil
	case p.eatWord("NULL"):
		return Lit(nil), nil
	case p.eatWord("TRUE"):
		return Lit(true), nil
	case p.eatWord("FALSE"):
		return Lit(false), nil
	case strings.HasPrefix(p.rest(), "'"):
		s, err := p.str()
		return Lit(s), err
	}
	if e, ok, err := p.number(); ok || err != nil {
		return e, err
	}
	name, err := p.name()
	if err != nil {
		return Expr{}, err
	}
	if fn, ok := planAggs[name]; ok && p.eat("(") {
		n := &node{kind: kAgg, agg: fn}
		switch {
		case fn == aggCount && p.eat("*"):
		case fn == aggCount && p.eat("DISTINCT "):
			n.agg = aggCountDistinct
			fallthrough
		default:
			a, err := p.expr()
			if err != nil {
				return Expr{}, err
			}
			n.args = []*node{a.node()}
			for p.eat(", ") { // the parameters of funcs_approx.go's aggregates
				a, err := p.expr()
				if err != nil {
					return Expr{}, err
				}
				n.args = append(n.args, a.node())
			}
		}
		return Expr{n}, p.expect(")")
	}
	if w, ok := planWindows[name]; ok && p.eat("(") {
		return p.window(name, w)
	}
	if IsFunction(name) && p.eat("(") {
		args, err := p.list(")")
		if err != nil {
			return Expr{}, err
		}
		return Call(name, args...), p.expect(")")
	}
	return Col(name), nil
}

func (p *planParser) unary(kind exprKind) (Expr, error) {
	a, err := p.expr()
	if err != nil {
		return Expr{}, err
	}
	return Expr{&node{kind: kind, args: []*node{a.node()}}}, p.expect(")")
}

// parenthesized reads what follows "(": a binary operation, IN, IS [NOT]
// NULL or LIKE.
func (p *planParser) parenthesized() (Expr, error) {
	l, err := p.expr()
	if err != nil {
		return Expr{}, err
	}
	switch {
	case p.eat(" IS NULL)"):
		return l.IsNull(), nil
	case p.eat(" IS NOT NULL)"):
		return l.IsNotNull(), nil
	case p.eat(" LIKE "):
		s, err := p.str()
		if err != nil {
			return Expr{}, err
		}
		return l.Like(s), p.expect(")")
	case p.eat(" IN ("):
		vs, err := p.list(")")
		if err != nil {
			return Expr{}, err
		}
		return l.In(vs...), p.expect("))")
	}
	if err := p.expect(" "); err != nil {
		return Expr{}, err
	}
	i := strings.IndexByte(p.rest(), ' ')
	if i < 0 {
		return Expr{}, fmt.Errorf("expected an operator, found %q", p.peekText())
	}
	op, ok := planBinOps[p.rest()[:i]]
	if !ok {
		return Expr{}, fmt.Errorf("unknown operator %q", p.rest()[:i])
	}
	p.pos += i + 1
	r, err := p.expr()
	if err != nil {
		return Expr{}, err
	}
	return l.bin(op, r), p.expect(")")
}

func (p *planParser) caseExpr() (Expr, error) {
	var c *CaseExpr
	for p.eat(" WHEN ") {
		cond, err := p.expr()
		if err != nil {
			return Expr{}, err
		}
		if err := p.expect(" THEN "); err != nil {
			return Expr{}, err
		}
		v, err := p.expr()
		if err != nil {
			return Expr{}, err
		}
		c = c.When(cond, v)
	}
	if c == nil {
		return Expr{}, fmt.Errorf("CASE without WHEN")
	}
	if p.eat(" ELSE ") {
		e, err := p.expr()
		if err != nil {
			return Expr{}, err
		}
		return c.Otherwise(e), p.expect(" END")
	}
	return c.End(), p.expect(" END")
}

// number reads an INT (5), BIGINT (5L) or DOUBLE (5.0D, 1e+20D, NaND, +InfD)
// literal; ok is false when the text does not start like one.
func (p *planParser) number() (Expr, bool, error) {
	r := p.rest()
	i := 0
	if i < len(r) && (r[i] == '-' || r[i] == '+') {
		i++
	}
	if strings.HasPrefix(r[i:], "InfD") || strings.HasPrefix(r, "NaND") {
		p.pos += i + 4
		v := math.NaN()
		if r[0] != 'N' {
			v = math.Inf(1)
			if r[0] == '-' {
				v = math.Inf(-1)
			}
		}
		return Lit(v), true, nil
	}
	if i == len(r) || r[i] < '0' || r[i] > '9' {
		return Expr{}, false, nil
	}
	j := i
	for j < len(r) && strings.IndexByte("0123456789.eE+-", r[j]) >= 0 {
		j++
	}
	text := r[:j]
	switch {
	case j < len(r) && r[j] == 'D':
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return Expr{}, true, err
		}
		p.pos += j + 1
		return Lit(f), true, nil
	case j < len(r) && r[j] == 'L':
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return Expr{}, true, err
		}
		p.pos += j + 1
		return Lit(n), true, nil
	}
	n, err := strconv.ParseInt(text, 10, 32)
	if err != nil {
		return Expr{}, true, err
	}
	p.pos += j
	return Lit(int32(n)), true, nil
}

// planWindows are the window functions of plan texts (see writeWindow),
// by the number of durations they take.
var planWindows = map[string]int{"window": 3, "hop": 3, "session_window": 1}

// window reads the rest of window name, after "(": the event time,
// then n Go durations.
func (p *planParser) window(name string, n int) (Expr, error) {
	ts, err := p.expr()
	if err != nil {
		return Expr{}, err
	}
	durs := make([]time.Duration, n)
	for i := range durs {
		if err := p.expect(", "); err != nil {
			return Expr{}, err
		}
		end := strings.IndexAny(p.rest(), ",)")
		if end < 0 {
			return Expr{}, fmt.Errorf("unterminated %s", name)
		}
		if durs[i], err = time.ParseDuration(p.rest()[:end]); err != nil {
			return Expr{}, fmt.Errorf("%s: %w", name, err)
		}
		p.pos += end
	}
	if err := p.expect(")"); err != nil {
		return Expr{}, err
	}
	switch name {
	case "session_window":
		return SessionWindow(ts, durs[0]), nil
	case "hop": // written size first (writeWindow)
		return Hop(ts, durs[1], durs[0]), nil
	}
	return Window(ts, durs[0], durs[1], durs[2]), nil
}
