package kafka_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/offsets"
)

// silentBroker listens on a local port, accepts connections and never
// answers: requests to it wait for their timeout.
func silentBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex // guards conns
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() { // ends when the listener is closed
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// A metadata request that Topics left running when its ctx ended still
// uses the client: Close waits for it (until the request's own timeout)
// instead of destroying the client under it, and every call after Close
// is refused with ErrAdminClosed.
func TestAdminCloseWaitsForMetadata(t *testing.T) {
	a, err := kafka.NewAdmin(kafka.Props{"bootstrap.servers": silentBroker(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 2 * time.Second // the metadata request's, from ctx's deadline
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	if _, err := a.Topics(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Topics = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Topics returned %s after its ctx was cancelled at 200ms", took)
	}
	if n := a.InFlight(); n != 1 {
		t.Fatalf("calls in flight after Topics returned = %d, want 1 (its metadata request)", n)
	}
	a.Close()
	if n := a.InFlightAtClose(); n != 0 {
		t.Fatalf("Close destroyed the client under %d calls in flight", n)
	}
	if took := time.Since(start); took < timeout-300*time.Millisecond {
		t.Fatalf("Close returned %s after Topics began, before the metadata request's %s timeout", took, timeout)
	}
	if n := a.InFlight(); n != 0 {
		t.Fatalf("calls in flight after Close = %d, want 0", n)
	}

	bg := context.Background()
	tp := offsets.TopicPartition{Topic: "t", Partition: 0}
	for name, call := range map[string]func() error{
		"Topics":     func() error { _, err := a.Topics(bg); return err },
		"Partitions": func() error { _, err := a.Partitions(bg, kafka.Subscription{Topics: []string{"t"}}); return err },
		"ListOffsets": func() error {
			_, err := a.ListOffsets(bg, []offsets.TopicPartition{tp}, offsets.Latest, false)
			return err
		},
		"CreateTopic":      func() error { return a.CreateTopic(bg, "t", 1, nil) },
		"CreatePartitions": func() error { return a.CreatePartitions(bg, "t", 2) },
		"DeleteRecords":    func() error { return a.DeleteRecords(bg, tp, 1) },
	} {
		if err := call(); !errors.Is(err, kafka.ErrAdminClosed) {
			t.Errorf("%s after Close = %v, want ErrAdminClosed", name, err)
		}
	}
	a.Close() // a second Close does nothing
}

// Close waits for a Flush in flight on another goroutine, however soon its
// own ctx ends, and the producer refuses every call after Close.
func TestProducerCloseWaitsForFlush(t *testing.T) {
	p, err := kafka.NewProducer(kafka.Props{"bootstrap.servers": silentBroker(t)})
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	if err := p.Produce(bg, "t", 0, nil, []byte("never delivered")); err != nil {
		t.Fatal(err)
	}
	const flushFor = time.Second
	start := time.Now()
	fctx, cancel := context.WithTimeout(bg, flushFor)
	defer cancel()
	flushed := make(chan error, 1)
	go func() { flushed <- p.Flush(fctx) }() // ends with fctx
	for p.InFlight() == 0 {
		time.Sleep(time.Millisecond)
	}

	cctx, cancel2 := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel2()
	if err := p.Close(cctx); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 records undelivered") {
		t.Fatalf("Close = %v, want its flush's deadline with 1 record undelivered", err)
	}
	if n := p.InFlightAtClose(); n != 0 {
		t.Fatalf("Close destroyed the producer under %d calls in flight", n)
	}
	if took := time.Since(start); took < flushFor-100*time.Millisecond {
		t.Fatalf("Close returned %s after the Flush began, before the Flush's %s ctx ended", took, flushFor)
	}
	if err := <-flushed; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush = %v, want its deadline", err)
	}
	if n := p.InFlight(); n != 0 {
		t.Fatalf("calls in flight after Close = %d, want 0", n)
	}
	if err := p.Produce(bg, "t", 0, nil, []byte("x")); !errors.Is(err, kafka.ErrProducerClosed) {
		t.Errorf("Produce after Close = %v, want ErrProducerClosed", err)
	}
	if err := p.Flush(bg); !errors.Is(err, kafka.ErrProducerClosed) {
		t.Errorf("Flush after Close = %v, want ErrProducerClosed", err)
	}
	if err := p.Close(bg); !errors.Is(err, kafka.ErrProducerClosed) {
		t.Errorf("second Close = %v, want ErrProducerClosed", err)
	}
}
