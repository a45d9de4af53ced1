package memstore

import (
	"cmp"
	"context"
	"slices"

	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// MaxHistory bounds the readings the embedded store keeps of each series
// for `stakeout report`: a year of nightly readings, or three days of
// readings every five minutes. The router's store keeps none (a series
// holds only the depth its rules read); a replay's picture needs the
// approach to a threshold, not only the readings while an alert was open.
const MaxHistory = 1000

// History is the readings of one series, oldest first.
type History struct {
	Key      signal.SeriesKey     `json:"key"`
	Readings []series.Observation `json:"readings"`
}

// keep adds the series' observations that its history lacks (s.mu held).
// A series whose rules read no history has no observations: its readings
// are only those the audit trail records, while an alert is open.
func (s *Store) keep(v *state.Series) {
	obs := v.State.Observations
	if len(obs) == 0 {
		return
	}
	h := s.history[v.Key]
	for _, o := range obs {
		i, found := slices.BinarySearchFunc(h, o, func(a, b series.Observation) int {
			return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Value, b.Value))
		})
		if !found {
			h = slices.Insert(h, i, o)
		}
	}
	if n := len(h); n > MaxHistory {
		h = slices.Delete(h, 0, n-MaxHistory)
	}
	s.history[v.Key] = h
}

// Histories returns the readings kept of every series, by key.
func (s *Store) Histories(context.Context) ([]History, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]History, 0, len(s.series))
	for k, v := range s.series {
		h := History{Key: k, Readings: slices.Clone(s.history[k])}
		if len(h.Readings) == 0 { // a state saved before histories were kept
			h.Readings = slices.Clone(v.State.Observations)
		}
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b History) int { return cmp.Compare(a.Key.String(), b.Key.String()) })
	return out, nil
}
