package config

import (
	"slices"

	"github.com/stakeout-ml/stakeout/internal/expression"
)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func suggestFrom(s string, candidates []string) string { return expression.Suggest(s, candidates) }
