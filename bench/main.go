// Command bench measures microbatch against the raw Kafka clients on the
// same topic: confluent-kafka-go (the client the engine uses: its ceiling),
// franz-go (the practical limit of the broker on this machine), the engine
// running a clickstream aggregation, and the engine's decoders against
// Arrow's own readers. See bench/README.md for the commands and figures.
//
//	go run ./bench [-partitions 4] [-messages 1000000] [-runs 3] [-json FILE]
//	go run ./bench -scenario interval -interval 100ms
//	go run ./bench -scenario state -state-keys 10000000
//	go run ./bench -scenario ui -messages 1000000 -runs 5
//	go run ./bench -scenario chart -svg bench/results/throughput.svg bench/results/*.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/microbatch/microbatch/dataframe"
)

// config is the command line.
type config struct {
	scenario       string
	joinRows       int
	mode           string // "", or a child process's: "engine", "raw-confluent", "raw-franz"
	brokers        string
	topic          string
	partitions     int
	messages       int64
	format         string
	query          string               // -query: page | window
	policy         string               // -watermark-policy
	outputMode     dataframe.OutputMode // -output-mode: the engine's
	keys           int
	users          int
	runs           int
	consumers      int
	maxRate        int64
	executors      int
	noSync         bool
	inProcess      bool
	skip           map[string]bool
	rdkProps       map[string]string // extra librdkafka properties of the raw confluent reader
	confluentProps string            // the same as given, k=v,k=v
	prodProps      map[string]string // extra librdkafka properties of -sink kafka's raw producer
	producerProps  string            // the same as given, k=v,k=v
	engProps       string            // -engine-props as given: k=v,k=v for the engine's source
	jsonOut        string
	cpuProfile     string
	decodeRows     int
	seed           int64
	sink           string // -sink: none | kafka | postgres | files
	pgURL          string // -pgurl of -sink postgres
	pgBatch        int    // -pg-batch of -sink postgres
	guarantee      string // -guarantee of -sink kafka
	sinkHeaders    bool   // -sink-headers: -sink kafka's rows carry the batch headers
	noSinkRun      bool   // engine child: -sink's baseline, the same query into a sink that discards
	ui             string // -ui: off | on | scrape (the engine run's web UI and /metrics)

	// interval scenario
	interval time.Duration
	duration time.Duration
	rate     float64

	// state scenario
	stateKeys  int
	stateBatch string

	// chart scenario
	svgOut string
}

