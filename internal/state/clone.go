package state

import (
	"maps"
	"slices"
)

// Stores hand out and keep copies, never shared records: a caller that
// mutates what it read must not change what is stored until it commits.

// Clone returns a deep copy.
func (s *Series) Clone() *Series {
	c := *s
	c.State = s.State.Clone()
	c.Alerts = maps.Clone(s.Alerts)
	c.Recent = slices.Clone(s.Recent)
	return &c
}

// Clone returns a deep copy.
func (a *Alert) Clone() *Alert {
	c := *a
	c.Notify = slices.Clone(a.Notify)
	if a.Baseline != nil {
		b := *a.Baseline
		c.Baseline = &b
	}
	if a.Impact != nil {
		i := *a.Impact
		c.Impact = &i
	}
	return &c
}

// Clone returns a deep copy.
func (g *Group) Clone() *Group {
	c := *g
	c.Members = slices.Clone(g.Members)
	return &c
}

// Clone returns a deep copy.
func (in *Inhibitors) Clone() *Inhibitors {
	c := *in
	c.Active = maps.Clone(in.Active)
	return &c
}

// Clone returns a deep copy.
func (n *Notification) Clone() *Notification {
	c := *n
	c.Channels = slices.Clone(n.Channels)
	c.Alert = *n.Alert.Clone()
	return &c
}
