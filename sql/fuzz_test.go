package sql_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/microbatch/microbatch/sql"
)

// FuzzCompile checks the invariant of Compile on any text: it never panics,
// and it returns either a plan without error or an *Error whose position is
// inside the query (a line that exists, a column at most one past its end).
// A plan compiles again to the same text.
func FuzzCompile(f *testing.F) {
	for _, tc := range planCases {
		f.Add(tc.query)
	}
	for _, tc := range errorCases {
		f.Add(tc.query)
	}
	f.Add("SELECT `data.page`, count(*) FROM events GROUP BY 1 HAVING count(*) > 1 ORDER BY 2 DESC LIMIT 3")
	s := schema(f, shopDDL)
	f.Fuzz(func(t *testing.T, query string) {
		df, err := sql.Compile(query, "events", s)
		if err != nil {
			var se *sql.Error
			if !errors.As(err, &se) {
				t.Fatalf("%q: error %T %v, want *sql.Error", query, err, err)
			}
			lines := strings.Split(query, "\n")
			if se.Line < 1 || se.Line > len(lines) || se.Column < 1 || se.Column > len([]rune(lines[se.Line-1]))+1 {
				t.Fatalf("%q: position %d:%d outside the query", query, se.Line, se.Column)
			}
			if se.Msg == "" {
				t.Fatalf("%q: empty message", query)
			}
			return
		}
		if df == nil || df.Err() != nil {
			t.Fatalf("%q: plan %v with error %v", query, df, df.Err())
		}
		again, err := sql.Compile(query, "events", s)
		if err != nil || again.String() != df.String() {
			t.Fatalf("%q: second Compile gave %v, %v", query, again, err)
		}
	})
}
