package dataframe

import (
	"fmt"
	"testing"
)

// TestKeyIndex checks ids through growth, the empty key, keys that are
// prefixes of others, and pop followed by new keys.
func TestKeyIndex(t *testing.T) {
	x := newKeyIndex()
	var keys []string
	check := func() {
		t.Helper()
		if x.len() != len(keys) {
			t.Fatalf("len %d, want %d", x.len(), len(keys))
		}
		for id, k := range keys {
			if got := x.key(int32(id)); got != k {
				t.Fatalf("key(%d) = %q, want %q", id, got, k)
			}
			if got, _ := x.find([]byte(k), hashKey([]byte(k))); got != int32(id) {
				t.Fatalf("find(%q) = %d, want %d", k, got, id)
			}
		}
	}
	add := func(k string) {
		t.Helper()
		id, added := x.add([]byte(k), hashKey([]byte(k)))
		if !added || id != int32(len(keys)) {
			t.Fatalf("add(%q) = %d, %v", k, id, added)
		}
		keys = append(keys, k)
	}
	add("")
	for i := range 5000 {
		add(fmt.Sprint(i))
		add(fmt.Sprint(i, "\x00"))
	}
	check()
	for i, k := range keys[:100] {
		if id, added := x.add([]byte(k), hashKey([]byte(k))); added || id != int32(i) {
			t.Fatalf("add(%q) again = %d, %v", k, id, added)
		}
	}
	for range 3 {
		x.pop()
		keys = keys[:len(keys)-1]
	}
	if id, _ := x.find([]byte("4999\x00"), hashKey([]byte("4999\x00"))); id >= 0 {
		t.Fatalf("popped key found as %d", id)
	}
	add("4999\x00")
	add("new")
	check()
}
