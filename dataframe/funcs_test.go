package dataframe

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// tsv is an expected TIMESTAMP, written as FormatTimestamp renders it.
type tsv string

// datev is an expected DATE, written yyyy-MM-dd.
type datev string

// evalScalar binds e (literals only) and evaluates it over 3 rows, checking
// that every row agrees; it returns the value as a Go value (nil: NULL;
// TIMESTAMP as tsv) and the result type.
func evalScalar(t *testing.T, e Expr) (any, Type, error) {
	t.Helper()
	b := &binder{}
	be, err := b.bind(e.node())
	if err != nil {
		return nil, 0, err
	}
	ev := &evaluator{n: 3}
	v := ev.eval(be, []int32{0, 2}) // row 1 is not selected
	got := goValue(v, 0)
	if g2 := goValue(v, 2); g2 != got {
		if f1, ok := got.(float64); !ok || !math.IsNaN(f1) {
			t.Fatalf("%s: rows differ: %v and %v", e, got, g2)
		}
	}
	return got, v.typ, nil
}

func goValue(v *vector, i int32) any {
	x := v.get(i)
	if x.null || v.typ == nullType {
		return nil
	}
	switch v.typ {
	case String:
		return x.s
	case Int32:
		return int32(x.i)
	case Int64:
		return x.i
	case Float64:
		return x.f
	case Bool:
		return x.i != 0
	case Timestamp:
		return tsv(FormatTimestamp(x.i))
	case Date:
		return datev(formatDate(int32(x.i)))
	}
	return "?"
}

type funcCase struct {
	e    Expr
	want any // nil: NULL; an error string starting with "error: " for a refused call
}

func runFuncCases(t *testing.T, cases []funcCase) {
	t.Helper()
	for _, c := range cases {
		got, _, err := evalScalar(t, c.e)
		if s, ok := c.want.(string); ok && strings.HasPrefix(s, "error: ") {
			if err == nil || !strings.Contains(err.Error(), s[len("error: "):]) {
				t.Errorf("%s: error %v, want one containing %q", c.e, err, s[len("error: "):])
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.e, err)
			continue
		}
		if f, ok := c.want.(float64); ok && math.IsNaN(f) {
			if g, ok := got.(float64); !ok || !math.IsNaN(g) {
				t.Errorf("%s = %#v, want NaN", c.e, got)
			}
			continue
		}
		if got != c.want {
			t.Errorf("%s = %#v, want %#v", c.e, got, c.want)
		}
	}
}

var (
	L    = Lit
	C    = Call
	null = Lit(nil)
)

