package lifecycle

import (
	"time"

	"github.com/stakeout-ml/stakeout/internal/state"
)

// Detail types of the events stakeout publishes. They are the contract with
// subscribers' event patterns: renaming one silently breaks their rules.
// They are here, with Detail, rather than in package bus so that lifecycle
// imports no AWS SDK; bus keeps aliases of them.
const (
	AlertOpened       = "Alert Opened"
	AlertAcknowledged = "Alert Acknowledged"
	AlertEscalated    = "Alert Escalated"
	AlertResolved     = "Alert Resolved"
	RetrainRequested  = "Retrain Requested"
	RollbackRequested = "Rollback Requested"
)

// eventSchemaVersion versions Detail: a field's meaning never changes
// without it.
const eventSchemaVersion = "1"

// Detail is the detail of every event stakeout publishes. ID is the same
// for every delivery of one event (it is the notification's): consumers
// deduplicate on it, since EventBridge delivers at least once.
type Detail struct {
	SchemaVersion string `json:"schema_version"`
	ID            string `json:"id"`
	// Group is the alert group (one Slack message, one incident); Alert
	// is the alert that caused the change, Alerts how many the group has.
	Group    string   `json:"group"`
	Alert    string   `json:"alert,omitempty"`
	Alerts   int      `json:"alerts"`
	Model    string   `json:"model"`
	Version  string   `json:"model_version,omitempty"`
	Rule     string   `json:"rule"`
	Kind     string   `json:"kind,omitempty"`
	Metric   string   `json:"metric,omitempty"`
	Feature  string   `json:"feature,omitempty"`
	Segment  string   `json:"segment,omitempty"`
	Value    *float64 `json:"value,omitempty"`
	Severity string   `json:"severity,omitempty"`
	Stakes   string   `json:"stakes,omitempty"`
	Summary  string   `json:"summary,omitempty"`
	Impact   *float64 `json:"impact_per_day,omitempty"`
	Runbook  string   `json:"runbook,omitempty"`
	// Owner must respond now (Role's owner); Step counts escalations.
	Owner string `json:"owner"`
	Role  string `json:"role,omitempty"`
	Step  int    `json:"escalation_step,omitempty"`
	// Status is the group's: open, acknowledged, snoozed, resolved,
	// false-alarm.
	Status       string    `json:"status"`
	SnoozedUntil time.Time `json:"snoozed_until,omitzero"`
	// By is who made the change ("slack:U012ABCDE", "pagerduty:P1B2C3D",
	// "escalator", "router"), Note what they did in words.
	By       string    `json:"by"`
	ByName   string    `json:"by_name,omitempty"`
	Note     string    `json:"note,omitempty"`
	OpenedAt time.Time `json:"opened_at"`
	At       time.Time `json:"at"`
	// Request fields (Retrain Requested, Rollback Requested).
	Requester     string `json:"requester,omitempty"`
	RequesterName string `json:"requester_name,omitempty"`
	Reason        string `json:"reason,omitempty"`
	// TargetVersion is the version a rollback asks for ("": the
	// pipeline chooses).
	TargetVersion string `json:"target_version,omitempty"`
}

// Event is the lifecycle event a notification publishes, if any.
func Event(n *state.Notification) (string, *Detail, bool) {
	var t string
	switch n.Kind {
	case state.NoticeOpened:
		t = AlertOpened
	case state.NoticeAcknowledged, state.NoticeSnoozed:
		t = AlertAcknowledged
	case state.NoticeEscalated:
		t = AlertEscalated
	case state.NoticeResolved:
		t = AlertResolved
	case state.NoticeRequest:
		if n.Request == nil {
			return "", nil, false
		}
		t = RetrainRequested
		if n.Request.Type == state.RequestRollback {
			t = RollbackRequested
		}
	default:
		return "", nil, false
	}
	a, l := &n.Alert, &n.Lifecycle
	d := &Detail{SchemaVersion: eventSchemaVersion, ID: n.ID, Group: n.Group, Alert: a.ID, Alerts: n.Members,
		Model: n.Model, Version: a.ModelVersion, Rule: n.Rule, Kind: a.Kind, Metric: a.Metric, Feature: a.Feature,
		Segment: a.Segment, Severity: a.Severity, Stakes: a.Stakes, Summary: a.Summary, Impact: a.Impact,
		Runbook: a.Runbook, Owner: n.Owner, Role: n.Role, Step: l.Step, Status: status(n), SnoozedUntil: l.SnoozedUntil,
		By: "router", Note: l.Note, OpenedAt: a.OpenedAt, At: n.Created}
	if a.ID != "" {
		v := a.Value
		d.Value = &v
	}
	if l.By != "" && n.Kind != state.NoticeOpened {
		d.By, d.ByName = l.By, l.ByName
	}
	if r := n.Request; r != nil {
		d.Requester, d.RequesterName, d.Reason, d.TargetVersion = r.Requester, r.Name, r.Reason, r.Target
		d.By, d.ByName = r.Requester, r.Name
		if r.Version != "" {
			d.Version = r.Version
		}
	}
	return t, d, true
}

func status(n *state.Notification) string {
	l := &n.Lifecycle
	switch {
	case n.Kind == state.NoticeResolved && l.Resolution == state.FalseAlarm:
		return "false-alarm"
	case n.Kind == state.NoticeResolved:
		return "resolved"
	case !l.SnoozedUntil.IsZero():
		return "snoozed"
	case l.Acked():
		return "acknowledged"
	}
	return "open"
}
