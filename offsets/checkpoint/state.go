package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sort"

	"go.etcd.io/bbolt"
)

// State is stored in two buckets (see doc.go, "State storage and commit
// cost"):
//
//	statebase first stored key -> a chunk of the base, as of the last compaction
//	statelog  batch id + chunk number -> the batch's changes, in stored-key order
//
// A stored key is the key's namespace then the key (namespace.go).
//
// A B+tree update rewrites a whole page for each changed key, so a batch
// that changes 10k keys spread over a 1M-key state would rewrite ~10k 4 KiB
// pages. Appending the batch's changes to statelog as a few large values
// instead costs a memory copy per change. When the log holds compactRatio
// times as many changes as the base has keys (and at least compactMin), the
// commit that crosses the line compacts it: the latest change of every
// logged key is merged into the base's chunks (statebase.go), and the log
// is emptied. A batch that alone changes that many keys is applied to the
// base directly.

var (
	bucketStateLog = []byte("statelog")
	// keyStateBaseKeys counts the base's keys, exactly since its first
	// compaction in format 2 (format 1 estimated it).
	keyStateBaseKeys = []byte("stateBaseKeys")
	keyStateLogKeys  = []byte("stateLogKeys")
)

const (
	opPut    byte = 'P'
	opDelete byte = 'D'

	// compactMin is the smallest log that is compacted: below it a log
	// costs less to keep than to apply.
	compactMin = 4096
	// compactRatio: the log is compacted when it holds compactRatio times
	// as many changes as the base has keys. A compaction applies each
	// logged key once, however often it changed, so a larger ratio lowers
	// the amortised cost (at most 1/compactRatio base update per change)
	// at the price of a larger log on disk and to read at startup.
	compactRatio = 2
	// maxStateKey is the longest state key, without its namespace: the
	// longest format 2 took, so that every upgraded key can still be put
	// and deleted. Its stored form, namespace included, stays within
	// bbolt's MaxKeySize: a base chunk is stored under its first key.
	maxStateKey = bbolt.MaxKeySize - 8
)

// stateOp is one change of a batch, its bytes in CommitTx's arena.
type stateOp struct {
	key, value []byte
	del        bool
}

// CommitTx is the write side of a batch commit, valid only inside the fn
// given to Checkpoint.Commit. State changes are buffered and written when fn
// returns; sink buckets are written directly.
type CommitTx struct {
	tx      *bbolt.Tx
	batchID int64
	// While the changes come in strictly ascending key order (sorted), as
	// an engine's do, they are encoded straight into the log's chunks: enc
	// holds encN of them in appendLog's format, the last chunk being
	// filled, and last is the last key (a view of enc). The first change
	// out of order decodes them into ops, which then keep every change
	// (their bytes in arena) until WriteState sorts them.
	enc     [][]byte
	encN    int
	last    []byte
	sorted  bool
	ops     []stateOp
	grow    int // GrowState's hint, for ops
	arena   []byte
	done    bool
	written bool // WriteState has run: no more state changes
	// leave and enter release and take back the checkpoint's snapshot
	// lock (Await); nil outside Checkpoint.Commit.
	leave, enter func()
	// ckpt is the checkpoint committing (WriteAhead).
	ckpt *Checkpoint

	puts, deletes int64
	// nsKey is a scratch buffer for the stored form of a key (add copies).
	nsKey []byte
	// output, when set, is SetOutput's: the commit record's OutputRows and
	// EmittedRows.
	output *CommitRecord
}

func newCommitTx(c *Checkpoint, tx *bbolt.Tx, batchID int64) *CommitTx {
	return &CommitTx{ckpt: c, tx: tx, batchID: batchID, sorted: true}
}

// errTxDone is what a CommitTx's methods return once its Commit has ended.
var errTxDone = errors.New("offsets: CommitTx used outside its Commit")

const (
	arenaMinChunk = 4 << 10
	arenaChunk    = 256 << 10
)

