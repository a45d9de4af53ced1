package expression

import "testing"

// Impact reads the same wherever people see it: rounded, with separators,
// money with its symbol; float noise never shows.
func TestFormatImpactRoundsForPeople(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{(0.9 - 0.86) * 12000 * 600, "$288,000/day"},
		{48000.00000000004, "$48,000/day"},
		{2933.333333, "$2,933/day"},
		{12.5, "$12.50/day"},
		{700, "$700/day"},
		{1619999.9999999993, "$1,620,000/day"},
		{-1500, "-$1,500/day"},
	} {
		if got := FormatImpact(tc.v); got != tc.want {
			t.Errorf("FormatImpact(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestRoundImpactDropsFloatNoise(t *testing.T) {
	if got := RoundImpact((0.9 - 0.86) * 12000 * 600); got != 288000 {
		t.Errorf("RoundImpact = %v, want 288000", got)
	}
	if got := RoundImpact(2933.3333); got != 2933.33 {
		t.Errorf("RoundImpact = %v, want 2933.33", got)
	}
}
