package state

import (
	"slices"
	"strings"
	"time"
)

// WindowPrefix names the schedules that end an alert's silence:
// "window/<alert id>". The router writes one when it silences an alert
// (Alert.SilencedBy); at its Next the escalator opens the alert if it is
// still unresolved, so that a breach a window hid is told when it ends.
const WindowPrefix = "window/"

// WindowSchedule is the name of the schedule ending alert id's silence.
func WindowSchedule(alertID string) string { return WindowPrefix + alertID }

// QuietModel is the model of the audit trails of windows made from Slack
// (`/stakeout quiet`): each window's records are on an alert of this
// model, "stakeout:quiet/<model>/<window id>", its rule the model quieted,
// as a fire drill's are on an alert of DrillModel. The colon keeps them
// apart from every model a rules file can name.
const QuietModel = "stakeout:quiet"

// QuietPrefix begins the names of windows made from Slack (what an
// alert's SilencedBy says) and of the schedules ending them:
// "quiet/<model>/<id>".
const QuietPrefix = "quiet/"

// Quiet is a maintenance window a person made from Slack: stored, not in
// the rules file, and ended by the escalator at Until or earlier by a
// person (the window then leaves Quiets.Windows).
type Quiet struct {
	// Name is "quiet/<model>/<id>": what silenced alerts name, and the
	// schedule that ends it.
	Name  string `json:"name"`
	Model string `json:"model"`
	// Rule is the one rule it silences ("": every rule of the model).
	Rule   string    `json:"rule,omitempty"`
	Reason string    `json:"reason"`
	From   time.Time `json:"from"`
	Until  time.Time `json:"until"`
	// By is who made it ("slack:U012ABCDE"), ByName their name if known.
	By     string `json:"by"`
	ByName string `json:"by_name,omitempty"`
	// Channel is where it was made.
	Channel string `json:"channel,omitempty"`
	// EndedBy is who ended it before its time (Until is then when).
	EndedBy string `json:"ended_by,omitempty"`
}

// Covers reports whether q silences rule at t.
func (q *Quiet) Covers(rule string, t time.Time) bool {
	return (q.Rule == "" || q.Rule == rule) && !t.Before(q.From) && t.Before(q.Until)
}

// AuditID is the alert carrying the window's audit trail.
func (q *Quiet) AuditID() string { return QuietModel + "/" + strings.TrimPrefix(q.Name, QuietPrefix) }

// IsQuiet reports whether a SilencedBy (or schedule name) is a window made
// from Slack.
func IsQuiet(name string) bool { return strings.HasPrefix(name, QuietPrefix) }

// Quiets are a model's windows made from Slack that have not ended: one
// record per model, read when an alert of the model is about to open.
type Quiets struct {
	Model   string  `json:"model"`
	Windows []Quiet `json:"windows,omitempty"`
	Version int64   `json:"version"`
}

// MaxQuiets bounds a model's windows made from Slack, so that the record
// stays one bounded item.
const MaxQuiets = 50

// Find returns the window named name, or nil (also on a nil record).
func (q *Quiets) Find(name string) *Quiet {
	if q == nil {
		return nil
	}
	for i := range q.Windows {
		if q.Windows[i].Name == name {
			return &q.Windows[i]
		}
	}
	return nil
}

// Silencing returns the window that silences rule at t and ends last, or
// nil (also on a nil record).
func (q *Quiets) Silencing(rule string, t time.Time) *Quiet {
	if q == nil {
		return nil
	}
	var best *Quiet
	for i := range q.Windows {
		w := &q.Windows[i]
		if w.Covers(rule, t) && (best == nil || w.Until.After(best.Until)) {
			best = w
		}
	}
	return best
}

// Clone returns a deep copy.
func (q *Quiets) Clone() *Quiets {
	c := *q
	c.Windows = slices.Clone(q.Windows)
	return &c
}

// StoredVersion is the record's version; 0 for a nil (absent) record.
func (q *Quiets) StoredVersion() int64 {
	if q == nil {
		return 0
	}
	return q.Version
}

// SetVersion sets the version.
func (q *Quiets) SetVersion(v int64) { q.Version = v }

// MuteEnded begins the note of the update that tells, at a CloudWatch
// mute's end, the latest state of an alert the mute held back in its group
// (Alert.MutedInGroup).
const MuteEnded = "the mute ended"
