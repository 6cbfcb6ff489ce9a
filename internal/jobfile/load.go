package jobfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gopkg.in/yaml.v3"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
)

// options configure parse.
type options struct {
	// Env looks up environment variables for ${VAR} substitution.
	// Default os.LookupEnv.
	Env func(name string) (string, bool)
	// Dir is the directory relative paths are resolved against. Default
	// the directory of the file name given to parse.
	Dir string
}

// Load reads, substitutes and validates the job file at path. Errors name
// path as given. On any problem it returns an Errors listing every problem
// found and, when the file is a YAML mapping, the Job as far as it could
// be read: Job.Valid says which keys are right, so a caller can check
// those further in the same run (validate does). Other callers treat the
// Job as unusable.
func Load(path string) (*Job, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: readError(err)}}
	}
	return parse(path, data, options{})
}

func readError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// parse validates the job file contents data; file names it in errors and
// locates relative paths (see options.Dir). It returns what Load returns.
func parse(file string, data []byte, opts options) (*Job, error) {
	if opts.Env == nil {
		opts.Env = os.LookupEnv
	}
	dir := opts.Dir
	if dir == "" {
		dir = filepath.Dir(file)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, Errors{{File: file, Msg: fmt.Sprintf("resolve directory %s: %v", dir, err)}}
	}
	l := &loader{file: file, lines: bytes.Split(data, []byte("\n")), env: opts.Env, pos: map[string]Position{}, unknownIn: map[string]int{}, keyLine: map[string]int{}, suggested: map[string]bool{}}
	job := l.load(data, absDir)
	if job != nil {
		job.File, job.Dir, job.Positions = file, absDir, l.pos
	}
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Line < l.errs[j].Line })
		if job != nil {
			job.invalid = map[string]bool{}
			for _, e := range l.errs {
				job.invalid[e.Key] = true
			}
			for k := range l.suggested {
				job.invalid[k] = true
			}
		}
		return job, l.errs
	}
	return job, nil
}

type loader struct {
	file  string
	lines [][]byte
	env   func(string) (string, bool)
	errs  Errors
	pos   map[string]Position
	// keyLine is the line of each mapping's key, by path.
	keyLine map[string]int
	// suggested holds the key paths a did-you-mean proposed.
	suggested map[string]bool
	// unknownIn counts the unknown keys reported per mapping path.
	unknownIn map[string]int
	// dir is the directory relative paths are resolved against.
	dir string
}

