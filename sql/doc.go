// Package sql compiles the SQL query of a job into a dataframe.DataFrame, the
// logical plan the engine runs. It builds the plan only through the public
// API of package dataframe, so a query in SQL and the same query written in
// Go give the same plan (equal DataFrame.String), the same checkpoint
// fingerprint and the same results:
//
//	df, err := sql.Compile(`SELECT page, count(*) AS views FROM events
//	                        WHERE action = 'view' GROUP BY page ORDER BY views DESC`, "events", schema)
//
// builds what this builds:
//
//	dataframe.Source("events", schema).
//		Filter(dataframe.Col("action").Eq(dataframe.Lit("view"))).
//		GroupBy(dataframe.Col("page")).Agg(dataframe.Count().As("views")).
//		OrderBy(dataframe.Col("views").Desc())
//
// # The parser
//
// The text is parsed by PostgreSQL's own parser, through
// github.com/pganalyze/pg_query_go/v6 (libpg_query, PostgreSQL 17's grammar).
// Three libraries were weighed:
//
//   - pg_query_go: the real PostgreSQL grammar, so every construct above and
//     every one we refuse (RIGHT JOIN, subqueries, window functions, UNION, ...) is
//     recognised exactly and refused by name, never as a confusing syntax
//     error. Every expression node carries its byte offset and syntax errors
//     carry a cursor, which is what line/column messages need. Maintained by
//     pganalyze with tagged releases that follow PostgreSQL. The cost is cgo:
//     the C parser takes about 45 s (77 CPU-seconds) to build once on two
//     cores, then comes from the build cache; microbatch already needs cgo for
//     confluent-kafka-go.
//   - github.com/dolthub/vitess (MySQL grammar, pure Go, 19 CPU-seconds to
//     build, backquotes native): its AST has no positions, so only syntax
//     errors could name a place (as a byte offset); it has no recent tagged
//     release (only pseudo-versions), and its go.mod requires a newer Go patch
//     release and gRPC.
//   - github.com/rqlite/sql (SQLite grammar, pure Go, positions with
//     line/column): the Go module proxy refused it (403) from this build
//     environment, so it could not be evaluated further.
//
// PostgreSQL's grammar has no backquotes; Spark users write `data.page`, so
// backquoted names are turned into double-quoted ones before parsing, using
// the parser's own scanner to skip string literals and comments. The rewrite
// keeps every byte offset, so positions are unchanged. A backquoted name may
// not contain a backquote, a double quote or a line break.
//
// # Supported SQL
//
//   - SELECT expressions with optional AS aliases, and * (the schema's
//     fields, not the metadata columns); SELECT DISTINCT (a GROUP BY of every
//     column)
//   - FROM the source table (Compile's table argument, "events"
//     when empty), with an optional alias; the table name is
//     case-insensitive; a derived table FROM (SELECT ...) AS t over it
//   - with CompileTables, JOIN (INNER) and LEFT [OUTER] JOIN of the stream
//     with one static table (dataframe.StaticTable): ON holds equalities of
//     a stream expression and a table column, and any further condition;
//     RIGHT, FULL, NATURAL, USING and CROSS joins, stream-stream joins and a
//     second aggregation over an aggregating derived table are refused by
//     name
//   - WHERE with = <> != < <= > >=, AND, OR, NOT, IN (...), NOT IN, LIKE and
//     NOT LIKE with a literal pattern (% and _, \ escapes), IS [NOT] NULL,
//     BETWEEN, + - * / %, unary minus, CASE WHEN ... THEN ... [ELSE ...] END and
//     CASE x WHEN v THEN ... END
//   - CAST(x AS type) and x::type, to STRING, INT, BIGINT, DOUBLE, BOOLEAN,
//     TIMESTAMP or their aliases (VARCHAR, TEXT, INTEGER, LONG, FLOAT,
//     DOUBLE PRECISION, ...); TIMESTAMP '2024-01-01 00:00:00'
//   - literals: single-quoted strings (a quote inside is doubled), integers
//     (INT when they fit in 32 bits, else BIGINT), decimals and exponents
//     (DOUBLE), TRUE, FALSE, NULL
//   - GROUP BY expressions, select-list positions (GROUP BY 1) and
//     select-list aliases; count(*), count(x), count(DISTINCT x), sum, min,
//     max, avg, count_if, bool_and (every), bool_or, var_samp (variance),
//     var_pop, stddev_samp (stddev, std), stddev_pop,
//     approx_count_distinct(x[, rsd]), percentile_approx (approx_percentile)
//     (x, p[, accuracy]), first/last (first_value/last_value)
//     (x[, ignoreNulls]), collect_set; aggregates without GROUP BY
//     aggregate all rows
//   - HAVING, which may use aggregates, grouping columns, grouping
//     expressions and select-list aliases
//   - ORDER BY output columns, aliases, positions or expressions (without
//     aggregation, of the output columns only), ASC (NULLS FIRST) or DESC
//     (NULLS LAST)
//   - LIMIT n (LIMIT ALL is no limit)
//   - Spark SQL's scalar functions (dataframe.Functions: lower, substring,
//     regexp_extract, round, coalesce, date_trunc, get_json_object, ...),
//     with PostgreSQL's grammar forms COALESCE, GREATEST, LEAST, NULLIF,
//     TRIM(... FROM ...), SUBSTRING(... FROM ... FOR ...), and the
//     operators || (concat) and ~ (rlike); an unknown function gets a
//     did-you-mean
//   - comments (-- and /* */), any white space and line breaks, a final ;
//
// Whether a query can run as a stream in an output mode (ORDER BY only after
// an aggregation in complete mode, and so on) is dataframe.Compile's
// decision, not this package's.
//
// # Names
//
// Names are case-insensitive, as in Spark: an exact match wins, else the one
// column that matches ignoring case. Unquoted a.b is the column named "a.b"
// (JSON sources store a nested field under its dotted name), so data.page,
// "data.page" and `data.page` are the same column; when no column has the
// dotted name and the first part is the table or its alias, the rest is the
// column (events.brand, e.brand). The Kafka metadata columns _topic,
// _partition, _offset, _timestamp and _key, and _corrupt_record (PERMISSIVE
// mode: the raw value of a malformed record, NULL otherwise) are columns
// like the others.
//
// A column whose name is a reserved word of PostgreSQL (order, select, ...)
// is written `order` or "order"; a syntax error next to such a word says so.
// Unreserved keywords (action, key, ...) name columns as they are.
// USER, which the grammar reads as a function, is the column "user" when the
// source has one.
//
// Output columns are named by their alias, spelled as written (PostgreSQL
// folds unquoted names to lower case; Spark does not, and the names are what
// sinks write), else by the column name, else by the expression's text
// (count(*)). Two output columns may not have the same name.
//
// # Plans
//
// A query without aggregation becomes Source, Filter (WHERE), Select, then
// OrderBy and Limit. A query with GROUP BY, aggregates, HAVING or DISTINCT
// becomes Source, Filter (WHERE), GroupBy(keys).Agg(the other select-list
// entries), Filter (HAVING), OrderBy, a Select only when the select list is
// not the keys followed by the other entries, then Limit. A grouping key that
// is also a select-list entry takes the entry's alias. BETWEEN is rewritten
// to >= AND <=, NOT IN and NOT LIKE to NOT (IN/LIKE), CASE x WHEN v to
// CASE WHEN x = v.
//
// # Errors
//
// Every problem with a query is an *Error: "line L, column C: message", with
// L and C 1-based within the query text and C counted in characters. An
// unknown column lists the columns that exist and suggests the closest one;
// one written in double quotes ("view", a string in Spark SQL) also says
// that strings take single quotes. A syntax error after a misspelled clause
// keyword (WHER, GRUOP) suggests the keyword.
// Constructs PostgreSQL parses but microbatch does not run (stream-stream
// joins, subqueries beyond a derived table, UNION, WITH, window functions,
// OFFSET, ...) are refused by
// name at their position. Type errors found by the dataframe package are
// placed at the smallest sub-expression that has them, and unwrap to the
// dataframe's error.
//
// An expression may nest at most 200 operators deep and have at most 2000
// terms once BETWEEN, IN and CASE x WHEN are expanded; deeper or larger
// input is refused rather than compiled slowly.
//
// Compile is safe for concurrent use.
package sql
