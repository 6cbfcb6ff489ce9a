package dataframe

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"
)

// String functions. Positions and lengths count characters (runes), as
// Spark's count UTF-8 code points.

func init() {
	register(
		&funcDef{name: "lower", group: "string", usage: "lower(str)", doc: "str in lower case", minArgs: 1, maxArgs: 1, bind: strMap(strings.ToLower)},
		&funcDef{name: "upper", group: "string", usage: "upper(str)", doc: "str in upper case", minArgs: 1, maxArgs: 1, bind: strMap(strings.ToUpper)},
		&funcDef{name: "initcap", group: "string", usage: "initcap(str)", doc: "str in lower case with the first letter of each space-separated word in upper case", minArgs: 1, maxArgs: 1, bind: strMap(initcap)},
		&funcDef{name: "length", group: "string", usage: "length(str)", doc: "the number of characters of str (INT)", minArgs: 1, maxArgs: 1, bind: bindLength},
		&funcDef{name: "trim", group: "string", usage: "trim(str[, chars])", doc: "str without leading and trailing spaces (or characters of chars)", minArgs: 1, maxArgs: 2, bind: bindTrim(true, true)},
		&funcDef{name: "ltrim", group: "string", usage: "ltrim(str[, chars])", doc: "str without leading spaces (or characters of chars)", minArgs: 1, maxArgs: 2, bind: bindTrim(true, false)},
		&funcDef{name: "rtrim", group: "string", usage: "rtrim(str[, chars])", doc: "str without trailing spaces (or characters of chars)", minArgs: 1, maxArgs: 2, bind: bindTrim(false, true)},
		&funcDef{name: "substring", group: "string", usage: "substring(str, pos[, len])", doc: "len characters of str from pos: 1-based, a negative pos counts from the end, 0 is 1", minArgs: 2, maxArgs: 3, bind: bindSubstring},
		&funcDef{name: "concat", group: "string", usage: "concat(str, ...)", doc: "the arguments joined; NULL if any is NULL (also the operator ||)", minArgs: 1, maxArgs: -1, bind: bindConcat},
		&funcDef{name: "concat_ws", group: "string", usage: "concat_ws(sep, str, ...)", doc: "the non-NULL arguments joined by sep", minArgs: 1, maxArgs: -1, bind: bindConcatWS},
		&funcDef{name: "replace", group: "string", usage: "replace(str, search[, replacement])", doc: "str with every search replaced by replacement (default empty)", minArgs: 2, maxArgs: 3, bind: bindReplace},
		&funcDef{name: "split_part", group: "string", usage: "split_part(str, delim, part)", doc: "the part-th field of str split by delim (1-based, negative from the end; '' when out of range)", minArgs: 3, maxArgs: 3, bind: bindSplitPart},
		&funcDef{name: "regexp_extract", group: "string", usage: "regexp_extract(str, regexp[, idx])", doc: "group idx (default 1, 0 the whole match) of the first match of regexp, '' without a match", minArgs: 2, maxArgs: 3, bind: bindRegexpExtract},
		&funcDef{name: "regexp_replace", group: "string", usage: "regexp_replace(str, regexp, rep[, pos])", doc: "str with every match of regexp from character pos on replaced by rep ($1 refers to a group)", minArgs: 3, maxArgs: 4, bind: bindRegexpReplace},
		&funcDef{name: "regexp_like", group: "string", usage: "regexp_like(str, regexp)", doc: "whether regexp matches somewhere in str (also the operator ~)", minArgs: 2, maxArgs: 2, bind: bindRegexpLike},
		&funcDef{name: "lpad", group: "string", usage: "lpad(str, len[, pad])", doc: "str left-padded with pad (default space) to len characters, or cut to len", minArgs: 2, maxArgs: 3, bind: bindPad(true)},
		&funcDef{name: "rpad", group: "string", usage: "rpad(str, len[, pad])", doc: "str right-padded with pad (default space) to len characters, or cut to len", minArgs: 2, maxArgs: 3, bind: bindPad(false)},
		&funcDef{name: "startswith", group: "string", usage: "startswith(str, prefix)", doc: "whether str starts with prefix", minArgs: 2, maxArgs: 2, bind: strPred(strings.HasPrefix)},
		&funcDef{name: "endswith", group: "string", usage: "endswith(str, suffix)", doc: "whether str ends with suffix", minArgs: 2, maxArgs: 2, bind: strPred(strings.HasSuffix)},
		&funcDef{name: "contains", group: "string", usage: "contains(str, sub)", doc: "whether str contains sub", minArgs: 2, maxArgs: 2, bind: strPred(strings.Contains)},
	)
	alias("substr", "substring")
	alias("rlike", "regexp_like")
	alias("btrim", "trim")
	alias("char_length", "length")
	alias("character_length", "length")
}

