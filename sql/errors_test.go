package sql_test

import (
	"errors"
	"strings"
	"testing"

	. "github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/sql"
)

// errorCases are queries over shopDDL and their exact errors.
var errorCases = []struct{ query, want string }{
	// syntax errors, with PostgreSQL's message and cursor
	{"SELECT brand FROM events WHERE brand = = 'x'", "line 1, column 40: syntax error at or near \"=\""},
	{"SELECT brand FROM events WHERE", "line 1, column 31: syntax error: unexpected end of the query"},
	{"SELECT 'abc FROM events", "line 1, column 8: unterminated quoted string at or near \"'abc FROM events\""},
	// statements
	{"", "line 1, column 1: empty query: expected SELECT ... FROM ..."},
	{"  -- nothing\n ;", "line 1, column 1: empty query: expected SELECT ... FROM ..."},
	{"SELECT brand FROM events; SELECT 1 FROM events", "line 1, column 26: more than one statement: a job runs one SELECT"},
	{"INSERT INTO events VALUES (1)", "line 1, column 1: only SELECT statements are supported"},
	// names
	{"SELECT brnd FROM events", "line 1, column 8: unknown column brnd (did you mean brand?); columns: event_time, event_type, product_id, category_id, category_code, brand, price, user_id, user_session, _topic, _partition, _offset, _timestamp, _key, _corrupt_record"},
	{"SELECT xyz FROM events", "line 1, column 8: unknown column xyz; columns: event_time, event_type, product_id, category_id, category_code, brand, price, user_id, user_session, _topic, _partition, _offset, _timestamp, _key, _corrupt_record"},
	{"SELECT brand AS b FROM events ORDER BY price", "line 1, column 40: column price is not in the select list; ORDER BY can only use the output columns: b"},
	{"SELECT price AS \"Ab\", user_id AS \"aB\" FROM events ORDER BY ab", "line 1, column 60: column reference ab is ambiguous: it matches more than one of Ab, aB"},
	{"SELECT brand AS b FROM events WHERE b = 'x'", "line 1, column 37: unknown column b: b is a select-list alias, and WHERE cannot use those (repeat the expression)"},
	{"SELECT brand, count(*) AS n FROM events GROUP BY brand HAVING brnd = 'x' OR m > 1", "line 1, column 63: unknown column brnd (did you mean brand?); columns: brand, n"},
	{"SELECT brand, count(*) FROM events GROUP BY brand ORDER BY price", "line 1, column 60: column price is neither grouped nor aggregated (group by: brand)"},
	{"SELECT DISTINCT brand FROM events GROUP BY brand", "line 1, column 8: SELECT DISTINCT with GROUP BY or HAVING is not supported"},
	// the source table
	{"SELECT brand FROM orders", "line 1, column 19: unknown table orders: the query can only read the source table events"},
	{"SELECT brand FROM shop.events", "line 1, column 19: unknown table shop.events: the query can only read the source table events"},
	// clauses that are not supported
	{"SELECT brand FROM events e JOIN events f ON e.brand = f.brand", "line 1, column 33: stream-stream joins are not supported: a stream joins static tables only"},
	{"SELECT e.brand FROM events e JOIN products p ON e.product_id = p.product_id", "line 1, column 35: unknown table products: a join reads a static table, and the job defines none (tables:)"},
	{"SELECT brand, n FROM (SELECT brand, count(*) AS n FROM events GROUP BY brand) t GROUP BY brand, n", "line 1, column 81: multiple streaming aggregations are not supported (nor in Spark): the derived table already aggregates"},
	{"SELECT brand FROM events WHERE brand IN (SELECT brand FROM events)", "line 1, column 38: subqueries are not supported"},
	{"SELECT brand FROM events, events", "line 1, column 27: joins are not supported: a query reads one table"},
	{"SELECT brand FROM generate_series(1, 3)", "line 1, column 19: FROM supports only the source table events, a derived table over it and a join with a static table"},
	{"SELECT brand FROM events WHERE price > (SELECT 1)", "line 1, column 40: subqueries are not supported"},
	{"SELECT brand FROM events UNION ALL SELECT brand FROM events", "line 1, column 26: UNION is not supported: a query reads one table"},
	{"WITH t AS (SELECT brand FROM events) SELECT brand FROM t", "line 1, column 1: WITH (common table expressions) is not supported"},
	{"SELECT brand, row_number() OVER (ORDER BY price) FROM events", "line 1, column 15: window functions (OVER) are not supported"},
	{"SELECT sum(price) OVER w FROM events WINDOW w AS (PARTITION BY brand)", "line 1, column 38: window functions (WINDOW) are not supported"},
	{"SELECT brand FROM events LIMIT 10 OFFSET 5", "line 1, column 35: OFFSET is not supported"},
	{"SELECT DISTINCT ON (brand) brand FROM events", "line 1, column 21: DISTINCT ON is not supported"},
	{"SELECT brand, count(*) FROM events GROUP BY ROLLUP (brand)", "line 1, column 45: ROLLUP, CUBE and GROUPING SETS are not supported"},
	// expressions that are not supported
	{"SELECT count(*) FILTER (WHERE price > 1) FROM events", "line 1, column 37: FILTER (WHERE ...) is not supported"},
	{"SELECT sum(DISTINCT price) FROM events", "line 1, column 8: sum(DISTINCT ...) is not supported; only count(DISTINCT ...)"},
	{"SELECT uper(brand) FROM events", "line 1, column 8: function uper is not supported (did you mean upper?)"},
	{"SELECT cnt(brand) FROM events", "line 1, column 8: function cnt is not supported (the README's SQL section lists the functions)"},
	{"SELECT brand ## 'x' FROM events", "line 1, column 14: operator ## is not supported (supported: = <> != < <= > >= + - * / % AND OR NOT)"},
	{"SELECT regexp_extract(brand, '(a)\\1') FROM events", "line 1, column 8: regexp_extract: pattern '(a)\\1' is not a regular expression Go's RE2 accepts (RE2 has no backreferences or lookaround): error parsing regexp: invalid escape sequence: `\\1`"},
	{"SELECT lower(brand, 1) FROM events", "line 1, column 8: lower(str) takes 1 argument, got 2"},
	{"SELECT date_trunc('fortnight', event_time) FROM events", "line 1, column 8: date_trunc: unknown unit 'fortnight' (want YEAR, QUARTER, MONTH, WEEK, DAY, HOUR, MINUTE, SECOND, MILLISECOND or MICROSECOND)"},
	{"SELECT brand FROM events WHERE brand ILIKE 'a%'", "line 1, column 38: ILIKE is not supported"},
	{"SELECT brand FROM events WHERE brand IS DISTINCT FROM 'a'", "line 1, column 38: IS DISTINCT FROM is not supported"},
	{"SELECT brand FROM events WHERE (price > 1) IS TRUE", "line 1, column 44: IS TRUE, IS FALSE and IS UNKNOWN are not supported; use = TRUE or IS NULL"},
	{"SELECT brand FROM events WHERE price > $1", "line 1, column 40: query parameters are not supported"},
	{"SELECT brand FROM events WHERE brand LIKE event_type", "line 1, column 43: the pattern of LIKE must be a string literal"},
	{"SELECT brand FROM events WHERE brand LIKE 'a!%' ESCAPE '!'", "line 1, column 38: LIKE ... ESCAPE is not supported: the escape character is \\"},
	// aggregates and grouping
	{"SELECT brand FROM events WHERE count(*) > 1", "line 1, column 32: aggregate functions are not allowed in WHERE"},
	{"SELECT count(*) FROM events GROUP BY count(*)", "line 1, column 38: aggregate functions are not allowed in GROUP BY"},
	{"SELECT sum(max(price)) FROM events", "line 1, column 12: aggregate function calls cannot be nested"},
	{"SELECT brand, price, count(*) FROM events GROUP BY brand", "line 1, column 15: column price is neither grouped nor aggregated (group by: brand)"},
	{"SELECT brand, count(*) FROM events GROUP BY brand HAVING price > 1", "line 1, column 58: column price is neither grouped nor aggregated (group by: brand)"},
	{"SELECT brand, count(*) FROM events HAVING count(*) > 1", "line 1, column 8: column brand is neither grouped nor aggregated (there is no GROUP BY: every column must be in an aggregate)"},
	{"SELECT brand FROM events GROUP BY 2", "line 1, column 35: GROUP BY position 2 is not in the select list (1 to 1)"},
	{"SELECT count(*) AS n FROM events GROUP BY n", "line 1, column 43: GROUP BY n refers to an aggregate"},
	{"SELECT count(*) FROM events GROUP BY 1", "line 1, column 38: GROUP BY 1 refers to an aggregate"},
	// select list
	{"SELECT brand FROM events ORDER BY 0", "line 1, column 35: ORDER BY position 0 is not in the select list (1 to 1)"},
	{"SELECT *, count(*) FROM events", "line 1, column 8: * is not supported with GROUP BY, DISTINCT or aggregates: list the columns"},
	{"SELECT price * FROM events", "line 1, column 16: syntax error at or near \"FROM\""},
	{"SELECT t.* FROM events", "line 1, column 8: unknown table t in t.*"},
	{"SELECT brand, price AS brand FROM events", "line 1, column 15: duplicate output column name brand: give one of them another name with AS"},
	{"SELECT count(*) AS brand FROM events GROUP BY brand", "line 1, column 8: duplicate output column name brand: give one of them another name with AS"},
	{"SELECT FROM events", "line 1, column 1: empty select list: name at least one column"},
	// LIMIT
	{"SELECT brand FROM events LIMIT price", "line 1, column 32: LIMIT needs an integer literal"},
	{"SELECT brand FROM events LIMIT -1", "line 1, column 32: LIMIT must not be negative"},
	// types
	{"SELECT CAST(price AS decimal(10, 2)) FROM events", "line 1, column 22: unknown type DECIMAL (want STRING, INT, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP or DATE)"},
	{"SELECT CAST(price AS int(4)) FROM events", "line 1, column 25: syntax error at or near \"(\""},
	{"SELECT CAST(price AS int[]) FROM events", "line 1, column 22: array and set types are not supported (want STRING, INT, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP or DATE)"},
	// type errors found by the dataframe package
	{"SELECT sum(brand) FROM events", "line 1, column 8: sum needs a number, got brand of type STRING"},
	{"SELECT brand + 1 FROM events", "line 1, column 14: operator + needs numbers, got brand (STRING) and 1 (INT)"},
	{"SELECT brand FROM events WHERE price", "line 1, column 32: WHERE needs a BOOLEAN condition, got DOUBLE"},
	{"SELECT brand, count(*) FROM events GROUP BY brand HAVING sum(price)", "line 1, column 58: HAVING needs a BOOLEAN condition, got DOUBLE"},
	// the text itself
	{"SELECT brand\x00 FROM events", "line 1, column 13: the query contains a NUL character"},
	{"SELECT brand FROM events WHERE brand = '\xff'", "line 1, column 41: the query is not valid UTF-8"},
	{"SELECT `brand FROM events", "line 1, column 8: unterminated backquoted identifier"},
	{"SELECT `` FROM events", "line 1, column 8: empty backquoted identifier"},
	{"SELECT `a``b` FROM events", "line 1, column 8: a backquoted identifier may not contain a backquote"},
	{"SELECT `a\"b` FROM events", "line 1, column 10: unterminated quoted identifier at or near \"\"b` FROM events\""},
	{"SELECT `a\"b\"` FROM events", "line 1, column 8: a backquoted identifier may not contain a double quote or a newline"},
	{"SELECT brand, '`' AS `tick` FROM events -- `\nWHERE `price` > 1 AND `nope` = 1", "line 2, column 23: unknown column nope; columns: event_time, event_type, product_id, category_id, category_code, brand, price, user_id, user_session, _topic, _partition, _offset, _timestamp, _key, _corrupt_record"},
	// positions count lines and characters
	{"SELECT brand,\n       prise\nFROM events", "line 2, column 8: unknown column prise (did you mean price?); columns: event_time, event_type, product_id, category_id, category_code, brand, price, user_id, user_session, _topic, _partition, _offset, _timestamp, _key, _corrupt_record"},
	{"SELECT 'é', prïce FROM events", "line 1, column 13: unknown column `prïce` (did you mean price?); columns: event_time, event_type, product_id, category_id, category_code, brand, price, user_id, user_session, _topic, _partition, _offset, _timestamp, _key, _corrupt_record"},
	// pathological expressions
	{"SELECT 1 AS x FROM events WHERE " + strings.Repeat("1 + ", 300) + "price > 0", "line 1, column 435: expression nested too deeply (more than 200 levels)"},
	{"SELECT 1 AS x FROM events WHERE " + strings.Repeat("(", 12) + "price" + strings.Repeat(" BETWEEN 1 AND 2)", 12), "line 1, column 45: expression too large (more than 2000 terms once BETWEEN, IN and CASE are expanded)"},
	// more unsupported constructs
	{"SELECT brand", "line 1, column 1: missing FROM events: a query reads the source table"},
	{"SELECT brand FROM events ORDER BY brand ASC NULLS LAST", "line 1, column 35: ASC NULLS LAST is not supported: ascending order puts NULLs first"},
	{"SELECT brand FROM events ORDER BY brand DESC NULLS FIRST", "line 1, column 35: DESC NULLS FIRST is not supported: descending order puts NULLs last"},
	{"SELECT brand FROM events e(a, b)", "line 1, column 19: column aliases in FROM are not supported"},
	{"SELECT brand FROM events WHERE price IN (SELECT 1)", "line 1, column 38: subqueries are not supported"},
	{"SELECT -brand FROM events", "line 1, column 8: cannot negate brand of type STRING"},
	{"SELECT count(brand, price) FROM events", "line 1, column 8: count takes one argument, got 2"},
	{"SELECT max(*) FROM events", "line 1, column 8: max(*) is not supported; only count(*)"},
	{"SELECT DISTINCT count(*) FROM events", "line 1, column 17: SELECT DISTINCT with aggregates is not supported"},
	{"SELECT brand FROM events FOR UPDATE", "line 1, column 26: FOR UPDATE and other locking clauses are not supported"},
	{"SELECT brand INTO t FROM events", "line 1, column 14: SELECT INTO is not supported"},
	{"SELECT CURRENT_DATE FROM events", "line 1, column 8: CURRENT_DATE is not supported"},
	{"SELECT ARRAY[1] FROM events", "line 1, column 8: arrays are not supported"},
	{"SELECT brand[1] FROM events", "line 1, column 8: subscripts and field selection are not supported; quote a dotted column name as `a.b`"},
	{"VALUES (1)", "line 1, column 1: VALUES is not supported: a query reads its source table"},
	{"SELECT brand FROM events WHERE price = ANY('{1}')", "line 1, column 38: ANY is not supported"},
	{"SELECT brand, count(*) FROM events GROUP BY GROUPING SETS ((brand), ())", "line 1, column 45: ROLLUP, CUBE and GROUPING SETS are not supported"},
	{"SELECT b'101' FROM events", "line 1, column 8: bit-string literals are not supported"},
	{"SELECT brand FROM events WHERE brand = 'a' COLLATE \"C\"", "line 1, column 44: COLLATE is not supported"},
	{"SELECT brand FROM events ORDER BY brand USING <", "line 1, column 35: ORDER BY ... USING is not supported"},
	{"SELECT brand FROM events LIMIT 1.5", "line 1, column 32: LIMIT needs an integer literal"},
}

