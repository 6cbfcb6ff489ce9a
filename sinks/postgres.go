package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
)

// ErrTookOver is returned (wrapped) by a PostgreSQL sink fenced by a newer
// instance of the same job and sink: its Open raised the epoch in
// microbatch_progress.
var ErrTookOver = errors.New("another instance took over: a newer instance of this job opened the sink (its epoch in microbatch_progress is higher)")

// upsertFillfactor is the fillfactor of a table the sink creates for
// update mode.
const upsertFillfactor = 50

// ProgressTable is the table of the PostgreSQL sink's progress rows, in
// the schema of the sink's table.
const ProgressTable = "microbatch_progress"

// PostgresOptions configure a PostgreSQL sink.
type PostgresOptions struct {
	// URL is a libpq connection string or URL (postgres://user:pass@host/db?sslmode=...),
	// as pgx parses it.
	URL string
	// Table receives the rows: a name or schema.name, taken as written
	// (quoted: case-sensitive).
	Table string
	// CreateTable creates a missing table at the first batch, its columns
	// named and typed as the query's output, its primary key the group-by
	// columns (Output.KeySchema). The job file's default is true. A
	// missing table is an error otherwise.
	CreateTable bool
	// Job and Name key the sink's progress row in microbatch_progress;
	// Name defaults to Table.
	Job, Name string
	// NumRetries and RetryInterval are the retry budget of a connection
	// error or a server restart (the source's fetchOffset.numRetries and
	// retryIntervalMs): 0 is the default (3, 1 s), engine.Off none.
	NumRetries    int
	RetryInterval time.Duration
	// Logger logs retries (nil: slog.Default()).
	Logger *slog.Logger
}

// Postgres writes every batch's rows to a PostgreSQL table, exactly once:
// each batch is one Postgres transaction that writes the rows and moves the
// sink's progress row in microbatch_progress(job, sink, batch_id, epoch) to
// the batch id. The progress row is locked (SELECT ... FOR UPDATE) first; a
// batch it already holds is skipped (the engine re-runs a batch whose
// Postgres commit made it and whose bbolt commit did not), and an epoch
// other than the one Open took fences the sink (ErrTookOver). Append mode
// COPYs the new rows; update mode upserts the changed rows (COPY into a
// temporary table, then INSERT ... ON CONFLICT (keys) DO UPDATE) and
// deletes the keys of Output.Deleted; complete mode replaces the table's
// rows. It implements engine.Sink, engine.SinkOpener and io.Closer.
type Postgres struct {
	opts     PostgresOptions
	cfg      *pgx.ConnConfig
	table    pgx.Identifier
	progress pgx.Identifier
	log      *slog.Logger

	conn   *pgx.Conn
	epoch  int64     // taken by Open; 0 before
	temps  *pgx.Conn // the connection holding update mode's temporary tables
	marker int64     // last batch id committed in Postgres; -1 if none
	shape  *pgShape
	// beforeCommit, when set (tests), runs before each batch's COMMIT.
	beforeCommit func(batchID int64)
}

// pgShape is the table's layout for the query's output, fixed at the
// first batch.
type pgShape struct {
	cols []string // output columns, in order
	keys []string // the group-by columns (a subset of cols); nil: none
	// upsert: update mode with keys; replace: complete mode, or update
	// mode of a query without keys (one row).
	upsert, replace bool
	// deleteSQL and upsertSQL are update mode's statements (upsert).
	deleteSQL, upsertSQL string
}

