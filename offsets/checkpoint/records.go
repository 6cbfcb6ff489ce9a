package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/microbatch/microbatch/offsets"
)

// formatVersion is the checkpoint format this build writes, stored in
// meta/version. Format 3 stores state keys in a namespace (namespace.go)
// and gives plans and commit records a Meta block; Open upgrades a
// checkpoint of format 1 or 2 to it (upgrade.go).
const formatVersion = 3

// Versions of the JSON records ("v"). Format 3 added the meta block to
// plans and commit records, and moved a commit record's emittedRows into
// it: their version 2. The decoders read version 1 too, which an upgrade
// leaves in place (the retained batches' records). The fingerprint and
// the initial offsets did not change.
const (
	recordVersion = 1 // fingerprint, initialOffsets
	planVersion   = 2
	commitVersion = 2
)

// Bucket and key names of the checkpoint file; see doc.go for the layout.
var (
	bucketMeta      = []byte("meta")
	bucketOffsets   = []byte("offsets")
	bucketCommits   = []byte("commits")
	bucketPositions = []byte("positions")
	bucketState     = []byte("state") // format 1's base; see statebase.go
	bucketSinks     = []byte("sinks")

	keyVersion        = []byte("version")
	keyFingerprint    = []byte("fingerprint")
	keyInitialOffsets = []byte("initialOffsets")
)

// BatchPlan is the write-ahead record of one batch: the exact ranges it
// reads. Recovery re-runs a pending plan with these ranges, never new ones.
type BatchPlan struct {
	ID     int64
	Ranges []offsets.OffsetRange
	// Ends is the until of every partition of the subscription at planning
	// time (offsets.PlanOutput.Ends); the batch's commit records them as positions.
	Ends      map[offsets.TopicPartition]int64
	PlannedAt time.Time
	// DataLoss lists offsets skipped by this batch (failOnDataLoss=false).
	DataLoss []offsets.DataLossError
	// Gone are partitions no longer in the subscription; the commit forgets
	// their positions so a recreated partition starts at earliest.
	Gone []offsets.TopicPartition
	// Meta is the engine's facts the batch runs with. A re-run batch takes
	// them from here, not from the clock or the current configuration, so
	// its output is byte-identical to the first run's.
	Meta Meta
}

// Meta is the engine-owned block of facts about one batch that the
// write-ahead entry and the commit record each carry (Spark keeps the same
// in its offset log's metadata). It is versioned on its own ("v" of the
// block) and keeps names it does not know (Extra), so a later build can add
// facts without a new checkpoint format.
type Meta struct {
	// Watermark is the event-time watermark in effect for the batch; zero
	// when the query has none. It is computed after batch N-1 and used by
	// batch N.
	Watermark time.Time
	// RateLimit is the maxRatePerPartition the plan was capped with,
	// records per second per partition; 0 = no cap.
	RateLimit int64
	// ProcessingTime is the batch's processing timestamp, what its
	// current_timestamp() returns: taken when the batch is planned.
	ProcessingTime time.Time
	// EmittedRows is the rows output by every batch of the stream before
	// this one (in a plan) or up to and including it (in a commit record):
	// a stateless query's LIMIT holds over the whole stream.
	EmittedRows int64
	// Extra holds further facts by name as JSON values; unknown names
	// round-trip.
	Extra map[string]json.RawMessage
}

// NewBatchPlan makes the plan of batch id from Plan's output.
func NewBatchPlan(id int64, out offsets.PlanOutput, plannedAt time.Time) BatchPlan {
	return BatchPlan{ID: id, Ranges: out.Ranges, Ends: out.Ends, PlannedAt: plannedAt, DataLoss: out.DataLoss, Gone: out.Gone}
}

// sameWork reports whether two plans read the same ranges and end at the same
// positions; PlannedAt and the DataLoss notes do not matter.
func (p BatchPlan) sameWork(o BatchPlan) bool {
	a, b := slices.Clone(p.Ranges), slices.Clone(o.Ranges)
	offsets.SortRanges(a)
	offsets.SortRanges(b)
	ga, gb := slices.Clone(p.Gone), slices.Clone(o.Gone)
	offsets.SortPartitions(ga)
	offsets.SortPartitions(gb)
	return p.ID == o.ID && slices.Equal(a, b) && maps.Equal(p.Ends, o.Ends) && slices.Equal(ga, gb)
}

func (p BatchPlan) describeRanges() string {
	rs := slices.Clone(p.Ranges)
	offsets.SortRanges(rs)
	var b bytes.Buffer
	b.WriteByte('[')
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(r.String())
	}
	b.WriteByte(']')
	return b.String()
}

