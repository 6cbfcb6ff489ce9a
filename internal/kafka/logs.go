package kafka

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// repeatWindow is how long a librdkafka warning or error is not logged
// again after it was: its repeats are counted, and the next line logged
// for it carries the count.
const repeatWindow = 10 * time.Second

// logLibrdkafka writes librdkafka's log events to log until the client's
// Close closes logs, then closes done. Syslog levels map to slog's: 0-3
// (emergency to error) Error, 4 Warn, 5-6 Info, 7 Debug. A warning or an
// error is logged at most once per repeatWindow per distinct message over
// every client logging to the same logger (repeats; see repeatTable).
func logLibrdkafka(logs chan ckafka.LogEvent, log *slog.Logger, done chan struct{}) {
	defer close(done)
	for ev := range logs {
		level := slog.LevelDebug
		switch {
		case ev.Level <= 3:
			level = slog.LevelError
		case ev.Level == 4:
			level = slog.LevelWarn
		case ev.Level <= 6:
			level = slog.LevelInfo
		}
		if level > slog.LevelInfo && fencedLine(ev.Message) {
			// The sink stops with "another instance took over": its
			// producer's three errors on the way say nothing more.
			level = slog.LevelInfo
		}
		if !log.Enabled(context.Background(), level) {
			continue
		}
		attrs := []any{"client", ev.Name, "tag", ev.Tag}
		if level >= slog.LevelWarn {
			at := ev.Timestamp
			if at.IsZero() {
				at = time.Now()
			}
			n, ok := repeats.admit(log, ev.Level, ev.Message, at)
			if !ok {
				continue
			}
			if n > 0 {
				attrs = append(attrs, "repeated", n)
			}
		}
		log.Log(context.Background(), level, "librdkafka: "+ev.Message, attrs...)
	}
}

// fencedLine reports whether a librdkafka line is about its transactional
// producer being fenced by a newer one (ADDPARTS, TXNERR, FATAL...).
func fencedLine(msg string) bool {
	return strings.Contains(msg, "fences the current one") || strings.Contains(msg, "has been fenced by a newer instance")
}

// repeats is the process's one repeatTable: the clients of a query (the
// executors' consumers, the driver's admin client, the sink's producers)
// each have a log goroutine, and the same broker failure is reported by
// every one of them.
var repeats = &repeatTable{seen: map[repeatKey]*repeat{}}

// repeatTable counts the warnings and errors of librdkafka clients that
// were logged recently, per logger and distinct message.
type repeatTable struct {
	mu   sync.Mutex // guards seen
	seen map[repeatKey]*repeat
}

type repeatKey struct {
	log   *slog.Logger
	level int
	msg   string // the message without what changes between repeats (normalize)
}

type repeat struct {
	logged     time.Time // when the message was last logged
	suppressed int       // repeats since, not logged
}

// admit reports whether a message logged at at is to be logged, and how
// many repeats of it were suppressed since it last was.
func (t *repeatTable) admit(log *slog.Logger, level int, msg string, at time.Time) (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := repeatKey{log, level, normalize(msg)}
	r, ok := t.seen[k]
	if ok && at.Sub(r.logged) < repeatWindow {
		r.suppressed++
		return 0, false
	}
	if !ok {
		if len(t.seen) >= 1024 {
			t.prune(at)
		}
		r = &repeat{}
		t.seen[k] = r
	}
	n := r.suppressed
	r.logged, r.suppressed = at, 0
	return n, true
}

// prune forgets the messages not logged within the window (their
// suppressed repeats are not reported).
func (t *repeatTable) prune(now time.Time) {
	for k, r := range t.seen {
		if now.Sub(r.logged) >= repeatWindow {
			delete(t.seen, k)
		}
	}
}

// varying matches what librdkafka appends to a connection error and
// changes from one repeat to the next: "(after 1ms in state CONNECT)",
// "(after 0ms in state APIVERSION_QUERY, 4 identical error(s) suppressed)".
var varying = regexp.MustCompile(`\s*\(after \d+ms in state [A-Z_]+(, \d+ identical error\(s\) suppressed)?\)`)

func normalize(msg string) string { return varying.ReplaceAllString(msg, "") }
