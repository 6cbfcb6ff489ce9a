package engine

// Failpoints name the instants of a batch's lifecycle at which the crash
// tests kill the process. The hook is unexported: only this package's tests
// can set it (Config.failpoint), so it costs a nil check in production.
const (
	fpAfterPlan    = "after-plan"    // plan made, nothing written or read
	fpAfterWAL     = "after-wal"     // plan durable; the executors may be reading
	fpMidFetch     = "mid-fetch"     // executors have decoded part of the batch
	fpAfterSink    = "after-sink"    // AddBatch returned (a TxSink: output built), commit not begun
	fpCommitBegin  = "commit-begin"  // the commit transaction has begun (not a crash point: a sink test's)
	fpBeforeCommit = "before-commit" // inside the commit transaction (a TxSink has written), not durable
	fpAfterCommit  = "after-commit"  // commit durable; Committed not called, driver not advanced
)

func (d *driver) failpoint(name string, batchID int64) {
	if fp := d.q.cfg.failpoint; fp != nil {
		fp(name, batchID)
	}
}