// The expected values are those of Spark 3.5's SQL function reference
// (the examples of each function) and of its UTF8String semantics.
func TestStringFunctions(t *testing.T) {
	runFuncCases(t, []funcCase{
		{C("lower", L("SparkSql")), "sparksql"},
		{C("upper", L("SparkSql")), "SPARKSQL"},
		{C("lower", null), nil},
		{C("upper", L(12)), "12"}, // implicit cast to STRING
		{C("initcap", L("sPark sql")), "Spark Sql"},
		{C("initcap", L("hello-world  x")), "Hello-world  X"},
		{C("length", L("Spark SQL ")), int32(10)},
		{C("length", L("héllo")), int32(5)},
		{C("char_length", L("")), int32(0)},
		{C("length", null), nil},
		{C("trim", L("    SparkSQL   ")), "SparkSQL"},
		{C("trim", L("\tSparkSQL ")), "\tSparkSQL"}, // spaces only, as Spark
		{C("ltrim", L("    SparkSQL   ")), "SparkSQL   "},
		{C("rtrim", L("    SparkSQL   ")), "    SparkSQL"},
		{C("trim", L("SSparkSQLS"), L("SL")), "parkSQ"},
		{C("btrim", L("xxSparkxx"), L("x")), "Spark"},
		{C("trim", null), nil},
		// substring: 1-based, negative from the end, 0 as 1.
		{C("substring", L("Spark SQL"), L(5)), "k SQL"},
		{C("substring", L("Spark SQL"), L(-3)), "SQL"},
		{C("substring", L("Spark SQL"), L(5), L(1)), "k"},
		{C("substr", L("Spark SQL"), L(0), L(3)), "Spa"},
		{C("substr", L("Spark SQL"), L(1), L(3)), "Spa"},
		{C("substr", L("Spark SQL"), L(-100), L(3)), ""},
		{C("substr", L("Spark SQL"), L(-10), L(3)), "Sp"},
		{C("substr", L("Spark SQL"), L(20)), ""},
		{C("substr", L("Spark SQL"), L(2), L(-1)), ""},
		{C("substr", L("héllo"), L(2), L(3)), "éll"},
		{C("substr", null, L(1)), nil},
		{C("substr", L("abc"), null), nil},
		{C("concat", L("Spark"), L("SQL")), "SparkSQL"},
		{C("concat", L("Spark"), null), nil},
		{C("concat", L("n="), L(5)), "n=5"},
		{C("concat_ws", L(" "), L("Spark"), L("SQL")), "Spark SQL"},
		{C("concat_ws", L("s")), ""},
		{C("concat_ws", L("/"), L("a"), null, L("b")), "a/b"},
		{C("concat_ws", null, L("a")), nil},
		{C("replace", L("ABCabc"), L("abc"), L("DEF")), "ABCDEF"},
		{C("replace", L("ABCabc"), L("abc")), "ABC"},
		{C("replace", L("ABC"), L("")), "ABC"},
		{C("replace", L("ABC"), null), nil},
		{C("split_part", L("11.12.13"), L("."), L(3)), "13"},
		{C("split_part", L("11.12.13"), L("."), L(-1)), "13"},
		{C("split_part", L("11.12.13"), L("."), L(4)), ""},
		{C("split_part", L("11.12.13"), L(""), L(1)), "11.12.13"},
		{C("split_part", L("11.12.13"), L(""), L(2)), ""},
		{C("split_part", L("a,b"), L(","), L(0)), "error: part number must not be 0"},
		{C("split_part", null, L(","), L(1)), nil},
		{C("regexp_extract", L("100-200"), L(`(\d+)-(\d+)`), L(1)), "100"},
		{C("regexp_extract", L("100-200"), L(`(\d+)-(\d+)`)), "100"},
		{C("regexp_extract", L("100-200"), L(`(\d+)-(\d+)`), L(0)), "100-200"},
		{C("regexp_extract", L("foo"), L(`(\d+)`), L(1)), ""},
		{C("regexp_extract", L("ab"), L(`a|(x)`), L(1)), ""},
		{C("regexp_extract", L("ab"), L(`(a)`), L(2)), "error: group index 2 is out of range"},
		{C("regexp_extract", L("ab"), L(`(a)\1`)), "error: RE2"},
		{C("regexp_extract", L("ab"), L(`(?=a)`)), "error: RE2"},
		{C("regexp_extract", null, L(`(a)`)), nil},
		{C("regexp_replace", L("100-200"), L(`(\d+)`), L("num")), "num-num"},
		{C("regexp_replace", L("100-200"), L(`(\d+)-(\d+)`), L("$2-$1")), "200-100"},
		{C("regexp_replace", L("a.b"), L(`\.`), L(`\$`)), "a$b"},
		{C("regexp_replace", L("aaa"), L("a"), L("b"), L(2)), "abb"},
		{C("regexp_replace", L("aaa"), L("a"), null), nil},
		{C("regexp_like", L("%SystemDrive%\\Users\\John"), L(`%SystemDrive%\\Users.*`)), true},
		{C("rlike", L("Spark"), L("^S.a")), true},
		{C("rlike", L("Spark"), L("^x")), false},
		{C("rlike", null, L("^x")), nil},
		{C("rlike", L("a"), null), nil},
		{C("lpad", L("hi"), L(5), L("??")), "???hi"},
		{C("lpad", L("hi"), L(1), L("??")), "h"},
		{C("lpad", L("hi"), L(5)), "   hi"},
		{C("lpad", L("hi"), L(0)), ""},
		{C("lpad", L("hi"), L(5), L("")), "hi"},
		{C("rpad", L("hi"), L(5), L("??")), "hi???"},
		{C("rpad", L("hi"), L(1), L("??")), "h"},
		{C("rpad", L("hi"), L(5)), "hi   "},
		{C("rpad", null, L(5)), nil},
		{C("startswith", L("Spark SQL"), L("Spark")), true},
		{C("startswith", L("Spark SQL"), L("SQL")), false},
		{C("startswith", L("Spark SQL"), null), nil},
		{C("endswith", L("Spark SQL"), L("SQL")), true},
		{C("endswith", L("Spark SQL"), L("")), true},
		{C("contains", L("Spark SQL"), L("Spark")), true},
		{C("contains", L("Spark SQL"), L("x")), false},
		{C("contains", null, L("x")), nil},
	})
}

