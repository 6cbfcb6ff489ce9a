package sinks

// SetPostgresBeforeCommit makes p call fn before each batch's COMMIT, after
// its rows and progress row were written: the crash test's "before the
// Postgres commit" point.
func SetPostgresBeforeCommit(p *Postgres, fn func(batchID int64)) { p.beforeCommit = fn }
