package engine

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/microbatch/microbatch/dataframe"
)

// recordingSink is the crash tests' sink: it appends every call it gets to
// a file, one line per event, fsynced before it returns, so that what a
// killed run received survives it:
//
//	open <lastCommitted>
//	add <batch> <the output's bytes as a JSON string>
//	committed <batch>
//	close
//
// The output's bytes are its rows, one JSON array of cell strings a line,
// then its deleted keys, each line prefixed with "-" (outputBytes).
type recordingSink struct {
	path string
	f    *os.File
}

func (s *recordingSink) event(format string, args ...any) error {
	if s.f == nil {
		f, err := os.OpenFile(s.path, os.O_APPEND|os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return err
		}
		s.f = f
		// A SIGKILL can cut an event (a write of more than a page returns
		// short when a fatal signal is pending): end the torn line, which
		// readSinkEvents then skips, so this run's events start a line.
		if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
			last := make([]byte, 1)
			if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
				return err
			}
			if last[0] != '\n' {
				if _, err := f.Write([]byte("\n")); err != nil {
					return err
				}
			}
		}
	}
	if _, err := fmt.Fprintf(s.f, format+"\n", args...); err != nil {
		return err
	}
	return s.f.Sync()
}

func (s *recordingSink) Open(_ context.Context, lastCommitted int64) error {
	return s.event("open %d", lastCommitted)
}

func (s *recordingSink) AddBatch(_ context.Context, out *Output) error {
	return s.add(out)
}

func (s *recordingSink) add(out *Output) error {
	b, err := json.Marshal(string(outputBytes(out)))
	if err != nil {
		return err
	}
	return s.event("add %d %s", out.BatchID, b)
}

func (s *recordingSink) Committed(_ context.Context, id int64) error {
	return s.event("committed %d", id)
}

func (s *recordingSink) Close() error {
	err := s.event("close")
	if s.f != nil {
		err = errors.Join(err, s.f.Close())
		s.f = nil
	}
	return err
}

// outputBytes renders out's rows and deleted keys as lines.
func outputBytes(out *Output) []byte {
	var b []byte
	line := func(prefix string, row []string) {
		j, _ := json.Marshal(row)
		b = append(b, prefix...)
		b = append(b, j...)
		b = append(b, '\n')
	}
	for _, rec := range out.Records {
		for _, row := range recordRows(rec) {
			line("", row)
		}
	}
	if out.Deleted != nil {
		for _, row := range recordRows(out.Deleted) {
			line("-", row)
		}
	}
	return b
}

// txRecordingSink is a TxSink that writes every batch into its bucket, in
// three nested buckets, and records its calls as recordingSink does (add:
// AddBatchTx was called; the commit may still roll it back):
//
//	rows     sequence number -> one output line: appended, never
//	         overwritten, so a batch applied twice shows twice
//	batches  batch id -> the batch's output bytes
//	groups   group key -> the rest of the row (update and complete mode)
type txRecordingSink struct{ recordingSink }

const txSinkName = "crash-test"

func (s *txRecordingSink) Name() string { return txSinkName }

func (s *txRecordingSink) AddBatch(context.Context, *Output) error {
	return errors.New("the engine called AddBatch of a TxSink")
}

func (s *txRecordingSink) AddBatchTx(b *SinkBucket, out *Output) error {
	rows, err := b.CreateBucketIfNotExists([]byte("rows"))
	if err != nil {
		return err
	}
	batches, err := b.CreateBucketIfNotExists([]byte("batches"))
	if err != nil {
		return err
	}
	groups, err := b.CreateBucketIfNotExists([]byte("groups"))
	if err != nil {
		return err
	}
	data := outputBytes(out)
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			continue
		}
		seq, err := rows.NextSequence()
		if err != nil {
			return err
		}
		if err := rows.Put(binary.BigEndian.AppendUint64(nil, seq), []byte(line)); err != nil {
			return err
		}
	}
	if err := batches.Put(binary.BigEndian.AppendUint64(nil, uint64(out.BatchID)), data); err != nil {
		return err
	}
	if out.Mode != dataframe.Append {
		for _, rec := range out.Records {
			for _, row := range recordRows(rec) {
				if err := groups.Put([]byte(row[0]), []byte(strings.Join(row[1:], ","))); err != nil {
					return err
				}
			}
		}
		if out.Deleted != nil {
			for _, row := range recordRows(out.Deleted) {
				if err := groups.Delete([]byte(row[0])); err != nil {
					return err
				}
			}
		}
	}
	return s.add(out)
}

// sinkEvent is one line of a recordingSink's file.
type sinkEvent struct {
	kind string // open, add, committed, close
	id   int64  // open: the last committed batch; add, committed: the batch
	data string // add: the output's bytes
}

func (e sinkEvent) String() string {
	if e.kind == "close" {
		return e.kind
	}
	return fmt.Sprintf("%s %d", e.kind, e.id)
}

