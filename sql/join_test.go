package sql_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	. "github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/sql"
)

func productsTable(t *testing.T) map[string]*StaticTable {
	t.Helper()
	path := filepath.Join(t.TempDir(), "products.csv")
	content := "product_id,category,margin\n1,shoes,0.5\n2,hats,0.25\n3,bags,0.1\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ParseSchema("product_id BIGINT, category STRING, margin DOUBLE")
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := LoadTable(memory.NewGoAllocator(), "products", TableOptions{Path: path, Schema: s, Header: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tbl.Release)
	return map[string]*StaticTable{"products": tbl}
}

var joinRecords = []string{
	`{"user":"u1","product_id":1,"price":10}`,
	`{"user":"u2","product_id":2,"price":20}`,
	`{"user":"u3","product_id":9,"price":30}`,
	`{"user":"u4","product_id":1,"price":40}`,
}

func TestSQLJoins(t *testing.T) {
	tables := productsTable(t)
	s := schema(t, "user STRING, product_id BIGINT, price DOUBLE")
	for _, tc := range []struct {
		q    string
		mode OutputMode
		want []string
	}{
		{"SELECT e.user, p.category, e.price * p.margin AS profit FROM events e JOIN products p ON e.product_id = p.product_id", Append,
			[]string{"user|category|profit", "u1|shoes|5", "u2|hats|5", "u4|shoes|20"}},
		{"SELECT user, category FROM events e LEFT OUTER JOIN products p ON p.product_id = e.product_id", Append,
			[]string{"user|category", "u1|shoes", "u2|hats", "u3|NULL", "u4|shoes"}},
		{"SELECT user, category FROM events e LEFT JOIN products p ON e.product_id = p.product_id AND p.margin > 0.3", Append,
			[]string{"user|category", "u1|shoes", "u2|NULL", "u3|NULL", "u4|shoes"}},
		{"SELECT category, count(*) AS n, sum(price) AS revenue FROM events JOIN products ON events.product_id = products.product_id GROUP BY category", Complete,
			[]string{"category|n|revenue", "hats|1|20", "shoes|2|50"}},
		{"SELECT category, n FROM (SELECT e.user, p.category, 1 AS n FROM events e JOIN products p ON e.product_id = p.product_id WHERE e.price > 15) AS t", Append,
			[]string{"category|n", "hats|1", "shoes|1"}},
		{"SELECT t.category, count(*) AS n FROM (SELECT user, product_id FROM events WHERE price < 35) t JOIN products p ON t.product_id = p.product_id GROUP BY t.category", Update,
			[]string{"category|n", "hats|1", "shoes|1"}},
		{"SELECT p.* FROM products p JOIN events e ON e.product_id = p.product_id WHERE e.user = 'u2'", Append,
			[]string{"product_id|category|margin", "2|hats|0.25"}},
	} {
		df, err := sql.CompileTables(tc.q, "events", s, tables)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		if got := run(t, df, s, tc.mode, joinRecords); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tc.q, got, tc.want)
		}
	}
}

func TestSQLJoinRefusals(t *testing.T) {
	tables := productsTable(t)
	s := schema(t, "user STRING, product_id BIGINT, price DOUBLE")
	for _, tc := range []struct{ q, want string }{
		{"SELECT user FROM events e RIGHT JOIN products p ON e.product_id = p.product_id", "line 1, column 33: RIGHT JOIN is not supported: it would put the stream on the nullable side"},
		{"SELECT user FROM events e FULL JOIN products p ON e.product_id = p.product_id", "line 1, column 32: FULL JOIN is not supported"},
		{"SELECT user FROM products p LEFT JOIN events e ON e.product_id = p.product_id", "LEFT JOIN with the stream on the right is not supported"},
		{"SELECT user FROM events e JOIN events f ON e.user = f.user", "stream-stream joins are not supported"},
		{"SELECT user FROM events e JOIN products p ON e.user = p.product_id", "line 1, column 46: join key types differ: user is STRING, p.product_id is BIGINT"},
		{"SELECT product_id FROM events e JOIN products p ON e.product_id = p.product_id", "line 1, column 8: column reference product_id is ambiguous"},
		{"SELECT user FROM events e JOIN products p ON e.price > p.margin", "a join needs an equality of a stream column and a column of p in ON"},
		{"SELECT user FROM events e JOIN suppliers s ON e.product_id = s.id", "unknown table suppliers: a join reads one of the job's static tables; the static tables are products"},
		{"SELECT user FROM events e JOIN prodcts p ON e.product_id = p.product_id", "unknown table prodcts (did you mean products?); the static tables are products"},
		{"SELECT c, count(*) FROM (SELECT category AS c, count(*) AS n FROM events e JOIN products p ON e.product_id = p.product_id GROUP BY category) t GROUP BY c", "multiple streaming aggregations are not supported"},
	} {
		_, err := sql.CompileTables(tc.q, "events", s, tables)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %q", tc.q, err, tc.want)
		}
	}
}
