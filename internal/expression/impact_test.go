package expression

import "testing"

// Impact reads the same wherever people see it: rounded, with separators,
// money with its symbol; float noise never shows.
func TestFormatImpactRoundsForPeople(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		unit string
		want string
	}{
		{(0.9 - 0.86) * 12000 * 600, ImpactUnit, "$288,000/day"},
		{48000.00000000004, "USD/day", "$48,000/day"},
		{2933.333333, "USD/day", "$2,933/day"},
		{12.5, "USD/day", "$12.50/day"},
		{700, "EUR/day", "€700/day"},
		{1619999.9999999993, "CHF/day", "CHF 1,620,000/day"},
		{48000, "", "48,000 per day"},
		{48000, "orders/day", "48,000 orders per day"},
		{-1500, "USD/day", "-$1,500/day"},
	} {
		if got := FormatImpact(tc.v, tc.unit); got != tc.want {
			t.Errorf("FormatImpact(%v, %q) = %q, want %q", tc.v, tc.unit, got, tc.want)
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
