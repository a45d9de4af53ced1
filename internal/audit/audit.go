// Package audit is stakeout's audit trail: an append-only record of every
// state change of an alert (opened, updated, suppressed, resolved, queued
// for notification, …) with the facts that decided it — event id, model
// version, lineage, rule, value, owner, and the digest of the configuration
// in force. Each alert's records form a hash chain, so that a record edited
// or removed after the fact is detected by Verify, a year later.
//
// A hash chain alone stops no one who can write the table: they rewrite a
// record and recompute every hash after it. So the chain is keyed (chain
// version 2): the last record each write adds to an alert's trail carries a
// MAC of its chain hash under the audit key (a KMS HMAC key in AWS, a local
// key elsewhere; see Signer), and Check verifies the MACs. Records written
// before keyed chains (version 1, no MAC) still verify, and are reported as
// unkeyed.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Actions recorded on the trail.
const (
	Opened     = "opened"
	Updated    = "updated"
	Suppressed = "suppressed"
	// Silenced: opened inside a maintenance window (or muted by a
	// CloudWatch alarm mute rule): recorded, nobody told; SilencedBy says
	// by what, the detail until when. WindowEnded: still open when it
	// ended, so it opens and its owner is told.
	Silenced    = "silenced"
	WindowEnded = "window-ended"
	Resolved    = "resolved"
	Queued      = "queued" // a notification was put in the outbox
	// Notified: a notification reached a channel (the detail says where:
	// Slack channel and message ts, PagerDuty dedup key, digest).
	Notified = "notified"
	// DeliveryFailed: a channel refused a notification for good (the
	// detail has the reason and who was told instead).
	DeliveryFailed = "delivery-failed"
	// Dropped: a notification was not sent because what it tells is over:
	// an opening held to working hours whose group ended before they
	// began, and the group's notifications after it (the detail says why).
	Dropped = "dropped"

	// What people (and the escalator) do with an alert. The Actor says
	// who: "slack:<user id>", "pagerduty:<user id>", "escalator".
	Acknowledged = "acknowledged"
	// Escalated: nobody acknowledged within ack_within (or someone asked
	// for it); Owner is the owner escalated to.
	Escalated = "escalated"
	// Snoozed: acknowledged until a time (the detail says when); at that
	// time SnoozeEnded, and the escalation clock starts again.
	Snoozed     = "snoozed"
	SnoozeEnded = "snooze-ended"
	// Reassigned: handed to another role's owner (Role and Owner are the
	// new ones).
	Reassigned = "reassigned"
	// FalseAlarm: a person said the alert should not have fired; it is
	// resolved in the same step. Counted per rule by `stakeout noise`.
	FalseAlarm = "false-alarm"
	// RetrainRequested and RollbackRequested: a person asked the team's
	// pipeline (through EventBridge) to retrain or roll back the model.
	RetrainRequested  = "retrain-requested"
	RollbackRequested = "rollback-requested"
	// Reacked: a group acknowledged reack_after ago and still open was
	// unacknowledged again by the escalator, its acknowledger asked again.
	Reacked = "reacked"
	// Raised: a group grew past its rule's escalate_when, or an alert of a
	// higher severity joined it: told at the higher level, its escalation
	// restarted (the detail says why and the levels).
	Raised = "raised"

	// FlappingStarted: the alert opened its rule's flapping.opens times
	// within flapping.within; it stays open, its resolution held.
	// FlappingEnded: it was quiet for flapping.quiet_for and resolves.
	FlappingStarted = "flapping-started"
	FlappingEnded   = "flapping-ended"

	// A fire drill's outcome (internal/drill), on the drill's alert:
	// DrillAcknowledged someone acknowledged within the window (the actor
	// and the detail say who and how fast); DrillUnanswered nobody did
	// (the escalator records it instead of escalating), or only after it.
	DrillAcknowledged = "drill-acknowledged"
	DrillUnanswered   = "drill-unanswered"

	// A window made from Slack (internal/quiet), on its own trail (an
	// alert of state.QuietModel): QuietStarted who made it, for what and
	// until when; QuietEnded who ended it early, or the escalator at its
	// end.
	QuietStarted = "quiet-started"
	QuietEnded   = "quiet-ended"

	// Late labels' verdict on a drift or prediction alert (internal/
	// pipeline's reconcile): a quality event whose window covers the
	// alert's opening arrived, and a quality rule of the model fired on it
	// (LabelsConfirmed) or none did (LabelsNotConfirmed). The detail names
	// the window and what the quality event said; recorded once per
	// opening and window. `stakeout noise` counts them as precision.
	LabelsConfirmed    = "labels-confirmed"
	LabelsNotConfirmed = "labels-not-confirmed"
)

