package dataframe

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// indexModel drives a keyIndex and checks it against a map after every
// step: every live key found under its id, removed keys not found, and the
// slots holding exactly the live keys.
type indexModel struct {
	t    *testing.T
	x    keyIndex
	ids  map[string]int32
	hash func(k string) uint64
}

func newIndexModel(t *testing.T, hash func(string) uint64) *indexModel {
	return &indexModel{t: t, x: newKeyIndex(), ids: map[string]int32{}, hash: hash}
}

func (m *indexModel) add(k string) int32 {
	m.t.Helper()
	id, added := m.x.add([]byte(k), m.hash(k))
	old, had := m.ids[k]
	if added == had || had && id != old {
		m.t.Fatalf("add(%q) = %d, %v; had %d, %v", k, id, added, old, had)
	}
	m.ids[k] = id
	return id
}

func (m *indexModel) remove(k string) int32 {
	m.t.Helper()
	id, ok := m.ids[k]
	if !ok {
		m.t.Fatalf("remove(%q): not a key", k)
	}
	m.x.remove(id)
	delete(m.ids, k)
	return id
}

func (m *indexModel) check() {
	m.t.Helper()
	if m.x.len() != len(m.ids) {
		m.t.Fatalf("len %d, want %d", m.x.len(), len(m.ids))
	}
	used := 0
	for _, s := range m.x.slots {
		if s != 0 {
			used++
		}
	}
	if used != len(m.ids) {
		m.t.Fatalf("%d slots used, want %d", used, len(m.ids))
	}
	for k, id := range m.ids {
		if got := m.x.key(id); got != k {
			m.t.Fatalf("key(%d) = %q, want %q", id, got, k)
		}
		if got, _ := m.x.find([]byte(k), m.hash(k)); got != id {
			m.t.Fatalf("find(%q) = %d, want %d", k, got, id)
		}
	}
}

func (m *indexModel) absent(k string) {
	m.t.Helper()
	if id, _ := m.x.find([]byte(k), m.hash(k)); id >= 0 {
		m.t.Fatalf("removed key %q found as %d", k, id)
	}
}

// TestKeyIndex checks ids through growth, the empty key and keys that are
// prefixes of others.
func TestKeyIndex(t *testing.T) {
	m := newIndexModel(t, func(k string) uint64 { return hashKey([]byte(k)) })
	m.add("")
	for i := range 5000 {
		m.add(fmt.Sprint(i))
		m.add(fmt.Sprint(i, "\x00"))
	}
	m.check()
	for i := range 100 { // again: the same ids
		m.add(fmt.Sprint(i))
	}
	m.check()
	if m.x.ids() != 10001 {
		t.Fatalf("ids %d", m.x.ids())
	}
}

// TestKeyIndexRemove removes keys among long probe runs, wrapping around
// the end of the slots (hashes chosen to collide), and checks lookups
// after each removal, that removed ids are reused only once recycled (the
// most recently recycled first), and growth after removals.
func TestKeyIndexRemove(t *testing.T) {
	// Every key's home is one of the last 3 of the 64 slots: the runs
	// wrap around to slot 0.
	m := newIndexModel(t, func(k string) uint64 {
		h := hashKey([]byte(k))
		return h&^63 | 61 + h%3
	})
	keys := make([]string, 30)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
		m.add(keys[i])
	}
	if len(m.x.slots) != 64 {
		t.Fatalf("%d slots", len(m.x.slots))
	}
	m.check()
	r := rand.New(rand.NewPCG(1, 2))
	var freed []int32
	for _, i := range r.Perm(len(keys))[:20] {
		freed = append(freed, m.remove(keys[i]))
		m.absent(keys[i])
		m.check()
	}
	// Not yet recycled: new keys get new ids.
	if id := m.add("new"); id != 30 {
		t.Fatalf("new key before recycle got id %d", id)
	}
	m.x.recycle(freed)
	for i := len(freed) - 1; i >= len(freed)-5; i-- {
		if id := m.add(fmt.Sprint("r", i)); id != freed[i] {
			t.Fatalf("recycled id %d, want %d", id, freed[i])
		}
		m.check()
	}
	// Removed keys come back as new keys: 15 on the recycled ids left, 5
	// on new ones.
	for _, k := range keys {
		if _, ok := m.ids[k]; !ok {
			m.add(k)
		}
	}
	m.check()
	if m.x.ids() != 36 || len(m.x.free) != 0 {
		t.Fatalf("ids %d, %d free after reusing, want 36, 0", m.x.ids(), len(m.x.free))
	}

	// At scale, with real hashes: remove half, grow past the old size.
	big := newIndexModel(t, func(k string) uint64 { return hashKey([]byte(k)) })
	for i := range 20000 {
		big.add(fmt.Sprint(i))
	}
	var gone []int32
	for i := 0; i < 20000; i += 2 {
		gone = append(gone, big.remove(fmt.Sprint(i)))
	}
	big.check()
	big.absent("0")
	big.x.recycle(gone)
	for i := range 30000 {
		big.add(fmt.Sprint("b", i))
	}
	big.check()
	if big.x.ids() != 40000 {
		t.Fatalf("ids %d, want 40000 (10000 recycled)", big.x.ids())
	}
}

// TestKeyIndexArena checks that the bytes of removed keys are given back:
// once they are half of the arena it is compacted, and every key still
// reads right; and that a key too long for a span's length works.
func TestKeyIndexArena(t *testing.T) {
	m := newIndexModel(t, func(k string) uint64 { return hashKey([]byte(k)) })
	pad := string(bytes.Repeat([]byte("x"), 100))
	for i := range 2000 {
		m.add(fmt.Sprint(i, pad))
	}
	full := len(m.x.arena)
	for i := 0; i < 2000; i++ {
		if i%10 != 0 {
			m.remove(fmt.Sprint(i, pad))
		}
	}
	m.check()
	if len(m.x.arena) >= full/2 || m.x.waste >= compactWaste {
		t.Fatalf("arena %d bytes (waste %d) of %d after removing 90%%", len(m.x.arena), m.x.waste, full)
	}
	long := string(bytes.Repeat([]byte("L"), spanLong+3))
	id := m.add(long)
	m.add("after")
	m.check()
	if len(m.x.keyBytes(id)) != spanLong+3 {
		t.Fatalf("long key of %d bytes", len(m.x.keyBytes(id)))
	}
	m.remove(long)
	m.check()
	if len(m.x.long) != 0 {
		t.Fatalf("long lengths %v after removal", m.x.long)
	}
}