func TestCompileErrors(t *testing.T) {
	s := schema(t, shopDDL)
	for _, tc := range errorCases {
		df, err := sql.Compile(tc.query, "events", s)
		if err == nil {
			t.Errorf("%q: no error, plan\n%s", tc.query, df)
			continue
		}
		var se *sql.Error
		if !errors.As(err, &se) {
			t.Errorf("%q: error %T %v, want *sql.Error", tc.query, err, err)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.query, err, tc.want)
		}
	}
}

func TestErrorFields(t *testing.T) {
	_, err := sql.Compile("SELECT brand,\n  sum(brand) AS s\nFROM events GROUP BY brand", "", schema(t, shopDDL))
	var se *sql.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want *sql.Error", err)
	}
	if se.Line != 2 || se.Column != 3 || se.Msg != "sum needs a number, got brand of type STRING" {
		t.Errorf("got %+v", *se)
	}
	// A type error found by the dataframe package unwraps to its sentinel.
	if !errors.Is(err, ErrPlan) {
		t.Errorf("errors.Is(%v, ErrPlan) = false", err)
	}
	// An error found by this package has nothing to unwrap.
	_, err = sql.Compile("SELECT nope FROM events", "", schema(t, shopDDL))
	if errors.Unwrap(err) != nil {
		t.Errorf("Unwrap(%v) = %v", err, errors.Unwrap(err))
	}
}

