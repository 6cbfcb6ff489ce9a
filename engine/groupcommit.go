package engine

import (
	"context"
	"log/slog"
	"maps"
	"time"

	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/offsets"
)

// groupCommitTimeout bounds one commit of positions to the consumer group,
// and the last one a stopping query waits for.
const groupCommitTimeout = 10 * time.Second

// groupCommitter commits the positions of committed batches to a consumer
// group (KafkaSource.CommitOffsetsToGroup) so that Kafka's lag tools see
// the query, as the DStream's commitAsync did. It is informational: the
// positions are never read back, and a failed commit is logged, never
// fails a batch. The driver offers the positions after each bbolt commit;
// one goroutine, started by newGroupCommitter and stopped by close,
// commits the latest it was offered (an older one still waiting is
// dropped), so a slow or unreachable coordinator never delays a batch.
type groupCommitter struct {
	admin *kafka.Admin
	group string
	log   *slog.Logger
	query string
	// next holds the latest positions not yet committed (capacity 1).
	next chan map[offsets.TopicPartition]int64
	quit chan struct{} // closed by close
	done chan struct{} // closed when the goroutine exits
}

func newGroupCommitter(admin *kafka.Admin, group, query string, log *slog.Logger) *groupCommitter {
	g := &groupCommitter{admin: admin, group: group, log: log, query: query,
		next: make(chan map[offsets.TopicPartition]int64, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go g.loop()
	return g
}

// offer hands pos (copied) to the goroutine, replacing positions it has
// not taken yet. Only the driver's goroutine calls it.
func (g *groupCommitter) offer(pos map[offsets.TopicPartition]int64) {
	select {
	case <-g.next:
	default:
	}
	g.next <- maps.Clone(pos)
}

func (g *groupCommitter) loop() {
	defer close(g.done)
	failing := ""
	commit := func(pos map[offsets.TopicPartition]int64) {
		ctx, cancel := context.WithTimeout(context.Background(), groupCommitTimeout)
		defer cancel()
		err := g.admin.CommitGroupOffsets(ctx, g.group, pos)
		switch {
		case err != nil && err.Error() != failing:
			failing = err.Error()
			g.log.Warn("committing positions to the consumer group failed (informational only; the checkpoint holds the positions)",
				"query", g.query, "group", g.group, "err", err)
		case err != nil:
			g.log.Debug("committing positions to the consumer group failed again", "query", g.query, "group", g.group, "err", err)
		case failing != "":
			failing = ""
			g.log.Info("committing positions to the consumer group works again", "query", g.query, "group", g.group)
		}
	}
	for {
		select {
		case pos := <-g.next:
			commit(pos)
		case <-g.quit:
			select {
			case pos := <-g.next: // the last batch's, before the query stops
				commit(pos)
			default:
			}
			return
		}
	}
}

// close commits the positions still waiting (within groupCommitTimeout)
// and stops the goroutine. Call it before closing the admin client.
func (g *groupCommitter) close() {
	close(g.quit)
	<-g.done
}
