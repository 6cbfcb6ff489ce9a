package gen

import "time"

// clock is a simulated event-time clock in milliseconds since the Unix
// epoch. It formats its instant without allocating: the part up to the
// second is cached and only rebuilt when the second changes.
type clock struct {
	ms     int64
	layout string // time layout up to and including seconds
	suffix string // appended after the seconds ("Z", " UTC")
	millis bool   // append ".000" milliseconds

	sec    int64  // the second prefix is valid for
	prefix []byte // ms/1000 formatted with layout
}

func newClock(start time.Time, layout, suffix string, millis bool) *clock {
	return &clock{ms: start.UnixMilli(), layout: layout, suffix: suffix, millis: millis, sec: -1 << 62}
}

// advance moves the clock forward by d milliseconds.
func (c *clock) advance(d int) { c.ms += int64(d) }

// append appends the current instant to b.
func (c *clock) append(b []byte) []byte {
	sec := c.ms / 1000
	if sec != c.sec {
		c.sec = sec
		c.prefix = time.Unix(sec, 0).UTC().AppendFormat(c.prefix[:0], c.layout)
	}
	b = append(b, c.prefix...)
	if c.millis {
		m := c.ms % 1000
		b = append(b, '.', byte('0'+m/100), byte('0'+m/10%10), byte('0'+m%10))
	}
	return append(b, c.suffix...)
}
