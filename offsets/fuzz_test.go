package offsets

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzParseStartingOffsets: ParseStartingOffsets never panics, and a spec
// that parses prints (String) to a spec that parses to the same value.
func FuzzParseStartingOffsets(f *testing.F) {
	for _, s := range []string{
		"earliest", "LATEST", "", "{}", `{"topicA":{"0":23,"1":-2},"topicB":{"0":-1}}`,
		`{"t":{"0":-3}}`, `{"t":{"+1":1,"01":2}}`, `{"a\"b":{"2147483647":9223372036854775807}}`,
		`{"t":{"0":1.5}}`, `{"t":[]}`, `{"t":{"0":1}} x`, `{"\u00e9":{"7":0}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		so, err := ParseStartingOffsets(s)
		if err != nil {
			if !errors.Is(err, ErrStartingOffsets) {
				t.Fatalf("error %v does not match ErrStartingOffsets", err)
			}
			return
		}
		printed := so.String()
		again, err := ParseStartingOffsets(printed)
		if err != nil {
			t.Fatalf("%q parsed, but its String %q does not: %v", s, printed, err)
		}
		if !reflect.DeepEqual(so, again) {
			t.Fatalf("%q -> %+v -> %q -> %+v", s, so, printed, again)
		}
	})
}
