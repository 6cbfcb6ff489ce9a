package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateTables checks the tables section end to end through
// validate: a good table compiles with the join; a missing file, a
// FAILFAST malformed line and a duplicate key are errors naming the file
// and line.
func TestValidateTables(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "job.yaml")
	job := `source:
  kafka:
    bootstrap.servers: 127.0.0.1:1
    subscribe: clicks
  format: json
  schema: "page STRING, product_id BIGINT"
tables:
  products:
    path: products.csv
    schema: "product_id BIGINT, category STRING"
    mode: FAILFAST
    key: product_id
query: |
  SELECT e.page, p.category FROM events e LEFT JOIN products p ON e.product_id = p.product_id
checkpointLocation: ./checkpoint
`
	if err := os.WriteFile(path, []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(dir, "products.csv")
	if r := cli(t, "validate", path); r.code != 2 || r.stderr != path+":9: tables.products.path: dataframe: static table products: open "+csv+": no such file or directory\n" {
		t.Errorf("missing file: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, tc := range []struct{ content, want string }{
		{"1,shoes\n2,hats\n", ""},
		{"1,shoes\nx,hats\n", path + ":9: tables.products.path: dataframe: static table products: " + csv + ":2: column product_id: not an integer for BIGINT: \"x\" (mode FAILFAST)\n"},
		{"1,shoes\n1,hats\n", path + ":9: tables.products.path: dataframe: static table products: " + csv + ":2: duplicate key product_id=1 (first at line 1); the table's key is product_id\n"},
	} {
		if err := os.WriteFile(csv, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		r := cli(t, "validate", path)
		if tc.want == "" && (r.code != 0 || r.stdout != path+": ok\n") || tc.want != "" && (r.code != 2 || r.stderr != tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q, want %q", tc.content, r.code, r.stdout, r.stderr, tc.want)
		}
	} // a key column not in the table's schema is reported at key:
	if err := os.WriteFile(path, []byte(strings.Replace(job, "key: product_id", "key: product_idd", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	want := path + ":12: tables.products.key: dataframe: invalid option: table products: key column product_idd is not in its schema [product_id BIGINT, category STRING] (did you mean product_id?)\n"
	if r := cli(t, "validate", path); r.code != 2 || r.stderr != want {
		t.Errorf("bad key: exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
}
