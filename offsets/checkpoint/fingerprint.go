package checkpoint

import (
	"encoding/json"

	"go.etcd.io/bbolt"
)

// Fingerprint is what gives the state its meaning. A checkpoint refuses a
// query whose fingerprint differs (CheckFingerprint). Operational settings
// (rate limits, trigger interval, sinks) are not part of it.
type Fingerprint struct {
	Schema, Query, Source, Format, OutputMode string
}

func (f Fingerprint) changes(n Fingerprint) []FieldChange {
	var out []FieldChange
	add := func(field, o, n string) {
		if o != n {
			out = append(out, FieldChange{Field: field, Old: o, New: n})
		}
	}
	add("schema", f.Schema, n.Schema)
	add("query", f.Query, n.Query)
	add("source", f.Source, n.Source)
	add("format", f.Format, n.Format)
	add("outputMode", f.OutputMode, n.OutputMode)
	return out
}

// CheckFingerprint stores fp on first use; later it returns an
// *IncompatibleError (errors.Is(err, ErrIncompatible)) listing every field
// that differs from the stored fingerprint. A read-only checkpoint without a
// stored fingerprint accepts any.
func (c *Checkpoint) CheckFingerprint(fp Fingerprint) error {
	var stored *Fingerprint
	err := c.view(func(tx *bbolt.Tx) error {
		v := getKey(tx, bucketMeta, keyFingerprint)
		if v == nil {
			return nil
		}
		f, err := decodeFingerprint(v)
		stored = &f
		return err
	})
	if err != nil {
		return err
	}
	if stored != nil {
		if ch := stored.changes(fp); len(ch) > 0 {
			return &IncompatibleError{Path: c.path, Changes: ch}
		}
		return nil
	}
	if c.opts.ReadOnly {
		return nil
	}
	return c.update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyFingerprint); v != nil { // raced with another writer tx
			f, err := decodeFingerprint(v)
			if err != nil {
				return err
			}
			if ch := f.changes(fp); len(ch) > 0 {
				return &IncompatibleError{Path: c.path, Changes: ch}
			}
			return nil
		}
		b, err := json.Marshal(fingerprintJSON{V: recordVersion, Fingerprint: fp})
		if err != nil {
			return err
		}
		return meta.Put(keyFingerprint, b)
	})
}

// StoredFingerprint returns the stored fingerprint, nil if none.
func (c *Checkpoint) StoredFingerprint() (*Fingerprint, error) {
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