func TestMathFunctions(t *testing.T) {
	runFuncCases(t, []funcCase{
		{C("abs", L(-1)), int32(1)},
		{C("abs", L(int64(-5))), int64(5)},
		{C("abs", L(-2.5)), 2.5},
		{C("abs", L(int32(math.MinInt32))), int32(math.MinInt32)},
		{C("abs", null), nil},
		{C("round", L(2.5), L(0)), 3.0},
		{C("round", L(-2.5)), -3.0},
		{C("round", L(2.675), L(2)), 2.68}, // rounds the decimal 2.675, not the binary double
		{C("round", L(1.005), L(2)), 1.01},
		{C("round", L(0.004), L(2)), 0.0},
		{C("round", L(0.006), L(2)), 0.01},
		{C("round", L(1234.5678), L(-2)), 1200.0},
		{C("round", L(9.99), L(1)), 10.0},
		{C("round", L(25), L(-1)), int32(30)},
		{C("round", L(-25), L(-1)), int32(-30)},
		{C("round", L(int64(125)), L(-1)), int64(130)},
		{C("round", L(7), L(2)), int32(7)},
		{C("round", L(math.NaN())), math.NaN()},
		{C("round", null), nil},
		{C("bround", L(2.5), L(0)), 2.0},
		{C("bround", L(3.5)), 4.0},
		{C("bround", L(-2.5)), -2.0},
		{C("bround", L(0.125), L(2)), 0.12},
		{C("bround", L(25), L(-1)), int32(20)},
		{C("bround", L(35), L(-1)), int32(40)},
		{C("round", L(2.5), C("abs", L(1))), "error: must be a literal"},
		{C("floor", L(-0.1)), int64(-1)},
		{C("floor", L(5)), int64(5)},
		{C("ceil", L(-0.1)), int64(0)},
		{C("ceil", L(5.2)), int64(6)},
		{C("ceiling", null), nil},
		{C("sqrt", L(4)), 2.0},
		{C("sqrt", L(-1)), math.NaN()},
		{C("exp", L(0)), 1.0},
		{C("ln", L(1)), 0.0},
		{C("ln", L(0)), nil},
		{C("ln", L(-1)), nil},
		{C("log10", L(10)), 1.0},
		{C("log2", L(2)), 1.0},
		{C("log2", L(0)), nil},
		{C("pow", L(2), L(3)), 8.0},
		{C("power", L(2), L(-1)), 0.5},
		{C("pow", L(2), null), nil},
		{C("mod", L(2), L(1.8)), 0.19999999999999996},
		{C("mod", L(-7), L(3)), int32(-1)},
		{C("mod", L(7), L(0)), nil},
		{C("pmod", L(10), L(3)), int32(1)},
		{C("pmod", L(-10), L(3)), int32(2)},
		{C("pmod", L(int64(-10)), L(3)), int64(2)},
		{C("pmod", L(-7.5), L(2)), 0.5},
		{C("pmod", L(1), L(0)), nil},
		{C("greatest", L(10), L(9), L(2), L(4), L(3)), int32(10)},
		{C("greatest", L(1), null, L(3)), int32(3)},
		{C("greatest", null, null), nil},
		{C("greatest", L(1), L(2.5)), 2.5},
		{C("greatest", L("a"), L("b")), "b"},
		{C("greatest", L(1.0), L(math.NaN())), math.NaN()},
		{C("least", L(10), L(9), L(2), L(4), L(3)), int32(2)},
		{C("least", null, L(5)), int32(5)},
		{C("greatest", L(1), L(true)), "error: mix types"},
		{C("sign", L(40)), 1.0},
		{C("signum", L(-0.5)), -1.0},
		{C("sign", L(0)), 0.0},
		{C("sign", null), nil},
	})
}