// validate checks the invariants every stored plan keeps.
func (p BatchPlan) validate() error {
	if p.ID < 0 {
		return fmt.Errorf("negative batch id %d", p.ID)
	}
	seen := make(map[offsets.TopicPartition]bool, len(p.Ranges))
	for _, r := range p.Ranges {
		tp := r.TopicPartition()
		if r.Partition < 0 || r.From < 0 || r.Until <= r.From {
			return fmt.Errorf("range %s is empty or negative", r)
		}
		if seen[tp] {
			return fmt.Errorf("partition %s has two ranges", tp)
		}
		seen[tp] = true
		if end, ok := p.Ends[tp]; !ok || end != r.Until {
			return fmt.Errorf("range %s does not end at the partition's end %d", r, end)
		}
	}
	for tp, end := range p.Ends {
		if tp.Partition < 0 || end < 0 {
			return fmt.Errorf("end %d of %s is negative", end, tp)
		}
	}
	for _, tp := range p.Gone {
		if _, ok := p.Ends[tp]; ok {
			return fmt.Errorf("partition %s is both gone and planned", tp)
		}
	}
	return nil
}

// CommitRecord is what the commit of a batch records besides state and
// positions.
type CommitRecord struct {
	ID          int64
	CommittedAt time.Time // set to the current time by Commit when zero
	InputRows   int64
	OutputRows  int64
	StateRows   int64 // rows in the state after the batch, as the engine counts them
	// StateWrites and StateDeletes are filled by Commit: the keys the batch
	// put and deleted through CommitTx.
	StateWrites, StateDeletes int64
	// Meta is the facts the batch ran with (its plan's Meta, EmittedRows
	// counting this batch's output).
	Meta Meta
}

// Wire forms. Maps keyed by offsets.TopicPartition become sorted lists.
type (
	planJSON struct {
		V         int                      `json:"v"`
		ID        int64                    `json:"id"`
		PlannedAt time.Time                `json:"plannedAt"`
		Ranges    []offsets.OffsetRange    `json:"ranges"`
		Ends      []positionJSON           `json:"ends"`
		DataLoss  []lossJSON               `json:"dataLoss,omitempty"`
		Gone      []offsets.TopicPartition `json:"gone,omitempty"`
		Meta      *metaJSON                `json:"meta,omitempty"`
	}
	metaJSON struct {
		V              int                        `json:"v"`
		Watermark      *time.Time                 `json:"watermark,omitempty"`
		RateLimit      int64                      `json:"rateLimit,omitempty"`
		ProcessingTime *time.Time                 `json:"processingTime,omitempty"`
		EmittedRows    int64                      `json:"emittedRows,omitempty"`
		Extra          map[string]json.RawMessage `json:"extra,omitempty"`
	}
	positionJSON struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	}
	lossJSON struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		From      int64  `json:"from"`
		Until     int64  `json:"until"`
		Reason    string `json:"reason,omitempty"`
	}
	commitJSON struct {
		V            int       `json:"v"`
		ID           int64     `json:"id"`
		CommittedAt  time.Time `json:"committedAt"`
		InputRows    int64     `json:"inputRows"`
		OutputRows   int64     `json:"outputRows"`
		EmittedRows  int64     `json:"emittedRows,omitempty"` // version 1 only: read, never written
		StateRows    int64     `json:"stateRows"`
		StateWrites  int64     `json:"stateWrites"`
		StateDeletes int64     `json:"stateDeletes"`
		Meta         *metaJSON `json:"meta,omitempty"`
	}
	fingerprintJSON struct {
		V int `json:"v"`
		Fingerprint
	}
	initialJSON struct {
		V       int            `json:"v"`
		Offsets []positionJSON `json:"offsets"`
	}
)

func positionsToJSON(m map[offsets.TopicPartition]int64) []positionJSON {
	out := make([]positionJSON, 0, len(m))
	for _, tp := range sortedKeys(m) {
		out = append(out, positionJSON{Topic: tp.Topic, Partition: tp.Partition, Offset: m[tp]})
	}
	return out
}

func positionsFromJSON(ps []positionJSON) (map[offsets.TopicPartition]int64, error) {
	m := make(map[offsets.TopicPartition]int64, len(ps))
	for _, p := range ps {
		tp := offsets.TopicPartition{Topic: p.Topic, Partition: p.Partition}
		if _, dup := m[tp]; dup {
			return nil, fmt.Errorf("partition %s appears twice", tp)
		}
		if p.Partition < 0 || p.Offset < 0 {
			return nil, fmt.Errorf("negative partition or offset for %s: %d", tp, p.Offset)
		}
		m[tp] = p.Offset
	}
	return m, nil
}

// batchKey is the big-endian batch id: keys sort in batch order.
func batchKey(id int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(id))
}