// copyBytes copies b into the arena: callers may reuse their buffers.
func (t *CommitTx) copyBytes(b []byte) []byte {
	if len(b) > arenaChunk/8 {
		return bytes.Clone(b)
	}
	if cap(t.arena)-len(t.arena) < len(b) {
		// Grow geometrically up to arenaChunk: a commit of a few keys
		// should not allocate (and zero) a full chunk.
		t.arena = make([]byte, 0, min(max(2*cap(t.arena), arenaMinChunk, len(b)), arenaChunk))
	}
	n := len(t.arena)
	t.arena = append(t.arena, b...)
	return t.arena[n:len(t.arena):len(t.arena)]
}

func (t *CommitTx) add(key, value []byte, del bool) error {
	if t.done {
		return errTxDone
	}
	if t.written {
		return errors.New("offsets: state change after WriteState")
	}
	if len(key) <= nsPrefixLen || len(key) > maxStateKey+nsPrefixLen {
		return fmt.Errorf("checkpoint: state key of %d bytes: want 1 to %d", len(key)-nsPrefixLen, maxStateKey)
	}
	if len(value) > bbolt.MaxValueSize-1 {
		return fmt.Errorf("offsets: state value of %d bytes is too large", len(value))
	}
	if t.sorted {
		if t.last == nil || bytes.Compare(key, t.last) > 0 {
			t.encode(key, value, del)
			return nil
		}
		if err := t.unsort(); err != nil {
			return err
		}
	}
	op := stateOp{key: t.copyBytes(key), del: del}
	if !del {
		op.value = t.copyBytes(value)
	}
	t.ops = append(t.ops, op)
	return nil
}

// encode appends a change to the log chunk being filled, as appendLog
// writes it, and starts a new chunk once that one reaches logChunkSize.
func (t *CommitTx) encode(key, value []byte, del bool) {
	n := len(t.enc)
	if n == 0 || len(t.enc[n-1]) >= logChunkSize {
		// bbolt keeps a put value until the commit: a chunk is never
		// reused. A commit of a few keys should not allocate a full one.
		size := arenaMinChunk
		if n > 0 {
			size = logChunkSize + logChunkSize/8
		}
		t.enc = append(t.enc, make([]byte, 0, size))
		n++
	}
	buf := binary.AppendUvarint(t.enc[n-1], uint64(len(key)))
	at := len(buf)
	buf = append(buf, key...)
	t.last = buf[at:len(buf):len(buf)]
	if del {
		buf = append(buf, opDelete)
	} else {
		buf = append(buf, opPut)
		buf = binary.AppendUvarint(buf, uint64(len(value)))
		buf = append(buf, value...)
	}
	t.enc[n-1] = buf
	t.encN++
}

// unsort turns the changes encoded so far into ops (viewing enc), for a
// change that came out of key order.
func (t *CommitTx) unsort() error {
	ops, err := t.decodeEnc(make([]stateOp, 0, max(t.grow, 2*t.encN)))
	if err != nil {
		return err
	}
	t.ops, t.enc, t.encN, t.last, t.sorted = ops, nil, 0, nil, false
	return nil
}

// decodeEnc appends the changes encoded in enc to ops, viewing enc.
func (t *CommitTx) decodeEnc(ops []stateOp) ([]stateOp, error) {
	for i, chunk := range t.enc {
		var err error
		if _, ops, err = appendLogChunk(ops, logKey(t.batchID, uint32(i)), chunk); err != nil {
			return nil, err
		}
	}
	return ops, nil
}

// Await runs wait, which blocks on something outside the transaction (a
// sink receiving the batch's output, say), without holding back snapshot
// readers (read-only Open: the state and offsets commands, a sink reading
// the checkpoint) meanwhile: the transaction writes nothing to the file
// before it commits.
func (t *CommitTx) Await(wait func()) {
	if t.leave != nil {
		t.leave()
		defer t.enter()
	}
	wait()
}

// WriteAhead records the plan of the next batch (p.ID must be this
// commit's batch id + 1) in this commit's transaction, as
// Checkpoint.WriteAhead would once the commit is durable: the commit and
// the next batch's write-ahead cost one transaction and one fsync, and the
// checkpoint never holds two uncommitted plans. If the commit fails, the
// plan is not recorded either.
func (t *CommitTx) WriteAhead(p BatchPlan) error {
	if t.done {
		return errTxDone
	}
	return t.ckpt.writeAhead(t.tx, p, t.batchID+1)
}