// NewPostgres checks opts and returns the sink; it connects in Open.
func NewPostgres(opts PostgresOptions) (*Postgres, error) {
	var errs []error
	cfg, err := ParsePostgresURL(opts.URL)
	if err != nil {
		errs = append(errs, err)
	}
	table, err := parseTableName(opts.Table)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("postgres sink: %w", errors.Join(errs...))
	}
	if opts.Name == "" {
		opts.Name = opts.Table
	}
	switch {
	case opts.NumRetries == 0:
		opts.NumRetries = 3
	case opts.NumRetries < 0:
		opts.NumRetries = 0
	}
	switch {
	case opts.RetryInterval == 0:
		opts.RetryInterval = time.Second
	case opts.RetryInterval < 0:
		opts.RetryInterval = 0
	}
	p := &Postgres{opts: opts, cfg: cfg, table: table, marker: -1, log: opts.Logger}
	p.progress = append(append(pgx.Identifier{}, table[:len(table)-1]...), ProgressTable)
	if p.log == nil {
		p.log = slog.Default()
	}
	return p, nil
}

// ParsePostgresURL parses a connection URL or string as the sink does: a
// bad URL or an unknown sslmode is an error, which never holds the
// password.
func ParsePostgresURL(s string) (*pgx.ConnConfig, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("url is not set")
	}
	cfg, err := pgx.ParseConfig(s)
	if err != nil {
		return nil, err // pgconn.ParseConfigError redacts the password
	}
	return cfg, nil
}

func parseTableName(s string) (pgx.Identifier, error) {
	parts := strings.Split(s, ".")
	if s == "" || len(parts) > 2 {
		return nil, fmt.Errorf("table %q: want name or schema.name", s)
	}
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("table %q: want name or schema.name", s)
		}
	}
	return pgx.Identifier(parts), nil
}

// Open connects, creates microbatch_progress when missing and takes a new
// epoch in the sink's progress row, which fences every older instance. A
// progress row ahead of the checkpoint (lastCommitted+1) is refused before
// the epoch moves, so a misconfigured instance does not stop a running one.
func (p *Postgres) Open(ctx context.Context, lastCommitted int64) error {
	p.Close() // a Query run again opens its sink again
	p.marker, p.epoch, p.shape = -1, 0, nil
	return p.retry(ctx, "open", func(ctx context.Context) error {
		tx, err := p.conn.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+p.progress.Sanitize()+` (
			job text NOT NULL, sink text NOT NULL, batch_id bigint NOT NULL, epoch bigint NOT NULL,
			PRIMARY KEY (job, sink))`); err != nil {
			return fmt.Errorf("create %s: %w", p.progress.Sanitize(), err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+p.progress.Sanitize()+` VALUES ($1, $2, -1, 0) ON CONFLICT DO NOTHING`,
			p.opts.Job, p.opts.Name); err != nil {
			return err
		}
		var marker, epoch int64
		if err := tx.QueryRow(ctx, `SELECT batch_id, epoch FROM `+p.progress.Sanitize()+` WHERE job = $1 AND sink = $2 FOR UPDATE`,
			p.opts.Job, p.opts.Name).Scan(&marker, &epoch); err != nil {
			return err
		}
		if marker > lastCommitted+1 {
			return permanent(fmt.Errorf("progress row (job %q, sink %q) in %s is at batch %d but the checkpoint's last committed batch is %d: the row is another query's (or the checkpoint was reset); delete the row or name the job otherwise",
				p.opts.Job, p.opts.Name, p.progress.Sanitize(), marker, lastCommitted))
		}
		if _, err := tx.Exec(ctx, `UPDATE `+p.progress.Sanitize()+` SET epoch = $3 WHERE job = $1 AND sink = $2`,
			p.opts.Job, p.opts.Name, epoch+1); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		p.marker, p.epoch = marker, epoch+1
		return nil
	})
}

// AddBatch writes out in one transaction with the progress row; a batch
// the row already holds is skipped. The first batch checks the table
// against out.Schema (or creates it).
func (p *Postgres) AddBatch(ctx context.Context, out *engine.Output) error {
	if p.epoch == 0 {
		return errors.New("postgres sink: AddBatch before Open")
	}
	if out.BatchID <= p.marker {
		return nil // committed in Postgres before a crash; only bbolt's commit is redone
	}
	if p.shape == nil {
		shape, err := newShape(out, p.table)
		if err != nil {
			return fmt.Errorf("postgres sink: table %s: %w", p.table.Sanitize(), err)
		}
		if err := p.retry(ctx, "check table", func(ctx context.Context) error { return p.ensureTable(ctx, out, shape) }); err != nil {
			return err
		}
		p.shape = shape
	}
	return p.retry(ctx, fmt.Sprintf("batch %d", out.BatchID), func(ctx context.Context) error { return p.write(ctx, out) })
}

