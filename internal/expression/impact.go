package expression

import (
	"math"
	"strconv"
	"strings"
)

// ImpactUnit is the unit of every rule's impact: the configuration
// language defines `impact` as money per day, and the business constants
// it reads are in dollars (cost_per_wrong_decision_usd). JSON carries it
// beside the number, so that a reader never has to guess.
const ImpactUnit = "USD/day"

// RoundImpact is an impact as machines get it: to the cent, so that
// (0.9 - 0.86) * 12000 * 600 is 288000, not 288000.0000000003.
func RoundImpact(v float64) float64 {
	r := math.Round(v*100) / 100
	if r == 0 {
		return 0 // not -0
	}
	return r
}

// FormatImpactAmount is an impact's number for people: whole units with
// thousands separators from 1,000 up ("48,000"), cents below ("12.50"),
// never float noise. A rule's summary shows {{impact}} this way.
func FormatImpactAmount(v float64) string {
	r := RoundImpact(v)
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return FormatNumber(r)
	case math.Abs(r) >= 1000:
		return FormatThousands(math.Round(r))
	case r == math.Trunc(r):
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strconv.FormatFloat(r, 'f', 2, 64)
}

// FormatImpact is an impact for people, the one format every text shows
// (route, replay, Slack): money per day, "$48,000/day", as ImpactUnit
// says. A second unit, when the language has one, is formatted here.
func FormatImpact(v float64) string {
	amount := FormatImpactAmount(v)
	if digits, neg := strings.CutPrefix(amount, "-"); neg {
		return "-$" + digits + "/day"
	}
	return "$" + amount + "/day"
}