func TestConditionalFunctions(t *testing.T) {
	runFuncCases(t, []funcCase{
		{C("coalesce", null, L(1), null), int32(1)},
		{C("coalesce", null, null), nil},
		{C("coalesce", null, L(1), L(2.5)), 1.0},
		{C("coalesce", L("a"), L(1)), "error: mix types"},
		{C("nullif", L(2), L(2)), nil},
		{C("nullif", L(2), L(3)), int32(2)},
		{C("nullif", null, L(3)), nil},
		{C("nullif", L(2), null), int32(2)},
		{C("if", L(1).Lt(L(2)), L("a"), L("b")), "a"},
		{C("if", L(1).Gt(L(2)), L("a"), L("b")), "b"},
		{C("if", null, L("a"), L("b")), "b"},
		{C("if", L(1), L("a"), L("b")), "error: BOOLEAN"},
		{C("ifnull", null, L(2)), int32(2)},
		{C("nvl", L(1), L(2)), int32(1)},
		{C("nvl2", null, L(2), L(1)), int32(1)},
		{C("nvl2", L("x"), L(2), L(1)), int32(2)},
	})
}

func TestDatetimeFunctions(t *testing.T) {
	ts := func(s string) Expr { return L(s).Cast(Timestamp) }
	runFuncCases(t, []funcCase{
		{C("date_trunc", L("YEAR"), ts("2015-03-05 09:32:05.359")), tsv("2015-01-01 00:00:00")},
		{C("date_trunc", L("MM"), ts("2015-03-05 09:32:05.359")), tsv("2015-03-01 00:00:00")},
		{C("date_trunc", L("DD"), ts("2015-03-05 09:32:05.359")), tsv("2015-03-05 00:00:00")},
		{C("date_trunc", L("HOUR"), ts("2015-03-05 09:32:05.359")), tsv("2015-03-05 09:00:00")},
		{C("date_trunc", L("MILLISECOND"), ts("2015-03-05 09:32:05.123456")), tsv("2015-03-05 09:32:05.123")},
		{C("date_trunc", L("quarter"), ts("2015-08-05 09:32:05")), tsv("2015-07-01 00:00:00")},
		{C("date_trunc", L("week"), ts("2015-03-05 09:32:05")), tsv("2015-03-02 00:00:00")}, // a Thursday -> Monday
		{C("date_trunc", L("week"), ts("2015-03-02 00:00:00")), tsv("2015-03-02 00:00:00")},
		{C("date_trunc", L("minute"), ts("1969-12-31 23:59:59.5")), tsv("1969-12-31 23:59:00")},
		{C("date_trunc", L("hour"), L("2015-03-05 09:32:05")), tsv("2015-03-05 09:00:00")}, // a string casts
		{C("date_trunc", L("hour"), null), nil},
		{C("date_trunc", L("eon"), ts("2015-03-05 09:32:05")), "error: unknown unit 'eon'"},
		{C("to_timestamp", L("2016-12-31 00:12:00")), tsv("2016-12-31 00:12:00")},
		{C("to_timestamp", L("2016-12-31"), L("yyyy-MM-dd")), tsv("2016-12-31 00:00:00")},
		{C("to_timestamp", L("31/12/2016 13:05"), L("dd/MM/yyyy HH:mm")), tsv("2016-12-31 13:05:00")},
		{C("to_timestamp", L("2016-12-31T01:02:03.25Z"), L("yyyy-MM-dd'T'HH:mm:ss.SSSX")), tsv("2016-12-31 01:02:03.25")},
		{C("to_timestamp", L("2016-12-31 01:02:03+0100"), L("yyyy-MM-dd HH:mm:ssZ")), tsv("2016-12-31 00:02:03")},
		{C("to_timestamp", L("Dec 5 2016 1:02 PM"), L("MMM d yyyy h:mm a")), tsv("2016-12-05 13:02:00")},
		{C("to_timestamp", L("12 AM 1/2/16"), L("hh a d/M/yy")), tsv("2016-02-01 00:00:00")},
		{C("to_timestamp", L("2016-02-30"), L("yyyy-MM-dd")), nil},
		{C("to_timestamp", L("2016-12-31 x"), L("yyyy-MM-dd")), nil},
		{C("to_timestamp", L("garbage")), nil},
		{C("to_timestamp", null, L("yyyy")), nil},
		{C("to_timestamp", L("2016"), L("yyyy-qq")), "error: letter q is not supported"},
		{C("to_date", L("2009-07-30 04:17:52")), datev("2009-07-30")},
		{C("to_date", L("2016-12-31"), L("yyyy-MM-dd")), datev("2016-12-31")},
		{C("to_date", L("31/12/2016 23:59"), L("dd/MM/yyyy HH:mm")), datev("2016-12-31")},
		{C("to_date", L("2016-7-4")), datev("2016-07-04")},
		{C("to_date", ts("1969-12-31 23:59:59.999")), datev("1969-12-31")},
		{C("to_date", L("2016-02-30")), nil},
		{C("to_date", L("2016-12-31"), L("dd/MM/yyyy")), nil},
		{C("to_date", null), nil},
		{C("from_unixtime", L(0), L("yyyy-MM-dd HH:mm:ss")), "1970-01-01 00:00:00"},
		{C("from_unixtime", L(0)), "1970-01-01 00:00:00"},
		{C("from_unixtime", L(1700000000), L("EEE, d MMM yyyy HH:mm:ss z")), "Tue, 14 Nov 2023 22:13:20 UTC"},
		{C("from_unixtime", null), nil},
		{C("unix_timestamp", L("2016-04-08"), L("yyyy-MM-dd")), int64(1460073600)},
		{C("unix_timestamp", L("2016-04-08 00:00:01")), int64(1460073601)},
		{C("unix_timestamp", ts("1969-12-31 23:59:59.5")), int64(-1)},
		{C("unix_timestamp", L("nope")), nil},
		{C("year", L("2016-07-30")), int32(2016)},
		{C("month", L("2016-07-30")), int32(7)},
		{C("day", L("2009-07-30")), int32(30)},
		{C("dayofmonth", L("2009-07-30")), int32(30)},
		{C("dayofweek", L("2009-07-30")), int32(5)},
		{C("dayofweek", L("2009-07-26")), int32(1)}, // Sunday
		{C("hour", ts("2009-07-30 12:58:59")), int32(12)},
		{C("minute", ts("2009-07-30 12:58:59")), int32(58)},
		{C("second", ts("2009-07-30 12:58:59")), int32(59)},
		{C("year", ts("1969-12-31 23:59:59.999")), int32(1969)},
		{C("hour", null), nil},
		{C("date_format", L("2016-04-08"), L("y")), "2016"},
		{C("date_format", ts("2016-04-08 13:04:05.123456"), L("yyyy-MM-dd'T'HH:mm:ss.SSS")), "2016-04-08T13:04:05.123"},
		{C("date_format", ts("2016-04-08 13:04:05"), L("MMMM d, hh:mm a, EEEE, D")), "April 8, 01:04 PM, Friday, 99"},
		{C("date_format", ts("2016-04-08 13:04:05"), L("yy-M-d 'o''clock' x Z")), "16-4-8 o'clock +00 +0000"},
		{C("date_format", ts("2016-04-08 13:04:05"), L("'unterminated")), "error: unterminated quote"},
		{C("date_add", L("2016-07-30"), L(1)), datev("2016-07-31")},
		{C("date_add", L("2016-02-28"), L(1)), datev("2016-02-29")},
		{C("date_add", C("to_date", L("2017-01-01")), L(-1)), datev("2016-12-31")},
		{C("date_add", ts("2016-07-30 23:00:00"), L(-31)), datev("2016-06-29")},
		{C("date_add", L("2016-07-30"), null), nil},
		{C("date_add", L(true), L(1)), "error: argument 1 must be DATE"},
		{C("date_add", null, L(1)), nil},
		{C("datediff", L("2009-07-31"), L("2009-07-30")), int32(1)},
		{C("datediff", L("2009-07-30"), L("2009-07-31")), int32(-1)},
		{C("datediff", ts("2009-07-31 00:00:01"), ts("2009-07-30 23:59:59")), int32(1)},
		{C("datediff", null, L("2009-07-31")), nil},
		{C("datediff", C("to_date", L("2000-03-01")), L("1900-03-01")), int32(36525)},
		{C("year", C("to_date", L("2016-07-30"))), int32(2016)},
		{C("dayofweek", C("to_date", L("2009-07-26"))), int32(1)},
		{C("hour", C("to_date", L("2009-07-26"))), int32(0)},
		{C("date_trunc", L("month"), C("to_date", L("2015-03-05"))), tsv("2015-03-01 00:00:00")}, // Spark: a TIMESTAMP
		{C("date_format", C("to_date", L("2016-04-08")), L("dd.MM.yyyy")), "08.04.2016"},
	})
}