// strMap is a function of one STRING to a STRING.
func strMap(f func(string) string) func([]*bexpr) (Type, kernel, error) {
	return func(args []*bexpr) (Type, kernel, error) {
		if err := argAs(args, 0, String); err != nil {
			return 0, nil, err
		}
		return String, strict(String, func(out *vector, a []*vector, i int32) { out.s[i] = f(a[0].str(i)) }), nil
	}
}

// strPred is a BOOLEAN function of two STRINGs.
func strPred(f func(s, t string) bool) func([]*bexpr) (Type, kernel, error) {
	return func(args []*bexpr) (Type, kernel, error) {
		if err := argsAs(args, 0, String); err != nil {
			return 0, nil, err
		}
		return Bool, strict(Bool, func(out *vector, a []*vector, i int32) { out.b[i] = f(a[0].str(i), a[1].str(i)) }), nil
	}
}

// initcap is Spark's: lower case, then upper case after each space.
func initcap(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	b.Grow(len(s))
	up := true
	for _, r := range s {
		if up {
			b.WriteString(strings.ToUpper(string(r)))
		} else {
			b.WriteRune(r)
		}
		up = r == ' '
	}
	return b.String()
}

func bindLength(args []*bexpr) (Type, kernel, error) {
	if err := argAs(args, 0, String); err != nil {
		return 0, nil, err
	}
	return Int32, strict(Int32, func(out *vector, a []*vector, i int32) {
		out.i32[i] = int32(utf8.RuneCountInString(a[0].str(i)))
	}), nil
}

func bindTrim(left, right bool) func([]*bexpr) (Type, kernel, error) {
	return func(args []*bexpr) (Type, kernel, error) {
		if err := argsAs(args, 0, String); err != nil {
			return 0, nil, err
		}
		return String, strict(String, func(out *vector, a []*vector, i int32) {
			s, cut := a[0].str(i), " "
			if len(a) > 1 {
				cut = a[1].str(i)
			}
			if left {
				s = strings.TrimLeft(s, cut)
			}
			if right {
				s = strings.TrimRight(s, cut)
			}
			out.s[i] = s
		}), nil
	}
}

// substringSQL is Spark's UTF8String.substringSQL: pos is 1-based, 0 is the
// first character, a negative pos counts from the end.
func substringSQL(s string, pos, length int64) string {
	n := int64(utf8.RuneCountInString(s))
	var start int64
	switch {
	case pos > 0:
		start = pos - 1
	case pos < 0:
		start = n + pos
	}
	end := start + length
	if length > math.MaxInt32 { // start + MaxInt32 saturates, as Spark's int arithmetic
		end = math.MaxInt32
	}
	start = max(start, 0)
	end = min(end, n)
	if start >= end {
		return ""
	}
	return runeSlice(s, start, end)
}

// runeSlice returns characters [start, end) of s.
func runeSlice(s string, start, end int64) string {
	if len(s) == utf8.RuneCountInString(s) { // ASCII
		return s[start:end]
	}
	var k int64
	bs, be := len(s), len(s)
	for j := range s {
		if k == start {
			bs = j
		}
		if k == end {
			be = j
			break
		}
		k++
	}
	return s[bs:be]
}

func bindSubstring(args []*bexpr) (Type, kernel, error) {
	if err := argAs(args, 0, String); err != nil {
		return 0, nil, err
	}
	if err := argsAs(args, 1, Int64); err != nil {
		return 0, nil, err
	}
	return String, strict(String, func(out *vector, a []*vector, i int32) {
		length := int64(math.MaxInt32)
		if len(a) > 2 {
			length = a[2].i64[i]
		}
		out.s[i] = substringSQL(a[0].str(i), a[1].i64[i], length)
	}), nil
}

