// Package series keeps the recent history of one series — one (model, kind,
// metric, feature, segment) — and the breach streaks of the rules watching
// it. It is plain data: the router stores it (with a version for conditional
// writes), `stakeout test` and `replay` keep it in memory.
package series

import (
	"slices"
	"time"
)

// Observation is one measurement of the series.
type Observation struct {
	At    time.Time `json:"at"`
	Value float64   `json:"value"`
}

// Streak counts a rule's consecutive breaching observations of the series.
type Streak struct {
	Count int       `json:"count"`
	Since time.Time `json:"since"` // the first breach of the streak
	Last  time.Time `json:"last"`  // the latest breach of the streak
}

// State is the series state: bounded history and per-rule streaks.
type State struct {
	// Observations are oldest first; at most the depth the model's rules need.
	Observations []Observation `json:"observations,omitempty"`
	// Streaks by rule name; a rule with no current breach has no entry.
	Streaks map[string]Streak `json:"streaks,omitempty"`
	// Latest is the time of the newest observation ever seen, kept even
	// when no history is: a reading older than it is late. (It is stored
	// only with other changes: on its own it is not worth a write.)
	Latest time.Time `json:"latest,omitzero"`

	dirty bool // history or streaks changed since the state was read
}

// Dirty reports whether the history or a streak changed since the state
// was read (or cloned): whether it needs writing back.
func (s *State) Dirty() bool { return s.dirty }

// Late reports whether an observation at t is no newer than the latest one
// seen: a redelivery or an event that arrived out of order. Late readings
// still enter the history, but say nothing about whether an alert should
// open or resolve now.
func (s *State) Late(t time.Time) bool {
	return !s.Latest.IsZero() && !t.After(s.Latest)
}

// Add records an observation in time order and keeps at most depth of the
// latest ones. With depth 0 nothing is kept: no rule of the model reads
// history, so there is nothing to store (and nothing to write). An
// observation identical to one kept (a redelivered event) is not added
// twice; Add reports whether it added o.
func (s *State) Add(o Observation, depth int) bool {
	if depth <= 0 {
		s.Observations = s.Observations[:0]
		return false
	}
	i := len(s.Observations)
	for i > 0 && s.Observations[i-1].At.After(o.At) {
		i--
	}
	for j := i - 1; j >= 0 && s.Observations[j].At.Equal(o.At); j-- {
		if s.Observations[j].Value == o.Value {
			return false
		}
	}
	s.Observations = slices.Insert(s.Observations, i, o)
	s.dirty = true
	if n := len(s.Observations); n > depth {
		s.Observations = slices.Delete(s.Observations, 0, n-depth)
	}
	return true
}

// Len is the number of observations kept.
func (s *State) Len() int { return len(s.Observations) }

// Last returns the latest n values, oldest first (fewer if fewer are kept).
func (s *State) Last(n int) []float64 { return s.AppendLast(nil, n) }

// AppendLast appends the latest n values, oldest first, to buf.
func (s *State) AppendLast(buf []float64, n int) []float64 {
	for _, o := range s.latest(n) {
		buf = append(buf, o.Value)
	}
	return buf
}

// Slope is the least-squares slope of value against time, in value per day,
// over the latest n observations. It is 0 with fewer than two distinct times.
func (s *State) Slope(n int) float64 {
	obs := s.latest(n)
	if len(obs) < 2 {
		return 0
	}
	t0 := obs[0].At
	var sx, sy float64
	for _, o := range obs {
		sx += o.At.Sub(t0).Hours() / 24
		sy += o.Value
	}
	k := float64(len(obs))
	mx, my := sx/k, sy/k
	var num, den float64
	for _, o := range obs {
		dx := o.At.Sub(t0).Hours()/24 - mx
		num += dx * (o.Value - my)
		den += dx * dx
	}
	if den == 0 {
		return 0
	}
	return num / den
}

func (s *State) latest(n int) []Observation {
	if n > len(s.Observations) {
		n = len(s.Observations)
	}
	if n < 0 {
		n = 0
	}
	return s.Observations[len(s.Observations)-n:]
}

// Breach extends the rule's streak with a breaching observation at t. A
// breach no later than the streak's latest one (the same event delivered
// again, or a late one) does not count: at-least-once delivery must not
// turn one reading into three. Breach reports whether the streak changed.
func (s *State) Breach(rule string, t time.Time) (Streak, bool) {
	st := s.Streaks[rule]
	if st.Count > 0 && !t.After(st.Last) {
		return st, false
	}
	if s.Streaks == nil {
		s.Streaks = make(map[string]Streak)
	}
	if st.Count == 0 {
		st.Since = t
	}
	st.Count++
	st.Last = t
	s.Streaks[rule] = st
	s.dirty = true
	return st, true
}

// Clear ends the rule's streak after a clean observation at t, unless the
// reading is older than the streak's latest breach (a late event says
// nothing about now). Clear reports whether the streak ended.
func (s *State) Clear(rule string, t time.Time) bool {
	st, ok := s.Streaks[rule]
	if !ok || !t.After(st.Last) {
		return false
	}
	delete(s.Streaks, rule)
	s.dirty = true
	return true
}

// Clone returns a deep copy of the state.
func (s *State) Clone() State {
	c := State{Latest: s.Latest, Observations: slices.Clone(s.Observations)}
	if s.Streaks != nil {
		c.Streaks = make(map[string]Streak, len(s.Streaks))
		for k, v := range s.Streaks {
			c.Streaks[k] = v
		}
	}
	return c
}
