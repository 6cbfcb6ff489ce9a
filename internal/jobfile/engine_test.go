package jobfile_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/jobfile"
)

// A job with errors comes back as far as it was read; Valid tells the keys
// with a problem (or under one, or taken for a misspelling) from the rest.
func TestValidAfterErrors(t *testing.T) {
	j, err := parse(t, `source:
  kafka:
    bootstrap.servers: 127.0.0.1:9092
    subscrbe: clicks
  format: json
  schema: "page STRING"
trigger:
  processingTime: 5 parsecs
query: SELECT page FROM events
checkpointLocation: ./cp
`)
	var es jobfile.Errors
	if !errors.As(err, &es) || len(es) != 2 || j == nil {
		t.Fatalf("job %v, err %v; want a job and 2 errors", j, err)
	}
	for key, want := range map[string]bool{
		"source.schema": true, "source.table": true, "query": true, "source.format": true, "outputMode": true,
		"source.kafka.subscribe": false, "source.kafka": false, "source": false,
		"trigger.processingTime": false, "trigger": false,
	} {
		if got := j.Valid(key); got != want {
			t.Errorf("Valid(%s) = %v, want %v", key, got, want)
		}
	}
	if j.Source.Schema != "page STRING" || j.Query != "SELECT page FROM events" || j.Source.Table != "events" {
		t.Errorf("valid keys not read: %+v", j)
	}
}

// The job file's 0 means none; the engine's 0 means its default, so the
// mapping turns it into engine.Off. Absent keys give the engine defaults.
func TestEngineMapping(t *testing.T) {
	j, err := parse(t, `source:
  kafka:
    bootstrap.servers: 127.0.0.1:9092
    subscribe: clicks
    maxRatePerPartition: 0
    fetchOffset.numRetries: 0
    fetchOffset.retryIntervalMs: 0
    partitionDiscoveryInterval: 0
    failOnDataLoss: false
  format: json
  schema: "page STRING"
sink:
  console: {numRows: 3, truncate: false}
query: SELECT page FROM events
checkpointLocation: ./cp
`)
	if err != nil {
		t.Fatal(err)
	}
	s := j.Source.Kafka.Engine()
	if s.MaxRatePerPartition != engine.Off || s.FetchOffsetNumRetries != engine.Off || s.FetchOffsetRetryInterval != engine.Off ||
		s.PartitionDiscoveryInterval != engine.Off || s.OnDataLoss != engine.SkipDataLoss || s.BootstrapServers != "127.0.0.1:9092" {
		t.Errorf("source %+v", s)
	}
	if tr := j.Trigger.Engine(); tr.ProcessingTime != engine.Off || tr.AvailableNow {
		t.Errorf("trigger %+v", tr)
	}
	if c := j.Sink.Console.Engine(io.Discard); c.NumRows != 3 || c.Truncate != engine.Off {
		t.Errorf("console %+v", c)
	}

	j, err = parse(t, minimal)
	if err != nil {
		t.Fatal(err)
	}
	d := engine.DefaultConfig().Source
	k := j.Source.Kafka
	if k.StartingOffsets != d.StartingOffsets || int(k.FetchOffsetNumRetries) != d.FetchOffsetNumRetries ||
		k.FetchOffsetRetryInterval != d.FetchOffsetRetryInterval || k.PartitionDiscoveryInterval != d.PartitionDiscoveryInterval ||
		!k.FailOnDataLoss || k.PartitionDiscoveryInterval != time.Second {
		t.Errorf("defaults %+v, engine's %+v", k, d)
	}
	if s := k.Engine(); s.FetchOffsetNumRetries != 3 || s.PartitionDiscoveryInterval != time.Second || s.MaxRatePerPartition != engine.Off {
		t.Errorf("defaults mapped to %+v", s)
	}
}

