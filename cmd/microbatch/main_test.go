package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/microbatch/microbatch/internal/broker"
	"github.com/microbatch/microbatch/internal/gen"
	"github.com/microbatch/microbatch/internal/pgtest"
)

// bin is the microbatch binary built once for all tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "microbatch-cli")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "microbatch")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := pgtest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// cli runs the binary to completion.
func cli(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// syncBuffer is a bytes.Buffer a process writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is the binary running in the background, its output collected in
// memory. A t.Cleanup kills and waits for it unless stop already did.
type proc struct {
	t              *testing.T
	args           []string
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	exited         chan struct{} // closed once cmd.Wait has returned
}

func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, args: args, cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // ends when the process exits
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// waitFor waits until the process's stdout (or stderr) matches re and
// returns the submatches. It fails the test if the process exits first or
// nothing matches within a minute (a hang guard, not a timing assertion).
func (p *proc) waitFor(onStderr bool, re *regexp.Regexp) []string {
	p.t.Helper()
	out := &p.stdout
	if onStderr {
		out = &p.stderr
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		select {
		case <-p.exited:
			if m := re.FindStringSubmatch(out.String()); m != nil {
				return m
			}
			p.t.Fatalf("%v exited (%v) before printing %q\nstdout:\n%s\nstderr:\n%s", p.args, p.cmd.ProcessState, re, p.stdout.String(), p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%v printed no %q within a minute\nstdout:\n%s\nstderr:\n%s", p.args, re, p.stdout.String(), p.stderr.String())
		}
	}
}

// stop sends sig and waits for the process to exit; it returns the exit
// code.
func (p *proc) stop(sig os.Signal) int {
	p.t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.t.Fatalf("%v did not stop within 30s of %v\nstderr:\n%s", p.args, sig, p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

var listeningRE = regexp.MustCompile(`^listening on (127\.0\.0\.1:\d+)\n`)

// startBroker starts `microbatch broker` and returns its address once it
// has printed it; stop sends sig and returns the exit code and stderr.
func startBroker(t *testing.T, args ...string) (addr string, stop func(sig os.Signal) (int, string)) {
	t.Helper()
	p := startProc(t, append([]string{"broker", "--listen", "127.0.0.1:0"}, args...)...)
	addr = p.waitFor(false, listeningRE)[1]
	return addr, func(sig os.Signal) (int, string) {
		t.Helper()
		code := p.stop(sig)
		if out := p.stdout.String(); out != "listening on "+addr+"\n" {
			t.Errorf("broker stdout %q, want exactly one line \"listening on %s\"", out, addr)
		}
		return code, p.stderr.String()
	}
}

type rec struct{ key, value string }

// consume reads every record of topic, by partition.
func consume(t *testing.T, addr, topic string, want int) map[int32][]rec {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[int32][]rec{}
	n := 0
	for n < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records", n, want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out[r.Partition] = append(out[r.Partition], rec{string(r.Key), string(r.Value)})
			n++
		})
	}
	// Nothing beyond want: a short poll must return no more records.
	sctx, scancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer scancel()
	if extra := cl.PollFetches(sctx).NumRecords(); extra > 0 {
		t.Fatalf("topic %s has more than %d records (%d extra)", topic, want, extra)
	}
	return out
}

func TestBrokerPrintsAddressAndStopsOnSignal(t *testing.T) {
	t.Parallel()
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		addr, stop := startBroker(t, "--topic", "clicks:3")
		r := cli(t, "produce", "--brokers", addr, "--topic", "clicks", "--generator", "iot", "--count", "10")
		if r.code != 0 {
			t.Fatalf("produce: exit %d, stderr %s", r.code, r.stderr)
		}
		if got := len(consume(t, addr, "clicks", 10)); got > 3 {
			t.Fatalf("records in %d partitions, topic has 3", got)
		}
		code, stderr := stop(sig)
		if code != 0 || stderr != "" {
			t.Fatalf("after %v: exit %d, stderr %q; want 0 and nothing", sig, code, stderr)
		}
	}
}

func TestBrokerDataDirSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr, stop := startBroker(t, "--data-dir", dir, "--topic", "t:2")
	if r := cli(t, "produce", "--brokers", addr, "--topic", "t", "--generator", "ecommerce", "--count", "500", "--seed", "3"); r.code != 0 {
		t.Fatalf("produce: exit %d, stderr %s", r.code, r.stderr)
	}
	before := consume(t, addr, "t", 500)
	if code, stderr := stop(os.Interrupt); code != 0 {
		t.Fatalf("stop: exit %d, %s", code, stderr)
	}
	addr, stop = startBroker(t, "--data-dir", dir, "--topic", "t:2")
	after := consume(t, addr, "t", 500)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatal("records differ after restart")
	}
	stop(syscall.SIGTERM)
}

