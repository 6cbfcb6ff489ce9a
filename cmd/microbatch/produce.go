package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/microbatch/microbatch/internal/gen"
	"github.com/microbatch/microbatch/internal/kafka"
)

type produceOpts struct {
	brokers, topic, generator, file string
	count                           int64
	rate                            float64
	seed                            int64
	partitions                      int32
	props                           []string
}

func newProduceCmd(stopSignals func()) *cobra.Command {
	var o produceOpts
	cmd := &cobra.Command{
		Use:   "produce --brokers ADDR --topic T (--generator clickstream|ecommerce|iot | --file PATH)",
		Short: "Write generated records (clickstream, ecommerce, iot) or a file's lines to a topic",
		Long: `Write deterministic generated records to a Kafka topic: the same --seed
writes byte-identical records in the same order. Records are keyed by user
(clickstream, ecommerce) or device (iot) and partitioned by key with the
Java client's murmur2 partitioner, so a key always lands in one partition.

With --file, each line of the file (- for standard input) is one record
value, without a key, as kafka-console-producer writes them: a way to try
records of your own, malformed ones included. "\n" or "\r\n" ends a line;
an empty line is an empty record.

Progress goes to stderr (a bar on a terminal, a line every 5 s otherwise);
the last line, on stdout, is:
  produced N records to TOPIC in DURATION (R records/s)
SIGINT/SIGTERM stop early: enqueued records are flushed and the line says
how many were written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return produce(cmd, o, stopSignals)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.brokers, "brokers", "", "bootstrap servers, HOST:PORT[,HOST:PORT...] (required)")
	f.StringVar(&o.topic, "topic", "", "topic to write to (required)")
	f.StringVar(&o.generator, "generator", "", "data set: "+strings.Join(gen.Names(), ", "))
	f.StringVar(&o.file, "file", "", "write each line of this file (- for stdin) as a record value, instead of a generator")
	f.Int64Var(&o.count, "count", 0, "number of records; 0 = until stopped")
	f.Float64Var(&o.rate, "rate", 0, "records per second; 0 = as fast as possible")
	f.Int64Var(&o.seed, "seed", 0, "random seed; the same seed writes the same records")
	f.Int32Var(&o.partitions, "partitions", 0, "create the topic with this many partitions if it does not exist")
	f.StringArrayVarP(&o.props, "property", "X", nil, "librdkafka producer property KEY=VALUE (repeatable), e.g. -X security.protocol=SASL_SSL")
	return cmd
}

func produce(cmd *cobra.Command, o produceOpts, stopSignals func()) error {
	// Checked here rather than with cobra's MarkFlagRequired, whose error
	// is plain text.
	var missing []string
	for _, f := range []struct{ name, v string }{{"brokers", o.brokers}, {"topic", o.topic}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	switch {
	case len(missing) > 0:
		return usagef(cmd, `required flag(s) "%s" not set`, strings.Join(missing, `", "`))
	case (o.generator == "") == (o.file == ""):
		return usagef(cmd, "want one of --generator and --file")
	case o.count < 0:
		return usagef(cmd, "--count must be >= 0, got %d", o.count)
	case o.rate < 0:
		return usagef(cmd, "--rate must be >= 0, got %v", o.rate)
	case o.partitions < 0:
		return usagef(cmd, "--partitions must be >= 0, got %d", o.partitions)
	}
	var src recordSource
	if o.file != "" {
		in := cmd.InOrStdin()
		name := "stdin"
		if o.file != "-" {
			f, err := os.Open(o.file)
			if err != nil {
				return err
			}
			defer f.Close()
			in, name = f, o.file
		}
		ls := newLineSource(in, name)
		defer ls.close()
		src = ls
	} else {
		g, err := gen.New(o.generator, o.seed)
		if err != nil {
			return usagef(cmd, "--generator: %v", err)
		}
		src = genSource{g}
	}
	props := kafka.Props{
		"bootstrap.servers": o.brokers,
		// Java's default partitioner: a key lands where Java producers
		// and Kafka Streams would put it.
		"partitioner": "murmur2_random",
	}
	for _, kv := range o.props {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usagef(cmd, "--property %q: want KEY=VALUE", kv)
		}
		props[k] = v
	}
	ctx := cmd.Context()
	stderr := cmd.ErrOrStderr()
	if err := ensureTopic(ctx, props, o.topic, o.partitions, stderr); err != nil {
		return err
	}

	p, err := kafka.NewProducer(props)
	if err != nil {
		return err
	}
	prog := startProgress(stderr, o.count, 5*time.Second)
	start := time.Now()
	n, perr := produceLoop(ctx, p, src, o, prog)
	prog.Stop()
	// Flush what is enqueued even after a signal, within a bounded time; a
	// second signal kills the process.
	stopSignals()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	if err := p.Close(fctx); err != nil && perr == nil {
		perr = err
	}
	if perr != nil {
		return perr
	}
	el := time.Since(start)
	fmt.Fprintf(cmd.OutOrStdout(), "produced %d records to %s in %s (%.0f records/s)\n",
		n, o.topic, el.Round(time.Millisecond), float64(n)/max(el.Seconds(), 1e-9))
	return nil
}

// recordSource gives produce its records: next replaces r's contents with
// the next one, or returns false at the end or once ctx is done.
type recordSource interface {
	next(ctx context.Context, r *gen.Record) (bool, error)
}

type genSource struct{ g gen.Generator }

func (s genSource) next(_ context.Context, r *gen.Record) (bool, error) {
	s.g.Next(r)
	return true, nil
}

// lineSource reads one record value per line, without a key. Its reading
// goroutine lets next return at a signal while a terminal's stdin waits
// for a line; it ends at the end of the input, a read error or close (a
// read in progress then ends with the process).
type lineSource struct {
	lines chan lineRead
	stop  chan struct{}
	name  string
	line  int
}

type lineRead struct {
	b   []byte
	err error
}

func newLineSource(in io.Reader, name string) *lineSource {
	s := &lineSource{lines: make(chan lineRead), stop: make(chan struct{}), name: name}
	go func() {
		defer close(s.lines)
		br := bufio.NewReader(in)
		for {
			b, err := br.ReadBytes('\n')
			if len(b) > 0 || err != nil && !errors.Is(err, io.EOF) {
				select {
				case s.lines <- lineRead{b, err}:
				case <-s.stop:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return s
}

func (s *lineSource) close() { close(s.stop) }

func (s *lineSource) next(ctx context.Context, r *gen.Record) (bool, error) {
	var lr lineRead
	var ok bool
	select {
	case <-ctx.Done():
		return false, nil
	case lr, ok = <-s.lines:
	}
	if !ok { // the end, after a last line ended by "\n"
		return false, nil
	}
	if lr.err != nil && !errors.Is(lr.err, io.EOF) {
		return false, fmt.Errorf("%s:%d: %w", s.name, s.line+1, lr.err)
	}
	s.line++
	b := bytes.TrimSuffix(bytes.TrimSuffix(lr.b, []byte("\n")), []byte("\r"))
	r.Key, r.Value = nil, b
	return true, nil
}

// produceLoop enqueues records until the count is reached or ctx is done,
// pacing them to o.rate. It returns the number enqueued.
func produceLoop(ctx context.Context, p *kafka.Producer, src recordSource, o produceOpts, prog *progress) (int64, error) {
	var (
		r     gen.Record
		n     int64
		start = time.Now()
		timer *time.Timer
	)
	for o.count == 0 || n < o.count {
		if ctx.Err() != nil {
			return n, nil
		}
		if o.rate > 0 {
			due := start.Add(time.Duration(float64(n) / o.rate * float64(time.Second)))
			// Sleep only when more than 1 ms ahead: high rates go out in
			// small bursts instead of one timer per record.
			if d := time.Until(due); d > time.Millisecond {
				if timer == nil {
					timer = time.NewTimer(d)
					defer timer.Stop()
				} else {
					timer.Reset(d)
				}
				select {
				case <-ctx.Done():
					return n, nil
				case <-timer.C:
				}
			}
		}
		if more, err := src.next(ctx, &r); err != nil || !more {
			return n, err
		}
		if err := p.Produce(ctx, o.topic, kafka.AnyPartition, r.Key, r.Value); err != nil {
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return n, nil
			}
			return n, err
		}
		n++
		prog.Set(n)
	}
	return n, nil
}

// ensureTopic creates topic with partitions if it is missing and
// partitions > 0, and fails if it is missing otherwise.
func ensureTopic(ctx context.Context, props kafka.Props, topic string, partitions int32, stderr io.Writer) error {
	a, err := kafka.NewAdmin(props, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	topics, err := a.Topics(tctx)
	if err != nil {
		return err
	}
	have, exists := topics[topic]
	switch {
	case exists && partitions > 0 && have != partitions:
		fmt.Fprintf(stderr, "note: topic %s exists with %d partitions; --partitions %d ignored\n", topic, have, partitions)
	case exists:
	case partitions == 0:
		return fmt.Errorf("topic %s does not exist on %s; pass --partitions N to create it", topic, props["bootstrap.servers"])
	default:
		if err := a.CreateTopic(tctx, topic, partitions, nil); err != nil {
			return err
		}
	}
	return nil
}
