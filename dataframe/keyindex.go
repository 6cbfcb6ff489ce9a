package dataframe

import (
	"hash/maphash"
	"slices"
	"unsafe"
)

// keySeed seeds the hash of every group key in the process, so that a
// Task's partial aggregate hands its keys' hashes to State.Merge.
var keySeed = maphash.MakeSeed()

func hashKey(key []byte) uint64 { return maphash.Bytes(keySeed, key) }

// keyIndex maps encoded group keys to dense ids 0, 1, ... It keeps the
// keys back to back in one byte arena and the index in a linear-probing
// table of integers: no Go pointer per group, so the garbage collector
// does not scan it and adding a group allocates nothing but the amortized
// growth of a few slices (a map[string]int32 allocated each key and was
// scanned on every GC cycle). Each key's hash is kept: the index grows,
// and Merge moves groups into another index, without hashing again.
//
// Keys can be removed (remove), at a cost that follows the keys removed:
// the slot is emptied by shifting the rest of its probe run back (no
// tombstones, so lookups stay as short as without removals), and the id is
// not reused until its holder hands it back (recycle), so that whatever
// still refers to it (the result cache's order) is cleaned up first. add
// reuses recycled ids before new ones. The bytes of removed keys stay in
// the arena until they are half of it, when the live keys are copied into
// a new one.
type keyIndex struct {
	arena []byte
	// spans[id] locates group id's key: its offset in the arena in the low
	// spanOffBits bits, its length above (spanLong: the length is in
	// long); spanGone once the key is removed.
	spans  []uint64
	long   map[int32]int
	hashes []uint64 // hashKey of each group's key
	// slots has a power of two length (or none) and is at most half full:
	// 0 is an empty slot, else the hash's low 32 bits over id+1. A key's
	// home slot is its hash's low bits, so a slot tells its own home
	// (slotHome) and removals and growth never look up a hash: in a large
	// index each look-up is a cache miss.
	slots []uint64
	free  []int32 // removed ids handed back (recycle), reused by add
	gone  int     // removed ids, recycled or not
	waste int     // arena bytes of removed keys
	sink  uint64  // what prefetch loaded, kept so that its loads stay
}

const (
	slotIDMask  = 1<<32 - 1
	spanOffBits = 40
	spanOffMask = 1<<spanOffBits - 1
	spanLong    = 1<<(64-spanOffBits) - 1 // a key of spanLong bytes or more
	spanGone    = ^uint64(0)
	// compactWaste is the arena bytes of removed keys from which the arena
	// is compacted (when they are also half of it).
	compactWaste = 1 << 16
)

func newKeyIndex() keyIndex { return keyIndex{} }

// len returns the number of keys (ids not removed).
func (x *keyIndex) len() int { return len(x.spans) - x.gone }

// ids returns the number of ids ever given out: every live id is below it.
func (x *keyIndex) ids() int { return len(x.spans) }

// removed reports whether id's key was removed (and the id is free, or
// waits to be recycled).
func (x *keyIndex) removed(id int32) bool { return x.spans[id] == spanGone }

// keyBytes views group id's key; the bytes must not be modified.
func (x *keyIndex) keyBytes(id int32) []byte {
	s := x.spans[id]
	lo, n := int(s&spanOffMask), int(s>>spanOffBits)
	if n == spanLong {
		n = x.long[id]
	}
	return x.arena[lo : lo+n : lo+n]
}

// key views group id's key as a string. The arena is only appended to,
// and compaction copies the keys into a new arena (a reallocation leaves
// the old bytes as they were), so the string stays valid, and unchanged,
// as long as its holder keeps it.
func (x *keyIndex) key(id int32) string {
	b := x.keyBytes(id)
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// find returns the id of key, whose hash is h, and its slot; or -1 and
// the empty slot where it belongs (-1 if there are no slots).
func (x *keyIndex) find(key []byte, h uint64) (int32, int) {
	if len(x.slots) == 0 {
		return -1, -1
	}
	mask := len(x.slots) - 1
	tag := h << 32
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return -1, i
		}
		if s&^slotIDMask == tag {
			id := int32(uint32(s) - 1)
			if string(x.keyBytes(id)) == string(key) {
				return id, i
			}
		}
	}
}

// add returns the id of key, whose hash is h, adding it when new (added).
// key is copied, not retained. A new key takes the most recently recycled
// id, if any, else the next new one (ids()-1 after the call).
func (x *keyIndex) add(key []byte, h uint64) (id int32, added bool) {
	if 2*(x.len()+1) > len(x.slots) {
		x.grow()
	}
	id, slot := x.find(key, h)
	if id >= 0 {
		return id, false
	}
	span := x.appendKey(key)
	if n := len(x.free); n > 0 {
		id = x.free[n-1]
		x.free = x.free[:n-1]
		x.gone--
		x.spans[id], x.hashes[id] = span, h
	} else {
		id = int32(len(x.spans))
		x.spans = appendDoubling(x.spans, span)
		x.hashes = appendDoubling(x.hashes, h)
	}
	if len(key) >= spanLong {
		if x.long == nil {
			x.long = map[int32]int{}
		}
		x.long[id] = len(key)
	}
	x.slots[slot] = slotOf(h, id)
	return id, true
}