// A bad table name or schema is the dataframe package's error, not a
// position in the query.
func TestCompileBadSource(t *testing.T) {
	_, err := sql.Compile("SELECT 1 FROM events", "events", &Schema{})
	var se *sql.Error
	if err == nil || errors.As(err, &se) || !errors.Is(err, ErrPlan) {
		t.Errorf("empty schema: %v", err)
	}
}

func TestDefaultTable(t *testing.T) {
	s := schema(t, clickDDL)
	if _, err := sql.Compile("SELECT page FROM events", "", s); err != nil {
		t.Errorf("default table: %v", err)
	}
	_, err := sql.Compile("SELECT page FROM events", "clicks", s)
	if want := "line 1, column 18: unknown table events: the query can only read the source table clicks"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// Columns named by reserved words: USER reads as the column when there is
// one; a syntax error next to a reserved word that names a column says how
// to quote it.
func TestReservedWords(t *testing.T) {
	s := schema(t, "user STRING, order INT, value DOUBLE")
	df, err := sql.Compile("SELECT user, count(*) AS n FROM events GROUP BY user", "", s)
	if err != nil {
		t.Fatal(err)
	}
	want := Source("events", s).GroupBy(Col("user")).Agg(Count().As("n"))
	if df.String() != want.String() {
		t.Errorf("plan\n%s\nwant\n%s", df, want)
	}
	for _, tc := range []struct{ query, want string }{
		{"SELECT order FROM events", "line 1, column 14: syntax error at or near \"FROM\"; order is a reserved word: write `order` to name the column"},
		{"SELECT value FROM events WHERE order > 1", "line 1, column 32: syntax error at or near \"order\"; order is a reserved word: write `order` to name the column"},
		{"SELECT value FROM events WHERE select = 1", "line 1, column 32: syntax error at or near \"select\""},
		{"SELECT current_user FROM events", "line 1, column 8: CURRENT_USER is not supported"},
	} {
		if _, err := sql.Compile(tc.query, "", s); err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.query, err, tc.want)
		}
	}
}