func TestJSONFunctions(t *testing.T) {
	runFuncCases(t, []funcCase{
		{C("get_json_object", L(`{"a":"b"}`), L("$.a")), "b"},
		{C("get_json_object", L(`{"a":{"b":[1, 2, {"c": "x y"}]}}`), L("$.a.b[2].c")), "x y"},
		{C("get_json_object", L(`{"a":{"b":[1, 2]}}`), L("$.a")), `{"b":[1,2]}`},
		{C("get_json_object", L(`{"a":{"b":[1, 2]}}`), L("$.a.b")), "[1,2]"},
		{C("get_json_object", L(`{"a":1.50}`), L("$.a")), "1.50"},
		{C("get_json_object", L(`{"a":true}`), L("$.a")), "true"},
		{C("get_json_object", L(`{"a":null}`), L("$.a")), nil},
		{C("get_json_object", L(`{"a":1}`), L("$.b")), nil},
		{C("get_json_object", L(`{"a b.c":1}`), L("$['a b.c']")), "1"},
		{C("get_json_object", L(`{"a":"\u00e9\n"}`), L("$.a")), "é\n"},
		{C("get_json_object", L(`{"a":`), L("$.a")), nil},
		{C("get_json_object", L(`[1,2]`), L("$[1]")), "2"},
		{C("get_json_object", L(`{"a":1}`), L("$")), `{"a":1}`},
		{C("get_json_object", null, L("$.a")), nil},
		{C("get_json_object", L(`{"a":1}`), L("a")), "error: must start with $"},
		{C("get_json_object", L(`{"a":[1]}`), L("$.a[*]")), "error: wildcards are not supported"},
	})
}