// write runs batch out's transaction.
func (p *Postgres) write(ctx context.Context, out *engine.Output) error {
	tx, err := p.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var marker, epoch int64
	err = tx.QueryRow(ctx, `SELECT batch_id, epoch FROM `+p.progress.Sanitize()+` WHERE job = $1 AND sink = $2 FOR UPDATE`,
		p.opts.Job, p.opts.Name).Scan(&marker, &epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return permanent(fmt.Errorf("%w: the progress row (job %q, sink %q) was deleted", ErrTookOver, p.opts.Job, p.opts.Name))
	}
	if err != nil {
		return err
	}
	if epoch != p.epoch {
		return permanent(fmt.Errorf("%w (job %q, sink %q: epoch %d, this instance's %d)", ErrTookOver, p.opts.Job, p.opts.Name, epoch, p.epoch))
	}
	if marker >= out.BatchID {
		p.marker = marker // a commit whose reply was lost
		return nil
	}
	s := p.shape
	switch {
	case s.replace:
		if _, err := tx.Exec(ctx, `DELETE FROM `+p.table.Sanitize()); err != nil {
			return err
		}
		if err := p.copyRows(ctx, tx, p.table, out, s.cols); err != nil {
			return err
		}
	case s.upsert:
		if err := p.upsert(ctx, tx, out); err != nil {
			return err
		}
	default:
		if err := p.copyRows(ctx, tx, p.table, out, s.cols); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE `+p.progress.Sanitize()+` SET batch_id = $3 WHERE job = $1 AND sink = $2`,
		p.opts.Job, p.opts.Name, out.BatchID); err != nil {
		return err
	}
	if p.beforeCommit != nil {
		p.beforeCommit(out.BatchID)
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	p.marker = out.BatchID
	if s.upsert {
		p.temps = p.conn
	}
	return nil
}

// upsert deletes out.Deleted's keys, then inserts or updates the changed
// rows, both through temporary tables filled by COPY. The temporary
// tables are made once per connection (makeTemps), ON COMMIT DELETE ROWS:
// a batch does not create and drop two tables in the catalog.
func (p *Postgres) upsert(ctx context.Context, tx pgx.Tx, out *engine.Output) error {
	s := p.shape
	if err := p.makeTemps(ctx, tx); err != nil {
		return err
	}
	if d := out.Deleted; d != nil && d.NumRows() > 0 {
		src, err := newArrowRows([]arrowRecord{d}, s.keys)
		if err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{pgDeleted}, s.keys, src); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, s.deleteSQL); err != nil {
			return err
		}
	}
	if out.NumRows() == 0 {
		return nil
	}
	if err := p.copyRows(ctx, tx, pgx.Identifier{pgChanged}, out, s.cols); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, s.upsertSQL)
	return err
}

// The temporary tables of update mode: the changed rows and the deleted
// keys of a batch.
const (
	pgChanged = "microbatch_changed"
	pgDeleted = "microbatch_deleted"
)

// makeTemps creates update mode's temporary tables in tx when the
// connection has none yet. They live as long as the connection; a
// rolled-back tx takes them with it, so p.temps records the connection
// only when the batch commits (write).
func (p *Postgres) makeTemps(ctx context.Context, tx pgx.Tx) error {
	if p.temps == p.conn {
		return nil
	}
	s := p.shape
	for _, t := range []struct {
		name string
		cols []string
	}{{pgChanged, s.cols}, {pgDeleted, s.keys}} {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE `+t.name+` ON COMMIT DELETE ROWS AS SELECT `+strings.Join(quoteAll(t.cols), ", ")+
			` FROM `+p.table.Sanitize()+` WITH NO DATA`); err != nil {
			return err
		}
	}
	return nil
}

