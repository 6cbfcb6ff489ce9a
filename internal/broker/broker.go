package broker

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
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
	// AutoCreateTopics creates a missing topic the first time a client
	// asks for it, as Kafka does with auto.create.topics.enable: a
	// metadata request naming the topic creates it with DefaultPartitions
	// partitions when the request allows that (allow_auto_topic_creation,
	// implied by metadata v0-v3). Producers allow it by default
	// (librdkafka's and the Java client's allow.auto.create.topics, so
	// `kcat -P`); librdkafka consumers do not, franz-go clients only with
	// kgo.AllowAutoTopicCreation. A produce request never creates a topic
	// on its own: Kafka's producers ask for metadata first. An
	// auto-created topic is written to DataDir at once, as a topic of
	// Topics is. Requests listing every topic create nothing.
	AutoCreateTopics bool
	// DefaultPartitions is the partition count of auto-created topics and
	// of topics a CreateTopics request creates without a count (Kafka's
	// num.partitions). 0 means 1.
	DefaultPartitions int32
}

// Broker is a running one-node kfake cluster.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
	lock    *os.File // flock on DataDir, nil without DataDir

	closing   atomic.Bool // set when Close begins; no topic is auto-created after it
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

	if cfg.DefaultPartitions < 0 || cfg.DefaultPartitions > maxPartitions {
		return nil, fmt.Errorf("broker: default partitions must be between 1 and %d, got %d", maxPartitions, cfg.DefaultPartitions)
	}
	defaultPartitions := cfg.DefaultPartitions
	if defaultPartitions == 0 {
		defaultPartitions = 1
	}

	b := &Broker{}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(int(defaultPartitions)),
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
	if cfg.AutoCreateTopics {
		// Not kfake.AllowAutoTopicCreation: kfake's own auto-creation
		// leaves the topic out of DataDir until Close, so a killed broker
		// would forget it (and its records). CreateTopic persists at once.
		c.ControlKey(int16(kmsg.Metadata), b.autoCreate(defaultPartitions))
	}

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
	b.closing.Store(true)
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

// autoCreate returns the control function that creates, before kfake
// answers a metadata request allowing auto-creation, each topic it names
// that does not exist. It observes only: kfake then answers the request,
// which now finds the topic. kfake runs control functions one at a time
// and serves CreateTopic while one runs.
func (b *Broker) autoCreate(partitions int32) func(kmsg.Request) (kmsg.Response, error, bool) {
	return func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req, ok := kreq.(*kmsg.MetadataRequest)
		if !ok || req.Version >= 4 && !req.AllowAutoTopicCreation {
			return nil, nil, false
		}
		for _, rt := range req.Topics {
			// A topic asked for by ID alone cannot be created; an invalid
			// name is left for kfake to refuse.
			if rt.Topic == nil || rt.TopicID != [16]byte{} || validTopicName(*rt.Topic) != nil {
				continue
			}
			// kfake's CreateTopic blocks forever once the cluster has
			// stopped, so none is started after Close begins.
			if b.closing.Load() {
				break
			}
			// An error is TopicAlreadyExists, or a name colliding with
			// another in '.' and '_': the metadata response reports
			// the topic as it is either way.
			_ = b.cluster.CreateTopic(*rt.Topic, partitions, nil)
		}
		return nil, nil, false
	}
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
