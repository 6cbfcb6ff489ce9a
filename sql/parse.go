package sql

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"
	pgparser "github.com/pganalyze/pg_query_go/v6/parser"
)

// parsed is a query that PostgreSQL's parser accepted as one SELECT.
type parsed struct {
	q      string // the query text as given (positions refer to it)
	stmt   *pg.SelectStmt
	tokens []*pg.ScanToken // the tokens of the query, for the spelling of aliases
	start  int             // byte offset of the statement
}

// parse runs PostgreSQL's parser on q and checks that it holds exactly one
// SELECT statement.
// cols, the columns of the source, are only used to hint at quoting a
// column whose name is a reserved word.
func parse(q string, cols []string) (*parsed, error) {
	if i := strings.IndexByte(q, 0); i >= 0 {
		return nil, errAt(q, i, "the query contains a NUL character")
	}
	if !utf8.ValidString(q) {
		i := 0
		for i < len(q) {
			r, size := utf8.DecodeRuneInString(q[i:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			i += size
		}
		return nil, errAt(q, i, "the query is not valid UTF-8")
	}
	text, err := backquotes(q)
	if err != nil {
		return nil, err
	}
	text = nowParens(windowWord(text))
	tree, err := pg.Parse(text)
	if err != nil {
		return nil, syntaxError(q, text, cols, err)
	}
	var stmts []*pg.RawStmt
	for _, s := range tree.GetStmts() {
		if s.GetStmt() != nil {
			stmts = append(stmts, s)
		}
	}
	switch {
	case len(stmts) == 0:
		return nil, errAt(q, 0, "empty query: expected SELECT ... FROM ...")
	case len(stmts) > 1:
		return nil, errAt(q, int(stmts[1].GetStmtLocation()), "more than one statement: a job runs one SELECT")
	}
	raw := stmts[0]
	start := int(raw.GetStmtLocation())
	sel := raw.GetStmt().GetSelectStmt()
	if sel == nil {
		return nil, errAt(q, firstToken(text, start), "only SELECT statements are supported")
	}
	p := &parsed{q: q, stmt: sel, start: firstToken(text, start)}
	if scan, err := pg.Scan(text); err == nil {
		p.tokens = scan.GetTokens()
	}
	return p, nil
}

// firstToken skips white space and comments-free padding from off.
func firstToken(q string, off int) int {
	for off < len(q) && strings.ContainsRune(" \t\r\n(", rune(q[off])) {
		off++
	}
	return off
}

// syntaxError converts the parser's error into an *Error at its cursor. When
// the token there, or the one before it, is a reserved word that names a
// column (SELECT order FROM ...), the message says to quote it; when it is
// a misspelled clause keyword (WHER), it suggests the keyword.
func syntaxError(q, text string, cols []string, err error) *Error {
	var pe *pgparser.Error
	if !errors.As(err, &pe) {
		return errAt(q, 0, "%s", err.Error())
	}
	off := len(q)
	if pe.Cursorpos > 0 {
		off = charOffset(q, pe.Cursorpos)
	}
	msg := pe.Message
	if msg == "syntax error at end of input" {
		msg = "syntax error: unexpected end of the query"
	}
	if scan, err := pg.Scan(text); err == nil {
		toks := scan.GetTokens()
		for i, t := range toks {
			if int(t.GetStart()) != off {
				continue
			}
			for _, k := range []int{i, i - 1} {
				if k < 0 {
					continue
				}
				if hint := tokenHint(toks[k], q[toks[k].GetStart():toks[k].GetEnd()], cols); hint != "" {
					msg += hint
					break
				}
			}
			break
		}
	}
	return errAt(q, off, "%s", msg)
}

// clauseWords are the keywords a misspelled clause is suggested from.
var clauseWords = []string{"SELECT", "FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT"}

// tokenHint returns what a syntax error at or after the token spelled w
// adds to its message, or "": a reserved word that names a column is to
// be quoted; a name that is no column but a misspelled clause keyword
// (WHER, GRUOP) is suggested. An unreserved keyword (action, key, ...)
// names a column anywhere, so it gets no hint.
func tokenHint(tok *pg.ScanToken, w string, cols []string) string {
	switch tok.GetKeywordKind() {
	case pg.KeywordKind_UNRESERVED_KEYWORD:
		return ""
	case pg.KeywordKind_NO_KEYWORD:
		if tok.GetToken() != pg.Token_IDENT || lookup(cols, strings.ToLower(w)) >= 0 {
			return ""
		}
		if s := suggest(w, clauseWords); s != "" {
			return fmt.Sprintf("; did you mean %s?", s)
		}
		return ""
	}
	if lookup(cols, strings.ToLower(w)) >= 0 {
		return fmt.Sprintf("; %s is a reserved word: write `%s` to name the column", w, w)
	}
	return ""
}

// backquotes turns Spark and MySQL style `quoted identifiers` into the
// standard "quoted identifiers" PostgreSQL's grammar reads. It uses the
// parser's own scanner to find backquotes outside string literals and
// comments; the rewrite keeps every byte offset, so positions still refer to
// the text the user wrote. A backquoted name may not contain a double quote,
// a backquote (Spark's “ escape) or a newline.
func backquotes(q string) (string, error) {
	if !strings.Contains(q, "`") {
		return q, nil
	}
	scan, err := pg.Scan(q)
	if err != nil {
		return q, nil // the parser reports the problem with its position
	}
	var ticks []int
	for _, t := range scan.GetTokens() {
		s, e := int(t.GetStart()), int(t.GetEnd())
		if s < 0 || e > len(q) || s >= e || strings.Trim(q[s:e], "`") != "" {
			continue
		}
		for i := s; i < e; i++ {
			ticks = append(ticks, i)
		}
	}
	if len(ticks) == 0 {
		return q, nil
	}
	b := []byte(q)
	for i := 0; i < len(ticks); i += 2 {
		open := ticks[i]
		if i+1 == len(ticks) {
			return "", errAt(q, open, "unterminated backquoted identifier")
		}
		end := ticks[i+1]
		name := q[open+1 : end]
		switch {
		case i+2 < len(ticks) && ticks[i+2] == end+1:
			return "", errAt(q, open, "a backquoted identifier may not contain a backquote")
		case name == "":
			return "", errAt(q, open, "empty backquoted identifier")
		case strings.ContainsAny(name, "\"\n"):
			return "", errAt(q, open, "a backquoted identifier may not contain a double quote or a newline")
		}
		b[open], b[end] = '"', '"'
	}
	return string(b), nil
}

// aliasSpelling returns how the user wrote the alias of a select-list entry
// that starts at byte offset start. PostgreSQL folds unquoted identifiers to
// lower case; Spark keeps an alias as written, and output column names are
// what users see, so the alias token is read back from the text. The alias
// is the last token of the entry: the entry ends at a comma or a clause
// keyword outside parentheses.
func (p *parsed) aliasSpelling(start int, folded string) string {
	i := 0
	for i < len(p.tokens) && int(p.tokens[i].GetStart()) < start {
		i++
	}
	depth, last := 0, -1
scan:
	for ; i < len(p.tokens); i++ {
		switch p.tokens[i].GetToken() {
		case pg.Token_ASCII_40, pg.Token_ASCII_91: // ( [
			depth++
		case pg.Token_ASCII_41, pg.Token_ASCII_93: // ) ]
			depth--
			if depth < 0 {
				break scan
			}
		case pg.Token_ASCII_44, pg.Token_ASCII_59, pg.Token_FROM, pg.Token_WHERE, pg.Token_GROUP_P,
			pg.Token_HAVING, pg.Token_ORDER, pg.Token_LIMIT, pg.Token_OFFSET, pg.Token_UNION,
			pg.Token_INTERSECT, pg.Token_EXCEPT, pg.Token_WINDOW, pg.Token_INTO, pg.Token_FETCH:
			if depth == 0 {
				break scan
			}
		case pg.Token_SQL_COMMENT, pg.Token_C_COMMENT:
			continue
		}
		last = i
	}
	if last < 0 {
		return folded
	}
	s, e := int(p.tokens[last].GetStart()), int(p.tokens[last].GetEnd())
	if s < 0 || e > len(p.q) || s >= e {
		return folded
	}
	if w := p.q[s:e]; w[0] != '"' && w[0] != '`' && strings.ToLower(w) == folded {
		return w
	}
	return folded
}