func decodeBatchKey(bucket string, k []byte) (int64, error) {
	if len(k) != 8 || k[0]&0x80 != 0 {
		return 0, &CorruptError{Bucket: bucket, Key: fmt.Sprintf("%x", k), Err: errors.New("key is not an 8-byte non-negative batch id")}
	}
	return int64(binary.BigEndian.Uint64(k)), nil
}

func encodePlan(p BatchPlan) ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	w := planJSON{V: planVersion, ID: p.ID, PlannedAt: p.PlannedAt.UTC(), Ranges: slices.Clone(p.Ranges), Ends: positionsToJSON(p.Ends), Gone: slices.Clone(p.Gone)}
	offsets.SortRanges(w.Ranges)
	offsets.SortPartitions(w.Gone)
	for _, l := range p.DataLoss {
		w.DataLoss = append(w.DataLoss, lossJSON(l))
	}
	w.Meta = p.Meta.toJSON()
	return json.Marshal(w)
}

// decodePlan decodes offsets[key]; errors are *CorruptError naming the batch.
func decodePlan(k, v []byte) (BatchPlan, error) {
	id, err := decodeBatchKey(string(bucketOffsets), k)
	if err != nil {
		return BatchPlan{}, err
	}
	corrupt := func(err error) error {
		return &CorruptError{Bucket: string(bucketOffsets), Key: fmt.Sprintf("batch %d", id), Err: err}
	}
	var w planJSON
	if err := json.Unmarshal(v, &w); err != nil {
		return BatchPlan{}, corrupt(err)
	}
	if w.V != 1 && w.V != planVersion {
		return BatchPlan{}, corrupt(fmt.Errorf("%w %d (this build reads 1 and %d)", ErrVersion, w.V, planVersion))
	}
	if w.ID != id {
		return BatchPlan{}, corrupt(fmt.Errorf("record says batch %d", w.ID))
	}
	ends, err := positionsFromJSON(w.Ends)
	if err != nil {
		return BatchPlan{}, corrupt(err)
	}
	p := BatchPlan{ID: id, Ranges: w.Ranges, Ends: ends, PlannedAt: w.PlannedAt, Gone: w.Gone}
	if p.Meta, err = w.Meta.meta(); err != nil {
		return BatchPlan{}, corrupt(err)
	}
	for _, l := range w.DataLoss {
		p.DataLoss = append(p.DataLoss, offsets.DataLossError(l))
	}
	if err := p.validate(); err != nil {
		return BatchPlan{}, corrupt(err)
	}
	return p, nil
}

func encodeCommit(r CommitRecord) ([]byte, error) {
	return json.Marshal(commitJSON{V: commitVersion, ID: r.ID, CommittedAt: r.CommittedAt.UTC(), InputRows: r.InputRows,
		OutputRows: r.OutputRows, StateRows: r.StateRows, StateWrites: r.StateWrites, StateDeletes: r.StateDeletes, Meta: r.Meta.toJSON()})
}

// decodeCommit decodes commits[key]; errors are *CorruptError naming the batch.
func decodeCommit(k, v []byte) (CommitRecord, error) {
	id, err := decodeBatchKey(string(bucketCommits), k)
	if err != nil {
		return CommitRecord{}, err
	}
	corrupt := func(err error) error {
		return &CorruptError{Bucket: string(bucketCommits), Key: fmt.Sprintf("batch %d", id), Err: err}
	}
	var w commitJSON
	if err := json.Unmarshal(v, &w); err != nil {
		return CommitRecord{}, corrupt(err)
	}
	if w.V != 1 && w.V != commitVersion {
		return CommitRecord{}, corrupt(fmt.Errorf("%w %d (this build reads 1 and %d)", ErrVersion, w.V, commitVersion))
	}
	if w.ID != id {
		return CommitRecord{}, corrupt(fmt.Errorf("record says batch %d", w.ID))
	}
	meta, err := w.Meta.meta()
	if err != nil {
		return CommitRecord{}, corrupt(err)
	}
	if w.V == 1 && w.Meta == nil {
		// Version 1 (formats 1 and 2) kept the emitted rows in the
		// record itself.
		meta.EmittedRows = w.EmittedRows
	}
	return CommitRecord{ID: id, CommittedAt: w.CommittedAt, InputRows: w.InputRows, OutputRows: w.OutputRows,
		StateRows: w.StateRows, StateWrites: w.StateWrites, StateDeletes: w.StateDeletes, Meta: meta}, nil
}

