package sql

import "testing"

func TestPosition(t *testing.T) {
	q := "SELECT é,\n\tx FROM events"
	for _, tc := range []struct{ off, line, col int }{
		{-5, 1, 1}, {0, 1, 1}, {7, 1, 8}, {9, 1, 9}, {10, 1, 10}, {11, 2, 1}, {12, 2, 2}, {1000, 2, 15},
	} {
		if l, c := position(q, tc.off); l != tc.line || c != tc.col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", tc.off, l, c, tc.line, tc.col)
		}
	}
	// PostgreSQL's cursor counts characters from 1.
	for _, tc := range []struct{ cursor, off int }{{0, 0}, {1, 0}, {8, 7}, {9, 9}, {10, 10}, {100, len(q)}} {
		if off := charOffset(q, tc.cursor); off != tc.off {
			t.Errorf("charOffset(%d) = %d, want %d", tc.cursor, off, tc.off)
		}
	}
}

func TestSuggest(t *testing.T) {
	cols := []string{"event_time", "event_type", "brand", "price", "data.page", "n"}
	for _, tc := range []struct{ name, want string }{
		{"brnd", "brand"}, {"BRAND", "brand"}, {"prise", "price"}, {"evnt_type", "event_type"},
		{"page", "data.page"}, {"m", ""}, {"xyz", ""}, {"event", ""},
	} {
		if got := suggest(tc.name, cols); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestNumber(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want any
	}{
		{"10000000000", int64(10000000000)}, {"1_000_000_000_000", int64(1000000000000)}, {"1.5", 1.5},
		{"1e3", 1000.0}, {"0x10000000000", int64(0x10000000000)}, {"99999999999999999999", 1e20}, {"-2147483648", -2147483648},
	} {
		if got, ok := number(tc.s); !ok || got != tc.want {
			t.Errorf("number(%q) = %v (%T), %v; want %v", tc.s, got, got, ok, tc.want)
		}
	}
}
