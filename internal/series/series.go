// Package series keeps the recent history of one series — one (model, kind,
// metric, feature, segment) — and the breach streaks of the rules watching
// it. It is plain data: the router stores it (with a version for conditional
// writes), `stakeout test` and `replay` keep it in memory.
package series

import (
	"encoding/json"
	"slices"
	"strings"
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

// RuleStreak is one rule's streak.
type RuleStreak struct {
	Rule string
	Streak
}

// Streaks are the rules' streaks in the order of their names. A slice
// rather than a map: a series has a few at most, and finding one by
// comparing names costs less than hashing, on every rule of every event.
// They read and write as a JSON object by rule name, as the map they
// replace did, so stored states read the same.
type Streaks []RuleStreak

// find returns where rule's streak is, or would be inserted, and whether
// it is there.
func (s Streaks) find(rule string) (int, bool) {
	for i := range s {
		if c := strings.Compare(s[i].Rule, rule); c >= 0 {
			return i, c == 0
		}
	}
	return len(s), false
}

// MarshalJSON writes the streaks as a JSON object by rule name.
func (s Streaks) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	m := make(map[string]Streak, len(s))
	for _, rs := range s {
		m[rs.Rule] = rs.Streak
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads a JSON object by rule name.
func (s *Streaks) UnmarshalJSON(data []byte) error {
	var m map[string]Streak
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	if m == nil {
		*s = nil
		return nil
	}
	out := make(Streaks, 0, len(m))
	for rule, st := range m {
		out = append(out, RuleStreak{rule, st})
	}
	slices.SortFunc(out, func(a, b RuleStreak) int { return strings.Compare(a.Rule, b.Rule) })
	*s = out
	return nil
}

// State is the series state: bounded history and per-rule streaks.
type State struct {
	// Observations are oldest first; at most the depth the model's rules need.
	Observations []Observation `json:"observations,omitempty"`
	// Streaks of the rules breaching now; a rule with no current breach
	// has no entry.
	Streaks Streaks `json:"streaks,omitempty"`
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

// Streak returns the rule's streak (zero if it has none).
func (s *State) Streak(rule string) Streak {
	if i, ok := s.Streaks.find(rule); ok {
		return s.Streaks[i].Streak
	}
	return Streak{}
}

// Breach extends the rule's streak with a breaching observation at t. A
// breach no later than the streak's latest one (the same event delivered
// again, or a late one) does not count: at-least-once delivery must not
// turn one reading into three. Breach reports whether the streak changed.
func (s *State) Breach(rule string, t time.Time) (Streak, bool) {
	i, ok := s.Streaks.find(rule)
	if !ok {
		s.Streaks = slices.Insert(s.Streaks, i, RuleStreak{Rule: rule, Streak: Streak{Since: t}})
	}
	st := &s.Streaks[i].Streak
	if st.Count > 0 && !t.After(st.Last) {
		return *st, false
	}
	st.Count++
	st.Last = t
	s.dirty = true
	return *st, true
}

// Clear ends the rule's streak after a clean observation at t, unless the
// reading is older than the streak's latest breach (a late event says
// nothing about now). Clear reports whether the streak ended.
func (s *State) Clear(rule string, t time.Time) bool {
	i, ok := s.Streaks.find(rule)
	if !ok || !t.After(s.Streaks[i].Last) {
		return false
	}
	s.Streaks = slices.Delete(s.Streaks, i, i+1)
	s.dirty = true
	return true
}

// Clone returns a deep copy of the state.
func (s *State) Clone() State {
	return State{Latest: s.Latest, Observations: slices.Clone(s.Observations), Streaks: slices.Clone(s.Streaks)}
}
