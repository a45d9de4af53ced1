package promexport

import (
	"strings"

	"github.com/stakeout-ml/stakeout/internal/metrics"
)

// MetricName is the Prometheus name of the CloudWatch metric name recorded
// with unit: the namespace and the name in snake_case (see LabelName for
// the rules) joined by "_", then "_total" for metrics.UnitCount and
// "_seconds" for metrics.UnitMilliseconds unless the name already ends so.
// Any other unit gives "". The result always matches Prometheus's
// [a-zA-Z_:][a-zA-Z0-9_:]* and has no colon (those are for recording
// rules).
func MetricName(namespace, name, unit string) string {
	var suffix string
	switch unit {
	case metrics.UnitCount:
		suffix = "_total"
	case metrics.UnitMilliseconds:
		suffix = "_seconds"
	default:
		return ""
	}
	base := prefixed(namespace, snake(name))
	if strings.HasSuffix(base, suffix) {
		return base
	}
	return base + suffix
}

// LabelName is the Prometheus label name of a dimension: its name in
// snake_case — a word starts at a capital after a lower-case letter or
// digit, or at the last capital of an acronym (HTTPStatus is http_status)
// — lower case, every run of other characters than ASCII letters and
// digits one "_", no "_" at either end, "_" before a leading digit, and
// "unnamed" for a name with no letter or digit. So it matches Prometheus's
// [a-zA-Z_][a-zA-Z0-9_]* and never starts with "__", which Prometheus
// reserves.
func LabelName(dim string) string {
	s := snake(dim)
	if s[0] >= '0' && s[0] <= '9' {
		return "_" + s
	}
	return s
}

// prefixed joins namespace in snake_case and name, or gives name alone
// when namespace has no letter or digit.
func prefixed(namespace, name string) string {
	ns := snake(namespace)
	if ns == unnamed {
		return name
	}
	return ns + "_" + name
}

const unnamed = "unnamed"

func snake(s string) string {
	b := make([]byte, 0, len(s)+4)
	sep := false // a "_" is due before the next letter or digit
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isUpper(c):
			if i > 0 && (isLower(s[i-1]) || isDigit(s[i-1]) ||
				isUpper(s[i-1]) && i+1 < len(s) && isLower(s[i+1])) {
				sep = true
			}
			c += 'a' - 'A'
		case isLower(c) || isDigit(c):
		default:
			sep = true
			continue
		}
		if sep && len(b) > 0 {
			b = append(b, '_')
		}
		sep = false
		b = append(b, c)
	}
	if len(b) == 0 {
		return unnamed
	}
	return string(b)
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