// SetOutput records the batch's output in its commit record (OutputRows,
// EmittedRows), for a caller that knows it only once the commit has begun.
func (t *CommitTx) SetOutput(rows, emitted int64) error {
	if t.done {
		return errTxDone
	}
	t.output = &CommitRecord{OutputRows: rows, Meta: Meta{EmittedRows: emitted}}
	return nil
}

// GrowState reserves room for n more state changes (PutState and
// DeleteState calls), as slices.Grow does: a commit that knows how many
// keys it changes saves growing its buffer of changes as they come.
func (t *CommitTx) GrowState(n int) {
	if !t.sorted {
		t.ops = slices.Grow(t.ops, n)
		return
	}
	t.grow = len(t.ops) + t.encN + n
}

// PutState sets the state key of namespace ns to value. Keys must be 1 to
// 32756 bytes. key and value are copied, so callers may reuse their
// buffers. Putting keys in ascending (namespace, key) order saves a sort.
func (t *CommitTx) PutState(ns Namespace, key, value []byte) error {
	t.nsKey = appendStoredKey(t.nsKey[:0], ns, key)
	if err := t.add(t.nsKey, value, false); err != nil {
		return err
	}
	t.puts++
	return nil
}

// DeleteState removes the state key of namespace ns; deleting a missing key
// is a no-op.
func (t *CommitTx) DeleteState(ns Namespace, key []byte) error {
	t.nsKey = appendStoredKey(t.nsKey[:0], ns, key)
	if err := t.add(t.nsKey, nil, true); err != nil {
		return err
	}
	t.deletes++
	return nil
}

// Bucket returns the sink bucket name (nested in the sinks bucket), creating
// it on first use. It commits or rolls back with the batch.
func (t *CommitTx) Bucket(name string) (*bbolt.Bucket, error) {
	if t.done {
		return nil, errTxDone
	}
	if name == "" {
		return nil, errors.New("offsets: empty sink bucket name")
	}
	b, err := t.tx.Bucket(bucketSinks).CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return nil, fmt.Errorf("sink bucket %q: %w", name, err)
	}
	return b, nil
}

// sortOps sorts ops by key, keeping only the last change of each key.
func sortOps(ops []stateOp, sorted bool) []stateOp {
	if sorted {
		return ops
	}
	sort.SliceStable(ops, func(i, j int) bool { return bytes.Compare(ops[i].key, ops[j].key) < 0 })
	out := ops[:0]
	for i, op := range ops {
		if i+1 < len(ops) && bytes.Equal(op.key, ops[i+1].key) {
			continue // a later change of the same key wins
		}
		out = append(out, op)
	}
	return out
}

// WriteState writes the state changes made so far as the commit would
// after fn returns: to the state log, or, when the log reaches the
// compaction threshold, log and changes to the base (see doc.go). Further
// PutState and DeleteState calls fail. fn calls it when it has work left
// after its last state change (waiting for a sink, say) that the writing,
// compactions included, can overlap; a second call does nothing.
func (t *CommitTx) WriteState() error {
	if t.done {
		return errTxDone
	}
	if t.written {
		return nil
	}
	t.written = true
	n := len(t.ops) + t.encN
	if n == 0 {
		return nil
	}
	meta := t.tx.Bucket(bucketMeta)
	logKeys, threshold, err := logFill(meta)
	if err != nil {
		return err
	}
	if t.sorted {
		if logKeys+int64(n) < threshold {
			if err := putLog(t.tx.Bucket(bucketStateLog), t.batchID, t.enc); err != nil {
				return err
			}
			return writeCounter(meta, keyStateLogKeys, logKeys+int64(n))
		}
		ops, err := t.decodeEnc(make([]stateOp, 0, n))
		if err != nil {
			return err
		}
		return compact(t.tx, logKeys, ops, t.copyBytes)
	}
	ops := sortOps(t.ops, false)
	if logKeys+int64(len(ops)) < threshold {
		if err := appendLog(t.tx.Bucket(bucketStateLog), t.batchID, ops); err != nil {
			return err
		}
		return writeCounter(meta, keyStateLogKeys, logKeys+int64(len(ops)))
	}
	return compact(t.tx, logKeys, ops, t.copyBytes)
}

