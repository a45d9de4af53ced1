// Package notify holds what the Slack and PagerDuty notifiers share: the
// View — a notification with everything a person needs resolved from the
// configuration (owner names, mentions, escalation) — and the one
// classification of delivery errors into "retry", "retry after" and "give
// up", so that every channel treats faults the same way.
package notify

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// View is one notification as people see it.
type View struct {
	Notice string // notification id
	Change string // state.NoticeOpened, NoticeUpdated, NoticeResolved
	Group  string
	At     time.Time // when the change happened

	Model       string
	Description string
	Stakes      string
	Severity    string
	Rule        string
	AlertID     string
	Status      string // the causing alert's status
	OpenedAt    time.Time

	Summary  string
	Why      string
	Kind     string // the signal's kind (drift, quality, …)
	Metric   string
	Value    float64
	Baseline *float64
	Recent   []float64
	Feature  string
	Segment  string
	Impact   *float64 // money per day
	// Flapping: the causing alert is flapping (see config.Flapping); the
	// group's Note says how often it opened.
	Flapping bool

	// Members is how many alerts the group has; Subjects what they are
	// about (at most state.MaxSubjects); Joined, for an update, what the
	// alerts that joined in its window are about (those the group names:
	// its first state.MaxMembers), and Joins how many joined.
	Members  int
	Subjects []string
	Joined   []string
	Joins    int

	ModelVersion string
	// Release is the version timeline's word on ModelVersion (nil: none).
	Release *state.Release
	Lineage []KV // sorted by key

	Role        string
	Owner       Person
	Runbook     string
	AckWithin   string
	EscalatesAt time.Time // zero: never escalates
	EscalatesTo *Person

	// Phase is where the group stands: PhaseOpen, PhaseAcknowledged, …
	Phase string
	// AckedBy, SnoozedUntil: who acknowledged (a Slack mention when the
	// actor is a Slack user, a name otherwise) and until when it sleeps.
	AckedBy      string
	AckedAt      time.Time
	SnoozedUntil time.Time
	// ClosedBy is who resolved it or called it a false alarm.
	ClosedBy string
	// Step counts escalations; From is whom the last one came from.
	Step int
	// By and Note describe this change ("escalated from … to …").
	By   string
	Note string
	// Reacked is who acknowledged a group that stayed open reack_after
	// and is asked again (NoticeStillOpen; a Slack mention for a Slack user).
	Reacked string
	// Renotify: the escalation paged nobody new (the end of the chain
	// telling its owner again).
	Renotify bool
	// Repages counts the group's re-pages (state.Lifecycle.Repages): its
	// PagerDuty incident's number, less one. Reopened: the update of a
	// group open again (state.Notification.Reopened), which pages.
	Repages  int
	Reopened bool
	// Request is the retrain or rollback asked for (NoticeRequest).
	Request *state.Request

	// SlackLink is the group's Slack message, once posted (for PagerDuty).
	SlackLink string
	// Failing are the group's channels that failed, with the reason (the
	// delivery core fills it in from the group's delivery record): each
	// message says which of its siblings did not arrive.
	Failing []KV
	// Failure is what a NoticeDeliveryFailed reports.
	Failure *state.Failure
	// Drill: a fire drill (internal/drill), to be marked as one on every
	// channel; it never escalates.
	Drill bool
}

// Phases of a group.
const (
	PhaseOpen         = "Open"
	PhaseAcknowledged = "Acknowledged"
	PhaseSnoozed      = "Snoozed"
	PhaseResolved     = "Resolved"
	PhaseFalseAlarm   = "False alarm"
)

