package broker_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

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
		{broker.Config{DefaultPartitions: -1}, `broker: default partitions must be between 1 and 100000, got -1`},
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

// metadata asks addr for topic with the given allow_auto_topic_creation
// and returns the topic's error code and partition count.
func metadata(t *testing.T, cl *kgo.Client, topic string, allow bool) (int16, int) {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = allow
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 {
		t.Fatalf("metadata for %s: %d topics in response", topic, len(resp.Topics))
	}
	return resp.Topics[0].ErrorCode, len(resp.Topics[0].Partitions)
}

func TestAutoCreateTopics(t *testing.T) {
	dir := t.TempDir()
	cfg := broker.Config{DataDir: dir, AutoCreateTopics: true, DefaultPartitions: 3}
	b := start(t, cfg)

	// A franz-go producer that allows auto-creation, to a topic nobody
	// declared: the records land, in a topic of 3 partitions.
	p, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 6 {
		r := &kgo.Record{Topic: "fresh", Partition: int32(i % 3), Value: []byte(fmt.Sprint(i))}
		if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d to an undeclared topic: %v", i, err)
		}
	}
	if got := b.Partitions("fresh"); got != 3 {
		t.Fatalf("auto-created topic has %d partitions, want 3", got)
	}

	// A metadata request that does not allow auto-creation (a librdkafka
	// consumer's) creates nothing.
	if code, n := metadata(t, p, "asked", false); code != kerr.UnknownTopicOrPartition.Code || n != 0 {
		t.Fatalf("metadata without auto-creation: error %d, %d partitions; want %d, 0", code, n, kerr.UnknownTopicOrPartition.Code)
	}
	if got := b.Partitions("asked"); got != 0 {
		t.Fatalf("topic created by a metadata request that did not allow it (%d partitions)", got)
	}
	// One that does creates it, and the response already has it.
	if code, n := metadata(t, p, "asked", true); code != 0 || n != 3 {
		t.Fatalf("metadata with auto-creation: error %d, %d partitions; want 0, 3", code, n)
	}
	// An invalid name is refused, not created.
	if code, _ := metadata(t, p, "bad/name", true); code != kerr.InvalidTopicException.Code && code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("metadata for an invalid name: error %d", code)
	}
	if got := b.Partitions("bad/name"); got != 0 {
		t.Fatalf("invalid topic name created (%d partitions)", got)
	}
	p.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// After a restart without auto-creation the topics are there, from
	// DataDir, with their records.
	b = start(t, broker.Config{DataDir: dir})
	if got := b.Partitions("fresh"); got != 3 {
		t.Fatalf("auto-created topic after restart has %d partitions, want 3", got)
	}
	if got := b.Partitions("asked"); got != 3 {
		t.Fatalf("topic auto-created by metadata after restart has %d partitions, want 3", got)
	}
	if got, want := fmt.Sprint(consume(t, b.Addr(), "fresh", 6)), "map[0:[0 3] 1:[1 4] 2:[2 5]]"; got != want {
		t.Fatalf("records after restart = %s, want %s", got, want)
	}
}

func TestAutoCreateOffByDefault(t *testing.T) {
	b := start(t, broker.Config{})
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if code, _ := metadata(t, cl, "fresh", true); code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("metadata allowing auto-creation without AutoCreateTopics: error %d, want %d", code, kerr.UnknownTopicOrPartition.Code)
	}
	if got := b.Partitions("fresh"); got != 0 {
		t.Fatalf("topic created with AutoCreateTopics off (%d partitions)", got)
	}
}

// Metadata v0-v3 have no allow_auto_topic_creation field: Kafka creates
// the topic, and so does the broker.
func TestAutoCreateOldMetadata(t *testing.T) {
	b := start(t, broker.Config{AutoCreateTopics: true, DefaultPartitions: 2})
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.MaxVersions(kversion.V0_10_2()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if code, n := metadata(t, cl, "old", false); code != 0 || n != 2 {
		t.Fatalf("metadata v<4: error %d, %d partitions; want 0, 2", code, n)
	}
}
