package dataframe

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// likePattern is a compiled SQL LIKE pattern: literal runs separated by %
// with _ matching one character (a UTF-8 code point).
type likePattern struct {
	// Common shapes get a fast path.
	exact, prefix, suffix, contains bool
	lit                             []byte
	// General case: segments split at %, each a sequence of literal bytes
	// and _ wildcards (wild[i] marks a _ at position i of seg).
	segs [][]likeChar
}

type likeChar struct {
	b   byte
	any bool // _
}

func compileLike(pattern string) (*likePattern, error) {
	var segs [][]likeChar
	var cur []likeChar
	simple := true // only literal bytes and %
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch c {
		case '\\':
			if i+1 >= len(pattern) {
				return nil, fmt.Errorf("%w: LIKE pattern %q ends with an escape", ErrPlan, pattern)
			}
			i++
			cur = append(cur, likeChar{b: pattern[i]})
		case '%':
			segs = append(segs, cur)
			cur = nil
		case '_':
			simple = false
			cur = append(cur, likeChar{any: true})
		default:
			cur = append(cur, likeChar{b: c})
		}
	}
	segs = append(segs, cur)
	p := &likePattern{segs: segs}
	if simple {
		lit := func(s []likeChar) []byte {
			b := make([]byte, len(s))
			for i, c := range s {
				b[i] = c.b
			}
			return b
		}
		switch {
		case len(segs) == 1:
			p.exact, p.lit = true, lit(segs[0])
		case len(segs) == 2 && len(segs[1]) == 0:
			p.prefix, p.lit = true, lit(segs[0])
		case len(segs) == 2 && len(segs[0]) == 0:
			p.suffix, p.lit = true, lit(segs[1])
		case len(segs) == 3 && len(segs[0]) == 0 && len(segs[2]) == 0:
			p.contains, p.lit = true, lit(segs[1])
		}
	}
	return p, nil
}

func (p *likePattern) match(s string) bool {
	switch {
	case p.exact:
		return s == string(p.lit)
	case p.prefix:
		return len(s) >= len(p.lit) && s[:len(p.lit)] == string(p.lit)
	case p.suffix:
		return len(s) >= len(p.lit) && s[len(s)-len(p.lit):] == string(p.lit)
	case p.contains:
		return bytes.Contains([]byte(s), p.lit)
	}
	return p.matchGeneral(s)
}

// matchSeg reports whether seg matches at the start of s and how many bytes
// it consumed.
func matchSeg(seg []likeChar, s string) (int, bool) {
	j := 0
	for _, c := range seg {
		if j >= len(s) {
			return 0, false
		}
		if c.any {
			_, size := utf8.DecodeRuneInString(s[j:])
			j += size
			continue
		}
		if s[j] != c.b {
			return 0, false
		}
		j++
	}
	return j, true
}

// matchGeneral: the first segment anchors at the start, the last at the end,
// and the middle ones match greedily leftmost in between (which is exact for
// patterns whose only multi-character wildcard is %).
func (p *likePattern) matchGeneral(s string) bool {
	segs := p.segs
	if len(segs) == 1 {
		n, ok := matchSeg(segs[0], s)
		return ok && n == len(s)
	}
	n, ok := matchSeg(segs[0], s)
	if !ok {
		return false
	}
	s = s[n:]
	for _, seg := range segs[1 : len(segs)-1] {
		found := false
		for i := 0; i <= len(s); i++ {
			if n, ok := matchSeg(seg, s[i:]); ok {
				s = s[i+n:]
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	last := segs[len(segs)-1]
	// The last segment must match a suffix of s; try each start.
	for i := len(s); i >= 0; i-- {
		if n, ok := matchSeg(last, s[i:]); ok && i+n == len(s) {
			return true
		}
	}
	return false
}