func parseFlags(args []string) (*config, []string, error) {
	c := &config{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.scenario, "scenario", "throughput", "throughput | interval | state | join (the click query with and without a LEFT JOIN against a -join-rows static table, in process) | ui (the engine with the web UI and /metrics off, on, and on with /metrics scraped every second, interleaved) | chart | table (Markdown tables of result files)")
	fs.IntVar(&c.joinRows, "join-rows", 1_000_000, "join scenario: rows of the static table")
	fs.StringVar(&c.ui, "ui", "off", "engine runs: off | on (serve the web UI and /metrics, fed every batch) | scrape (on, and fetch /metrics every second)")
	fs.StringVar(&c.mode, "mode", "", "internal: \"engine\", \"raw-confluent\", \"raw-franz\" or \"raw-produce\" runs one measurement and prints JSON (the child process of a run)")
	fs.StringVar(&c.brokers, "brokers", "", "bootstrap servers of a real cluster; empty: an in-process kfake broker")
	fs.StringVar(&c.topic, "topic", "", "topic name (default: a fresh bench-<time> topic)")
	fs.IntVar(&c.partitions, "partitions", 4, "partitions of the topic")
	fs.Int64Var(&c.messages, "messages", 1_000_000, "records to produce")
	fs.StringVar(&c.format, "format", "json", "record format: json | csv")
	outputMode := fs.String("output-mode", "complete", "the engine query's output mode: complete (every group each batch) | update (the changed groups)")
	fs.IntVar(&c.keys, "keys", 0, "distinct pages (group keys); 0 = internal/gen's clickstream pages (~1.1k)")
	fs.StringVar(&c.policy, "watermark-policy", "global", "-query window's watermark policy: global | perPartition")
	fs.IntVar(&c.users, "users", 0, "distinct user ids, each once every -users records; 0 = internal/gen's (100k, Zipf)")
	fs.IntVar(&c.runs, "runs", 3, "interleaved repetitions; medians are reported")
	fs.IntVar(&c.consumers, "consumers", runtime.GOMAXPROCS(0), "raw confluent consumers (one goroutine each, partitions split among them)")
	fs.Int64Var(&c.maxRate, "max-rate", -1, "engine maxRatePerPartition (records per partition per batch with availableNow); -1 = messages/partitions/10 (about 10 batches), 0 = uncapped (one batch)")
	fs.IntVar(&c.executors, "executors", 0, "engine executors (0 = engine default, GOMAXPROCS)")
	fs.BoolVar(&c.noSync, "nosync", false, "skip fsync on checkpoint commits")
	fs.BoolVar(&c.inProcess, "in-process", false, "run the engine and the raw readers in this process, with the broker, instead of in child processes (no separate RSS figure)")
	fs.StringVar(&c.confluentProps, "confluent-props", "", "extra librdkafka properties of the raw confluent reader, k=v,k=v")
	fs.StringVar(&c.producerProps, "producer-props", "", "extra librdkafka properties of -sink kafka's raw producer, k=v,k=v")
	fs.StringVar(&c.engProps, "engine-props", "", "librdkafka properties of the engine's source (KafkaSource.Properties), k=v,k=v")
	skip := fs.String("skip", "", "comma-separated measurements to skip: confluent,franz,engine,decode,produce (-sink kafka's raw producer)")
	fs.StringVar(&c.jsonOut, "json", "", "write the results as JSON to this file")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the engine runs (the engine child's, unless -in-process) to this file")
	fs.IntVar(&c.decodeRows, "decode-rows", 300_000, "rows per decoder measurement")
	fs.Int64Var(&c.seed, "seed", 1, "generator seed")
	fs.StringVar(&c.query, "query", "page", "engine measurement's query (-sink none): page (the view count by page) | window (the view count by page and one-minute tumbling window of event time, a 10 s watermark, append mode) | distinct (approx_count_distinct(userid) of the views by page, each run against page on the same records) | functions (the product views with lower, startswith, split_part and date_trunc, each run against the same query without them, append mode)")
	fs.StringVar(&c.sink, "sink", "none", "engine measurement: none (the view count by page into a sink that discards) | postgres (the Postgres sink's upsert throughput in update mode at -keys distinct keys, default 1M, driven directly; -pgurl) | kafka (SELECT timestamp, userid, page WHERE page LIKE '/products/%', append mode, into a Kafka topic on the same broker, against the same query into a sink that discards) | files (the same query into snappy Parquet files in a temporary directory, against the same)")
	fs.StringVar(&c.pgURL, "pgurl", os.Getenv("PGURL"), "-sink postgres: the server to write to (default $PGURL; empty: start a throwaway one with the tests' harness)")
	fs.IntVar(&c.pgBatch, "pg-batch", 100_000, "-sink postgres: changed rows per batch")
	fs.StringVar(&c.guarantee, "guarantee", "exactly-once", "-sink kafka's delivery guarantee: exactly-once (a transaction per batch) | at-least-once")
	fs.BoolVar(&c.sinkHeaders, "sink-headers", true, "-sink kafka's rows (and the raw producer's) carry the microbatch.job and microbatch.batch headers (sink.kafka.batchHeaders)")
	fs.BoolVar(&c.noSinkRun, "nosink-run", false, "internal: with -mode engine -sink kafka, run the query into a sink that discards")
	fs.DurationVar(&c.interval, "interval", time.Second, "interval scenario: processingTime trigger")
	fs.DurationVar(&c.duration, "duration", 0, "interval scenario: how long to produce and run (default max(15s, 12 intervals))")
	fs.Float64Var(&c.rate, "rate", 100_000, "interval scenario: produced records/s (keep it below capacity)")
	fs.IntVar(&c.stateKeys, "state-keys", 10_000_000, "state scenario: keys in the running count")
	fs.StringVar(&c.stateBatch, "state-changed", "1000,10000,100000,1000000", "state scenario: changed keys per batch to measure")
	fs.StringVar(&c.svgOut, "svg", "bench/results/throughput.svg", "chart scenario: output SVG")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	c.skip = map[string]bool{}
	for _, s := range strings.Split(*skip, ",") {
		switch s = strings.TrimSpace(s); s {
		case "":
		case "confluent", "franz", "engine", "decode", "produce":
			c.skip[s] = true
		default:
			return nil, nil, fmt.Errorf("-skip %q: want confluent, franz, engine, decode or produce", s)
		}
	}
	var err error
	switch {
	case c.format != "json" && c.format != "csv":
		return nil, nil, fmt.Errorf("-format %q: want json or csv", c.format)
	case c.maxRate < -1:
		return nil, nil, fmt.Errorf("-max-rate %d: want -1 (about 10 batches), 0 (uncapped) or a cap", c.maxRate)
	case c.keys < 0:
		return nil, nil, fmt.Errorf("-keys %d: want 0 (the generator's pages) or a count", c.keys)
	case c.query != "page" && c.query != "window" && c.query != "distinct" && c.query != "functions":
		return nil, nil, fmt.Errorf("-query %q: want page, window, distinct or functions", c.query)
	case c.policy != "global" && c.policy != "perPartition":
		return nil, nil, fmt.Errorf("-watermark-policy %q: want global or perPartition", c.policy)
	case c.users < 0:
		return nil, nil, fmt.Errorf("-users %d: want 0 (the generator's users) or a count", c.users)
	case c.sink != "none" && c.sink != "kafka" && c.sink != "postgres" && c.sink != "files":
		return nil, nil, fmt.Errorf("-sink %q: want none, kafka, postgres or files", c.sink)
	case c.pgBatch < 1:
		return nil, nil, fmt.Errorf("-pg-batch %d: want at least 1", c.pgBatch)
	case c.guarantee != "exactly-once" && c.guarantee != "at-least-once":
		return nil, nil, fmt.Errorf("-guarantee %q: want exactly-once or at-least-once", c.guarantee)
	case c.ui != "off" && c.ui != "on" && c.ui != "scrape":
		return nil, nil, fmt.Errorf("-ui %q: want off, on or scrape", c.ui)
	case c.executors < 0:
		return nil, nil, fmt.Errorf("-executors %d: want 0 (GOMAXPROCS) or a count", c.executors)
	}
	if c.prodProps, err = parseProps(c.producerProps); err != nil {
		return nil, nil, fmt.Errorf("-producer-props: %w", err)
	}
	if c.rdkProps, err = parseProps(c.confluentProps); err != nil {
		return nil, nil, fmt.Errorf("-confluent-props: %w", err)
	}
	if _, err = parseProps(c.engProps); err != nil {
		return nil, nil, fmt.Errorf("-engine-props: %w", err)
	}
	if c.outputMode, err = dataframe.ParseOutputMode(*outputMode); err != nil || c.outputMode == dataframe.Append {
		return nil, nil, fmt.Errorf("-output-mode %q: want complete or update", *outputMode)
	}
	if c.partitions < 1 || c.messages < 1 || c.runs < 1 {
		return nil, nil, fmt.Errorf("partitions, messages and runs must be >= 1")
	}
	return c, fs.Args(), nil
}

// parseProps parses k=v,k=v.
func parseProps(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not k=v", kv)
		}
		m[k] = v
	}
	return m, nil
}

