package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicMetadata asks addr for topic, allowing auto-creation or not, and
// returns the topic's error code and partition count.
func topicMetadata(t *testing.T, addr, topic string, allow bool) (int16, int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
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

// The broker creates a topic on a producer's first request for it, with
// --default-partitions partitions, and keeps it in --data-dir at once: it
// survives a SIGKILL, found again by a broker that auto-creates nothing.
func TestBrokerAutoCreatesTopics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr, stop := startBroker(t, "--data-dir", dir, "--default-partitions", "3")

	p, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
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
	p.Close()
	if code, n := topicMetadata(t, addr, "fresh", false); code != 0 || n != 3 {
		t.Fatalf("auto-created topic: error %d, %d partitions; want 0, 3", code, n)
	}

	// kcat (librdkafka), the way the issue reported it failing.
	kcat, kcatErr := exec.LookPath("kcat")
	if kcatErr == nil {
		cmd := exec.CommandContext(ctx, kcat, "-P", "-b", addr, "-t", "via-kcat")
		cmd.Stdin = strings.NewReader("a\nb\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat -P to a new topic: %v\n%s", err, out)
		}
		if code, n := topicMetadata(t, addr, "via-kcat", false); code != 0 || n != 3 {
			t.Fatalf("topic kcat created: error %d, %d partitions; want 0, 3", code, n)
		}
	} else {
		t.Logf("kcat not installed, skipping its part: %v", kcatErr)
	}

	stop(syscall.SIGKILL)
	addr, stop = startBroker(t, "--data-dir", dir, "--auto-create-topics=false")
	if code, n := topicMetadata(t, addr, "fresh", true); code != 0 || n != 3 {
		t.Fatalf("auto-created topic after SIGKILL and restart: error %d, %d partitions; want 0, 3", code, n)
	}
	want := "map[0:[{ 0} { 3}] 1:[{ 1} { 4}] 2:[{ 2} { 5}]]"
	if got := fmt.Sprint(consume(t, addr, "fresh", 6)); got != want {
		t.Fatalf("records after restart = %s, want %s", got, want)
	}
	if kcatErr == nil {
		var vals []string
		for _, rs := range consume(t, addr, "via-kcat", 2) {
			for _, r := range rs {
				vals = append(vals, r.value)
			}
		}
		if got := strings.Join(vals, ","); got != "a,b" && got != "b,a" {
			t.Fatalf("kcat's records after restart = %s, want a and b", got)
		}
	}
	// With --auto-create-topics=false a missing topic stays missing.
	if code, _ := topicMetadata(t, addr, "other", true); code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("metadata for a missing topic with --auto-create-topics=false: error %d, want %d", code, kerr.UnknownTopicOrPartition.Code)
	}
	if code, stderr := stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("stop: exit %d, %s", code, stderr)
	}
}

func TestBrokerDefaultPartitionsUsage(t *testing.T) {
	t.Parallel()
	r := cli(t, "broker", "--default-partitions", "0")
	want := "microbatch broker: --default-partitions must be between 1 and 100000, got 0\nRun 'microbatch broker --help' for usage.\n"
	if r.code != 2 || r.stdout != "" || r.stderr != want {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and %q", r.code, r.stdout, r.stderr, want)
	}
}