// appendKey appends key to the arena and returns its span (the caller
// records a long key's length).
func (x *keyIndex) appendKey(key []byte) uint64 {
	if len(x.arena)+len(key) > cap(x.arena) {
		x.arena = slices.Grow(x.arena, max(len(x.arena), len(key)))
	}
	off := len(x.arena)
	x.arena = append(x.arena, key...)
	return uint64(min(len(key), spanLong))<<spanOffBits | uint64(off)
}

// slotOf is the slot of id, whose key's hash is h.
func slotOf(h uint64, id int32) uint64 { return h<<32 | uint64(uint32(id)+1) }

// slotHome is the home slot of the key slot s holds, in slots of mask+1
// (at most 1<<32: ids are int32 and slots at most half full).
func slotHome(s uint64, mask int) int { return int(s>>32) & mask }

// remove takes id's key out of the index: find no longer finds it and add
// of the same key gives a new id. The id itself is not reused before
// recycle hands it back.
func (x *keyIndex) remove(id int32) {
	mask := len(x.slots) - 1
	want := uint64(uint32(id) + 1)
	i := int(x.hashes[id]) & mask
	for x.slots[i]&slotIDMask != want {
		i = (i + 1) & mask
	}
	// Shift back every later slot of the probe run that may move to the
	// hole: one whose home slot is not cyclically in (hole, j].
	for j := (i + 1) & mask; x.slots[j] != 0; j = (j + 1) & mask {
		home := slotHome(x.slots[j], mask)
		if (j-home)&mask >= (j-i)&mask {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = 0
	x.waste += len(x.keyBytes(id))
	if x.long != nil {
		delete(x.long, id)
	}
	x.spans[id] = spanGone
	x.gone++
	if x.waste >= compactWaste && 2*x.waste > len(x.arena) {
		x.compactArena()
	}
}

// recycle hands back removed ids, for add to reuse.
func (x *keyIndex) recycle(ids []int32) { x.free = append(x.free, ids...) }

// compactArena copies the live keys into a new arena, in id order.
func (x *keyIndex) compactArena() {
	arena := make([]byte, 0, len(x.arena)-x.waste+len(x.arena)/8)
	for id, s := range x.spans {
		if s == spanGone {
			continue
		}
		key := x.keyBytes(int32(id))
		x.spans[id] = s&^spanOffMask | uint64(len(arena))
		arena = append(arena, key...)
	}
	x.arena, x.waste = arena, 0
}

// reset empties the index, keeping its memory: keys viewed before are
// overwritten by later adds.
func (x *keyIndex) reset() {
	x.arena, x.spans, x.hashes, x.free = x.arena[:0], x.spans[:0], x.hashes[:0], x.free[:0]
	x.long, x.gone, x.waste = nil, 0, 0
	clear(x.slots)
}

// appendDoubling is append, but a full s doubles: append grows large
// slices by a quarter, which copies a growing table about five times its
// final size.
func appendDoubling[T any](s []T, v T) []T {
	if len(s) == cap(s) {
		s = slices.Grow(s, max(len(s), 8))
	}
	return append(s, v)
}

// prefetch loads the slots where the keys of hashes hs are probed first
// and the spans of the keys they hold. They are far apart in a large
// index: loading them in a loop of their own lets the processor wait for
// all of them at once, not for one miss after another as add does. It
// first grows the index to take len(hs) more keys, so add does not move
// the slots afterwards. Slots that fit in a processor's caches are not
// worth the extra loop.
func (x *keyIndex) prefetch(hs []uint64) {
	for 2*(x.len()+len(hs)) > len(x.slots) {
		x.grow()
	}
	if len(x.slots) < prefetchSlots {
		return
	}
	mask := len(x.slots) - 1
	var sum uint64
	for _, h := range hs {
		s := x.slots[int(h)&mask]
		if s != 0 && s&^slotIDMask == h<<32 {
			sum += x.spans[uint32(s)-1]
		}
	}
	x.sink += sum
}

// prefetchSlots is the number of slots (8 bytes each) from which prefetch
// loads them.
const prefetchSlots = 1 << 17

// grow doubles the slots and places every key (not the removed ids)
// again from its hash.
func (x *keyIndex) grow() {
	slots := make([]uint64, max(64, 2*len(x.slots)))
	mask := len(slots) - 1
	for _, s := range x.slots {
		if s == 0 {
			continue
		}
		i := slotHome(s, mask)
		for slots[i] != 0 {
			i = (i + 1) & mask
		}
		slots[i] = s
	}
	x.slots = slots
}