// Actor renders who did something: "<@U012ABCDE>" for a Slack user (a
// mention Slack renders as the name), the name or id otherwise.
func Actor(id, name string) string {
	if u, ok := strings.CutPrefix(id, "slack:"); ok && slackUser().MatchString(u) {
		return "<@" + u + ">"
	}
	// Names come from elsewhere (a PagerDuty user's, a Slack display
	// name): escaped, so that none can mention @channel or hide a link.
	if name != "" {
		return mrkdwnEscaper.Replace(name)
	}
	return mrkdwnEscaper.Replace(id)
}

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackUser is a Slack user id, compiled at the first actor rendered
// rather than at every function's start.
var slackUser = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`) })

// KV is a key and its value, rendered.
type KV struct{ Key, Value string }

// Person is an owner as a message names it.
type Person struct {
	ID      string
	Name    string
	Mention []string // Slack user and group ids
	Channel string
}

// Owner returns the owner id's Person (just the id if it is unknown).
func Owner(cfg *config.Config, id string) Person {
	o := cfg.Owners[id]
	if o == nil {
		return Person{ID: id, Name: id}
	}
	name := o.Name
	if name == "" {
		name = id
	}
	return Person{ID: id, Name: name, Mention: o.Slack.Mention, Channel: o.Slack.Channel}
}

// NewView resolves n against the configuration: owners' names and
// mentions, the model's description, and who is next if nobody acknowledges.
func NewView(cfg *config.Config, n *state.Notification) *View {
	a := &n.Alert
	v := &View{Notice: n.ID, Change: n.Kind, Group: n.Group, At: a.UpdatedAt,
		Model: n.Model, Stakes: a.Stakes, Severity: a.Severity, Rule: n.Rule, AlertID: a.ID, Status: a.Status,
		OpenedAt: a.OpenedAt, Summary: a.Summary, Why: a.Why, Kind: a.Kind, Metric: a.Metric, Value: a.Value,
		Baseline: a.Baseline, Recent: a.Recent, Feature: a.Feature, Segment: a.Segment, Impact: a.Impact, Flapping: a.Flapping,
		Members: n.Members, Subjects: n.Subjects, Joined: n.Joined, Joins: n.JoinCount(), ModelVersion: a.ModelVersion, Release: a.Release, Role: n.Role,
		Owner: Owner(cfg, n.Owner), Runbook: a.Runbook, AckWithin: a.AckWithin}
	if n.Kind == state.NoticeResolved && !a.ResolvedAt.IsZero() {
		v.At = a.ResolvedAt
	}
	if m := cfg.Models[n.Model]; m != nil {
		v.Description = m.Description
		if v.Stakes == "" {
			v.Stakes = m.Stakes
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a.Lineage)) {
		v.Lineage = append(v.Lineage, KV{k, render(a.Lineage[k])})
	}
	l := &n.Lifecycle
	v.Phase = PhaseOpen
	switch {
	case n.Kind == state.NoticeResolved && l.Resolution == state.FalseAlarm:
		v.Phase = PhaseFalseAlarm
	case n.Kind == state.NoticeResolved:
		v.Phase = PhaseResolved
	case !l.SnoozedUntil.IsZero():
		v.Phase = PhaseSnoozed
	case l.Acked():
		v.Phase = PhaseAcknowledged
	}
	if l.Acked() {
		v.AckedBy, v.AckedAt, v.SnoozedUntil = Actor(l.AckedBy, l.AckedName), l.AckedAt, l.SnoozedUntil
	}
	if l.Closed() {
		v.ClosedBy = Actor(l.ClosedBy, l.ClosedName)
		v.At = l.ClosedAt
	}
	v.Step, v.Note, v.Request, v.Failure = l.Step, l.Note, n.Request, n.Failure
	v.Renotify = n.Renotify()
	v.Repages, v.Reopened = l.Repages, n.Reopened
	if l.Reacked != "" {
		v.Reacked = Actor(l.Reacked, "")
	}
	if l.By != "" {
		v.By = Actor(l.By, l.ByName)
	}
	v.Drill = state.IsDrill(n.Model)
	switch {
	case v.Phase != PhaseOpen:
	case v.Drill:
		v.EscalatesAt = l.EscalateAt.UTC() // the end of its window: nobody further is told
	case !l.EscalateAt.IsZero():
		v.EscalatesAt = l.EscalateAt.UTC()
		if next := lifecycle.Next(cfg, l); next != "" && next != n.Owner {
			p := Owner(cfg, next)
			v.EscalatesTo = &p
		}
	case l.Base == "":
		// A notification queued before groups had a lifecycle: its
		// deadline counts from the opening.
		if ack, err := duration.Parse(a.AckWithin); err == nil && ack > 0 {
			v.EscalatesAt = a.OpenedAt.Add(ack).UTC()
			if o := cfg.Owners[n.Owner]; o != nil && len(o.Escalation) > 0 {
				next := Owner(cfg, o.Escalation[0])
				v.EscalatesTo = &next
			}
		}
	}
	return v
}

// render puts a lineage value in words: strings as they are, numbers as
// people write them, anything else as JSON.
func render(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return expression.FormatNumber(v)
	case bool:
		return fmt.Sprint(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// DrillMark is how every channel says that a fire drill is one.
const DrillMark = "🧯 DRILL — not a real alert"

// VersionLine says which model version the alert is about and, when the
// version timeline knows, since when it was live, what it was trained
// through and the version approved before it (the rollback target):
// "live since Tue 14 Apr: 2026.04.2, trained through 2026-03-31; previous
// approved 2026.03.1".
func (v *View) VersionLine() string {
	r := v.Release
	if r == nil || v.ModelVersion == "" {
		return v.ModelVersion
	}
	s := "live since " + r.LiveSince.UTC().Format("Mon 2 Jan") + ": " + v.ModelVersion
	if r.TrainedThrough != "" {
		s += ", trained through " + r.TrainedThrough
	}
	if r.Previous != "" {
		s += "; previous approved " + r.Previous
	}
	return s
}
