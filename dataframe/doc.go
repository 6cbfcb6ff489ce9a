// Package dataframe is microbatch's query layer: schemas, record decoders
// into Arrow, a PySpark-like logical plan, and its vectorised, mergeable
// streaming execution.
//
// # Schemas and decoders
//
// A source is described by a Schema, usually parsed from Spark DDL with
// ParseSchema ("event_time TIMESTAMP, brand STRING, data.page STRING"), and
// exposes the Kafka metadata columns of MetadataFields after its fields.
// NewDecoder returns a Decoder that turns JSON or CSV record values into
// Arrow records with a hand-written, schema-directed scanner (JSON) or a
// byte-level splitter (CSV) that append straight into per-column buffers,
// copied into allocator memory once per Flush. DecoderOptions.Columns pushes the query's
// projection down so unused fields are skipped. Malformed records follow
// Spark's modes: PERMISSIVE (a row of NULLs), DROPMALFORMED and FAILFAST (a
// *MalformedRecordError naming topic, partition and offset). In PERMISSIVE
// mode the ColCorruptRecord column holds a malformed record's raw value
// (decoded only when listed in Columns; it then checks every schema field,
// read or not), and DecoderOptions.OnMalformed hears of each malformed
// record in PERMISSIVE and DROPMALFORMED mode (dead letters).
//
// # Expressions and plans
//
// Queries are built like PySpark DataFrames:
//
//	df := dataframe.Source("events", schema).
//		Filter(dataframe.Col("event_type").Eq(dataframe.Lit("view"))).
//		GroupBy(dataframe.Col("brand")).
//		Agg(dataframe.Count().As("views"))
//
// Expressions follow Spark SQL semantics: three-valued logic, / always
// DOUBLE (x/0 is NULL), integer arithmetic staying integer, aggregates that
// ignore NULLs. Call applies one of Spark's scalar functions
// (Functions lists them; funcs.go is the registry), vectorised over a
// batch's columns with constant arguments compiled once. Mistakes are collected and reported by DataFrame.Err and
// Compile; unknown columns list the columns that exist. DataFrame.String is
// the canonical plan text, and ParsePlan reads it back. A checkpoint
// compares a query by its compiled Program's GroupKeys and Aggregates: the
// state's shape, with each column as its source name and type.
//
// # Streaming execution
//
// Compile checks a DataFrame for an OutputMode and returns a Program. Each
// executor task runs a Task over its record batches: a stateless program
// filters and projects into output records; a stateful one filters and
// folds rows into a partial hash aggregate. A State merges the Tasks of a
// batch, reports its changelog for the checkpoint (Changes: an upsert of
// each changed group's versioned value, a delete of each removed group, in
// (key group, key) order; Restore reads the upserts back), and finalizes
// the result table (HAVING, projection, ORDER BY, LIMIT).
//
// One batch of a stateful query, as the engine drives it:
//
//	for each task: t := prog.NewTask(mem); t.Consume(rec)...    // executor goroutines
//	for each task: state.Merge(t); t.Release()                   // driver
//	out, _ := state.Result(mode == dataframe.Update)             // sink it
//	gone, _ := state.Retracted()                                 // update mode: sink deletes these keys
//	state.Changes(checkpoint.KeyGroupOf, func(g uint16, k, v []byte, del bool) error {
//		... // in the commit transaction: put (k, v), or delete k, in key group g
//	})
//	state.ResetChanged()
//
// # Static tables and joins
//
// LoadTable reads a CSV, JSON-lines or Parquet file into Arrow (a
// StaticTable); DataFrame.Join joins the stream with it, INNER or LEFT,
// on equality keys and an optional condition, before any aggregation. The
// table is hashed on the join key once per loaded content and probed per
// batch over the key column. Reload swaps in changed content; a Task (and
// PinTables, for the engine) pins the content it started with, so a batch
// never sees two versions. A key that repeats outputs a row per match, as
// in Spark; TableOptions.Key makes the load refuse duplicates instead.
//
// # Event-time windows
//
// GroupBy(Window(ts, size, slide, start), ...) (or Tumble, Hop) groups
// rows by event-time windows: the window's start and end are the first
// two key columns (window.start, window.end; window_start, window_end for
// Tumble and Hop), and a row of a sliding window is folded into every
// window holding it. GroupBy(key, SessionWindow(ts, gap)) groups each
// key's rows into sessions (session_window.start, session_window.end),
// which State.Merge joins as rows within the gap arrive. DataFrame.WithWatermark names the event-time column
// and the delay; Task.SetWatermark makes a Task drop (row, window) pairs
// whose window ended by the watermark (RowsDroppedByWatermark counts the
// rows all of whose pairs were late) and Task.EventTimes reports what it
// saw; NextWatermark computes the next batch's watermark. A State tracks
// its groups by window end, and CloseWindows emits (append mode) and
// evicts the windows that ended, its cost following the windows closed.
// Compile refuses append mode for an aggregation without a window and a
// watermark on the window's column, as Spark does.
//
// # Deletes and retractions
//
// A State removes groups (State.CloseWindows evicts the windows that
// ended by a watermark; see window.go) at a cost that follows the groups
// removed: the
// key leaves the index, the accumulators are emptied, and the group's row
// in the key order and the result table is dropped, its id recycled, with
// the next batch that extends the order (or once removed groups are half
// of them). A removed key that arrives again is a new group; within the
// batch of its removal, it is an upsert and no delete.
//
// In update mode a sink must also delete the rows that leave the result:
// Retracted gives the key columns (KeySchema) of each group whose row was
// emitted (as of ResetChanged) and no longer is, because its HAVING
// stopped holding or it was removed. The State keeps one bit per group,
// its row emitted or not; a restored group's bit is its HAVING's. Result
// never holds such rows, and a group whose HAVING holds again is in
// Result as any change. Complete mode replaces the whole result and
// retracts nothing.
//
// At startup, State.Restore loads each persisted entry. A State has no
// rollback: if a batch fails after Merge, rebuild the State from the
// checkpoint before running the batch again. A stateless query's
// Tasks produce output records directly (Task.Output).
//
// # Semantics and deviations from Spark
//
//   - Lit(int) is INT when the value fits in 32 bits, else BIGINT, as PySpark.
//   - Filter after Limit, OrderBy after Limit and aggregation after Limit are
//     refused; a Limit in a stateless (append) query is applied per Task, so
//     the engine enforces it across the stream (Program.Limit).
//   - After an aggregation, Filter and Select may use aggregates not listed
//     in Agg (HAVING count(*) > 1); they are computed alongside.
//   - JSON: a non-string value in a STRING column is kept as its JSON text,
//     as Spark does; a dotted schema name also matches a literal key with
//     the dots; fields not in DecoderOptions.Columns are skipped without type
//     checks. CSV: an unquoted empty field is NULL, a quoted empty field ("")
//     is the empty STRING.
//   - Integer arithmetic wraps on overflow (Spark's non-ANSI mode); DOUBLE
//     NaN sorts above every other value and groups with itself.
//
// # Memory
//
// Every Arrow object is allocated from the allocator passed in and must be
// released by its owner: records from Decoder.Flush, Task.Output and
// State.Result belong to the caller. One exception: the values of
// State.Result's columns (not their validity bitmaps) are not copied out of
// the State's result table but shared with it, in Go memory; while a
// result holds a column, the State copies it before changing it.
//
// Group keys live back to back in one byte arena, indexed by an
// open-addressing table of integers that keeps each key's hash: a group
// costs no allocation of its own, the garbage collector has no pointer per
// group to scan, and State.Merge takes a Task's groups with their hashes.
// Removing a group frees what its accumulators held at once; its key's
// bytes are given back when the removed keys are half of the arena (the
// live keys are copied into a new one), and its id is reused by the next
// new group, so a State that evicts as much as it adds stays its size.
//
// A State keeps its groups in key order, with an 8-byte abbreviation of
// each key so that new groups are merged into the order by comparing
// integers, and after the first complete-mode Result the whole result
// table (decoded keys and finalized aggregates) in Go memory (and a spare
// of it to rebuild into), about two more copies of the state: a batch then
// decodes only its new groups, rewrites only its changed ones, and hands
// the table out without copying it.
package dataframe