// upsertStatements sets s's statements of update mode: the DELETE of the
// deleted keys and the INSERT ... ON CONFLICT of the changed rows.
func (s *pgShape) upsertStatements(table pgx.Identifier) {
	keys, cols := quoteAll(s.keys), quoteAll(s.cols)
	var on, set []string
	for _, k := range keys {
		on = append(on, "t."+k+" = d."+k)
	}
	for i, c := range cols {
		if !contains(s.keys, s.cols[i]) {
			set = append(set, c+" = EXCLUDED."+c)
		}
	}
	action := "DO NOTHING"
	if len(set) > 0 {
		action = "DO UPDATE SET " + strings.Join(set, ", ")
	}
	s.deleteSQL = `DELETE FROM ` + table.Sanitize() + ` t USING ` + pgDeleted + ` d WHERE ` + strings.Join(on, " AND ")
	s.upsertSQL = `INSERT INTO ` + table.Sanitize() + ` (` + strings.Join(cols, ", ") + `) SELECT ` + strings.Join(cols, ", ") +
		` FROM ` + pgChanged + ` ON CONFLICT (` + strings.Join(keys, ", ") + `) ` + action
}

func (p *Postgres) copyRows(ctx context.Context, tx pgx.Tx, table pgx.Identifier, out *engine.Output, cols []string) error {
	if out.NumRows() == 0 {
		return nil
	}
	recs := make([]arrowRecord, len(out.Records))
	for i, r := range out.Records {
		recs[i] = r
	}
	src, err := newArrowRows(recs, cols)
	if err != nil {
		return err
	}
	_, err = tx.CopyFrom(ctx, table, cols, src)
	return err
}

// Close closes the connection.
func (p *Postgres) Close() error {
	if p.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.conn.Close(ctx)
		p.conn, p.temps = nil, nil
	}
	return nil
}

// retry runs fn on a connection (connecting first when there is none) and
// again, on a new connection, after RetryInterval while it fails with a
// connection error or a server shutting down or starting, NumRetries more
// times at most. Other errors end it at once.
func (p *Postgres) retry(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := p.connect(ctx)
		if err == nil {
			err = fn(ctx)
		}
		if err == nil {
			return nil
		}
		if !p.transient(err) || ctx.Err() != nil {
			return fmt.Errorf("postgres sink: %s: %w", what, unwrapPermanent(err))
		}
		p.Close()
		if attempt > p.opts.NumRetries {
			return fmt.Errorf("postgres sink: %s failed %d times (fetchOffset.numRetries %d): %w", what, attempt, p.opts.NumRetries, err)
		}
		p.log.Warn("postgres sink: "+what+" failed; retrying", "job", p.opts.Job, "attempt", attempt, "in", p.opts.RetryInterval, "err", err)
		t := time.NewTimer(p.opts.RetryInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// connect opens the connection if there is none, each attempt bounded by
// the URL's connect_timeout (10 s when it has none).
func (p *Postgres) connect(ctx context.Context) error {
	if p.conn != nil && !p.conn.IsClosed() {
		return nil
	}
	cctx := ctx
	if p.cfg.ConnectTimeout == 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	c, err := pgx.ConnectConfig(cctx, p.cfg)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000") {
			return permanent(fmt.Errorf("connect to %s:%d as user %q: %w", p.cfg.Host, p.cfg.Port, p.cfg.User, pe))
		}
		return fmt.Errorf("connect to %s:%d as user %q: %w", p.cfg.Host, p.cfg.Port, p.cfg.User, err)
	}
	p.conn = c
	return nil
}