// JudgedKinds are the kinds of alert late labels judge: those that guess
// at outcomes from proxy signals before the labels come.
var JudgedKinds = []string{"drift", "prediction"}

// Record is one entry of an alert's trail.
type Record struct {
	Alert string `json:"alert"`
	// Seq numbers the alert's records from 1, without gaps.
	Seq int `json:"seq"`
	// At is when the change happened in the world: the event's observation
	// time, so that a replay's trail reads like production's.
	At time.Time `json:"at"`
	// Recorded is when stakeout wrote the record.
	Recorded time.Time `json:"recorded"`
	Action   string    `json:"action"`
	// Actor is who made the change: "router" for rule evaluation, a Slack
	// user or PagerDuty for actions on the alert.
	Actor       string         `json:"actor"`
	EventID     string         `json:"event_id,omitempty"`
	Model       string         `json:"model"`
	Version     string         `json:"version,omitempty"`
	Lineage     map[string]any `json:"lineage,omitempty"`
	Rule        string         `json:"rule"`
	Kind        string         `json:"kind,omitempty"`
	Metric      string         `json:"metric,omitempty"`
	Feature     string         `json:"feature,omitempty"`
	Segment     string         `json:"segment,omitempty"`
	Value       *float64       `json:"value,omitempty"`
	Severity    string         `json:"severity,omitempty"`
	Role        string         `json:"role,omitempty"`
	Owner       string         `json:"owner,omitempty"`
	Notify      []string       `json:"notify,omitempty"`
	Group       string         `json:"group,omitempty"`
	InhibitedBy string         `json:"inhibited_by,omitempty"`
	// SilencedBy names the maintenance window or CloudWatch alarm mute
	// rule that kept the alert quiet (Silenced). Empty on every record
	// before windows existed, so their hashes are unchanged.
	SilencedBy string `json:"silenced_by,omitempty"`
	Detail     string `json:"detail,omitempty"`
	// Covers is, on a labels verdict (LabelsConfirmed,
	// LabelsNotConfirmed), the opening it judges: the alert may have
	// opened again before the labels came. Absent on every other record,
	// so their hashes are unchanged.
	Covers       time.Time `json:"covers,omitzero"`
	ConfigDigest string    `json:"config_digest"`
	// Chain is the version of the chain the record was sealed on: absent
	// (or 1) an unkeyed SHA-256 chain — records written before chains were
	// keyed, and unkeyed local runs; 2 a keyed chain (Sign). Hashed, like
	// Key: neither can be changed without recomputing the chain.
	Chain int `json:"chain,omitempty"`
	// Key names the audit key of a keyed record: a KMS key ARN, or
	// "local:<fingerprint>" for a local key.
	Key      string `json:"key,omitempty"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
	// MAC is on the last record each write added to the alert's trail: the
	// base64 MAC under Key of this record's Hash, which vouches for every
	// record up to this one. Not hashed: it is computed from the hash.
	MAC string `json:"mac,omitempty"`
}

// Chain versions.
const (
	ChainUnkeyed = 1 // SHA-256 chain without MACs (also written as 0: absent)
	ChainKeyed   = 2 // SHA-256 chain whose heads carry a MAC under the audit key
)

// Seal sets r's Seq and PrevHash from the chain's head (seq 0 and "" for a
// new alert) and computes its Hash. It returns the new head.
func (r *Record) Seal(headSeq int, headHash string) (int, string) {
	r.Seq, r.PrevHash = headSeq+1, headHash
	r.Hash = r.digest()
	return r.Seq, r.Hash
}

// digest hashes the record's canonical JSON without its own hash and MAC.
// Times are normalised to UTC so that a record read back from any store
// hashes alike. Chain and Key are omitted when empty, so a version 1
// record hashes exactly as it did before they existed.
func (r Record) digest() string {
	r.Hash, r.MAC = "", ""
	r.At, r.Recorded, r.Covers = r.At.UTC(), r.Recorded.UTC(), r.Covers.UTC()
	b, err := json.Marshal(r)
	if err != nil {
		// Only unencodable lineage could fail; it came from JSON.
		panic(fmt.Sprintf("audit: encode record: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
