package sql

import (
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/microbatch/microbatch/dataframe"
)

// column resolves a column reference.
func (t *translator) column(cr *pg.ColumnRef, s *scope) (*texpr, error) {
	pos := int(cr.GetLocation())
	parts, star := refParts(cr)
	if star {
		return nil, t.errAt(pos, "* is only allowed as a select-list entry and in count(*)")
	}
	name, found, err := t.resolve(parts, s.cols, pos)
	if err != nil {
		return nil, err
	}
	if found {
		return &texpr{e: dataframe.Col(name), pos: pos, col: name}, nil
	}
	full := strings.Join(parts, ".")
	if len(s.subst) > 0 {
		if x, err := t.column(cr, s.substScope); err == nil {
			for _, sb := range s.subst {
				if sb.text == x.e.String() {
					return &texpr{e: dataframe.Col(sb.name), pos: pos, col: sb.name}, nil
				}
			}
		}
	}
	if s.grouped != nil {
		if name, found, _ := t.resolve(parts, s.grouped, pos); found {
			if len(s.groupNames) == 0 {
				return nil, t.errAt(pos, "column %s is neither grouped nor aggregated%s", quoteIdent(name), noGroupBy)
			}
			return nil, t.errAt(pos, "column %s is neither grouped nor aggregated (group by: %s)",
				quoteIdent(name), nameList(s.groupNames))
		}
	}
	if s.unselected != nil {
		if name, found, _ := t.resolve(parts, s.unselected, pos); found {
			return nil, t.errAt(pos, "column %s is not in the select list; %s can only use the output columns: %s",
				quoteIdent(name), s.clause, nameList(s.cols))
		}
	}
	if len(parts) == 1 && lookup(s.aliases, parts[0]) >= 0 {
		return nil, t.errAt(pos, "unknown column %s: %s is a select-list alias, and %s cannot use those (repeat the expression)",
			quoteIdent(full), quoteIdent(full), s.clause)
	}
	msg := unknownColumn(full, s.cols)
	// Spark SQL reads "view" as a string; standard SQL as a column. Not
	// for a quoted name close to a column ("ordr"), or a dotted one: those
	// are quoted columns.
	if q := t.p.q; len(parts) == 1 && !strings.Contains(full, ".") && suggest(full, s.cols) == "" &&
		pos >= 0 && pos < len(q) && q[pos] == '"' {
		msg += fmt.Sprintf("; \"%s\" names a column: write a string in single quotes, '%s'",
			strings.ReplaceAll(full, `"`, `""`), strings.ReplaceAll(full, "'", "''"))
	}
	return nil, t.errAt(pos, "%s", msg)
}

func nameList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quoteIdent(n)
	}
	return strings.Join(q, ", ")
}

// refParts returns the names of a column reference and whether it ends in *.
func refParts(cr *pg.ColumnRef) (parts []string, star bool) {
	for _, f := range cr.GetFields() {
		if f.GetAStar() != nil {
			star = true
			continue
		}
		parts = append(parts, unalias(f.GetString_().GetSval()))
	}
	return parts, star
}

// resolve finds the column a dotted reference names among cols: the whole
// dotted name (data.page is a column of its own), else, when the first part
// is the table or its alias, the rest. Names match exactly, else
// case-insensitively when only one column matches, like dataframe.Col.
func (t *translator) resolve(parts []string, cols []string, pos int) (string, bool, error) {
	if len(parts) == 0 {
		return "", false, nil
	}
	if name, found, handled, err := t.resolveJoined(parts, cols, pos); handled {
		return name, found, err
	}
	full := strings.Join(parts, ".")
	names := []string{full}
	if len(parts) > 1 && (strings.EqualFold(parts[0], t.table) || t.alias != "" && strings.EqualFold(parts[0], t.alias)) {
		names = append(names, strings.Join(parts[1:], "."))
	}
	for _, n := range names {
		switch i := lookup(cols, n); {
		case i >= 0:
			return cols[i], true, nil
		case i == -2:
			return "", false, t.errAt(pos, "column reference %s is ambiguous: it matches more than one of %s", quoteIdent(n), nameList(cols))
		}
	}
	return "", false, nil
}

// lookup is dataframe's name lookup: the exact match, else the single
// case-insensitive one; -1 when none, -2 when ambiguous.
func lookup(cols []string, name string) int {
	found := -1
	for i, c := range cols {
		if c == name {
			if found >= 0 {
				return -2
			}
			found = i
		}
	}
	if found >= 0 {
		return found
	}
	for i, c := range cols {
		if strings.EqualFold(c, name) {
			if found >= 0 {
				return -2
			}
			found = i
		}
	}
	return found
}

// reservedName handles USER, CURRENT_DATE and the like, which PostgreSQL's
// grammar reads as functions: one that names a column is that column (a
// "user" field is common in event data).
func (t *translator) reservedName(n *pg.Node, s *scope) (*texpr, error) {
	f := n.GetSqlvalueFunction()
	pos := int(f.GetLocation())
	word := t.p.tokenText(pos)
	x, err := t.column(&pg.ColumnRef{Fields: []*pg.Node{pg.MakeStrNode(strings.ToLower(word))}, Location: f.GetLocation()}, s)
	if err == nil || word == "" {
		return x, err
	}
	if e, ok := err.(*Error); ok && !strings.HasPrefix(e.Msg, "unknown column") {
		return nil, err
	}
	if f.GetOp() == pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP {
		return t.callNodes(pos, "current_timestamp", nil, s)
	}
	return nil, t.errAt(pos, "%s is not supported", strings.ToUpper(word))
}