// A syntax error after a misspelled clause keyword suggests the keyword; an
// unreserved keyword that names a column (action) is not called reserved; a
// Spark-style "string" that names no column says to use single quotes.
func TestMisspelledClause(t *testing.T) {
	s := schema(t, "page STRING, action STRING")
	for _, tc := range []struct{ query, want string }{
		{"SELECT page FROM events WHER action = 'view'", "line 1, column 30: syntax error at or near \"action\"; did you mean WHERE?"},
		{"SELECT page, count(*) FROM events GRUOP BY page", "line 1, column 41: syntax error at or near \"BY\"; did you mean GROUP?"},
		{"SELECT page FROM events WHERE page = 'a' ORDR BY 1", "line 1, column 42: syntax error at or near \"ORDR\"; did you mean ORDER?"},
		{"SELECT page FROM events WHERE action = 'a' action", "line 1, column 44: syntax error at or near \"action\""},
		{"SELECT page FROM events x action", "line 1, column 27: syntax error at or near \"action\""},
		{`SELECT page FROM events WHERE action = "view"`, `line 1, column 40: unknown column view; columns: page, action, _topic, _partition, _offset, _timestamp, _key, _corrupt_record; "view" names a column: write a string in single quotes, 'view'`},
		{`SELECT "pag" FROM events`, "line 1, column 8: unknown column pag (did you mean page?); columns: page, action, _topic, _partition, _offset, _timestamp, _key, _corrupt_record"},
		{`SELECT "a""b" FROM events`, "line 1, column 8: unknown column `a\"b`; columns: page, action, _topic, _partition, _offset, _timestamp, _key, _corrupt_record; \"a\"\"b\" names a column: write a string in single quotes, 'a\"b'"},
		{`SELECT page FROM events WHERE action = "it's"`, "line 1, column 40: unknown column `it's`; columns: page, action, _topic, _partition, _offset, _timestamp, _key, _corrupt_record; \"it's\" names a column: write a string in single quotes, 'it''s'"},
	} {
		if _, err := sql.Compile(tc.query, "", s); err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.query, err, tc.want)
		}
	}
}