func bindConcat(args []*bexpr) (Type, kernel, error) {
	if err := argsAs(args, 0, String); err != nil {
		return 0, nil, err
	}
	return String, strict(String, func(out *vector, a []*vector, i int32) {
		var b strings.Builder
		for _, v := range a {
			b.WriteString(v.str(i))
		}
		out.s[i] = b.String()
	}), nil
}

func bindConcatWS(args []*bexpr) (Type, kernel, error) {
	if err := argsAs(args, 0, String); err != nil {
		return 0, nil, err
	}
	return String, func(n int, a []*vector, sel []int32) *vector {
		out := newVector(String, n)
		out.valid = a[0].valid // NULL only when the separator is
		live(out.valid, sel, func(i int32) {
			sep := a[0].str(i)
			var b strings.Builder
			first := true
			for _, v := range a[1:] {
				if v.null(i) {
					continue
				}
				if !first {
					b.WriteString(sep)
				}
				first = false
				b.WriteString(v.str(i))
			}
			out.s[i] = b.String()
		})
		return out
	}, nil
}

func bindReplace(args []*bexpr) (Type, kernel, error) {
	if err := argsAs(args, 0, String); err != nil {
		return 0, nil, err
	}
	return String, strict(String, func(out *vector, a []*vector, i int32) {
		s, search, rep := a[0].str(i), a[1].str(i), ""
		if len(a) > 2 {
			rep = a[2].str(i)
		}
		if search == "" {
			out.s[i] = s
			return
		}
		out.s[i] = strings.ReplaceAll(s, search, rep)
	}), nil
}

func bindSplitPart(args []*bexpr) (Type, kernel, error) {
	if err := argsAs(args, 0, String); err != nil {
		return 0, nil, err
	}
	if err := argAs(args, 2, Int64); err != nil {
		return 0, nil, err
	}
	if args[2].kind == kLit && !args[2].lit.null && args[2].lit.i == 0 {
		return 0, nil, fmt.Errorf("the part number must not be 0 (parts count from 1, or from -1 at the end)")
	}
	// A part number of 0 from a column is NULL (Spark fails the query).
	return String, strictNullable(String, func(out *vector, a []*vector, i int32) bool {
		s, delim, part := a[0].str(i), a[1].str(i), a[2].i64[i]
		if part == 0 {
			return false
		}
		if part > 0 && delim != "" { // the common case, without splitting the rest
			for k := int64(1); k < part; k++ {
				j := strings.Index(s, delim)
				if j < 0 {
					out.s[i] = ""
					return true
				}
				s = s[j+len(delim):]
			}
			if j := strings.Index(s, delim); j >= 0 {
				s = s[:j]
			}
			out.s[i] = s
			return true
		}
		parts := []string{s}
		if delim != "" {
			parts = strings.Split(s, delim)
		}
		k := part - 1
		if part < 0 {
			k = int64(len(parts)) + part
		}
		if k >= 0 && k < int64(len(parts)) {
			out.s[i] = parts[k]
		}
		return true
	}), nil
}

// compileRegexp compiles the literal pattern of args[i] with RE2.
func compileRegexp(args []*bexpr, i int) (*regexp.Regexp, bool, error) {
	p, null, err := stringLiteral(args, i, "pattern")
	if err != nil || null {
		return nil, null, err
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, false, fmt.Errorf("pattern %s is not a regular expression Go's RE2 accepts (RE2 has no backreferences or lookaround): %w", quoteString(p), err)
	}
	return re, false, nil
}

func bindRegexpLike(args []*bexpr) (Type, kernel, error) {
	if err := argAs(args, 0, String); err != nil {
		return 0, nil, err
	}
	re, null, err := compileRegexp(args, 1)
	if err != nil || null {
		return Bool, nullKernel(Bool), err
	}
	return Bool, strict(Bool, func(out *vector, a []*vector, i int32) { out.b[i] = re.MatchString(a[0].str(i)) }), nil
}