// KeyOf maps an engine.ConfigError's field to the key to report it at.
func TestKeyOf(t *testing.T) {
	for field, want := range map[string]string{
		"Query":                           "query",
		"OutputMode":                      "outputMode",
		"Schema":                          "source.schema",
		"Source":                          "source.kafka",
		"Source.SubscribePattern":         "source.kafka.subscribePattern",
		"Source.MaxRateOverrides":         "source.kafka",
		"Source.FetchOffsetRetryInterval": "source.kafka.fetchOffset.retryIntervalMs",
		"Trigger":                         "trigger",
		"CheckpointLocation":              "checkpointLocation",
	} {
		if got, ok := jobfile.KeyOf(field); !ok || got != want {
			t.Errorf("KeyOf(%s) = %q, %v; want %q", field, got, ok, want)
		}
	}
	if k, ok := jobfile.KeyOf("Executors"); ok {
		t.Errorf("KeyOf(Executors) = %q: no job-file key sets it", k)
	}
}

// watermark.idleTimeout: absent is the default, one minute; 0 is "at once"
// (engine.Off), not the default.
func TestWatermarkIdleTimeout(t *testing.T) {
	for _, c := range []struct {
		line string
		want time.Duration
	}{
		{"", time.Minute},
		{"  idleTimeout: 0\n", engine.Off},
		{"  idleTimeout: 0s\n", engine.Off},
		{"  idleTimeout: 5m\n", 5 * time.Minute},
	} {
		src := minimal + "watermark:\n  eventTime: ts\n  delayThreshold: 10s\n  policy: perPartition\n" + c.line
		j, err := parse(t, src)
		if err != nil {
			t.Fatalf("%q: %v", c.line, err)
		}
		if got := j.Watermark.Engine(); got.IdleTimeout != c.want || got.Policy != engine.PerPartitionWatermark {
			t.Errorf("%q: engine watermark %+v, want idle timeout %v", c.line, got, c.want)
		}
	}
}

// sessionTimeZone: absent is UTC (nil); an IANA name or an offset loads;
// anything else is refused at its line.
func TestSessionTimeZoneKey(t *testing.T) {
	j, err := parse(t, minimal)
	if err != nil || j.SessionTimeZone != nil {
		t.Fatalf("default: %v, %v", j.SessionTimeZone, err)
	}
	for name, want := range map[string]string{"America/New_York": "America/New_York", "+05:30": "+05:30", "UTC": "UTC"} {
		j, err := parse(t, minimal+"sessionTimeZone: "+name+"\n")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := "UTC"
		if j.SessionTimeZone != nil {
			got = j.SessionTimeZone.String()
		}
		if got != want {
			t.Errorf("sessionTimeZone %s loaded as %s", name, got)
		}
	}
	_, err = parse(t, minimal+"sessionTimeZone: Mars/Olympus\n")
	if err == nil || !strings.Contains(err.Error(), `job.yaml:9: sessionTimeZone: time zone "Mars/Olympus": unknown time zone Mars/Olympus`) {
		t.Fatalf("bad zone: %v", err)
	}
}

// flushOnExit needs availableNow, idleTimeout the perPartition policy:
// each is refused at its line otherwise, not silently ignored.
func TestWatermarkOptionsThatWouldBeIgnored(t *testing.T) {
	wm := "watermark:\n  eventTime: ts\n  delayThreshold: 10s\n"
	_, err := parse(t, minimal+wm+"  flushOnExit: true\n")
	if err == nil || !strings.Contains(err.Error(), "job.yaml:12: watermark.flushOnExit: only with trigger.availableNow") {
		t.Errorf("flushOnExit without availableNow: %v", err)
	}
	if _, err := parse(t, minimal+"trigger:\n  availableNow: true\n"+wm+"  flushOnExit: true\n"); err != nil {
		t.Errorf("flushOnExit with availableNow: %v", err)
	}
	_, err = parse(t, minimal+wm+"  idleTimeout: 5s\n")
	if err == nil || !strings.Contains(err.Error(), "job.yaml:12: watermark.idleTimeout: only with policy: perPartition") {
		t.Errorf("idleTimeout with the global policy: %v", err)
	}
}
