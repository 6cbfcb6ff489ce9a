package checkpoint

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.etcd.io/bbolt"
)

// FingerprintForm is the version of the structural part of a Fingerprint
// (Stateful, GroupKeys, Aggregates). A stored fingerprint with Form 0 was
// written by a release that kept only the texts (Schema, Query, Source,
// Format): see Upgrade.
const FingerprintForm = 1

// Fingerprint identifies the query that wrote a checkpoint. Only what gives
// the state its meaning is compared (see Compare): whether the query
// aggregates and, if it does, its group keys, its aggregate functions with
// their inputs, its source subscription and its output mode. The rest is
// informational: a run may change it, the change is reported and the
// stored fingerprint is replaced. Operational settings (rate limits,
// trigger interval, sinks) are not part of it.
type Fingerprint struct {
	// Form is FingerprintForm, 0 in a fingerprint of an earlier release.
	Form int `json:",omitempty"`
	// Stateful: the query aggregates, so the checkpoint holds its state.
	Stateful bool `json:",omitempty"`
	// GroupKeys and Aggregates are the state's shape in canonical form,
	// in the state's order: "page STRING", "sum(price DOUBLE)" (see
	// dataframe.Program.GroupKeys and Aggregates).
	GroupKeys  []string `json:",omitempty"`
	Aggregates []string `json:",omitempty"`

	// Schema is the source schema's DDL and Query the plan text:
	// informational (the columns the state uses, with their types, are in
	// GroupKeys and Aggregates).
	Schema, Query string
	// Source is the subscription ("subscribe=a,b"): compared for a
	// stateful query (its groups are of those topics), informational for a
	// stateless one (positions are per partition, so a partition new to
	// the query starts at startingOffsets).
	Source string
	// Format is the record format: informational (a format that decodes to
	// the same schema does not change what the state means).
	Format string
	// OutputMode is compared for a stateful query, as Spark does: a mode
	// decides which groups the state keeps (with eviction) and which rows
	// the sink has seen. Informational for a stateless query.
	OutputMode string
}

// LegacyFingerprint derives the structural part (Stateful, GroupKeys, Aggregates) of
// a fingerprint stored by an earlier release (Form 0) from its texts, most
// likely by compiling its Query over its Schema. CheckFingerprint falls
// back to comparing the texts exactly when it returns an error.
type LegacyFingerprint func(legacy Fingerprint) (Fingerprint, error)

// Compare compares the stored fingerprint f with n, the running query's.
// refused lists the changes that alter the state's meaning: an aggregation
// added or removed; for a stateful query its source, output mode, group
// keys and aggregates (one change per key or aggregate that differs, each
// named with its position, or added, removed, reordered). changed lists
// the allowed changes: the schema, query text and format, and the source
// and output mode of a stateless query. Both are in Fingerprint field
// order.
func (f Fingerprint) Compare(n Fingerprint) (refused, changed []FieldChange) {
	diff := func(to *[]FieldChange, field, o, n string) {
		if o != n {
			*to = append(*to, FieldChange{Field: field, Old: o, New: n})
		}
	}
	switch {
	case f.Stateful != n.Stateful:
		diff(&refused, "aggregation", f.aggregation(), n.aggregation())
	case f.Stateful:
		refused = append(refused, listChanges("group key", f.GroupKeys, n.GroupKeys)...)
		refused = append(refused, listChanges("aggregate", f.Aggregates, n.Aggregates)...)
	}
	diff(&changed, "schema", f.Schema, n.Schema)
	diff(&changed, "query", f.Query, n.Query)
	if f.Stateful && n.Stateful {
		diff(&refused, "source", f.Source, n.Source)
	} else {
		diff(&changed, "source", f.Source, n.Source)
	}
	diff(&changed, "format", f.Format, n.Format)
	if f.Stateful && n.Stateful {
		diff(&refused, "outputMode", f.OutputMode, n.OutputMode)
	} else {
		diff(&changed, "outputMode", f.OutputMode, n.OutputMode)
	}
	return refused, changed
}

// aggregation describes the state's shape in one line.
func (f Fingerprint) aggregation() string {
	if !f.Stateful {
		return "none"
	}
	return "group by [" + strings.Join(f.GroupKeys, ", ") + "] [" + strings.Join(f.Aggregates, ", ") + "]"
}