func bindRegexpExtract(args []*bexpr) (Type, kernel, error) {
	if err := argAs(args, 0, String); err != nil {
		return 0, nil, err
	}
	re, null, err := compileRegexp(args, 1)
	if err != nil || null {
		return String, nullKernel(String), err
	}
	idx := int64(1)
	if len(args) > 2 {
		if err := argAs(args, 2, Int64); err != nil {
			return 0, nil, err
		}
		v, null, err := literal(args, 2, "group index")
		if err != nil || null {
			return String, nullKernel(String), err
		}
		idx = v.i
	}
	if idx < 0 || idx > int64(re.NumSubexp()) {
		return 0, nil, fmt.Errorf("group index %d is out of range: the pattern has %d groups", idx, re.NumSubexp())
	}
	return String, strict(String, func(out *vector, a []*vector, i int32) {
		m := re.FindStringSubmatchIndex(a[0].str(i))
		if m == nil || m[2*idx] < 0 {
			out.s[i] = ""
			return
		}
		out.s[i] = a[0].str(i)[m[2*idx]:m[2*idx+1]]
	}), nil
}

// javaReplacement turns a Java replacement string ($1, \$ for a dollar)
// into a Go template (${1}, $$).
func javaReplacement(rep string) string {
	var b strings.Builder
	for i := 0; i < len(rep); i++ {
		c := rep[i]
		switch {
		case c == '\\' && i+1 < len(rep):
			i++
			if rep[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(rep[i])
			}
		case c == '$' && i+1 < len(rep) && rep[i+1] >= '0' && rep[i+1] <= '9':
			j := i + 1
			for j < len(rep) && rep[j] >= '0' && rep[j] <= '9' {
				j++
			}
			b.WriteString("${" + rep[i+1:j] + "}")
			i = j - 1
		case c == '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func bindRegexpReplace(args []*bexpr) (Type, kernel, error) {
	if err := argAs(args, 0, String); err != nil {
		return 0, nil, err
	}
	re, null, err := compileRegexp(args, 1)
	if err != nil || null {
		return String, nullKernel(String), err
	}
	if err := argAs(args, 2, String); err != nil {
		return 0, nil, err
	}
	if len(args) > 3 {
		if err := argAs(args, 3, Int64); err != nil {
			return 0, nil, err
		}
	}
	return String, strictNullable(String, func(out *vector, a []*vector, i int32) bool {
		s := a[0].str(i)
		prefix := ""
		if len(a) > 3 {
			pos := a[3].i64[i]
			if pos < 1 {
				return false // Spark fails the query
			}
			n := int64(utf8.RuneCountInString(s))
			start := min(pos-1, n)
			prefix, s = runeSlice(s, 0, start), runeSlice(s, start, n)
		}
		out.s[i] = prefix + re.ReplaceAllString(s, javaReplacement(a[2].str(i)))
		return true
	}), nil
}

func bindPad(left bool) func([]*bexpr) (Type, kernel, error) {
	return func(args []*bexpr) (Type, kernel, error) {
		if err := argAs(args, 0, String); err != nil {
			return 0, nil, err
		}
		if err := argAs(args, 1, Int64); err != nil {
			return 0, nil, err
		}
		if len(args) > 2 {
			if err := argAs(args, 2, String); err != nil {
				return 0, nil, err
			}
		}
		return String, strict(String, func(out *vector, a []*vector, i int32) {
			pad := " "
			if len(a) > 2 {
				pad = a[2].str(i)
			}
			out.s[i] = padSQL(a[0].str(i), a[1].i64[i], pad, left)
		}), nil
	}
}

// padSQL is Spark's lpad/rpad: str cut to length when longer (or when pad
// is empty), else padded with repetitions of pad.
func padSQL(s string, length int64, pad string, left bool) string {
	if length <= 0 {
		return ""
	}
	n := int64(utf8.RuneCountInString(s))
	if length <= n || pad == "" {
		return runeSlice(s, 0, min(length, n))
	}
	need := length - n
	pr := []rune(pad)
	fill := make([]rune, 0, need)
	for int64(len(fill)) < need {
		fill = append(fill, pr[int64(len(fill))%int64(len(pr))])
	}
	if left {
		return string(fill) + s
	}
	return s + string(fill)
}

// nullKernel returns NULL on every row (a function of a NULL pattern).
func nullKernel(t Type) kernel {
	return func(n int, _ []*vector, _ []int32) *vector { return allNull(t, n) }
}
