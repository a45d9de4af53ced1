package expression

import "fmt"

// Suggest returns ` (did you mean "x"?)` for the candidate closest to name
// when it is close enough to be a plausible typo, or "".
func Suggest(name string, candidates []string) string { return suggest(name, candidates) }

func suggest(name string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if d := levenshtein(name, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	// Further than a third of the word is another word, not a typo.
	if bestD <= 0 || bestD > max(2, len(name)/3) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