// compact applies the log (logKeys changes) and then ops (sorted) to the
// base and empties the log. clone copies bytes that must outlive the log's
// pages.
func compact(tx *bbolt.Tx, logKeys int64, ops []stateOp, clone func([]byte) []byte) error {
	if logKeys > 0 {
		logged, err := readLog(tx.Bucket(bucketStateLog))
		if err != nil {
			return err
		}
		// The logged ops alias the log's pages, which DeleteBucket frees
		// below: copy them.
		for i := range logged {
			logged[i].key, logged[i].value = clone(logged[i].key), clone(logged[i].value)
		}
		ops = mergeOps(make([]stateOp, 0, len(logged)+len(ops)), logged, ops)
		if err := tx.DeleteBucket(bucketStateLog); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketStateLog); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	baseKeys, err := readCounter(meta, keyStateBaseKeys)
	if err != nil {
		return err
	}
	if baseKeys, err = applyToBase(tx, ops, baseKeys); err != nil {
		return err
	}
	if err := writeCounter(meta, keyStateLogKeys, 0); err != nil {
		return err
	}
	return writeCounter(meta, keyStateBaseKeys, baseKeys)
}

// StateLog returns how many changes the state log holds and how many it
// may hold before the commit that crosses the line compacts it (see
// doc.go). An engine with idle time between batches can Compact earlier.
func (c *Checkpoint) StateLog() (logged, threshold int64, err error) {
	err = c.view(func(tx *bbolt.Tx) error {
		logged, threshold, err = logFill(tx.Bucket(bucketMeta))
		return err
	})
	return logged, threshold, err
}

// logFill reads how many changes the state log holds and the size at which
// a commit compacts it into the base: compactRatio times the base's keys,
// at least compactMin.
func logFill(meta *bbolt.Bucket) (logged, threshold int64, err error) {
	base, err := readCounter(meta, keyStateBaseKeys)
	if err != nil {
		return 0, 0, err
	}
	logged, err = readCounter(meta, keyStateLogKeys)
	return logged, max(compactRatio*base, compactMin), err
}

// Compact applies the state log to the base now, in one fsynced
// transaction, instead of in the commit that crosses the threshold: for an
// engine that has idle time (between triggers, before Close). It changes
// no state value.
func (c *Checkpoint) Compact() error {
	return c.update(func(tx *bbolt.Tx) error {
		logKeys, err := readCounter(tx.Bucket(bucketMeta), keyStateLogKeys)
		if err != nil || logKeys == 0 {
			return err
		}
		var arena CommitTx
		return compact(tx, logKeys, nil, arena.copyBytes)
	})
}

// logChunkSize is the target size of one statelog value: a batch's changes
// are written as a few large values rather than one entry per key, so the
// log costs a memory copy per change instead of a B+tree insert.
const logChunkSize = 256 << 10

// logKey is the batch id then the chunk number, both big-endian: the log
// sorts in commit order.
func logKey(id int64, chunk uint32) []byte {
	return binary.BigEndian.AppendUint32(batchKey(id), chunk)
}

