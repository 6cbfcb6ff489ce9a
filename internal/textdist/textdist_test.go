package textdist

import "testing"

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"page", "page", 0}, {"", "abc", 3}, {"abc", "", 3},
		{"pgae", "page", 1},                      // transposition
		{"startingOffset", "startingOffsets", 1}, // deletion
		{"kitten", "sitting", 3},
		{"ca", "abc", 3}, // OSA, not full Damerau (which gives 2)
		{"naïve", "naive", 1},
	} {
		if got := distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := distance(tc.b, tc.a); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d (symmetry)", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestClosest(t *testing.T) {
	topics := []string{"clicks", "orders", "sensor-readings"}
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"clickz", "clicks", true},                  // 1 edit of 6
		{"Clicks", "clicks", true},                  // case-insensitive
		{"cliks", "clicks", true},                   // short: 1 edit
		{"clk", "clicks", false},                    // 3 edits of 3
		{"sensor-reading", "sensor-readings", true}, // 1 edit
		{"sensorreadngs", "sensor-readings", true},  // 2 edits of 13 (limit 4)
		{"payments", "orders", false},
	} {
		got, ok := Closest(tc.name, topics)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("Closest(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := Closest("x", nil); ok {
		t.Error("Closest with no candidates found one")
	}
}