func TestCallErrors(t *testing.T) {
	_, _, err := evalScalar(t, C("lowr", L("a")))
	if !errors.Is(err, ErrPlan) || !strings.Contains(err.Error(), "unknown function lowr (did you mean lower?)") {
		t.Errorf("unknown function: %v", err)
	}
	_, _, err = evalScalar(t, C("substr", L("a")))
	if err == nil || !strings.Contains(err.Error(), "substr (substring(str, pos[, len])) takes 2 to 3 arguments, got 1") {
		t.Errorf("arity: %v", err)
	}
	_, _, err = evalScalar(t, C("year", L(true)))
	if err == nil || !strings.Contains(err.Error(), "year: argument 1 must be TIMESTAMP, got TRUE of type BOOLEAN") {
		t.Errorf("type: %v", err)
	}
}

// TestFunctionsOverColumns runs functions through a compiled program over
// an Arrow batch with NULLs, in a projection and a filter, and back
// through the plan text.
func TestFunctionsOverColumns(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "brand STRING, price DOUBLE, ts TIMESTAMP")
	df := Source("events", s).
		Filter(C("coalesce", C("lower", Col("brand")), L("none")).Ne(L("samsung"))).
		Select(C("upper", Col("brand")).As("b"), C("round", Col("price"), L(1)).As("p"),
			C("date_trunc", L("hour"), Col("ts")).As("h"), C("concat_ws", L("-"), Col("brand"), L("x")).As("c"))
	back, err := ParsePlan(df.String())
	if err != nil {
		t.Fatal(err)
	}
	if back.String() != df.String() {
		t.Fatalf("plan text does not round-trip:\n%s\n%s", df, back)
	}
	p, err := Compile(back, Append)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := decodeAll(t, mem, s, DecoderOptions{Format: FormatJSON, Columns: p.InputColumns()},
		`{"brand":"Apple","price":10.25,"ts":"2024-01-01T10:30:00Z"}`,
		`{"brand":null,"price":null,"ts":null}`,
		`{"brand":"samsung","price":3.5,"ts":"2024-01-02T23:59:59Z"}`,
	)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	task := p.NewTask(mem)
	defer task.Release()
	if err := task.Consume(rec); err != nil {
		t.Fatal(err)
	}
	var got [][]any
	for _, r := range task.Output() {
		got = append(got, rows(t, r)...)
		r.Release()
	}
	equalRows(t, got, [][]any{
		{"APPLE", 10.3, time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC), "Apple-x"},
		{nil, nil, nil, "x"},
	})
}
