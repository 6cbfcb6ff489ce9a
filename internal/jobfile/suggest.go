package jobfile

import "strings"

// suggest returns the candidate closest to key (case-insensitive
// Levenshtein distance), if it is close enough to be a probable typo:
// at most 1 edit for short keys, a third of the key's length for long ones.
func suggest(key string, candidates []string) (string, bool) {
	best, bestD := "", 1<<30
	k := strings.ToLower(key)
	for _, c := range candidates {
		if d := levenshtein(k, strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(1, len(key)/3)
	return best, best != "" && bestD <= limit
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
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
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
