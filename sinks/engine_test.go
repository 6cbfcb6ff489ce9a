package sinks_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/sinks"
	"github.com/microbatch/microbatch/sql"
)

// An update query with HAVING, run by the engine into the Kafka sink: a
// group that stops satisfying HAVING becomes a tombstone of its key.
func TestKafkaSinkInEngineUpdateHaving(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"clicks": 1, "pv": 1})
	schema, err := dataframe.ParseSchema("page STRING")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sql.Compile("SELECT page, count(*) AS views FROM events GROUP BY page HAVING count(*) < 3", "events", schema)
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(t.TempDir(), "ckpt")
	run := func(pages ...string) { runPages(t, b, schema, plan, dataframe.Update, ckpt, pages...) }
	run("a", "a", "b")
	run("a")
	got := byKey(readTopic(t, b.Addr, "pv", 3))
	want := []string{
		`{"page":"a"}|{"page":"a","views":2}|microbatch.job=pv,microbatch.batch=0`,
		`{"page":"a"}|<nil>|microbatch.job=pv,microbatch.batch=1`,
		`{"page":"b"}|{"page":"b","views":1}|microbatch.job=pv,microbatch.batch=0`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pv =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// In complete mode the Kafka sink keys each row by the group-by columns
// too (the engine hands it Output.KeySchema): every batch writes the whole
// table, so a compacted topic keeps each page's latest count.
func TestKafkaSinkInEngineCompleteKeys(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"clicks": 1, "pv": 1})
	schema, err := dataframe.ParseSchema("page STRING")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sql.Compile("SELECT count(*) AS views, page AS p FROM events GROUP BY page", "events", schema)
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(t.TempDir(), "ckpt")
	run := func(pages ...string) { runPages(t, b, schema, plan, dataframe.Complete, ckpt, pages...) }
	run("a", "a", "b")
	run("a")
	got := byKey(readTopic(t, b.Addr, "pv", 4))
	want := []string{
		`{"p":"a"}|{"views":2,"p":"a"}|microbatch.job=pv,microbatch.batch=0`,
		`{"p":"a"}|{"views":3,"p":"a"}|microbatch.job=pv,microbatch.batch=1`,
		`{"p":"b"}|{"views":1,"p":"b"}|microbatch.job=pv,microbatch.batch=0`,
		`{"p":"b"}|{"views":1,"p":"b"}|microbatch.job=pv,microbatch.batch=1`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pv =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// runPages produces one {"page": p} record per page to "clicks" and runs
// plan over them (availableNow, mode) into the Kafka sink's topic "pv",
// resuming the checkpoint ckpt.
func runPages(t *testing.T, b *kafkatest.Broker, schema *dataframe.Schema, plan *dataframe.DataFrame, mode dataframe.OutputMode, ckpt string, pages ...string) {
	t.Helper()
	var recs []kafkatest.Record
	for _, p := range pages {
		recs = append(recs, kafkatest.Record{Value: []byte(`{"page":"` + p + `"}`)})
	}
	b.Produce(t, "clicks", recs)
	sink, err := sinks.NewKafka(sinks.KafkaOptions{Props: b.Props(), Topic: "pv", Job: "pv"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := engine.New(engine.Config{
		Name:   "pv",
		Source: engine.KafkaSource{BootstrapServers: b.Addr, Subscribe: []string{"clicks"}, StartingOffsets: "earliest"},
		Format: dataframe.FormatJSON, Schema: schema, Query: plan, OutputMode: mode,
		Trigger: engine.Trigger{AvailableNow: true}, Sink: sink, CheckpointLocation: ckpt,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := q.Run(ctx); err != nil {
		t.Fatal(err)
	}
}
