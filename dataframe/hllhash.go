package dataframe

import "math/bits"

// xxHash64 (seed 0) of a fixed-width group key, computed from the value
// without encoding it: the same hash as xxhash.Sum64 over appendKey's
// bytes (hllhash_test.go checks it), so sketches stay mergeable with
// those recorded through the generic path. approx_count_distinct hashes
// every row: over an integer column this is most of its cost.
const (
	xxPrime1 uint64 = 0x9E3779B185EBCA87
	xxPrime2 uint64 = 0xC2B2AE3D27D4EB4F
	xxPrime3 uint64 = 0x165667B19E3779F9
	xxPrime4 uint64 = 0x85EBCA77C2B2AE63
	xxPrime5 uint64 = 0x27D4EB2F165667C5
)

func xxAvalanche(h uint64) uint64 {
	h ^= h >> 33
	h *= xxPrime2
	h ^= h >> 29
	h *= xxPrime3
	h ^= h >> 32
	return h
}

// xxKey9 is xxHash64 of the 9 bytes tag, then u big-endian: the key of an
// Int64, Timestamp or Float64 value.
func xxKey9(tag byte, u uint64) uint64 {
	h := xxPrime5 + 9
	// The first 8-byte lane, read little-endian: tag, then u's top 7 bytes.
	lane := uint64(tag) | bits.ReverseBytes64(u)<<8
	k := bits.RotateLeft64(lane*xxPrime2, 31) * xxPrime1
	h ^= k
	h = bits.RotateLeft64(h, 27)*xxPrime1 + xxPrime4
	// The last byte: u's lowest.
	h ^= (u & 0xff) * xxPrime5
	h = bits.RotateLeft64(h, 11) * xxPrime1
	return xxAvalanche(h)
}

// xxKey5 is xxHash64 of the 5 bytes tag, then u big-endian: the key of an
// Int32 or Date value.
func xxKey5(tag byte, u uint32) uint64 {
	h := xxPrime5 + 5
	// The first 4-byte word, little-endian: tag, then u's top 3 bytes.
	w := uint64(uint32(tag) | bits.ReverseBytes32(u)<<8)
	h ^= w * xxPrime1
	h = bits.RotateLeft64(h, 23)*xxPrime2 + xxPrime3
	h ^= uint64(u&0xff) * xxPrime5
	h = bits.RotateLeft64(h, 11) * xxPrime1
	return xxAvalanche(h)
}
