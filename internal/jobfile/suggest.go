package jobfile

import (
	"strings"

	"github.com/microbatch/microbatch/internal/textdist"
)

// suggest returns the candidate closest to key (case-insensitive edit
// distance, textdist.Distance), if it is close enough to be a probable typo:
// at most 1 edit for short keys, a third of the key's length for long ones.
func suggest(key string, candidates []string) (string, bool) {
	best, bestD := "", 1<<30
	k := strings.ToLower(key)
	for _, c := range candidates {
		if d := textdist.Distance(k, strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(1, len(key)/3)
	return best, best != "" && bestD <= limit
}