func readSinkEvents(t *testing.T, path string) []sinkEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	var out []sinkEvent
	for i, line := range lines {
		kind, rest, _ := strings.Cut(line, " ")
		e := sinkEvent{kind: kind}
		var err error
		switch kind {
		case "close":
		case "open", "committed":
			e.id, err = strconv.ParseInt(rest, 10, 64)
		case "add":
			id, data, _ := strings.Cut(rest, " ")
			if e.id, err = strconv.ParseInt(id, 10, 64); err == nil {
				err = json.Unmarshal([]byte(data), &e.data)
			}
		default:
			err = errors.New("unknown event")
		}
		if err != nil {
			// An event cut by the kill: the last line, or the last
			// before the restart's open. Its call did not return.
			if i == len(lines)-1 || strings.HasPrefix(lines[i+1], "open ") {
				continue
			}
			t.Fatalf("%s: line %q: %v", path, line, err)
		}
		out = append(out, e)
	}
	return out
}

// deliveries checks the sink contract over the events of one or more runs
// and returns the last output delivered for each batch id and how many
// times each batch was delivered:
//   - every run starts with open, which is not below a batch the sink was
//     told committed;
//   - a run's deliveries are the batches after its open's, in order;
//   - committed follows the delivery of that batch in the same run;
//   - no batch is delivered again once committed;
//   - a batch delivered again has byte-identical output;
//   - only the last run ends with close, and nothing follows it.
func deliveries(t *testing.T, events []sinkEvent) (final map[int64]string, times map[int64]int) {
	t.Helper()
	final, times = map[int64]string{}, map[int64]int{}
	committed := map[int64]bool{}
	maxCommitted := int64(-1)
	next := int64(-1) // the batch the run delivers next; -1: no open yet
	last := int64(-1) // the batch the run delivered last
	fail := func(i int, format string, args ...any) {
		t.Helper()
		t.Fatalf("sink event %d (%s): %s\nevents: %v", i, events[i], fmt.Sprintf(format, args...), events)
	}
	for i, e := range events {
		if i > 0 && events[i-1].kind == "close" {
			fail(i, "an event after close")
		}
		switch e.kind {
		case "open":
			if e.id < maxCommitted {
				fail(i, "open says batch %d is the last committed, but the sink was told %d was", e.id, maxCommitted)
			}
			next, last = e.id+1, -1
		case "add":
			switch {
			case next < 0:
				fail(i, "a delivery before open")
			case committed[e.id]:
				fail(i, "batch %d delivered again after its committed", e.id)
			case e.id != next:
				fail(i, "batch %d delivered, want batch %d", e.id, next)
			}
			if prev, ok := final[e.id]; ok && prev != e.data {
				fail(i, "batch %d delivered again with different rows\nfirst:\n%s\nagain:\n%s", e.id, prev, e.data)
			}
			final[e.id] = e.data
			times[e.id]++
			next, last = e.id+1, e.id
		case "committed":
			if e.id != last {
				fail(i, "committed %d, but the batch delivered last is %d", e.id, last)
			}
			committed[e.id] = true
			maxCommitted = max(maxCommitted, e.id)
		case "close":
			if next < 0 {
				fail(i, "close before open")
			}
		}
	}
	if n := len(events); n == 0 || events[n-1].kind != "close" {
		t.Fatalf("the sink's last run did not end with close: %v", events)
	}
	return final, times
}

// runsOpened returns the lastCommitted of every open event, in order.
func runsOpened(events []sinkEvent) []int64 {
	var out []int64
	for _, e := range events {
		if e.kind == "open" {
			out = append(out, e.id)
		}
	}
	return out
}

// outputRows parses output bytes back into rows (deleted keys are
// prefixed with "-" in their first cell).
func outputRows(t *testing.T, data string) [][]string {
	t.Helper()
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSuffix(data, "\n"), "\n") {
		if line == "" {
			continue
		}
		del := strings.HasPrefix(line, "-")
		var row []string
		if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "-")), &row); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		if del {
			row[0] = "-" + row[0]
		}
		rows = append(rows, row)
	}
	return rows
}

// dumpSinkBucket renders the TxSink bucket name of q's checkpoint, nested
// buckets included, one "path key=value" line per key.
func dumpSinkBucket(t *testing.T, q *Query, name string) string {
	t.Helper()
	var b strings.Builder
	var dump func(path string, sb *SinkBucket) error
	dump = func(path string, sb *SinkBucket) error {
		return sb.ForEach(func(k, v []byte) error {
			if v == nil {
				return dump(path+"/"+string(k), sb.Bucket(k))
			}
			fmt.Fprintf(&b, "%s %q=%q\n", path, k, v)
			return nil
		})
	}
	if err := q.ReadSink(name, func(sb *SinkBucket) error {
		if sb == nil {
			return errors.New("no sink bucket")
		}
		return dump("", sb)
	}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