// listChanges names what differs between two ordered lists of state
// columns: the same items in another order is one change; lists of one
// length differ position by position; otherwise the items of neither's
// longest common subsequence are removed or added.
func listChanges(what string, o, n []string) []FieldChange {
	if slices.Equal(o, n) {
		return nil
	}
	so, sn := slices.Clone(o), slices.Clone(n)
	slices.Sort(so)
	slices.Sort(sn)
	if slices.Equal(so, sn) {
		return []FieldChange{{Field: what + " order", Old: strings.Join(o, ", "), New: strings.Join(n, ", ")}}
	}
	var out []FieldChange
	if len(o) == len(n) {
		for i := range o {
			if o[i] != n[i] {
				out = append(out, FieldChange{Field: fmt.Sprintf("%s %d", what, i+1), Old: o[i], New: n[i]})
			}
		}
		return out
	}
	// lcs[i][j]: the longest common subsequence of o[i:] and n[j:].
	lcs := make([][]int, len(o)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(n)+1)
	}
	for i := len(o) - 1; i >= 0; i-- {
		for j := len(n) - 1; j >= 0; j-- {
			if o[i] == n[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(o) || j < len(n) {
		switch {
		case i < len(o) && j < len(n) && o[i] == n[j]:
			i, j = i+1, j+1
		case j == len(n) || i < len(o) && lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, FieldChange{Field: what, Old: o[i]})
			i++
		default:
			out = append(out, FieldChange{Field: what, New: n[j]})
			j++
		}
	}
	return out
}

// legacyChanges compares the texts of an earlier release's fingerprint
// exactly, as that release did. That release stored no output mode.
func (f Fingerprint) legacyChanges(n Fingerprint) []FieldChange {
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
	if f.OutputMode != "" {
		add("outputMode", f.OutputMode, n.OutputMode)
	}
	return out
}

// CheckFingerprint checks that fp, the running query's fingerprint, may
// use the checkpoint, and returns the allowed changes from the stored one
// (for the caller to log). The first call stores fp. A refused change
// returns an *IncompatibleError (errors.Is(err, ErrIncompatible)) naming
// every refused change; otherwise fp replaces a stored fingerprint that
// differs, so the next run compares with this one.
//
// A fingerprint stored by an earlier release (Form 0) is given to upgrade
// (when not nil) to derive its structural part, then compared like any;
// when upgrade fails, its texts must equal fp's exactly. Either way it is
// then stored in the current form. A read-only checkpoint compares without
// storing, and accepts any fp when none is stored.
func (c *Checkpoint) CheckFingerprint(fp Fingerprint, upgrade LegacyFingerprint) ([]FieldChange, error) {
	return c.checkFingerprint(fp, upgrade, true)
}

func (c *Checkpoint) checkFingerprint(fp Fingerprint, upgrade LegacyFingerprint, store bool) ([]FieldChange, error) {
	fp.Form = FingerprintForm
	var changed []FieldChange
	decide := func(v []byte) (store bool, err error) {
		changed = nil
		legacy := false
		if v == nil {
			return true, nil
		}
		stored, err := decodeFingerprint(v)
		if err != nil {
			return false, err
		}
		switch {
		case stored.Form > FingerprintForm:
			return false, &CorruptError{Bucket: string(bucketMeta), Key: string(keyFingerprint),
				Err: fmt.Errorf("%w: fingerprint form %d (this build knows forms 0 to %d)", ErrVersion, stored.Form, FingerprintForm)}
		case stored.Form == 0:
			legacy = true
			up, uerr := Fingerprint{}, fmt.Errorf("no upgrade")
			if upgrade != nil {
				up, uerr = upgrade(stored)
			}
			if uerr != nil {
				if ch := stored.legacyChanges(fp); len(ch) > 0 {
					return false, &IncompatibleError{Path: c.path, Changes: ch}
				}
				return true, nil
			}
			stored = up
		}
		refused, ch := stored.Compare(fp)
		if len(refused) > 0 {
			return false, &IncompatibleError{Path: c.path, Changes: refused}
		}
		changed = ch
		return len(ch) > 0 || legacy, nil
	}
	if c.opts.ReadOnly || !store {
		err := c.view(func(tx *bbolt.Tx) error {
			_, err := decide(getKey(tx, bucketMeta, keyFingerprint))
			return err
		})
		return changed, err
	}
	err := c.update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		store, err := decide(meta.Get(keyFingerprint))
		if err != nil || !store {
			return err
		}
		b, err := json.Marshal(fingerprintJSON{V: recordVersion, Fingerprint: fp})
		if err != nil {
			return err
		}
		return meta.Put(keyFingerprint, b)
	})
	if err != nil {
		return nil, err
	}
	return changed, nil
}

// CompareFingerprint is CheckFingerprint without storing fp: it returns the
// allowed changes, or the *IncompatibleError, and writes nothing.
func (c *Checkpoint) CompareFingerprint(fp Fingerprint, upgrade LegacyFingerprint) ([]FieldChange, error) {
	return c.checkFingerprint(fp, upgrade, false)
}
