package broker_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/microbatch/microbatch/internal/broker"
	"github.com/microbatch/microbatch/internal/kafka"
)

func start(t *testing.T, cfg broker.Config) *broker.Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := broker.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func produce(t *testing.T, addr, topic string, from, n int) {
	t.Helper()
	p, err := kafka.NewProducer(kafka.Props{"bootstrap.servers": addr})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := from; i < from+n; i++ {
		if err := p.Produce(ctx, topic, int32(i%2), nil, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// consume reads every record of topic from the start, in partition order.
func consume(t *testing.T, addr, topic string, want int) map[int32][]string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[int32][]string{}
	for n := 0; n < want; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", n, want, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out[r.Partition] = append(out[r.Partition], string(r.Value))
			n++
		})
	}
	return out
}

func TestPersistenceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := broker.Config{DataDir: dir, Topics: []broker.Topic{{Name: "clicks", Partitions: 2}}}
	b := start(t, cfg)
	produce(t, b.Addr(), "clicks", 0, 10)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart on the same directory; the seed now asks for 5 partitions,
	// but the restored topic keeps its 2. A new seed topic is created.
	cfg.Topics = []broker.Topic{{Name: "clicks", Partitions: 5}, {Name: "orders", Partitions: 3}}
	b = start(t, cfg)
	if got := b.Partitions("clicks"); got != 2 {
		t.Fatalf("clicks partitions after restart = %d, want 2", got)
	}
	if got := b.Partitions("orders"); got != 3 {
		t.Fatalf("orders partitions = %d, want 3", got)
	}
	produce(t, b.Addr(), "clicks", 10, 4)
	got := fmt.Sprint(consume(t, b.Addr(), "clicks", 14))
	want := "map[0:[0 2 4 6 8 10 12] 1:[1 3 5 7 9 11 13]]"
	if got != want {
		t.Fatalf("records after restart = %s, want %s", got, want)
	}
}

func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	start(t, broker.Config{DataDir: dir})
	_, err := broker.Start(context.Background(), broker.Config{DataDir: dir})
	want := fmt.Sprintf("broker: %s: data directory is in use by another broker (process %d)", dir, os.Getpid())
	if err == nil || err.Error() != want {
		t.Fatalf("second Start on %s: err = %v, want %s", dir, err, want)
	}
}

func TestInMemoryAndWildcardListen(t *testing.T) {
	b := start(t, broker.Config{Listen: "0.0.0.0:0", Topics: []broker.Topic{{Name: "t", Partitions: 2}}})
	if got := b.Addr(); len(got) < 10 || got[:10] != "127.0.0.1:" {
		t.Fatalf("Addr() = %q, want 127.0.0.1:PORT", got)
	}
	produce(t, b.Addr(), "t", 0, 2)
	if got := fmt.Sprint(consume(t, b.Addr(), "t", 2)); got != "map[0:[0] 1:[1]]" {
		t.Fatalf("records = %s", got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestStartErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  broker.Config
		want string
	}{
		{broker.Config{Listen: "nonsense"}, `broker: listen address "nonsense": address nonsense: missing port in address`},
		{broker.Config{Topics: []broker.Topic{{Name: "a b", Partitions: 1}}}, `broker: invalid character ' ' in topic name "a b" (allowed: letters, digits, '.', '_', '-')`},
		{broker.Config{Topics: []broker.Topic{{Name: "t", Partitions: 0}}}, `broker: topic t: partitions must be at least 1, got 0`},
	} {
		_, err := broker.Start(context.Background(), tc.cfg)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Start(%+v) error = %v\nwant %s", tc.cfg, err, tc.want)
		}
	}
}

func TestParseTopic(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"clicks:4", "clicks:4"},
		{"a.b_c-d:1", "a.b_c-d:1"},
		{"clicks", `topic "clicks": want NAME:PARTITIONS, for example clicks:4`},
		{"clicks:", `topic "clicks:": want NAME:PARTITIONS, for example clicks:4`},
		{":3", `topic ":3": want NAME:PARTITIONS, for example clicks:4`},
		{"clicks:x", `topic "clicks:x": partitions must be an integer between 1 and 100000, got "x"`},
		{"clicks:0", `topic "clicks:0": partitions must be an integer between 1 and 100000, got "0"`},
		{"a/b:1", `topic "a/b:1": invalid character '/' in topic name "a/b" (allowed: letters, digits, '.', '_', '-')`},
		{"..:1", `topic "..:1": invalid topic name ".."`},
	} {
		tp, err := broker.ParseTopic(tc.in)
		got := tp.String()
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("ParseTopic(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