// appendLog writes the sorted ops of batch id as chunks of records:
// uvarint key length, key, op byte ('P' or 'D'), and for 'P' uvarint value
// length and value.
func appendLog(b *bbolt.Bucket, id int64, ops []stateOp) error {
	b.FillPercent = 1.0 // keys only grow
	var chunk uint32
	// Size each chunk's buffer to what is left to write (plus varint and
	// op bytes), so that a small batch does not allocate a full chunk.
	left := 0
	for _, op := range ops {
		left += len(op.key) + len(op.value) + 2*binary.MaxVarintLen32 + 1
	}
	newBuf := func() []byte { return make([]byte, 0, min(left, logChunkSize)+1024) }
	buf := newBuf()
	flush := func() error {
		// bbolt keeps a reference to a put value until commit: buf is
		// not reused.
		if err := b.Put(logKey(id, chunk), buf); err != nil {
			return fmt.Errorf("state log put: %w", err)
		}
		chunk++
		left -= len(buf)
		buf = newBuf()
		return nil
	}
	for _, op := range ops {
		buf = binary.AppendUvarint(buf, uint64(len(op.key)))
		buf = append(buf, op.key...)
		if op.del {
			buf = append(buf, opDelete)
		} else {
			buf = append(buf, opPut)
			buf = binary.AppendUvarint(buf, uint64(len(op.value)))
			buf = append(buf, op.value...)
		}
		if len(buf) >= logChunkSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(buf) > 0 {
		return flush()
	}
	return nil
}

// putLog writes the chunks of batch id, in appendLog's format.
func putLog(b *bbolt.Bucket, id int64, chunks [][]byte) error {
	b.FillPercent = 1.0 // keys only grow
	for i, chunk := range chunks {
		if err := b.Put(logKey(id, uint32(i)), chunk); err != nil {
			return fmt.Errorf("state log put: %w", err)
		}
	}
	return nil
}

// readLog returns the latest logged change of every key, sorted by key.
// The returned ops alias the transaction's pages: use them inside it.
//
// Each batch's chunks follow one another in key order, so the log is a run
// of sorted changes per batch: the runs are merged pairwise, newer batches
// winning, in O(changes × log batches).
func readLog(b *bbolt.Bucket) ([]stateOp, error) {
	var ops []stateOp
	if meta := b.Tx().Bucket(bucketMeta); meta != nil {
		// A hint: the log is checked as it is read.
		if n, err := readCounter(meta, keyStateLogKeys); err == nil && n > 0 {
			ops = make([]stateOp, 0, n)
		}
	}
	type run struct{ lo, hi int } // ops[lo:hi] is one batch's, sorted
	var runs []run
	lo, batch := 0, int64(-1)
	sorted := true // ops[lo:] is in strictly ascending key order
	endRun := func() {
		if len(ops) > lo {
			runs = append(runs, run{lo, lo + len(sortOps(ops[lo:], sorted))})
		}
		lo, sorted = len(ops), true
	}
	err := b.ForEach(func(k, v []byte) error {
		if len(k) == 12 && int64(binary.BigEndian.Uint64(k)) != batch {
			endRun()
			batch = int64(binary.BigEndian.Uint64(k))
		}
		n := len(ops)
		var err error
		if _, ops, err = appendLogChunk(ops, k, v); err != nil {
			return err
		}
		for i := max(n, lo+1); i < len(ops) && sorted; i++ {
			// Out of order only in a damaged log: sortOps sorts it.
			sorted = bytes.Compare(ops[i-1].key, ops[i].key) < 0
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	endRun()
	if len(runs) == 0 {
		return nil, nil
	}
	// Merge adjacent runs into a second buffer, each pair where its older
	// run began, and back, until one run is left.
	buf := make([]stateOp, len(ops))
	for len(runs) > 1 {
		merged := runs[:0]
		for i := 0; i < len(runs); i += 2 {
			r := runs[i]
			dst := buf[r.lo:r.lo]
			if i+1 == len(runs) {
				dst = append(dst, ops[r.lo:r.hi]...)
			} else {
				s := runs[i+1]
				dst = mergeOps(dst, ops[r.lo:r.hi], ops[s.lo:s.hi])
			}
			merged = append(merged, run{r.lo, r.lo + len(dst)})
		}
		runs = merged
		ops, buf = buf, ops
	}
	return ops[runs[0].lo:runs[0].hi], nil
}

// appendLogChunk decodes one statelog entry, appending its ops to ops; the
// ops alias v. Errors are *CorruptError naming the batch and chunk.
func appendLogChunk(ops []stateOp, k, v []byte) (int64, []stateOp, error) {
	if len(k) != 12 || k[0]&0x80 != 0 {
		return 0, nil, &CorruptError{Bucket: string(bucketStateLog), Key: fmt.Sprintf("%x", k), Err: errors.New("key is not a batch id and a chunk number")}
	}
	id := int64(binary.BigEndian.Uint64(k))
	corrupt := func(off int, msg string) error {
		return &CorruptError{Bucket: string(bucketStateLog), Key: fmt.Sprintf("batch %d chunk %d", id, binary.BigEndian.Uint32(k[8:])),
			Err: fmt.Errorf("at byte %d: %s", off, msg)}
	}
	if len(v) == 0 {
		return 0, nil, corrupt(0, "empty chunk")
	}
	field := func(off int) ([]byte, int, error) {
		b, end, msg := lengthPrefixed(v, off)
		if msg != "" {
			return nil, 0, corrupt(off, msg)
		}
		return b, end, nil
	}
	for off := 0; off < len(v); {
		key, next, err := field(off)
		if err != nil {
			return 0, nil, err
		}
		if len(key) == 0 {
			return 0, nil, corrupt(off, "empty key")
		}
		if next >= len(v) {
			return 0, nil, corrupt(next, "missing op")
		}
		switch v[next] {
		case opDelete:
			ops = append(ops, stateOp{key: key, del: true})
			off = next + 1
		case opPut:
			val, end, err := field(next + 1)
			if err != nil {
				return 0, nil, err
			}
			ops = append(ops, stateOp{key: key, value: val})
			off = end
		default:
			return 0, nil, corrupt(next, fmt.Sprintf("unknown op %q", v[next]))
		}
	}
	return id, ops, nil
}

// lengthPrefixed reads the uvarint length at v[off:] and the bytes it
// counts, capped at their length, and returns them and where they end; or
// what is wrong with them.
func lengthPrefixed(v []byte, off int) (b []byte, end int, msg string) {
	n, w := binary.Uvarint(v[off:])
	if w <= 0 || n > uint64(len(v)-off-w) {
		return nil, 0, "bad length"
	}
	if w != (bits.Len64(n|1)+6)/7 {
		return nil, 0, "length not minimally encoded"
	}
	end = off + w + int(n)
	return v[off+w : end : end], end, ""
}

// mergeOps appends to out the merge of two sorted change lists; newer
// wins on equal keys.
func mergeOps(out, older, newer []stateOp) []stateOp {
	i, j := 0, 0
	for i < len(older) && j < len(newer) {
		switch c := bytes.Compare(older[i].key, newer[j].key); {
		case c < 0:
			out = append(out, older[i])
			i++
		case c > 0:
			out = append(out, newer[j])
			j++
		default:
			out = append(out, newer[j])
			i++
			j++
		}
	}
	out = append(out, older[i:]...)
	return append(out, newer[j:]...)
}

func readCounter(b *bbolt.Bucket, k []byte) (int64, error) {
	v := b.Get(k)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 || v[0]&0x80 != 0 {
		return 0, &CorruptError{Bucket: string(bucketMeta), Key: string(k), Err: errors.New("not an 8-byte count")}
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

func writeCounter(b *bbolt.Bucket, k []byte, n int64) error {
	return b.Put(k, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// ForEachState calls fn for every state key in ascending (namespace, key)
// order, in one read transaction: the base merged with the log. key and
// value are valid only during the call. Memory is proportional to the
// distinct keys of the log.
func (c *Checkpoint) ForEachState(fn func(ns Namespace, key, value []byte) error) error {
	return c.viewCalling(func(tx *bbolt.Tx, u *userCalls) error {
		return mergeState(tx, func(k, v []byte) error {
			ns, key, err := splitStoredKey(k)
			if err != nil {
				return &CorruptError{Bucket: string(bucketStateBase), Key: fmt.Sprintf("state key %x", k), Err: err}
			}
			return u.call(func() error { return fn(ns, key, v) })
		})
	})
}

// mergeState calls fn for every stored state key (namespace prefix
// included, in format 3) in ascending order: the base merged with the
// log. key and value alias the transaction's pages.
func mergeState(tx *bbolt.Tx, fn func(key, value []byte) error) error {
	var logged []stateOp
	if log := tx.Bucket(bucketStateLog); log != nil {
		var err error
		if logged, err = readLog(log); err != nil {
			return err
		}
	}
	base := newBaseIter(tx)
	k, v, ok := base.next()
	for _, op := range logged {
		for ; ok && bytes.Compare(k, op.key) < 0; k, v, ok = base.next() {
			if err := fn(k, v); err != nil {
				return err
			}
		}
		if ok && bytes.Equal(k, op.key) {
			k, v, ok = base.next()
		}
		if !op.del {
			if err := fn(op.key, op.value); err != nil {
				return err
			}
		}
	}
	for ; ok; k, v, ok = base.next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return base.err
}
