package checkpoint

// Readers of the checkpoint that only tests need: the engine restores state
// with ForEachState and compares fingerprints with CheckFingerprint.

import (
	"bytes"
	"slices"

	"go.etcd.io/bbolt"
)

// state returns a copy of the value of key in namespace ns, nil if the key
// is absent. It scans the log and reads the base by a path of its own, so
// tests check what the writer stored independently of mergeState.
func (c *Checkpoint) state(ns Namespace, key []byte) ([]byte, error) {
	key = appendStoredKey(nil, ns, key)
	var out []byte
	err := c.view(func(tx *bbolt.Tx) error {
		log := tx.Bucket(bucketStateLog)
		if log == nil {
			return nil
		}
		found := false
		err := log.ForEach(func(k, v []byte) error {
			_, ops, err := decodeLogChunk(k, v)
			if err != nil {
				return err
			}
			i, ok := slices.BinarySearchFunc(ops, key, func(op stateOp, key []byte) int { return bytes.Compare(op.key, key) })
			if ok {
				found, out = true, bytes.Clone(ops[i].value)
				if ops[i].del {
					out = nil
				}
			}
			return nil
		})
		if err != nil || found {
			return err
		}
		v, err := lookupBase(tx, key)
		out = bytes.Clone(v)
		return err
	})
	return out, err
}

// stateKeys returns the number of keys in the state.
func (c *Checkpoint) stateKeys() (int64, error) {
	var n int64
	err := c.view(func(tx *bbolt.Tx) error {
		return mergeState(tx, func(_, _ []byte) error { n++; return nil })
	})
	return n, err
}

// decodeLogChunk decodes one statelog entry; the ops alias v. Errors are
// *CorruptError naming the batch and chunk.
func decodeLogChunk(k, v []byte) (int64, []stateOp, error) {
	return appendLogChunk(nil, k, v)
}

// lookupBase returns the base's value of key, aliasing the transaction's
// pages, or nil.
func lookupBase(tx *bbolt.Tx, key []byte) ([]byte, error) {
	b := tx.Bucket(bucketStateBase)
	if legacy := tx.Bucket(bucketState); legacy != nil {
		if k, _ := legacy.Cursor().First(); k != nil {
			return legacy.Get(key), bothBases(b)
		}
	}
	if b == nil {
		return nil, nil
	}
	c := b.Cursor()
	k, v := c.Seek(key)
	var limit []byte // the key of the chunk after k's
	if k != nil && bytes.Equal(k, key) {
		limit, _ = c.Next()
	} else {
		// The chunk holding key, if any, begins before it.
		limit = k
		if k, v = c.Prev(); k == nil {
			return nil, nil
		}
	}
	r := chunkReader{k: k, v: v, limit: limit}
	for {
		ck, cv, ok := r.next()
		if !ok {
			return nil, r.err
		}
		if c := bytes.Compare(ck, key); c >= 0 {
			if c == 0 {
				return cv, nil
			}
			return nil, nil
		}
	}
}

// storedFingerprint returns the stored fingerprint, nil if none.
func (c *Checkpoint) storedFingerprint() (*Fingerprint, error) {
	var out *Fingerprint
	err := c.view(func(tx *bbolt.Tx) error {
		v := getKey(tx, bucketMeta, keyFingerprint)
		if v == nil {
			return nil
		}
		f, err := decodeFingerprint(v)
		if err == nil {
			out = &f
		}
		return err
	})
	return out, err
}

// offsetCount is the number of offsets the plan reads.
func (p BatchPlan) offsetCount() int64 {
	var n int64
	for _, r := range p.Ranges {
		n += r.Count()
	}
	return n
}