func (l *loader) errorf(line int, key, format string, args ...any) {
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (l *loader) yamlError(err error) {
	msg := err.Error()
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		// yaml.v3 reports parser errors ("did not find expected ...")
		// with a 0-based line (the line where the unclosed construct
		// starts), scanner errors with a 1-based one.
		if strings.HasPrefix(m[2], "did not find expected") {
			n++
		}
		l.errorf(n, "", "invalid YAML: %s", m[2])
		return
	}
	l.errorf(1, "", "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

func (l *loader) load(data []byte, dir string) *Job {
	l.dir = dir
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			l.errorf(1, "", "job file is empty")
		} else {
			l.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.errorf(extra.Line, "", "a job file holds one YAML document; remove the second one (after ---)")
	} else if !errors.Is(err, io.EOF) {
		l.yamlError(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	root = deref(root)
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		l.errorf(max(root.Line, 1), "", "job file is empty")
		return nil
	}
	if root.Kind != yaml.MappingNode {
		l.errorf(root.Line, "", "expected a mapping of keys (name, source, query, ...), got %s", describe(root))
		return nil
	}

	job := &Job{}
	top := l.mapping(root, "")
	if n := top["name"]; n != nil {
		job.Name, _ = l.nonEmpty(n, "name")
	} else {
		base := filepath.Base(l.file)
		job.Name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	l.require(top, "", "source")
	if n := top["source"]; n != nil {
		job.Source = l.source(n, dir)
	}
	if n := top["tables"]; n != nil {
		job.Tables = l.tables(n, dir)
	}
	job.Trigger = l.trigger(top["trigger"])
	if l.require(top, "", "query") {
		job.Query, _ = l.nonEmpty(top["query"], "query")
		job.queryBlock = l.queryLayout(top["query"])
	}
	if n := top["outputMode"]; n != nil {
		job.OutputMode, _ = l.enum(n, "outputMode", "complete", "update", "append")
	}
	if n := top["sessionTimeZone"]; n != nil {
		if v, ok := l.nonEmpty(n, "sessionTimeZone"); ok {
			if loc, err := dataframe.LoadTimeZone(v); err != nil {
				l.errorf(deref(n).Line, "sessionTimeZone", "%v", strings.TrimPrefix(err.Error(), dataframe.ErrOptions.Error()+": "))
			} else {
				job.SessionTimeZone = loc
			}
		}
	}
	if n := top["watermark"]; n != nil {
		job.Watermark = l.watermark(n)
	}
	if n := top["backpressure"]; n != nil {
		job.Backpressure = l.backpressure(n)
	}
	if w := job.Watermark; w != nil {
		if p, set := l.pos["watermark.flushOnExit"]; set && w.FlushOnExit && !job.Trigger.AvailableNow {
			l.errorf(p.Line, "watermark.flushOnExit", "only with trigger.availableNow: a processingTime job never ends on its own, and a stopped one keeps its open windows in the checkpoint for the next run")
		}
		if p, set := l.pos["watermark.idleTimeout"]; set && w.Policy != "perPartition" {
			l.errorf(p.Line, "watermark.idleTimeout", "only with policy: perPartition (the global watermark follows the greatest event time over all partitions, idle or not)")
		}
	}
	job.Sink = l.sink(top["sink"])
	if l.require(top, "", "checkpointLocation") {
		if p, ok := l.nonEmpty(top["checkpointLocation"], "checkpointLocation"); ok {
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			job.CheckpointLocation = filepath.Clean(p)
		}
	}
	return job
}

func (l *loader) source(n *yaml.Node, dir string) Source {
	s := Source{Mode: engine.DefaultConfig().Mode.String(), Table: "events"}
	m := l.mapping(n, "source")
	if m == nil {
		return s
	}
	if l.require(m, "source", "kafka") {
		s.Kafka = l.kafka(m["kafka"])
	}
	if l.require(m, "source", "format") {
		s.Format, _ = l.enum(m["format"], "source.format", "json", "csv")
	}
	if l.require(m, "source", "schema") {
		s.Schema, _ = l.nonEmpty(m["schema"], "source.schema")
	}
	if v := m["mode"]; v != nil {
		s.Mode, _ = l.enum(v, "source.mode", "PERMISSIVE", "DROPMALFORMED", "FAILFAST")
	}
	if v := m["header"]; v != nil {
		s.Header, _ = l.boolean(v, "source.header")
		if s.Header && s.Format == "json" {
			l.errorf(deref(v).Line, "source.header", "only applies with format: csv (a JSON record has no header line)")
		}
	}
	if v := m["embedded"]; v != nil {
		s.Embedded = l.embedded(v, dir)
		if !s.Kafka.Embedded {
			l.errorf(deref(v).Line, "source.embedded", "only applies with bootstrap.servers: embedded")
		}
	}
	if v := m["deadLetter"]; v != nil {
		s.DeadLetter = l.deadLetter(v)
		if s.DeadLetter != nil && s.Mode == "FAILFAST" {
			l.errorf(deref(v).Line, "source.deadLetter", "mode FAILFAST stops at the first malformed record: dead letters need source.mode PERMISSIVE or DROPMALFORMED")
		}
	}
	if v := m["table"]; v != nil {
		if t, ok := l.nonEmpty(v, "source.table"); ok {
			if !identifier.MatchString(t) {
				l.errorf(v.Line, "source.table", "%q is not a table name (letters, digits and _, not starting with a digit)", t)
			}
			s.Table = t
		}
	}
	return s
}

func (l *loader) deadLetter(n *yaml.Node) *DeadLetter {
	const path = "source.deadLetter"
	d := &DeadLetter{MaxRatio: engine.DefaultConfig().Source.DeadLetter.MaxRatio}
	m := l.mapping(n, path)
	if m == nil {
		return nil
	}
	if l.require(m, path, "topic") {
		d.Topic, _ = l.nonEmpty(m["topic"], path+".topic")
	}
	if v := m["bootstrap.servers"]; v != nil {
		d.BootstrapServers, _ = l.nonEmpty(v, path+".bootstrap.servers")
	}
	if v := m["transactionalIdPrefix"]; v != nil {
		d.TransactionalIDPrefix, _ = l.nonEmpty(v, path+".transactionalIdPrefix")
	}
	if v := m["progressTopic"]; v != nil {
		d.ProgressTopic = l.topicName(v, path+".progressTopic")
	}
	if v := m["createTopic"]; v != nil {
		d.CreateTopic = l.createTopic(v, path+".createTopic")
	}
	if v := m["maxRatio"]; v != nil {
		if s, ok := l.str(v, path+".maxRatio"); ok {
			r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			switch {
			case err != nil:
				l.errorf(deref(v).Line, path+".maxRatio", "expected a number from 0 to 1, got %q", s)
			case !(r >= 0 && r <= 1):
				l.errorf(deref(v).Line, path+".maxRatio", "must be from 0 to 1 (a share of the batch's records), got %s", s)
			default:
				d.MaxRatio = r
			}
		}
	}
	return d
}

func (l *loader) embedded(n *yaml.Node, dir string) *Embedded {
	const path = "source.embedded"
	e := &Embedded{Rate: 1000, Seed: 1}
	m := l.mapping(n, path)
	if m == nil {
		return e
	}
	if v := m["dataDir"]; v != nil {
		if p, ok := l.nonEmpty(v, path+".dataDir"); ok {
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			e.DataDir = filepath.Clean(p)
		}
	}
	if v := m["topics"]; v != nil {
		if deref(v).Kind == yaml.SequenceNode {
			for _, item := range deref(v).Content {
				if s, ok := l.nonEmpty(item, path+".topics"); ok {
					if !topicSpec.MatchString(s) {
						l.errorf(item.Line, path+".topics", "%q is not NAME:PARTITIONS", s)
					}
					e.Topics = append(e.Topics, s)
				}
			}
		} else {
			l.errorf(deref(v).Line, path+".topics", "expected a list of NAME:PARTITIONS")
		}
	}
	if v := m["generator"]; v != nil {
		e.Generator, _ = l.enum(v, path+".generator", "clickstream", "ecommerce", "iot")
	}
	if v := m["rate"]; v != nil {
		e.Rate, _ = l.integer(v, path+".rate", 1)
	}
	if v := m["seed"]; v != nil {
		e.Seed, _ = l.integer(v, path+".seed", -1<<63)
	}
	return e
}

var topicSpec = regexp.MustCompile(`^[A-Za-z0-9._-]+:[1-9][0-9]*$`)

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (l *loader) kafka(n *yaml.Node) Kafka {
	d := engine.DefaultConfig().Source
	k := Kafka{StartingOffsets: d.StartingOffsets, FailOnDataLoss: d.OnDataLoss == engine.FailOnDataLoss,
		FetchOffsetNumRetries: int64(d.FetchOffsetNumRetries), FetchOffsetRetryInterval: d.FetchOffsetRetryInterval,
		PartitionDiscoveryInterval: d.PartitionDiscoveryInterval, Properties: map[string]string{}}
	const path = "source.kafka"
	m, props := l.kafkaMapping(n, path)
	if m == nil {
		return k
	}
	if l.require(m, path, "bootstrap.servers") {
		if v, ok := l.nonEmpty(m["bootstrap.servers"], path+".bootstrap.servers"); ok {
			if v == "embedded" {
				k.Embedded = true
			} else {
				k.BootstrapServers = v
			}
		}
	}
	var set []string
	if v := m["subscribe"]; v != nil {
		set = append(set, "subscribe")
		k.Subscribe = l.topics(v, path+".subscribe")
	}
	if v := m["subscribePattern"]; v != nil {
		set = append(set, "subscribePattern")
		if p, ok := l.nonEmpty(v, path+".subscribePattern"); ok {
			if _, err := regexp.Compile(p); err != nil {
				msg := err.Error()
				if se := (*syntax.Error)(nil); errors.As(err, &se) {
					msg = fmt.Sprintf("%s: `%s`", se.Code, se.Expr)
				}
				l.errorf(v.Line, path+".subscribePattern", "invalid regular expression: %s", msg)
			}
			k.SubscribePattern = p
		}
	}
	if v := m["assign"]; v != nil {
		set = append(set, "assign")
		if s, ok := l.nonEmpty(v, path+".assign"); ok {
			tps, err := parseAssign(s)
			if err != nil {
				l.errorf(v.Line, path+".assign", "%v", err)
			}
			k.Assign = tps
		}
	}
	switch len(set) {
	case 0:
		if l.suggested[path+".subscribe"] || l.suggested[path+".subscribePattern"] || l.suggested[path+".assign"] {
			break // a misspelling of one was reported
		}
		l.errorf(l.keyLine[path], path, "missing subscribe, subscribePattern or assign (exactly one is required)")
	case 1:
	case 2:
		l.errorf(l.keyLine[path], path, "%s and %s are both set; use exactly one", set[0], set[1])
	default:
		l.errorf(l.keyLine[path], path, "subscribe, subscribePattern and assign are all set; use exactly one")
	}
	if v := m["startingOffsets"]; v != nil {
		if s, ok := l.nonEmpty(v, path+".startingOffsets"); ok {
			so, err := checkStartingOffsets(s)
			if err != nil {
				l.errorf(v.Line, path+".startingOffsets", "%v", err)
			} else if len(set) == 1 {
				for _, msg := range specificMismatch(so, k) {
					l.errorf(v.Line, path+".startingOffsets", "%s", msg)
				}
			}
			k.StartingOffsets = s
		}
	}
	if v := m["maxRatePerPartition"]; v != nil {
		k.MaxRatePerPartition, _ = l.integer(v, path+".maxRatePerPartition", 0)
	}
	if v := m["minRatePerPartition"]; v != nil {
		k.MinRatePerPartition, _ = l.integer(v, path+".minRatePerPartition", 1)
	}
	if v := m["maxOffsetsPerTrigger"]; v != nil {
		k.MaxOffsetsPerTrigger, _ = l.integer(v, path+".maxOffsetsPerTrigger", 0)
	}
	if v := m["commitOffsetsToGroup"]; v != nil {
		k.CommitOffsetsToGroup, _ = l.nonEmpty(v, path+".commitOffsetsToGroup")
	}
	if v := m["failOnDataLoss"]; v != nil {
		k.FailOnDataLoss, _ = l.boolean(v, path+".failOnDataLoss")
	}
	if v := m["fetchOffset.numRetries"]; v != nil {
		k.FetchOffsetNumRetries, _ = l.integer(v, path+".fetchOffset.numRetries", 0)
	}
	if v := m["fetchOffset.retryIntervalMs"]; v != nil {
		if ms, ok := l.integer(v, path+".fetchOffset.retryIntervalMs", 0); ok {
			k.FetchOffsetRetryInterval = time.Duration(ms) * time.Millisecond
		}
	}
	if v := m["partitionDiscoveryInterval"]; v != nil {
		k.PartitionDiscoveryInterval, _ = l.duration(v, path+".partitionDiscoveryInterval")
	}
	for _, e := range props {
		if s, ok := l.str(e.val, path+"."+e.key); ok {
			k.Properties[e.key] = s
		}
	}
	return k
}

// topics reads subscribe: a comma-separated string or a list of strings.
func (l *loader) topics(n *yaml.Node, path string) []string {
	n = deref(n)
	var names []string
	var lines []int
	if n.Kind == yaml.SequenceNode {
		for _, item := range n.Content {
			if s, ok := l.str(item, path); ok {
				names = append(names, strings.TrimSpace(s))
				lines = append(lines, item.Line)
			}
		}
		if len(n.Content) == 0 {
			l.errorf(n.Line, path, "names no topics")
		}
		l.pos[path] = Position{n.Line, n.Column}
	} else if s, ok := l.nonEmpty(n, path); ok {
		names = topicList(s)
		for range names {
			lines = append(lines, n.Line)
		}
	}
	for i, t := range names {
		if err := checkTopicName(t); err != nil {
			l.errorf(lines[i], path, "%v", err)
		}
	}
	return names
}

func (l *loader) trigger(n *yaml.Node) Trigger {
	var t Trigger
	if n == nil {
		return t
	}
	m := l.mapping(n, "trigger")
	if v := m["processingTime"]; v != nil {
		t.ProcessingTime, _ = l.duration(v, "trigger.processingTime")
	}
	if v := m["availableNow"]; v != nil {
		t.AvailableNow, _ = l.boolean(v, "trigger.availableNow")
	}
	if m["processingTime"] != nil && t.AvailableNow {
		l.errorf(m["availableNow"].Line, "trigger", "processingTime and availableNow exclude each other; set one")
	}
	return t
}

func (l *loader) backpressure(n *yaml.Node) *Backpressure {
	b := &Backpressure{}
	m := l.mapping(n, "backpressure")
	if m == nil {
		return b
	}
	if v := m["enabled"]; v != nil {
		b.Enabled, _ = l.boolean(v, "backpressure.enabled")
	}
	if v := m["initialRate"]; v != nil {
		b.InitialRate, _ = l.integer(v, "backpressure.initialRate", 0)
	}
	if n := m["pid"]; n != nil {
		pm := l.mapping(n, "backpressure.pid")
		for _, g := range []struct {
			key string
			dst **float64
		}{{"proportional", &b.PID.Proportional}, {"integral", &b.PID.Integral}, {"derived", &b.PID.Derived}, {"minRate", &b.PID.MinRate}} {
			v := pm[g.key]
			if v == nil {
				continue
			}
			f, ok := l.number(v, "backpressure.pid."+g.key, 0)
			if ok && f == 0 && g.key == "minRate" {
				l.errorf(deref(v).Line, "backpressure.pid.minRate", "must be above 0 (records per second)")
				ok = false
			}
			if ok {
				*g.dst = &f
			}
		}
	}
	return b
}

func (l *loader) watermark(n *yaml.Node) *Watermark {
	w := &Watermark{Policy: "global", IdleTimeout: time.Minute}
	m := l.mapping(n, "watermark")
	if m == nil {
		return w
	}
	if l.require(m, "watermark", "eventTime") {
		w.EventTime, _ = l.nonEmpty(m["eventTime"], "watermark.eventTime")
	}
	if v := m["delayThreshold"]; v != nil {
		w.DelayThreshold, _ = l.duration(v, "watermark.delayThreshold")
	}
	if v := m["policy"]; v != nil {
		w.Policy, _ = l.enum(v, "watermark.policy", "global", "perPartition")
	}
	if v := m["idleTimeout"]; v != nil {
		w.IdleTimeout, _ = l.duration(v, "watermark.idleTimeout")
	}
	if v := m["flushOnExit"]; v != nil {
		w.FlushOnExit, _ = l.boolean(v, "watermark.flushOnExit")
	}
	return w
}

// sinks are the sink kinds, in the order of Keys.
var sinks = childKeys("sink")

func (l *loader) sink(n *yaml.Node) Sink {
	def := Sink{Console: defaultConsole()}
	if n == nil {
		return def
	}
	m := l.mapping(n, "sink")
	if m == nil {
		return def
	}
	if len(m) == 0 {
		if l.unknownIn["sink"] == 0 {
			l.errorf(n.Line, "sink", "names no sink; want exactly one of: %s", strings.Join(sinks, ", "))
		}
		return def
	}
	if len(m) > 1 {
		var names []string
		for _, k := range sinks {
			if m[k] != nil {
				names = append(names, k)
			}
		}
		l.errorf(n.Line, "sink", "has %d sinks (%s); want exactly one", len(m), strings.Join(names, ", "))
	}
	var s Sink
	if v := m["console"]; v != nil {
		c := defaultConsole()
		cm := l.mapping(v, "sink.console")
		if x := cm["numRows"]; x != nil {
			nr, _ := l.integer(x, "sink.console.numRows", 1)
			c.NumRows = int(nr)
		}
		if x := cm["truncate"]; x != nil {
			c.Truncate, _ = l.boolean(x, "sink.console.truncate")
		}
		s.Console = c
	}
	if v := m["kafka"]; v != nil {
		s.Kafka = l.kafkaSink(v)
	}
	if v := m["postgres"]; v != nil {
		s.Postgres = l.postgresSink(v)
	}
	if v := m["files"]; v != nil {
		s.Files = l.filesSink(v)
	}
	return s
}

func (l *loader) postgresSink(n *yaml.Node) *PostgresSink {
	const path = "sink.postgres"
	p := &PostgresSink{CreateTable: true}
	m := l.mapping(n, path)
	if l.require(m, path, "url") {
		if u, ok := l.nonEmpty(m["url"], path+".url"); ok {
			if _, err := pgconn.ParseConfig(u); err != nil {
				l.errorf(m["url"].Line, path+".url", "%v", err) // pgconn leaves the password out
			}
			p.URL = u
		}
	}
	if l.require(m, path, "table") {
		if t, ok := l.nonEmpty(m["table"], path+".table"); ok {
			if parts := strings.Split(t, "."); len(parts) > 2 || slices.Contains(parts, "") {
				l.errorf(m["table"].Line, path+".table", "%q: want name or schema.name", t)
			}
			p.Table = t
		}
	}
	if v := m["createTable"]; v != nil {
		p.CreateTable, _ = l.boolean(v, path+".createTable")
	}
	return p
}

func (l *loader) kafkaSink(n *yaml.Node) *KafkaSink {
	const path = "sink.kafka"
	k := &KafkaSink{Format: "json", DeliveryGuarantee: "exactly-once", BatchHeaders: true, Properties: map[string]string{}}
	m, props := l.kafkaMapping(n, path)
	if m == nil {
		return k
	}
	if v := m["bootstrap.servers"]; v != nil {
		k.BootstrapServers, _ = l.nonEmpty(v, path+".bootstrap.servers")
	}
	if l.require(m, path, "topic") {
		if t, ok := l.nonEmpty(m["topic"], path+".topic"); ok {
			if err := checkTopicName(t); err != nil {
				l.errorf(m["topic"].Line, path+".topic", "%v", err)
			}
			k.Topic = t
		}
	}
	if v := m["key"]; v != nil {
		k.Key = l.columnList(v, path+".key")
	}
	if v := m["format"]; v != nil {
		k.Format, _ = l.enum(v, path+".format", "json", "csv")
	}
	if v := m["deliveryGuarantee"]; v != nil {
		k.DeliveryGuarantee, _ = l.enum(v, path+".deliveryGuarantee", "exactly-once", "at-least-once")
	}
	if v := m["transactionalIdPrefix"]; v != nil {
		k.TransactionalIDPrefix, _ = l.nonEmpty(v, path+".transactionalIdPrefix")
	}
	if v := m["progressTopic"]; v != nil {
		k.ProgressTopic = l.topicName(v, path+".progressTopic")
	}
	if v := m["batchHeaders"]; v != nil {
		k.BatchHeaders, _ = l.boolean(v, path+".batchHeaders")
	}
	if v := m["createTopic"]; v != nil {
		k.CreateTopic = l.createTopic(v, path+".createTopic")
	}
	for _, e := range props {
		switch e.key { // the sink sets these itself: refused, not overridden in silence
		case "transactional.id":
			l.errorf(e.keyNode.Line, path+"."+e.key, "the sink sets it to <transactionalIdPrefix>-kafka (fencing and the markers depend on it): set transactionalIdPrefix instead")
			continue
		case "enable.idempotence":
			l.errorf(e.keyNode.Line, path+"."+e.key, "the sink's producer is always idempotent (its transactions, and at-least-once without duplicates from retries, depend on it): remove the key")
			continue
		}
		if s, ok := l.str(e.val, path+"."+e.key); ok {
			k.Properties[e.key] = s
		}
	}
	return k
}

// columnList reads a list of column names: a YAML list or a
// comma-separated string.
func (l *loader) columnList(v *yaml.Node, path string) []string {
	var out []string
	if deref(v).Kind == yaml.SequenceNode {
		for _, item := range deref(v).Content {
			if s, ok := l.nonEmpty(item, path); ok {
				out = append(out, s)
			}
		}
	} else if s, ok := l.nonEmpty(v, path); ok {
		for _, c := range strings.Split(s, ",") {
			out = append(out, strings.TrimSpace(c))
		}
	}
	return out
}

func defaultConsole() *ConsoleSink {
	d := engine.DefaultConsoleOptions()
	return &ConsoleSink{NumRows: d.NumRows, Truncate: d.Truncate > 0}
}

// queryLayout finds where the query text sits in the file.
func (l *loader) queryLayout(n *yaml.Node) queryBlock {
	n = deref(n)
	q := queryBlock{pos: Position{n.Line, n.Column}}
	switch n.Style {
	case yaml.LiteralStyle:
		// n.Line is the line of "|"; the text's line 1 is the next file
		// line, indented like its first non-blank line.
		q.exact = true
		q.pos = Position{Line: n.Line + 1, Column: 1}
		for i := n.Line; i < len(l.lines); i++ { // l.lines[i] is file line i+1
			line := l.lines[i]
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			q.indent = len(line) - len(bytes.TrimLeft(line, " ")) + 1
			q.pos.Column = q.indent
			break
		}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		q.pos.Column++
		q.exact = !strings.Contains(n.Value, "\n")
	case yaml.FoldedStyle:
	default:
		q.exact = !strings.Contains(n.Value, "\n")
	}
	return q
}

// topicName reads a topic name, reporting one Kafka would refuse.
func (l *loader) topicName(n *yaml.Node, path string) string {
	t, ok := l.nonEmpty(n, path)
	if ok {
		if err := checkTopicName(t); err != nil {
			l.errorf(deref(n).Line, path, "%v", err)
		}
	}
	return t
}

// createTopic reads a createTopic mapping: partitions and replication
// factor, 1 each by default.
func (l *loader) createTopic(n *yaml.Node, path string) *CreateTopic {
	c := &CreateTopic{Partitions: 1, ReplicationFactor: 1}
	if d := deref(n); d.Kind == yaml.ScalarNode && d.Tag == "!!bool" {
		l.errorf(d.Line, path, "expected a mapping, got %q: {} creates the topic with 1 partition and replication factor 1, {partitions: N, replicationFactor: R} sets them", d.Value)
		return nil
	}
	cm := l.mapping(n, path)
	if x := cm["partitions"]; x != nil {
		c.Partitions, _ = l.integer(x, path+".partitions", 1)
	}
	if x := cm["replicationFactor"]; x != nil {
		c.ReplicationFactor, _ = l.integer(x, path+".replicationFactor", 1)
	}
	return c
}
