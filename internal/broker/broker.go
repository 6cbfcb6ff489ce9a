package broker

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"
)

// defaultListen is the address Start listens on when Config.Listen is empty:
// loopback, a free port.
const defaultListen = "127.0.0.1:0"

// Config configures an embedded broker.
type Config struct {
	// Listen is the TCP address to listen on, host:port. Port 0 picks a
	// free port. Default 127.0.0.1:0. A wildcard host (":9092",
	// "0.0.0.0:9092") listens on every interface and advertises
	// 127.0.0.1 to clients, so only local clients can follow the
	// broker's metadata; use a concrete host to serve other machines.
	Listen string
	// DataDir persists topics, records and group offsets across restarts.
	// Empty: in memory only.
	DataDir string
	// SyncWrites fsyncs every produced batch (only with DataDir). Without
	// it, like Kafka's default, the OS page cache decides and a machine
	// crash can lose the latest records; a process crash cannot.
	SyncWrites bool
	// Topics are created at start unless a topic of that name exists
	// (possibly restored from DataDir, with its partition count unchanged).
	Topics []Topic
}

// Broker is a running one-node kfake cluster.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
	lock    *os.File // flock on DataDir, nil without DataDir

	closeOnce sync.Once
	closeErr  error
}

// Start starts a broker. ctx bounds only the start (listening, loading
// DataDir, creating topics); the broker serves until Close.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	listen := cfg.Listen
	if listen == "" {
		listen = defaultListen
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("broker: listen address %q: %w", listen, err)
	}
	for _, t := range cfg.Topics {
		if err := validTopicName(t.Name); err != nil {
			return nil, fmt.Errorf("broker: %w", err)
		}
		if t.Partitions < 1 {
			return nil, fmt.Errorf("broker: topic %s: partitions must be at least 1, got %d", t.Name, t.Partitions)
		}
	}

	b := &Broker{}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		// kfake asks for 127.0.0.1:port; we listen where the user said.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			ln, err := net.Listen(network, listen)
			if err != nil {
				return nil, err
			}
			return advertised(ln, host), nil
		}),
	}
	if cfg.DataDir != "" {
		lock, err := lockDir(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		b.lock = lock
		opts = append(opts, kfake.DataDir(cfg.DataDir))
		if cfg.SyncWrites {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		b.unlock()
		return nil, fmt.Errorf("broker: start on %s: %w", listen, err)
	}
	b.cluster = c
	b.addr = c.ListenAddrs()[0]

	for _, t := range cfg.Topics {
		if c.TopicInfo(t.Name) != nil {
			continue
		}
		if err := c.CreateTopic(t.Name, t.Partitions, nil); err != nil {
			b.Close()
			return nil, fmt.Errorf("broker: create topic %s: %w", t, err)
		}
	}
	if err := ctx.Err(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Addr is the host:port clients use as bootstrap.servers.
func (b *Broker) Addr() string { return b.addr }

// Partitions returns the partition count of topic, or 0 if it does not exist.
func (b *Broker) Partitions(topic string) int32 {
	return int32(len(b.cluster.PartitionInfos(topic)))
}

// Close stops accepting connections, drops open ones, writes the state to
// DataDir (if set) and releases the data directory. It waits for all of
// that; calling it again returns the first result.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		if b.cluster != nil {
			b.cluster.Close()
		}
		b.closeErr = b.unlock()
	})
	return b.closeErr
}

func (b *Broker) unlock() error {
	if b.lock == nil {
		return nil
	}
	err := b.lock.Close()
	b.lock = nil
	if err != nil {
		return fmt.Errorf("broker: release data dir: %w", err)
	}
	return nil
}

// advertised makes a listener on a wildcard host report 127.0.0.1 as its
// address: kfake advertises its listener's address in metadata responses,
// and clients cannot connect to "::" everywhere.
func advertised(ln net.Listener, host string) net.Listener {
	ip := net.ParseIP(host)
	if host != "" && (ip == nil || !ip.IsUnspecified()) {
		return ln
	}
	tcp, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return ln
	}
	return &addrListener{Listener: ln, addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: tcp.Port}}
}

type addrListener struct {
	net.Listener
	addr net.Addr
}

func (l *addrListener) Addr() net.Addr { return l.addr }
