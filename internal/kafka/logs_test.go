package kafka

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// A warning or error repeated within 10 s is logged once, the next line
// after the window carrying the count of those suppressed, over every
// client of a logger; what librdkafka appends that changes between
// repeats does not make a message distinct; info lines always pass.
func TestLogLibrdkafkaRepeats(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	refused := func(ms int, client string, at time.Duration) ckafka.LogEvent {
		return ckafka.LogEvent{Name: client, Tag: "FAIL", Level: 3, Timestamp: t0.Add(at),
			Message: "b:9092/0: Connect to ipv4#127.0.0.1:9092 failed: Connection refused (after " + string(rune('0'+ms)) + "ms in state CONNECT)"}
	}
	events := []ckafka.LogEvent{
		refused(0, "c1", 0),
		refused(1, "c2", time.Second),
		{Name: "c1", Tag: "FAIL", Level: 4, Timestamp: t0.Add(2 * time.Second), Message: "b:9092/0: Disconnected"},
		refused(2, "c1", 3*time.Second),
		{Name: "c1", Tag: "INFO", Level: 6, Timestamp: t0.Add(4 * time.Second), Message: "hello"},
		{Name: "c1", Tag: "INFO", Level: 6, Timestamp: t0.Add(5 * time.Second), Message: "hello"},
		refused(0, "c1", 10*time.Second), // 10 s after the first: logged
		refused(0, "c2", 11*time.Second),
		{Name: "c1", Tag: "DEBUG", Level: 7, Timestamp: t0.Add(12 * time.Second), Message: "below the level"},
	}
	// Two clients, one logger: one table.
	for _, evs := range [][]ckafka.LogEvent{events[:4], events[4:]} {
		logs, done := make(chan ckafka.LogEvent, len(evs)), make(chan struct{})
		for _, ev := range evs {
			logs <- ev
		}
		close(logs)
		logLibrdkafka(logs, log, done)
		<-done
	}
	want := `level=ERROR msg="librdkafka: b:9092/0: Connect to ipv4#127.0.0.1:9092 failed: Connection refused (after 0ms in state CONNECT)" client=c1 tag=FAIL
level=WARN msg="librdkafka: b:9092/0: Disconnected" client=c1 tag=FAIL
level=INFO msg="librdkafka: hello" client=c1 tag=INFO
level=INFO msg="librdkafka: hello" client=c1 tag=INFO
level=ERROR msg="librdkafka: b:9092/0: Connect to ipv4#127.0.0.1:9092 failed: Connection refused (after 0ms in state CONNECT)" client=c1 tag=FAIL repeated=2
`
	if got := buf.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

// The errors a fenced transactional producer logs on its way to the
// fatal one are info lines: the sink reports "another instance took
// over" itself.
func TestLogLibrdkafkaFenced(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	logs, done := make(chan ckafka.LogEvent, 3), make(chan struct{})
	logs <- ckafka.LogEvent{Name: "p", Tag: "ADDPARTS", Level: 3, Message: `TxnCoordinator/0: Failed to add partition "out" [0] to transaction: Broker: There is a newer producer with the same transactionalId which fences the current one`}
	logs <- ckafka.LogEvent{Name: "p", Tag: "FATAL", Level: 0, Message: "Fatal error: Local: This instance has been fenced by a newer instance: Failed to add partitions to transaction"}
	logs <- ckafka.LogEvent{Name: "p", Tag: "FAIL", Level: 3, Message: "b:9092/0: Connect failed"}
	close(logs)
	logLibrdkafka(logs, log, done)
	<-done
	if got := buf.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "Connect failed") {
		t.Fatalf("at warn and above:\n%s\nwant only the connect failure", got)
	}
}