func TestBrokerUsage(t *testing.T) {
	t.Parallel()
	r := cli(t, "broker", "--topic", "clicks")
	want := "microbatch broker: --topic: topic \"clicks\": want NAME:PARTITIONS, for example clicks:4\nRun 'microbatch broker --help' for usage.\n"
	if r.code != 2 || r.stdout != "" || r.stderr != want {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and %q", r.code, r.stdout, r.stderr, want)
	}
}

func TestProduce(t *testing.T) {
	t.Parallel()
	b, err := broker.Start(context.Background(), broker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	line := regexp.MustCompile(`^produced 1000 records to (a|b) in [0-9.]+m?s \(\d+ records/s\)\n$`)
	for _, topic := range []string{"a", "b"} {
		r := cli(t, "produce", "--brokers", b.Addr(), "--topic", topic, "--generator", "clickstream",
			"--count", "1000", "--seed", "7", "--partitions", "3")
		if r.code != 0 || !line.MatchString(r.stdout) {
			t.Fatalf("produce to %s: exit %d, stdout %q, stderr %q", topic, r.code, r.stdout, r.stderr)
		}
		if got := b.Partitions(topic); got != 3 {
			t.Fatalf("topic %s has %d partitions, want 3", topic, got)
		}
	}
	a, bb := consume(t, b.Addr(), "a", 1000), consume(t, b.Addr(), "b", 1000)
	if fmt.Sprint(a) != fmt.Sprint(bb) {
		t.Fatal("the same seed wrote different records")
	}

	// Exactly the generator's records, each key in one partition, in
	// generation order within each partition.
	partOf := map[string]int32{}
	pos := map[int32]int{}
	g, _ := gen.New("clickstream", 7)
	var want gen.Record
	for i := 0; i < 1000; i++ {
		g.Next(&want)
		k := string(want.Key)
		p, seen := partOf[k]
		if !seen {
			p = -1
			for q, rs := range a {
				if pos[q] < len(rs) && rs[pos[q]] == (rec{k, string(want.Value)}) {
					p = q
					break
				}
			}
			if p < 0 {
				t.Fatalf("record %d (%s) is not next in any partition", i, want.Value)
			}
			partOf[k] = p
		}
		if got := a[p][pos[p]]; got != (rec{k, string(want.Value)}) {
			t.Fatalf("record %d: partition %d has %v next, want key %s value %s", i, p, got, k, want.Value)
		}
		pos[p]++
	}

	// An existing topic keeps its partitions; a note says so.
	r := cli(t, "produce", "--brokers", b.Addr(), "--topic", "a", "--generator", "iot", "--count", "1", "--partitions", "5")
	if r.code != 0 || r.stderr != "note: topic a exists with 3 partitions; --partitions 5 ignored\n" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	// A missing topic without --partitions is a runtime failure.
	r = cli(t, "produce", "--brokers", b.Addr(), "--topic", "missing", "--generator", "iot", "--count", "1")
	if want := "microbatch produce: topic missing does not exist on " + b.Addr() + "; pass --partitions N to create it\n"; r.code != 1 || r.stderr != want {
		t.Fatalf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, want)
	}
}

