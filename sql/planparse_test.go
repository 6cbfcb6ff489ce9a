package sql

import (
	"testing"

	"github.com/microbatch/microbatch/dataframe"
)

// The checkpoints of earlier releases keep a query as its plan text:
// dataframe.ParsePlan must read back whatever Compile builds.
func TestCompiledPlansParseBack(t *testing.T) {
	schema, err := dataframe.ParseSchema("ts TIMESTAMP, `user id` STRING, page STRING, price DOUBLE, qty BIGINT, n INT, ok BOOLEAN")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"SELECT page, count(*) AS views FROM events WHERE page LIKE '/p%' AND qty IN (1, 2, 3) GROUP BY page ORDER BY views DESC, page LIMIT 5",
		"SELECT `user id`, sum(price * qty) / count(DISTINCT page) AS avg_basket, max(ts) FROM events WHERE ts > '2024-01-01' AND NOT ok GROUP BY `user id` HAVING min(n) > -3",
		"SELECT CASE WHEN price > 10 THEN 'big' WHEN price IS NULL THEN NULL ELSE 'small' END AS size, avg(n), count(qty) FROM events GROUP BY 1",
		"SELECT _topic, _partition, _offset, CAST(qty AS STRING) AS q, -n AS m, price % 2, 'it''s' FROM events WHERE page IS NOT NULL OR qty <> 0",
		"SELECT count(*) FROM events",
		"SELECT page, qty + 1 AS k, sum(price) FROM events GROUP BY page, qty + 1",
	} {
		df, err := Compile(q, "events", schema)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		back, err := dataframe.ParsePlan(df.String())
		if err != nil {
			t.Fatalf("%s: ParsePlan(%q): %v", q, df, err)
		}
		if back.String() != df.String() {
			t.Errorf("%s: parsed back as\n%s\nwant\n%s", q, back, df)
		}
	}
}
