package dataframe

import (
	"fmt"
	"strings"
	"time"
)

// GroupKeys returns the grouping expressions of a stateful Program in their
// canonical form, in key order: a column is its source name and type
// ("page STRING"), the binder's implicit casts are explicit, aliases and
// the query's spelling (case, white space, SQL or API) are gone. The group
// keys are the state's keys, so two programs with equal GroupKeys key
// their state alike. nil for a stateless Program and for a global
// aggregate.
func (p *Program) GroupKeys() []string {
	if p.agg == nil {
		return nil
	}
	var out []string
	for _, g := range p.agg.groups {
		out = append(out, p.canonical(g.e))
	}
	return out
}

// Aggregates returns the aggregate calls of a stateful Program in canonical
// form ("count(*)", "sum(price DOUBLE)", "avg(CAST(n INT AS DOUBLE))"), in
// the order the state stores their accumulators. It includes the aggregates
// that only HAVING, the projection or ORDER BY use: they are kept in the
// state too. nil for a stateless Program.
func (p *Program) Aggregates() []string {
	if p.agg == nil {
		return nil
	}
	out := make([]string, 0, len(p.agg.calls))
	for _, c := range p.agg.calls {
		switch {
		case c.arg == nil:
			out = append(out, aggText[c.fn]+"(*)")
		case c.fn == aggCountDistinct:
			out = append(out, "count(DISTINCT "+p.canonical(c.arg)+")")
		default:
			out = append(out, aggText[c.fn]+"("+p.canonical(c.arg)+c.params.canon+")")
		}
	}
	return out
}

// canonical renders e, an expression over the program's input columns, with
// each column reference as "name TYPE" and every cast explicit.
func (p *Program) canonical(e *bexpr) string {
	var b strings.Builder
	p.writeCanonical(&b, e)
	return b.String()
}

func (p *Program) writeCanonical(b *strings.Builder, e *bexpr) {
	arg := func(i int) { p.writeCanonical(b, e.args[i]) }
	switch e.kind {
	case kCol:
		if e.col >= len(p.inputNames) {
			b.WriteString(e.text)
			return
		}
		b.WriteString(quoteName(p.inputNames[e.col]) + " " + e.typ.String())
		if e.typ == Timestamp && !isMetadataName(p.inputNames[e.col]) {
			// decoded in the session time zone when the text gives none
			writeZone(b, p.loc)
		}
	case kBinary:
		b.WriteByte('(')
		arg(0)
		b.WriteString(" " + binOpText[e.op] + " ")
		arg(1)
		b.WriteByte(')')
	case kNot:
		b.WriteString("(NOT ")
		arg(0)
		b.WriteByte(')')
	case kNeg:
		b.WriteString("(- ")
		arg(0)
		b.WriteByte(')')
	case kIsNull, kIsNotNull:
		b.WriteByte('(')
		arg(0)
		if e.kind == kIsNull {
			b.WriteString(" IS NULL)")
		} else {
			b.WriteString(" IS NOT NULL)")
		}
	case kLike:
		// The text is "(" + argument + " LIKE " + quoted pattern + ")".
		b.WriteByte('(')
		arg(0)
		b.WriteString(e.text[1+len(e.args[0].text) : len(e.text)-1])
		b.WriteByte(')')
	case kCast:
		b.WriteString("CAST(")
		arg(0)
		b.WriteString(" AS " + e.typ.String() + ")")
		writeZone(b, e.loc)
	case kCase:
		b.WriteString("CASE")
		for i := range e.args {
			switch {
			case e.hasElse && i == len(e.args)-1:
				b.WriteString(" ELSE ")
			case i%2 == 0:
				b.WriteString(" WHEN ")
			default:
				b.WriteString(" THEN ")
			}
			arg(i)
		}
		b.WriteString(" END")
	case kWindow:
		w := p.agg.window
		if w.session {
			b.WriteString([]string{"session_window_start(", "session_window_end("}[e.op])
			arg(0)
			fmt.Fprintf(b, ", %s)", micros(w.size))
			break
		}
		b.WriteString([]string{"window_start(", "window_end("}[e.op])
		arg(0)
		fmt.Fprintf(b, ", %s, %s, %s)", micros(w.size), micros(w.slide), micros(w.start))
	case kFunc:
		b.WriteString(e.call.def.name + "(")
		for i := range e.args {
			if i > 0 {
				b.WriteString(", ")
			}
			arg(i)
		}
		b.WriteByte(')')
		if e.call.def.bindIn != nil {
			writeZone(b, p.loc)
		}
	default: // literals
		b.WriteString(e.text)
	}
}

// writeZone marks an expression that reads or shows wall-clock time with
// its session time zone, so that a changed zone is a changed key or
// aggregate; nothing for UTC, the default.
func writeZone(b *strings.Builder, loc *time.Location) {
	if loc != nil {
		b.WriteString(" AT TIME ZONE " + quoteString(loc.String()))
	}
}
