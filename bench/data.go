package main

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/microbatch/microbatch/internal/gen"
)

// clickSchema is the schema of the clickstream records (internal/gen).
const clickSchema = "timestamp TIMESTAMP, userid STRING, page STRING, action STRING"

// clickFields are clickSchema's field names, in order (CSV column order).
var clickFields = []string{"timestamp", "userid", "page", "action"}

// records produces the bench's records: internal/gen's clickstream, with
// the page replaced by one of keys distinct pages when keys > 0 and the
// user by one of users distinct ones when users > 0, encoded as JSON or
// CSV. Not safe for concurrent use.
type records struct {
	g      gen.Generator
	keys   int
	users  int
	umult  uint64 // user number multiplier, coprime to users
	user   []byte
	csv    bool
	seq    uint64
	rec    gen.Record
	fields [4][]byte
	mult   uint64 // page number multiplier, coprime to keys
	page   []byte
	buf    []byte
}

func newRecords(seed int64, keys int, format string) (*records, error) {
	return newRecordsUsers(seed, keys, 0, format)
}

// newRecordsUsers is newRecords with users distinct user ids (0: the
// generator's).
func newRecordsUsers(seed int64, keys, users int, format string) (*records, error) {
	g, err := gen.New("clickstream", seed)
	if err != nil {
		return nil, err
	}
	switch format {
	case "json", "csv":
	default:
		return nil, fmt.Errorf("format %q: want json or csv", format)
	}
	r := &records{g: g, keys: keys, users: users, csv: format == "csv"}
	if keys > 0 {
		r.mult = coprime(uint64(keys))
	}
	if users > 0 {
		r.umult = coprime(uint64(users))
	}
	return r, nil
}

// next returns the next record's key and value; both are valid until the
// following call.
func (r *records) next() (key, value []byte) {
	r.g.Next(&r.rec)
	seq := r.seq
	r.seq++
	if r.keys <= 0 && r.users <= 0 && !r.csv {
		return r.rec.Key, r.rec.Value
	}
	if err := splitClick(r.rec.Value, &r.fields); err != nil {
		panic(err) // internal/gen's format changed: the bench must be updated
	}
	if r.keys > 0 {
		// Every key appears once per keys records: with -messages >= -keys
		// the topic has exactly keys distinct pages.
		r.page = strconv.AppendUint(append(r.page[:0], "/p/"...), (seq%uint64(r.keys))*r.mult%uint64(r.keys), 10)
		r.fields[2] = r.page
	}
	if r.users > 0 {
		// As pages: -messages >= -users gives exactly users distinct ids.
		r.user = strconv.AppendUint(append(r.user[:0], 'u'), (seq%uint64(r.users))*r.umult%uint64(r.users), 10)
		r.fields[1] = r.user
	}
	b := r.buf[:0]
	if r.csv {
		for i, f := range r.fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, f...)
		}
	} else {
		b = append(b, '{')
		for i, f := range r.fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, clickFields[i]...)
			b = append(b, `":"`...)
			b = append(b, f...)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	r.buf = b
	return r.rec.Key, b
}

// coprime returns a multiplier m coprime to n: seq -> (seq mod n) * m mod n
// hits every value of [0, n) once in every n consecutive seqs, scattered.
func coprime(n uint64) uint64 {
	m := uint64(2654435761) % n
	for m == 0 || gcd(m, n) != 1 {
		m++
	}
	return m
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// splitClick extracts the four string fields of a clickstream JSON record
// (internal/gen writes them in schema order, without escapes).
func splitClick(v []byte, out *[4][]byte) error {
	rest := v
	for i, name := range clickFields {
		pfx := `"` + name + `":"`
		j := bytes.Index(rest, []byte(pfx))
		if j < 0 {
			return fmt.Errorf("bench: clickstream record %q has no field %s", v, name)
		}
		rest = rest[j+len(pfx):]
		k := bytes.IndexByte(rest, '"')
		if k < 0 {
			return fmt.Errorf("bench: clickstream record %q: unterminated %s", v, name)
		}
		out[i] = rest[:k]
		rest = rest[k:]
	}
	return nil
}
