package jobfile_test

import (
	"fmt"

	"github.com/microbatch/microbatch/internal/jobfile"
)

func ExampleParse() {
	src := `source:
  kafka:
    bootstrap.servers: 127.0.0.1:9092
    subscribe: clicks
    startingOffset: earliest
  format: json
  schema: "page STRING"
trigger:
  processingTime: 1x
query: SELECT page, count(*) AS n FROM events GROUP BY page
checkpointLocation: ./cp
`
	_, err := jobfile.Parse("clicks.yaml", []byte(src), jobfile.Options{Dir: "/jobs"})
	fmt.Println(err)
	// Output:
	// clicks.yaml:5: source.kafka.startingOffset: unknown key, did you mean startingOffsets?
	// clicks.yaml:9: trigger.processingTime: invalid duration "1x" (want e.g. 500ms, 10s, 1m or "10 seconds")
}

func ExampleJob_QueryPosition() {
	src := `source:
  kafka: {bootstrap.servers: embedded, subscribe: clicks}
  format: json
  schema: "page STRING"
query: |
  SELECT page, count(*) AS n
  FROM clickz
checkpointLocation: ./cp
`
	job, err := jobfile.Parse("clicks.yaml", []byte(src), jobfile.Options{Dir: "/jobs"})
	if err != nil {
		panic(err)
	}
	// A SQL parser reports line 2, column 6 of the query text.
	fmt.Println(job.QueryErrorf(2, 6, "unknown table %q", "clickz"))
	// Output:
	// clicks.yaml:7:8: query: unknown table "clickz"
}
