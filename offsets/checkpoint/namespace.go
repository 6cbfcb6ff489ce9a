package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
)

// Namespace is where a state key lives: the operator that owns it (a
// query's aggregation, a window operator, a deduplication) and its key
// group. Key groups split an operator's keys into NumKeyGroups fixed,
// hash-defined parts, as Flink's key groups do: a later scale-out assigns
// whole key groups to tasks, restoring each from its range of the state
// without rehashing (DESIGN.md section 5). One process today owns every
// key group.
type Namespace struct {
	Operator uint16
	KeyGroup uint16
}

// NumKeyGroups is the number of key groups of every operator. It is part of
// the stored format: changing it would move keys between groups.
const NumKeyGroups = 128

// KeyGroupOf is the key group of an operator's state key: FNV-1a of the
// key, modulo NumKeyGroups. It is stable across builds and processes.
func KeyGroupOf(key []byte) uint16 {
	h := fnv.New32a()
	_, _ = h.Write(key)
	return uint16(h.Sum32() % NumKeyGroups)
}

// NamespaceOf is the namespace of key under operator op, its key group
// computed by KeyGroupOf.
func NamespaceOf(op uint16, key []byte) Namespace {
	return Namespace{Operator: op, KeyGroup: KeyGroupOf(key)}
}

func (ns Namespace) String() string {
	return fmt.Sprintf("operator %d key group %d", ns.Operator, ns.KeyGroup)
}

// nsPrefixLen is the bytes a namespace adds before a stored state key: the
// big-endian operator, then the big-endian key group, so the stored state
// sorts by operator, key group, key.
const nsPrefixLen = 4

// appendStoredKey appends the stored form of (ns, key) to b.
func appendStoredKey(b []byte, ns Namespace, key []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, ns.Operator)
	b = binary.BigEndian.AppendUint16(b, ns.KeyGroup)
	return append(b, key...)
}

// splitStoredKey splits a stored state key into its namespace and key.
func splitStoredKey(k []byte) (Namespace, []byte, error) {
	if len(k) <= nsPrefixLen {
		return Namespace{}, nil, errors.New("state key shorter than its namespace")
	}
	ns := Namespace{Operator: binary.BigEndian.Uint16(k), KeyGroup: binary.BigEndian.Uint16(k[2:])}
	if ns.KeyGroup >= NumKeyGroups {
		return Namespace{}, nil, fmt.Errorf("key group %d out of range (0 to %d)", ns.KeyGroup, NumKeyGroups-1)
	}
	return ns, k[nsPrefixLen:], nil
}
