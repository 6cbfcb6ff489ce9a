package dataframe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// JSON functions.

func init() {
	register(
		&funcDef{name: "get_json_object", group: "json", usage: "get_json_object(json, path)", doc: "the value at the JSONPath path ('$.a.b', '$.a[0]', \"$['a b']\"; no wildcards) of the JSON text json: a string unquoted, an object or array as compact JSON; NULL when absent, null or malformed", minArgs: 2, maxArgs: 2, bind: bindGetJSONObject},
	)
}

// jsonPathToGJSON translates a Spark JSONPath ($, .name, ['name'], [n]) to
// a gjson path with every key escaped.
func jsonPathToGJSON(p string) (string, error) {
	if !strings.HasPrefix(p, "$") {
		return "", fmt.Errorf("JSON path %s must start with $", quoteString(p))
	}
	var parts []string
	i := 1
	for i < len(p) {
		switch {
		case p[i] == '.':
			j := i + 1
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			if j == i+1 || p[i+1:j] == "*" {
				return "", fmt.Errorf("JSON path %s: empty name or wildcard at %d (wildcards are not supported)", quoteString(p), i+1)
			}
			parts = append(parts, escapeGJSON(p[i+1:j]))
			i = j
		case strings.HasPrefix(p[i:], "['"):
			end := strings.Index(p[i+2:], "']")
			if end < 0 {
				return "", fmt.Errorf("JSON path %s: unterminated ['...'] at %d", quoteString(p), i+1)
			}
			parts = append(parts, escapeGJSON(p[i+2:i+2+end]))
			i += end + 4
		case p[i] == '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return "", fmt.Errorf("JSON path %s: unterminated [ at %d", quoteString(p), i+1)
			}
			n, err := strconv.Atoi(p[i+1 : i+end])
			if err != nil || n < 0 {
				return "", fmt.Errorf("JSON path %s: index %q at %d is not a non-negative integer (wildcards are not supported)", quoteString(p), p[i+1:i+end], i+1)
			}
			parts = append(parts, strconv.Itoa(n))
			i += end + 1
		default:
			return "", fmt.Errorf("JSON path %s: unexpected %q at %d", quoteString(p), p[i], i+1)
		}
	}
	return strings.Join(parts, "."), nil
}

func escapeGJSON(k string) string {
	var b strings.Builder
	for _, r := range k {
		if strings.ContainsRune(`.*?|#@\!=<>%`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func bindGetJSONObject(args []*bexpr) (Type, kernel, error) {
	if err := argAs(args, 0, String); err != nil {
		return 0, nil, err
	}
	p, null, err := stringLiteral(args, 1, "JSON path")
	if err != nil || null {
		return String, nullKernel(String), err
	}
	path, err := jsonPathToGJSON(p)
	if err != nil {
		return 0, nil, err
	}
	return String, strictNullable(String, func(out *vector, a []*vector, i int32) bool {
		doc := a[0].str(i)
		if !gjson.Valid(doc) {
			return false
		}
		var r gjson.Result
		if path == "" {
			r = gjson.Parse(doc)
		} else {
			r = gjson.Get(doc, path)
		}
		switch {
		case !r.Exists() || r.Type == gjson.Null:
			return false
		case r.Type == gjson.String:
			out.s[i] = r.String()
		case r.IsObject() || r.IsArray():
			var b bytes.Buffer
			if json.Compact(&b, []byte(r.Raw)) != nil {
				return false
			}
			out.s[i] = b.String()
		default:
			out.s[i] = r.Raw
		}
		return true
	}), nil
}
