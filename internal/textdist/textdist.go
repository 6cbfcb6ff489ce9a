// Package textdist measures how far apart two names are, for the
// did-you-mean hints of job-file keys, SQL columns and Kafka topics.
package textdist

import "strings"

// distance is the optimal string alignment distance between a and b, in
// characters: insertions, deletions, substitutions and transpositions of
// two adjacent characters each cost 1, so the common typo "pgae" is one
// edit from "page" (plain Levenshtein counts two).
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows of the dynamic programme: i-2, i-1 and i.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// Nearest returns the candidate closest to name by case-insensitive
// distance (the first of equals) and its distance; "" and -1 without
// candidates.
func Nearest(name string, candidates []string) (string, int) {
	best, bestD := "", -1
	k := strings.ToLower(name)
	for _, c := range candidates {
		if d := distance(k, strings.ToLower(c)); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best, bestD
}

// Closest returns the candidate nearest to name if it is close enough to
// be a probable typo: at most 1 edit for short names, a third of the
// name's length for long ones.
func Closest(name string, candidates []string) (string, bool) {
	best, d := Nearest(name, candidates)
	return best, d >= 0 && d <= max(1, len(name)/3)
}