// --file writes each line as a record value, without a key, in order;
// - reads standard input, and --count stops early.
func TestProduceFile(t *testing.T) {
	t.Parallel()
	b, err := broker.Start(context.Background(), broker.Config{Topics: []broker.Topic{{Name: "f", Partitions: 1}, {Name: "s", Partitions: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	lines := "{\"page\":\"/a\"}\n\nnot json\r\n{\"page\":\"/b\"}" // no newline at the end
	path := filepath.Join(t.TempDir(), "records.txt")
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cli(t, "produce", "--brokers", b.Addr(), "--topic", "f", "--file", path)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "produced 4 records to f in ") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if got, want := fmt.Sprint(consume(t, b.Addr(), "f", 4)), `map[0:[{ {"page":"/a"}} { } { not json} { {"page":"/b"}}]]`; got != want {
		t.Fatalf("records %s, want %s", got, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "produce", "--brokers", b.Addr(), "--topic", "s", "--file", "-", "--count", "2")
	cmd.Stdin = strings.NewReader("one\ntwo\nthree\n")
	if out, err := cmd.Output(); err != nil || !strings.HasPrefix(string(out), "produced 2 records to s in ") {
		t.Fatalf("stdin: %v, output %q", err, out)
	}
	if got, want := fmt.Sprint(consume(t, b.Addr(), "s", 2)), "map[0:[{ one} { two}]]"; got != want {
		t.Fatalf("records %s, want %s", got, want)
	}

	// SIGINT while stdin waits for a line (a terminal) stops it at once.
	wait := exec.CommandContext(ctx, bin, "produce", "--brokers", b.Addr(), "--topic", "s", "--file", "-")
	stdin, err := wait.StdinPipe() // left open: no line ever comes
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var stdout bytes.Buffer
	wait.Stdout = &stdout
	if err := wait.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // past the topic check, waiting for stdin
	wait.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- wait.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.HasPrefix(stdout.String(), "produced 0 records to s in ") {
			t.Fatalf("after SIGINT: %v, stdout %q", err, stdout.String())
		}
	case <-time.After(20 * time.Second):
		wait.Process.Kill()
		t.Fatal("produce --file - did not stop at SIGINT while waiting for stdin")
	}

	r = cli(t, "produce", "--brokers", b.Addr(), "--topic", "f", "--file", filepath.Join(t.TempDir(), "missing.txt"))
	if r.code != 1 || !strings.Contains(r.stderr, "missing.txt: no such file or directory") {
		t.Fatalf("missing file: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestProduceRate(t *testing.T) {
	t.Parallel()
	b, err := broker.Start(context.Background(), broker.Config{Topics: []broker.Topic{{Name: "t", Partitions: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	start := time.Now()
	r := cli(t, "produce", "--brokers", b.Addr(), "--topic", "t", "--generator", "ecommerce", "--count", "50", "--rate", "100")
	if el := time.Since(start); r.code != 0 || el < 490*time.Millisecond {
		t.Fatalf("50 records at 100/s took %v (exit %d, %s), want >= 0.49s", el, r.code, r.stderr)
	}
	consume(t, b.Addr(), "t", 50)
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, "microbatch: unknown command \"frobnicate\" for \"microbatch\"\nRun 'microbatch --help' for usage.\n"},
		{[]string{"valdate", "job.yaml"}, "microbatch: unknown command \"valdate\" for \"microbatch\"\n\nDid you mean this?\n\tvalidate\nRun 'microbatch --help' for usage.\n"},
		{[]string{"produce", "--brokers", "x"}, "microbatch produce: required flag(s) \"topic\" not set\nRun 'microbatch produce --help' for usage.\n"},
		{[]string{"produce", "--topic", "t", "--brokers", ""}, "microbatch produce: required flag(s) \"brokers\" not set\nRun 'microbatch produce --help' for usage.\n"},
		{[]string{"produce", "--brokers", "x", "--topic", "t"}, "microbatch produce: want one of --generator and --file\nRun 'microbatch produce --help' for usage.\n"},
		{[]string{"produce", "--brokers", "x", "--topic", "t", "--generator", "iot", "--file", "-"}, "microbatch produce: want one of --generator and --file\nRun 'microbatch produce --help' for usage.\n"},
		{[]string{"produce", "--brokers", "x", "--topic", "t", "--generator", "weblogs"}, "microbatch produce: --generator: unknown generator \"weblogs\" (want one of clickstream, ecommerce, iot)\nRun 'microbatch produce --help' for usage.\n"},
		{[]string{"produce", "--brokers", "x", "--topic", "t", "--generator", "iot", "--count", "-1"}, "microbatch produce: --count must be >= 0, got -1\nRun 'microbatch produce --help' for usage.\n"},
		{[]string{"produce", "--count", "many"}, "microbatch produce: invalid argument \"many\" for \"--count\" flag: strconv.ParseInt: parsing \"many\": invalid syntax\nRun 'microbatch produce --help' for usage.\n"},
		{[]string{"validate"}, "microbatch validate: want exactly one job file, got 0 arguments\nRun 'microbatch validate --help' for usage.\n"},
		{[]string{"run", "job.yaml", "--log-level", "loud"}, "microbatch run: invalid --log-level \"loud\" (want debug, info, warn or error)\nRun 'microbatch run --help' for usage.\n"},
		{[]string{"state", "job.yaml", "--format", "xml"}, "microbatch state: invalid --format \"xml\" (want table, jsonl or csv)\nRun 'microbatch state --help' for usage.\n"},
	} {
		r := cli(t, tc.args...)
		if r.code != 2 || r.stdout != "" || r.stderr != tc.want {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and:\n%s", tc.args, r.code, r.stdout, r.stderr, tc.want)
		}
	}
}

const goodJob = `name: clicks
source:
  kafka:
    bootstrap.servers: 127.0.0.1:9092
    subscribe: clicks
  format: json
  schema: "timestamp TIMESTAMP, userid STRING, page STRING, action STRING"
query: SELECT page, count(*) AS n FROM events GROUP BY page
checkpointLocation: ./cp
`

const badJob = `source:
  kafka:
    bootstrap.servers: 127.0.0.1:9092
    subscribe: clicks
    startingOffset: earliest
    maxRatePerPartition: fast
  format: xml
trigger:
  processingTime: 1x
  availableNow: true
query: SELECT 1
`

func TestValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte(goodJob), 0o644)
	os.WriteFile(bad, []byte(badJob), 0o644)

	r := cli(t, "validate", good)
	if r.code != 0 || r.stdout != good+": ok\n" || r.stderr != "" {
		t.Fatalf("good: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = cli(t, "validate", bad)
	want := strings.ReplaceAll(`F:1: source.schema: required key is missing
F:1: checkpointLocation: required key is missing
F:5: source.kafka.startingOffset: unknown key, did you mean startingOffsets?
F:6: source.kafka.maxRatePerPartition: expected an integer, got "fast"
F:7: source.format: invalid value "xml" (want json or csv)
F:9: trigger.processingTime: invalid duration "1x" (want e.g. 500ms, 10s, 1m or "10 seconds")
F:10: trigger: processingTime and availableNow exclude each other; set one
`, "F", bad)
	if r.code != 2 || r.stdout != "" || r.stderr != want {
		t.Fatalf("bad: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", r.code, r.stdout, r.stderr, want)
	}
	src := strings.Replace(goodJob, "page STRING", "page STRNG", 1)
	src = strings.Replace(src, "    subscribe: clicks\n", "    subscribe: clicks\n    isolation.levle: read_committed\n    fetch.wait.max.ms: soon\n    linger.ms: 5\n", 1)
	os.WriteFile(bad, []byte(src), 0o644)
	r = cli(t, "validate", bad)
	want = strings.ReplaceAll(`F:6: source.kafka.isolation.levle: rejected by librdkafka: No such configuration property: "isolation.levle"
F:7: source.kafka.fetch.wait.max.ms: rejected by librdkafka: Invalid value for configuration property "fetch.wait.max.ms"
F:10: source.schema: field 3 ("page"): unknown type "STRNG" (want STRING, INT, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP or DATE)
`, "F", bad)
	if r.code != 2 || r.stderr != want {
		t.Fatalf("bad schema: exit %d, stderr %q, want 2 and %q", r.code, r.stderr, want)
	}
	src = strings.Replace(goodJob, "query: SELECT page, count(*) AS n FROM events GROUP BY page", "query: |\n  SELECT page, count(*) AS n\n  FROM events\n  GROUP BY pag", 1)
	os.WriteFile(bad, []byte(src), 0o644)
	r = cli(t, "validate", bad)
	want = bad + ":11:12: query: unknown column pag (did you mean page?); columns: timestamp, userid, page, action, _topic, _partition, _offset, _timestamp, _key, _corrupt_record\n"
	if r.code != 2 || r.stderr != want {
		t.Fatalf("bad query: exit %d, stderr:\n%s\nwant:\n%s", r.code, r.stderr, want)
	}
	r = cli(t, "validate", filepath.Join(dir, "nope.yaml"))
	if want := filepath.Join(dir, "nope.yaml") + ": no such file or directory\n"; r.code != 2 || r.stderr != want {
		t.Fatalf("missing file: exit %d, stderr %q, want 2 and %q", r.code, r.stderr, want)
	}
}

func TestProduceStopsOnSignal(t *testing.T) {
	t.Parallel()
	b, err := broker.Start(context.Background(), broker.Config{Topics: []broker.Topic{{Name: "t", Partitions: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := startProc(t, "produce", "--brokers", b.Addr(), "--topic", "t", "--generator", "iot", "--rate", "200")
	time.Sleep(time.Second)
	if code := p.stop(os.Interrupt); code != 0 {
		t.Fatalf("produce after SIGINT: exit %d, stderr %s", code, p.stderr.String())
	}
	m := regexp.MustCompile(`^produced (\d+) records to t in `).FindStringSubmatch(p.stdout.String())
	if m == nil || m[1] == "0" {
		t.Fatalf("stdout %q", p.stdout.String())
	}
	var n int
	fmt.Sscan(m[1], &n)
	consume(t, b.Addr(), "t", n)
}