// positionKey is the topic, a 0x00 byte, then the big-endian partition.
// Decoding reads the partition from the last 4 bytes, so any topic bytes
// round-trip; keys sort by topic, then partition.
func positionKey(tp offsets.TopicPartition) []byte {
	k := make([]byte, 0, len(tp.Topic)+5)
	k = append(k, tp.Topic...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint32(k, uint32(tp.Partition))
}

// decodePosition decodes one positions entry.
func decodePosition(k, v []byte) (offsets.TopicPartition, int64, error) {
	corrupt := func(msg string) error {
		return &CorruptError{Bucket: string(bucketPositions), Key: fmt.Sprintf("%q", k), Err: errors.New(msg)}
	}
	if len(k) < 5 || k[len(k)-5] != 0 {
		return offsets.TopicPartition{}, 0, corrupt("key is not topic, 0x00, 4-byte partition")
	}
	tp := offsets.TopicPartition{Topic: string(k[:len(k)-5]), Partition: int32(binary.BigEndian.Uint32(k[len(k)-4:]))}
	if tp.Partition < 0 {
		return offsets.TopicPartition{}, 0, corrupt("negative partition")
	}
	if len(v) != 8 {
		return offsets.TopicPartition{}, 0, corrupt("value is not an 8-byte offset")
	}
	off := int64(binary.BigEndian.Uint64(v))
	if off < 0 {
		return offsets.TopicPartition{}, 0, corrupt("negative offset")
	}
	return tp, off, nil
}

func encodeOffset(off int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(off)) }

func decodeFingerprint(v []byte) (Fingerprint, error) {
	var w fingerprintJSON
	if err := json.Unmarshal(v, &w); err != nil {
		return Fingerprint{}, &CorruptError{Bucket: string(bucketMeta), Key: string(keyFingerprint), Err: err}
	}
	if w.V != recordVersion {
		return Fingerprint{}, &CorruptError{Bucket: string(bucketMeta), Key: string(keyFingerprint), Err: fmt.Errorf("%w %d", ErrVersion, w.V)}
	}
	return w.Fingerprint, nil
}

func decodeInitial(v []byte) (map[offsets.TopicPartition]int64, error) {
	corrupt := func(err error) error {
		return &CorruptError{Bucket: string(bucketMeta), Key: string(keyInitialOffsets), Err: err}
	}
	var w initialJSON
	if err := json.Unmarshal(v, &w); err != nil {
		return nil, corrupt(err)
	}
	if w.V != recordVersion {
		return nil, corrupt(fmt.Errorf("%w %d", ErrVersion, w.V))
	}
	m, err := positionsFromJSON(w.Offsets)
	if err != nil {
		return nil, corrupt(err)
	}
	return m, nil
}

// sortedKeys returns m's partitions in order.
func sortedKeys(m map[offsets.TopicPartition]int64) []offsets.TopicPartition {
	out := slices.Collect(maps.Keys(m))
	offsets.SortPartitions(out)
	return out
}

// from returns m with its zero facts taken from plan's, EmittedRows aside
// (a commit record counts the batch's output).
func (m Meta) from(plan Meta) Meta {
	if m.Watermark.IsZero() {
		m.Watermark = plan.Watermark
	}
	if m.RateLimit == 0 {
		m.RateLimit = plan.RateLimit
	}
	if m.ProcessingTime.IsZero() {
		m.ProcessingTime = plan.ProcessingTime
	}
	if m.Extra == nil {
		m.Extra = plan.Extra
	}
	return m
}

// metaVersion is the version of the Meta block ("v").
const metaVersion = 1

func (m Meta) toJSON() *metaJSON {
	w := &metaJSON{V: metaVersion, RateLimit: m.RateLimit, EmittedRows: m.EmittedRows, Extra: m.Extra}
	if !m.Watermark.IsZero() {
		t := m.Watermark.UTC()
		w.Watermark = &t
	}
	if !m.ProcessingTime.IsZero() {
		t := m.ProcessingTime.UTC()
		w.ProcessingTime = &t
	}
	return w
}

// meta decodes the block; a record without one (version 1) has a zero Meta.
func (w *metaJSON) meta() (Meta, error) {
	if w == nil {
		return Meta{}, nil
	}
	if w.V != metaVersion {
		return Meta{}, fmt.Errorf("meta block: %w %d (this build reads %d)", ErrVersion, w.V, metaVersion)
	}
	if w.RateLimit < 0 || w.EmittedRows < 0 {
		return Meta{}, fmt.Errorf("meta block: negative rateLimit %d or emittedRows %d", w.RateLimit, w.EmittedRows)
	}
	m := Meta{RateLimit: w.RateLimit, EmittedRows: w.EmittedRows, Extra: w.Extra}
	if w.Watermark != nil {
		m.Watermark = *w.Watermark
	}
	if w.ProcessingTime != nil {
		m.ProcessingTime = *w.ProcessingTime
	}
	return m, nil
}
