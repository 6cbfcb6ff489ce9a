package checkpoint

import (
	"runtime/debug"
	"time"

	"go.etcd.io/bbolt"
)

// Upgrading a checkpoint of format 1 or 2 to format 3 (see doc.go,
// "Formats 1 and 2"). Format 2 had one flat keyspace of state, the query's
// aggregation; format 3 keeps every state key in a namespace. The upgrade
// rewrites every state key of the old layout (format 1's "state" bucket or
// format 2's base chunks, merged with the state log) under the namespace
// of the aggregation operator and the key's group, into a new base sorted
// by stored key, and empties the log: one transaction, so a crash or a
// damaged record leaves the checkpoint as it was, in its old format. The
// offsets and commits records stay as they are (version 1), which the
// decoders read.

// AggregationOperator is the operator id of a query's aggregation: the
// namespace operator of the only state formats 1 and 2 had, which the
// upgrade gives to their keys.
const AggregationOperator uint16 = 1

// Upgrade is what Open did to a checkpoint of an older format.
type Upgrade struct {
	From      int           // the format read: 1 or 2
	StateKeys int64         // state keys rewritten into namespaces
	Took      time.Duration // the upgrade's transaction, its commit included
}

// Upgraded returns what Open's upgrade of an older format did, nil if the
// checkpoint was already in this build's format (or new). An engine logs
// it. A read-only checkpoint upgrades its snapshot only, never the file.
func (c *Checkpoint) Upgraded() *Upgrade { return c.upgraded }

// upgrade rewrites the state of a format 1 or 2 checkpoint (see the top of
// the file) in tx, whose buckets initBuckets has created. Memory: every
// state key and value as one base (bbolt keeps the values put until the
// commit), plus a reference to each. Errors are *CorruptError naming the
// old record that does not decode.
func upgrade(tx *bbolt.Tx, from int) (*Upgrade, error) {
	type pair struct{ k, v []byte }
	// The old keys come in ascending order: appended to their key group,
	// each group stays sorted, and the groups in order are the new base's
	// order (operator, key group, key) without a sort. The pairs alias the
	// old buckets' pages, which stay mapped until the transaction ends.
	var groups [NumKeyGroups][]pair
	var n int64
	err := mergeState(tx, func(k, v []byte) error {
		g := KeyGroupOf(k)
		groups[g] = append(groups[g], pair{k, v})
		n++
		return nil
	})
	if err != nil {
		return nil, err
	}
	var w chunkWriter
	var sk []byte
	for g := range groups {
		ns := Namespace{Operator: AggregationOperator, KeyGroup: uint16(g)}
		for _, p := range groups[g] {
			sk = appendStoredKey(sk[:0], ns, p.k)
			w.add(sk, p.v) // copies: the old buckets go below
		}
		groups[g] = nil
	}
	w.flush()
	for _, name := range [][]byte{bucketState, bucketStateBase, bucketStateLog} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return nil, err
			}
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return nil, err
		}
	}
	if err := putChunks(tx.Bucket(bucketStateBase), nil, w); err != nil {
		return nil, err
	}
	meta := tx.Bucket(bucketMeta)
	if err := writeCounter(meta, keyStateLogKeys, 0); err != nil {
		return nil, err
	}
	if err := writeCounter(meta, keyStateBaseKeys, n); err != nil {
		return nil, err
	}
	return &Upgrade{From: from, StateKeys: n}, nil
}

// upgradeCopy upgrades the bbolt file at path, a snapshot's private copy
// of the checkpoint name, from format from.
func upgradeCopy(path, name string, from int) (up *Upgrade, err error) {
	start := time.Now()
	db, err := openBolt(path, name, &bbolt.Options{NoSync: true, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			up, err = nil, cerr
		}
	}()
	u := &userCalls{}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer u.recoverDamage(name, &err)
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := initBuckets(tx); err != nil {
			return err
		}
		up, err = upgrade(tx, from)
		return err
	})
	if err != nil {
		return nil, err
	}
	up.Took = time.Since(start)
	return up, nil
}