// batchCap is the engine's maxRatePerPartition for availableNow runs:
// -max-rate, or by default a tenth of each partition (about 10 batches).
func (c *config) batchCap() int64 {
	if c.maxRate >= 0 {
		return c.maxRate
	}
	return max(c.messages/int64(c.partitions)/10, 1)
}

func main() {
	cfg, args, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the flag package printed the usage
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, args); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg *config, args []string) error {
	switch cfg.mode {
	case "engine":
		return engineChild(ctx, cfg)
	case "raw-confluent", "raw-franz":
		return rawChild(ctx, cfg)
	case "raw-produce":
		return rawProduceChild(ctx, cfg)
	}
	if cfg.sink == "postgres" {
		return pgSinkBench(ctx, cfg)
	}
	switch cfg.scenario {
	case "throughput":
		return throughput(ctx, cfg)
	case "interval":
		return intervalScenario(ctx, cfg)
	case "join":
		return joinScenario(ctx, cfg)
	case "state":
		return stateScenario(cfg)
	case "ui":
		return uiScenario(ctx, cfg)
	case "chart":
		return chartScenario(cfg, args)
	case "table":
		return tableScenario(os.Stdout, args)
	}
	return fmt.Errorf("unknown -scenario %q", cfg.scenario)
}

// startProfile starts a CPU profile to path (no-op for ""); the returned
// func stops it.
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
