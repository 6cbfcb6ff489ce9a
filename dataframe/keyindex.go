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
type keyIndex struct {
	arena  []byte
	off    []int    // group id's key is arena[off[id]:off[id+1]]; off[0] = 0
	hashes []uint64 // hashKey of each group's key
	// slots has a power of two length (or none) and is at most half full:
	// 0 is an empty slot, else the hash's top 32 bits over id+1.
	slots []uint64
	sink  uint64 // what prefetch loaded, kept so that its loads stay
}

const slotIDMask = 1<<32 - 1

func newKeyIndex() keyIndex { return keyIndex{off: []int{0}} }

func (x *keyIndex) len() int { return len(x.off) - 1 }

// keyBytes views group id's key; the bytes must not be modified.
func (x *keyIndex) keyBytes(id int32) []byte {
	lo, hi := x.off[id], x.off[id+1]
	return x.arena[lo:hi:hi]
}

// key views group id's key as a string. The arena only grows by append
// (a reallocation leaves the old bytes as they were), so the string stays
// valid, and unchanged, as long as its holder keeps it.
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
	tag := h &^ slotIDMask
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
// key is copied, not retained.
func (x *keyIndex) add(key []byte, h uint64) (id int32, added bool) {
	if 2*(x.len()+1) > len(x.slots) {
		x.grow()
	}
	id, slot := x.find(key, h)
	if id >= 0 {
		return id, false
	}
	id = int32(x.len())
	x.slots[slot] = h&^slotIDMask | uint64(uint32(id)+1)
	if len(x.arena)+len(key) > cap(x.arena) {
		x.arena = slices.Grow(x.arena, max(len(x.arena), len(key)))
	}
	x.arena = append(x.arena, key...)
	x.off = appendDoubling(x.off, len(x.arena))
	x.hashes = appendDoubling(x.hashes, h)
	return id, true
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
// and the offsets of the keys they hold. They are far apart in a large
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
		if s != 0 && s&^slotIDMask == h&^slotIDMask {
			sum += uint64(x.off[uint32(s)-1])
		}
	}
	x.sink += sum
}

// prefetchSlots is the number of slots (8 bytes each) from which prefetch
// loads them.
const prefetchSlots = 1 << 17

// grow doubles the slots and places every group again from its hash.
func (x *keyIndex) grow() {
	slots := make([]uint64, max(64, 2*len(x.slots)))
	mask := len(slots) - 1
	for id, h := range x.hashes {
		i := int(h) & mask
		for slots[i] != 0 {
			i = (i + 1) & mask
		}
		slots[i] = h&^slotIDMask | uint64(uint32(id)+1)
	}
	x.slots = slots
}

// pop removes the most recently added key. Emptying its slot is enough:
// no key added after it probed past that slot.
func (x *keyIndex) pop() {
	last := int32(x.len() - 1)
	_, slot := x.find(x.keyBytes(last), x.hashes[last])
	x.slots[slot] = 0
	x.arena = x.arena[:x.off[last]]
	x.off = x.off[:last+1]
	x.hashes = x.hashes[:last]
}