// transient says whether err is worth a retry on a new connection: the
// connection broke (closed, reset, refused, timed out) or the server is
// shutting down, starting or in recovery.
func (p *Postgres) transient(err error) bool {
	var perm *permanentError
	if errors.As(err, &perm) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ne net.Error
	return (p.conn != nil && p.conn.IsClosed()) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// permanentError marks an error retry must not retry.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err} }

func unwrapPermanent(err error) error {
	if pe, ok := err.(*permanentError); ok {
		return pe.err
	}
	return err
}

// newShape fixes the table's layout from the first batch's output.
func newShape(out *engine.Output, table pgx.Identifier) (*pgShape, error) {
	s := &pgShape{}
	for _, f := range out.Schema.Fields() {
		if _, err := pgType(f.Type); err != nil {
			return nil, fmt.Errorf("column %s: %w", f.Name, err)
		}
		if contains(s.cols, f.Name) {
			return nil, fmt.Errorf("the query has two output columns named %s: name them apart (AS)", f.Name)
		}
		s.cols = append(s.cols, f.Name)
	}
	if out.KeySchema != nil {
		for _, f := range out.KeySchema.Fields() {
			if !contains(s.cols, f.Name) {
				if out.Mode == dataframe.Update {
					return nil, fmt.Errorf("group-by expression %s is not an output column: update mode keys the table by the group-by columns, so select it (with AS %s)", f.Name, f.Name)
				}
				s.keys = nil // complete mode: no primary key
				break
			}
			s.keys = append(s.keys, f.Name)
		}
	}
	switch out.Mode {
	case dataframe.Complete:
		s.replace = true
	case dataframe.Update:
		s.upsert = len(s.keys) > 0
		s.replace = out.KeySchema != nil && len(s.keys) == 0
	}
	if s.upsert {
		s.upsertStatements(table)
	}
	return s, nil
}

// ensureTable creates the table when missing (CreateTable), or checks that
// every output column is in it with the type the sink writes.
func (p *Postgres) ensureTable(ctx context.Context, out *engine.Output, s *pgShape) error {
	rows, err := p.conn.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, p.table.Sanitize())
	if err != nil {
		return err
	}
	have := map[string]string{}
	var name, typ string
	if _, err := pgx.ForEachRow(rows, []any{&name, &typ}, func() error { have[name] = typ; return nil }); err != nil {
		return err
	}
	if len(have) == 0 {
		if !p.opts.CreateTable {
			return permanent(fmt.Errorf("table %s does not exist (set createTable to create it)", p.opts.Table))
		}
		var defs []string
		for _, f := range out.Schema.Fields() {
			t, _ := pgType(f.Type)
			defs = append(defs, pgx.Identifier{f.Name}.Sanitize()+" "+t)
		}
		if len(s.keys) > 0 {
			defs = append(defs, "PRIMARY KEY ("+strings.Join(quoteAll(s.keys), ", ")+")")
		}
		with := ""
		if s.upsert {
			// Half of each page free: an upsert's new row version fits
			// in its page, a HOT update that leaves the primary key's
			// index alone. An upserted table grows to this size anyway
			// with its dead versions.
			with = " WITH (fillfactor = " + strconv.Itoa(upsertFillfactor) + ")"
		}
		_, err := p.conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+p.table.Sanitize()+` (`+strings.Join(defs, ", ")+`)`+with)
		return err
	}
	var bad []string
	for _, f := range out.Schema.Fields() {
		want, _ := pgType(f.Type)
		got, ok := have[f.Name]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("column %s is missing, want %s (the query's %s)", f.Name, want, sqlTypeName(f.Type)))
		case got != want:
			bad = append(bad, fmt.Sprintf("column %s is %s, want %s (the query's %s)", f.Name, got, want, sqlTypeName(f.Type)))
		}
	}
	if len(bad) > 0 {
		return permanent(fmt.Errorf("table %s does not fit the query's output: %s", p.opts.Table, strings.Join(bad, "; ")))
	}
	return nil
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = pgx.Identifier{n}.Sanitize()
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
