package sql_test

import (
	"errors"
	"fmt"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/sql"
)

func ExampleCompile() {
	schema, _ := dataframe.ParseSchema("timestamp TIMESTAMP, userid STRING, page STRING, action STRING")
	df, err := sql.Compile(`
		SELECT page, count(*) AS views
		FROM events
		WHERE action = 'view'
		GROUP BY page
		ORDER BY views DESC`, "events", schema)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(df)
	fmt.Println(df.Columns())
	// Output:
	// Source events [timestamp TIMESTAMP, userid STRING, page STRING, action STRING]
	// Filter (action = 'view')
	// Aggregate [page] [count(*) AS views]
	// OrderBy views DESC NULLS LAST
	// [page views]
}

func ExampleCompile_nestedFields() {
	schema, _ := dataframe.ParseSchema("data.page STRING, data.user STRING")
	df, err := sql.Compile("SELECT `data.page` AS page, count(DISTINCT data.user) AS users FROM events GROUP BY 1", "", schema)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(df)
	// Output:
	// Source events [data.page STRING, data.user STRING]
	// Aggregate [data.page AS page] [count(DISTINCT data.user) AS users]
}

func ExampleError() {
	schema, _ := dataframe.ParseSchema("device_id STRING, temperature DOUBLE, pressure DOUBLE")
	_, err := sql.Compile("SELECT device_id,\n       avg(temprature)\nFROM events GROUP BY device_id", "events", schema)
	var se *sql.Error
	if errors.As(err, &se) {
		fmt.Println(se.Line, se.Column)
	}
	fmt.Println(err)
	// Output:
	// 2 12
	// line 2, column 12: unknown column temprature (did you mean temperature?); columns: device_id, temperature, pressure, _topic, _partition, _offset, _timestamp, _key, _corrupt_record
}
