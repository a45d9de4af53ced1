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
	c.Labels = slices.Clone(s.Labels)
	for i := range c.Labels {
		c.Labels[i].Fired = slices.Clone(c.Labels[i].Fired)
	}
	return &c
}

// Clone returns a deep copy.
func (a *Alert) Clone() *Alert {
	c := *a
	c.Notify = slices.Clone(a.Notify)
	c.Recent = slices.Clone(a.Recent)
	c.Lineage = maps.Clone(a.Lineage)
	c.Openings = slices.Clone(a.Openings)
	c.Judged = slices.Clone(a.Judged)
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
	c.Lifecycle.Notify = slices.Clone(g.Lifecycle.Notify)
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
	c.Subjects = slices.Clone(n.Subjects)
	c.Joined = slices.Clone(n.Joined)
	c.Lifecycle.Notify = slices.Clone(n.Lifecycle.Notify)
	c.Done = maps.Clone(n.Done)
	if n.Tries != nil {
		c.Tries = make(map[string]*Try, len(n.Tries))
		for k, t := range n.Tries {
			ct := *t
			c.Tries[k] = &ct
		}
	}
	if n.Failure != nil {
		f := *n.Failure
		c.Failure = &f
	}
	c.Alert = *n.Alert.Clone()
	if n.Request != nil {
		r := *n.Request
		c.Request = &r
	}
	return &c
}

// Clone returns a deep copy.
func (d *Delivery) Clone() *Delivery {
	c := *d
	c.Slack = maps.Clone(d.Slack)
	c.Failing = maps.Clone(d.Failing)
	if d.Updating != nil {
		f := *d.Updating
		f.Channels = slices.Clone(f.Channels)
		c.Updating = &f
	}
	if d.Pages != nil {
		c.Pages = make(map[string]*Page, len(d.Pages))
		for k, p := range d.Pages {
			cp := *p
			c.Pages[k] = &cp
		}
	}
	return &c
}

// Clone returns a copy.
func (w *Watch) Clone() *Watch { c := *w; return &c }

// Clone returns a copy.
func (s *Schedule) Clone() *Schedule { c := *s; return &c }

// StoredVersion is the record's version; 0 for a nil (absent) record.
func (w *Watch) StoredVersion() int64 {
	if w == nil {
		return 0
	}
	return w.Version
}

// StoredVersion is the record's version; 0 for a nil (absent) record.
func (s *Schedule) StoredVersion() int64 {
	if s == nil {
		return 0
	}
	return s.Version
}

// SetVersion sets the version.
func (w *Watch) SetVersion(v int64) { w.Version = v }

// SetVersion sets the version.
func (s *Schedule) SetVersion(v int64) { s.Version = v }

// Versioned is a record written conditionally on its version.
type Versioned interface {
	StoredVersion() int64
	SetVersion(int64)
}

// StoredVersion is the record's version; 0 for a nil (absent) record.
func (s *Series) StoredVersion() int64 {
	if s == nil {
		return 0
	}
	return s.Version
}

// StoredVersion is the record's version; 0 for a nil (absent) record.
func (a *Alert) StoredVersion() int64 {
	if a == nil {
		return 0
	}
	return a.Version
}

// StoredVersion is the record's version; 0 for a nil (absent) record.
func (g *Group) StoredVersion() int64 {
	if g == nil {
		return 0
	}
	return g.Version
}

// StoredVersion is the record's version; 0 for a nil (absent) record.
func (in *Inhibitors) StoredVersion() int64 {
	if in == nil {
		return 0
	}
	return in.Version
}

// StoredVersion is the record's version; 0 for a nil (absent) record.
func (n *Notification) StoredVersion() int64 {
	if n == nil {
		return 0
	}
	return n.Version
}

// StoredVersion is the record's version; 0 for a nil (absent) record.
func (d *Delivery) StoredVersion() int64 {
	if d == nil {
		return 0
	}
	return d.Version
}

// SetVersion sets the version.
func (n *Notification) SetVersion(v int64) { n.Version = v }

// SetVersion sets the version.
func (d *Delivery) SetVersion(v int64) { d.Version = v }

// SetVersion sets the version (stores set it from what they hold).
func (s *Series) SetVersion(v int64) { s.Version = v }

// SetVersion sets the version.
func (a *Alert) SetVersion(v int64) { a.Version = v }

// SetVersion sets the version.
func (g *Group) SetVersion(v int64) { g.Version = v }

// SetVersion sets the version.
func (in *Inhibitors) SetVersion(v int64) { in.Version = v }
