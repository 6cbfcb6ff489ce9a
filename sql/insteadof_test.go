package sql_test

import (
	"testing"

	"github.com/microbatch/microbatch/sql"
)

// Spark's and PostgreSQL's aggregates without an exact counterpart point
// at the one to use; a misused alias is named as written.
func TestUnsupportedFunctionHints(t *testing.T) {
	s := schema(t, "n BIGINT")
	for q, want := range map[string]string{
		"SELECT median(n) FROM events":                                      "line 1, column 8: function median is not supported; use percentile_approx(x, 0.5)",
		"SELECT percentile(n, 0.9) FROM events":                             "line 1, column 8: function percentile is not supported; use percentile_approx(x, p[, accuracy])",
		"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY n) FROM events": "line 1, column 8: function percentile_cont is not supported; use percentile_approx(x, p)",
		"SELECT collect_list(n) FROM events":                                "line 1, column 8: function collect_list is not supported; use collect_set(x)",
		"SELECT nvl(n) FROM events":                                         "line 1, column 8: nvl (ifnull(x, y)) takes 2 arguments, got 1",
	} {
		if _, err := sql.Compile(q, "", s); err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", q, err, want)
		}
	}
}
