package state

import (
	"net/url"
	"strings"
	"time"
)

// Lifecycle is what happens to an alert group after it opens, besides its
// members coming and going: who must respond now, whether someone
// acknowledged, snoozed or closed it, and when it escalates. The router
// starts it when a group opens; people (from Slack and PagerDuty) and the
// escalator move it, each change in one conditional write with its audit
// records and notification.
type Lifecycle struct {
	// Owner must respond now (Role's owner); it starts as the rule's owner
	// and moves along the escalation chain or to a reassigned role.
	Owner string `json:"owner,omitempty"`
	Role  string `json:"role,omitempty"`
	// Base is the owner whose escalation chain applies (the rule's owner,
	// or the one the group was reassigned to); Step counts the escalation
	// steps taken along it.
	Base string `json:"base,omitempty"`
	Step int    `json:"step,omitempty"`
	// From is who had the group before the latest escalation or
	// reassignment (the same owner when the end of the chain re-notifies).
	From      string `json:"from,omitempty"`
	AckWithin string `json:"ack_within,omitempty"`
	// AckedBy is who acknowledged ("slack:U012ABCDE", "pagerduty:P1B2C3D"),
	// AckedName their name when known.
	AckedBy   string    `json:"acked_by,omitempty"`
	AckedName string    `json:"acked_name,omitempty"`
	AckedAt   time.Time `json:"acked_at,omitzero"`
	// SnoozedUntil: acknowledged for a while; at that time the
	// acknowledgement lapses and the escalation clock starts again.
	SnoozedUntil time.Time `json:"snoozed_until,omitzero"`
	// EscalateAt is when the group escalates if still unacknowledged
	// (zero: never — no ack_within, acknowledged, or over).
	EscalateAt time.Time `json:"escalate_at,omitzero"`
	// CycleStart is when the group's current cycle began: its latest
	// escalation, reassignment or end of a snooze, each of which leaves it
	// unacknowledged with someone (zero: none since it opened). A change
	// another system reports as made before it (PagerDuty's acknowledgement
	// from before the escalation, redelivered late or replayed) is about a
	// cycle that is over, and changes nothing.
	CycleStart time.Time `json:"cycle_start,omitzero"`
	// Resolution is set when a person closed the group: ResolvedByPerson
	// or FalseAlarm.
	Resolution string    `json:"resolution,omitempty"`
	ClosedBy   string    `json:"closed_by,omitempty"`
	ClosedName string    `json:"closed_name,omitempty"`
	ClosedAt   time.Time `json:"closed_at,omitzero"`
	// ReackAfter is how long the group may stay acknowledged and open
	// (the stakes cell's reack_after; "": forever); ReackAt is when, then,
	// the acknowledger is asked again (zero: not acknowledged, snoozed, or
	// no reack_after). Reacked is who was asked again last ("slack:U…").
	ReackAfter string    `json:"reack_after,omitempty"`
	ReackAt    time.Time `json:"reack_at,omitzero"`
	Reacked    string    `json:"reacked,omitempty"`
	// Level is the severity the group is told at: its rule's when it
	// opened, higher once it was raised (escalate_when, or an alert of a
	// higher severity joining). Notify are the channels of that level
	// once raised (nil: the alerts' own). Raises counts the raises;
	// GrowBase is the group's size when it was last told at its level
	// (opened or raised), which escalate_when's factor counts from.
	Level    string   `json:"level,omitempty"`
	Notify   []string `json:"notify,omitempty"`
	Raises   int      `json:"raises,omitempty"`
	GrowBase int      `json:"grow_base,omitempty"`
	// Repages counts the times the group paged anew although its
	// PagerDuty incident was acknowledged, resolved or already triggered
	// (where another trigger under its key would only be appended to it,
	// paging nobody): asked again after reack_after, raised, reopened by a
	// flapping alert, or unacknowledged by the end of a snooze, an
	// escalation or a reassignment. Each such page opens the group's next
	// incident (its dedup key numbered, pdnotify.IncidentKey), which
	// supersedes the earlier ones; 0: the group's first incident.
	Repages int `json:"repages,omitempty"`
	// By and Note describe the latest change, for the thread reply:
	// "escalated: nobody acknowledged within 15m".
	By     string `json:"by,omitempty"`
	ByName string `json:"by_name,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Resolutions of a group closed by a person.
const (
	ResolvedByPerson = "resolved"
	FalseAlarm       = "false alarm"
)

// Acked reports whether someone acknowledged (or snoozed) the group.
func (l *Lifecycle) Acked() bool { return l.AckedBy != "" }

// Closed reports whether a person closed the group.
func (l *Lifecycle) Closed() bool { return l.Resolution != "" }

// Over reports whether the group has ended: every member resolved, or a
// person closed it.
func (g *Group) Over() bool { return g.Open <= 0 || g.Closed() }

// Due is when the escalator must next look at the group: when its snooze
// ends, when an acknowledged group is to be re-notified (reack_after), or
// when it escalates if nobody acknowledges. Zero: never.
func (g *Group) Due() time.Time {
	switch {
	case g.Over():
		return time.Time{}
	case !g.SnoozedUntil.IsZero():
		return g.SnoozedUntil
	case g.Acked():
		return g.ReackAt
	}
	return g.EscalateAt
}

// GroupRule returns the model and rule of a group id
// ("<model>/<rule>@<opened>.<n>"); ok is false for anything else.
func GroupRule(group string) (model, rule string, ok bool) {
	mr, _, found := strings.Cut(group, "@")
	if !found {
		return "", "", false
	}
	model, rule, ok = strings.Cut(mr, "/")
	return model, rule, ok && model != "" && rule != ""
}

// Notification kinds besides the router's.
const (
	NoticeAcknowledged = "acknowledged"
	NoticeSnoozed      = "snoozed"
	NoticeSnoozeEnded  = "snooze-ended"
	NoticeEscalated    = "escalated"
	NoticeReassigned   = "reassigned"
	// NoticeStillOpen asks again whoever acknowledged a group that is
	// still open reack_after later; it escalates if nobody acknowledges.
	NoticeStillOpen = "still-open"
	// NoticeRaised: the group grew (escalate_when) or an alert of a higher
	// severity joined it: told at the higher level, escalation restarted.
	NoticeRaised = "raised"
	// NoticeRequest: a person asked for a retrain or a rollback (published
	// on EventBridge, noted in the thread).
	NoticeRequest = "request"
	// NoticeLabels: late labels judged one of the group's alerts
	// (confirmed or not): a thread reply only, never a page. Its
	// Lifecycle.Note is the verdict in words.
	NoticeLabels = "labels"
	// NoticeDigest is an owner's daily digest.
	NoticeDigest = "digest"
)

// Watch is one expected signal of a model (an `expect` entry): when it last
// arrived and the silence alert open while it does not. The router records
// sightings; the escalator opens the alert once the signal is late by its
// `every` plus grace, and resolves it when the signal returns.
type Watch struct {
	Model  string `json:"model"`
	Kind   string `json:"kind"`
	Metric string `json:"metric,omitempty"`
	// Since is when stakeout started watching (silence counts from it
	// while the signal has never arrived).
	Since time.Time `json:"since"`
	// Seen is the latest observed_at of the signal (stores keep it apart
	// from the rest, so that the router can move it with a cheap update).
	Seen time.Time `json:"seen,omitzero"`
	// Alert is the silence alert's id while it is open; SilentSince the
	// last sighting (or Since) when it opened: a sighting after it means
	// the signal is back.
	Alert       string    `json:"alert,omitempty"`
	SilentSince time.Time `json:"silent_since,omitzero"`
	// Next is when the escalator must look again (zero: only when the
	// router sees the signal).
	Next    time.Time `json:"next,omitzero"`
	Version int64     `json:"version"`
}

// ID names the watch: "<model>/<kind>[/<metric>]".
func (w *Watch) ID() string { return WatchID(w.Model, w.Kind, w.Metric) }

// WatchID names a model's expectation of a kind (and metric).
func WatchID(model, kind, metric string) string {
	id := model + "/" + kind
	if metric != "" {
		id += "/" + metric
	}
	return id
}

// Last is when the signal last arrived, or when watching began.
func (w *Watch) Last() time.Time {
	if w.Seen.After(w.Since) {
		return w.Seen
	}
	return w.Since
}

// Schedule is a recurring job of the escalator (an owner's digest): Next
// is when it is due. Moving Next and queueing the job's notification
// happen in one conditional write, so each run happens once.
type Schedule struct {
	Name    string    `json:"name"` // "digest/<owner>"
	Next    time.Time `json:"next"`
	Last    time.Time `json:"last,omitzero"`
	Version int64     `json:"version"`
}

// Due kinds: what a DueItem points at.
const (
	DueGroup    = "group"
	DueWatch    = "watch"
	DueSchedule = "schedule"
)

// DueItem is a record the escalator must look at: Key is the group's
// "<model>/<rule>", the watch's id, or the schedule's name.
type DueItem struct {
	Kind string
	Key  string
	At   time.Time
}

// ModelVersion is a model version the router has seen, with when it was
// first and last seen: the history a rollback request picks from.
type ModelVersion struct {
	Model     string    `json:"model"`
	Version   string    `json:"version"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Subject says what an alert is about, from its id: "feature=income",
// "feature=income segment=region=eu", or "" for a model-wide alert.
func Subject(alertID string) string {
	segs := strings.Split(alertID, "/")
	if len(segs) < 3 {
		return ""
	}
	var parts []string
	for _, p := range segs[2:] {
		k, v, _ := strings.Cut(p, "=")
		// A part too long for a key was cut (KeyPart): people see its
		// prefix, not its hash.
		v, hashed := Hashed(v)
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
		if hashed {
			// The prefix may end inside a character of the name (its
			// escapes are whole, its UTF-8 may not be): what is left of
			// that character is dropped.
			v = strings.ToValidUTF8(v, "") + hashMark
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}
