// Package state defines what the router persists and the atomic change set
// a store applies for one event. The series item is the unit of
// consistency: every event reads its series once and, when anything changes,
// writes it back conditionally on its version, in one transaction with the
// alert, group, inhibitor, outbox, audit and idempotency records the event
// produced. Two deliveries of one event, or two events of one series
// processed at once, therefore cannot both apply.
package state

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

// ErrConflict: a record changed since it was read (its version moved).
// Re-read and re-apply the event.
var ErrConflict = errors.New("state changed concurrently")

// NoticeExists is the conflict of a commit queueing a notification (its
// Outbox) whose id is stored already, unsent or sent: notifications are
// kept. Where an id derives from what the notification tells (a late
// labels verdict's reply), it existing means that was told, and the writer
// may stop rather than retry a commit that can never pass. Otherwise it is
// a conflict like any other.
type NoticeExists struct{ ID string }

func (e *NoticeExists) Error() string {
	return "notification " + e.ID + " exists: " + ErrConflict.Error()
}

// Is makes an existing notification a conflict: read and decide again.
func (e *NoticeExists) Is(target error) bool { return target == ErrConflict }

// ErrDuplicate: the event was already applied.
var ErrDuplicate = errors.New("event already applied")

// Series is one series' state with the lifecycle of the alerts it opened.
type Series struct {
	Key   signal.SeriesKey `json:"key"`
	State series.State     `json:"state"`
	// Alerts holds, by rule, the alerts this series opened that have not
	// resolved: what the router needs to decide, without reading alerts.
	Alerts map[string]AlertRef `json:"alerts,omitempty"`
	// Recent are the ids of the latest events applied, newest last: a
	// redelivery is recognised from the series read alone.
	Recent []string `json:"recent,omitempty"`
	// Labels are the verdicts of the model's quality rules on the latest
	// quality readings with a window (at most MaxLabelsReadings, newest
	// last):
	// a redelivered event, whose own commit is then a duplicate, judges
	// the alerts its window covers from the same evaluation.
	Labels []LabelsReading `json:"labels,omitempty"`
	// Version is the stored version (0: never stored). A Commit carries the
	// version it read; the store writes Version+1 if it still matches.
	Version int64 `json:"version"`
}

// MaxRecent bounds Series.Recent. Older redeliveries are still caught by
// the idempotency record written with every commit.
const MaxRecent = 32

// LabelsReading is what the quality rules of a model made of one quality
// reading with a window (internal/pipeline's reconcile): Fired names
// those that fired (at most MaxLabelsFired); none fired, Evaluated of
// them evaluated the reading and held.
type LabelsReading struct {
	Event     string   `json:"event"`
	Fired     []string `json:"fired,omitempty"`
	Evaluated int      `json:"evaluated"`
}

// MaxLabelsFired bounds LabelsReading.Fired: the names a verdict quotes.
// MaxLabelsReadings bounds Series.Labels: a redelivery comes within
// minutes, and a series has a labels reading a day or a week. Both keep
// the series record (at its other bounds about 230 KB) well under
// DynamoDB's 400 KB item limit (storetest's largest records).
const (
	MaxLabelsFired    = 4
	MaxLabelsReadings = 8
)

// AddLabels keeps r as the latest labels reading, the oldest beyond
// MaxLabelsReadings dropped.
func (s *Series) AddLabels(r LabelsReading) {
	s.Labels = append(s.Labels, r)
	if n := len(s.Labels); n > MaxLabelsReadings {
		s.Labels = slices.Delete(s.Labels, 0, n-MaxLabelsReadings)
	}
}

// LabelsOf is the labels reading of event id; false when none is kept.
func (s *Series) LabelsOf(id string) (LabelsReading, bool) {
	i := slices.IndexFunc(s.Labels, func(r LabelsReading) bool { return r.Event == id })
	if i < 0 {
		return LabelsReading{}, false
	}
	return s.Labels[i], true
}

// AlertRef is the router's view of an unresolved alert of a series.
type AlertRef struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	// Clean counts consecutive clean readings since the last breach.
	Clean int `json:"clean,omitempty"`
	// Holding: the alert is flapping and its series is clean, but its
	// resolution is held until it has been quiet long enough.
	Holding bool `json:"holding,omitempty"`
}

// Alert statuses.
const (
	Open       = "open"
	Suppressed = "suppressed"
	Resolved   = "resolved"
)

// Alert is one alert: a model's rule firing for one feature and segment.
type Alert struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Rule    string `json:"rule"`
	Kind    string `json:"kind"`
	Metric  string `json:"metric"`
	Feature string `json:"feature,omitempty"`
	Segment string `json:"segment,omitempty"`
	Status  string `json:"status"`

	Severity  string   `json:"severity"`
	Role      string   `json:"role"`
	Owner     string   `json:"owner"`
	Notify    []string `json:"notify"`
	AckWithin string   `json:"ack_within,omitempty"`
	// ReackAfter is the stakes cell's reack_after ("": never).
	ReackAfter string `json:"reack_after,omitempty"`
	Group      string `json:"group,omitempty"`
	// InhibitedBy names the alert that suppresses this one.
	InhibitedBy string `json:"inhibited_by,omitempty"`
	// SilencedBy names what keeps the alert quiet until SilencedUntil: a
	// maintenance window of the model, or the CloudWatch alarm mute rule
	// (its ARN) that muted the alarm. Its status is Suppressed; at
	// SilencedUntil, if still unresolved, it opens and its owner is told.
	// An alert in a group (Group set) that a mute caught open is Muted
	// instead: it stays in its group, and what it would have told — its
	// updates, its group's resolution — is told once at SilencedUntil.
	SilencedBy    string    `json:"silenced_by,omitempty"`
	SilencedUntil time.Time `json:"silenced_until,omitzero"`

	Stakes  string `json:"stakes,omitempty"`
	Summary string `json:"summary"`
	// Why is the firing condition in words, with the values it saw:
	// "value 0.41 > 0.25".
	Why      string   `json:"why,omitempty"`
	Runbook  string   `json:"runbook,omitempty"`
	Value    float64  `json:"value"`
	Baseline *float64 `json:"baseline,omitempty"`
	// Recent are the series' latest values, oldest first, the current one
	// last (at most MaxRecentValues): the trend a person sees.
	Recent       []float64      `json:"recent,omitempty"`
	Impact       *float64       `json:"impact,omitempty"`
	ModelVersion string         `json:"model_version,omitempty"`
	Lineage      map[string]any `json:"lineage,omitempty"`
	// Release is what the model's version timeline says of ModelVersion
	// (nil when the timeline knows no deploy before the alert).
	Release *Release `json:"release,omitempty"`

	// HeldUntil: it opened outside its owner's working hours, and its
	// stakes hold it until then (the start of the next working period):
	// its opening is delivered, and its escalation counts, from then.
	HeldUntil time.Time `json:"held_until,omitzero"`

	// Muted: a person called it a false alarm. Further breaches of its
	// series do not reopen it until a clean reading has been seen.
	Muted bool `json:"muted,omitempty"`

	OpenedAt   time.Time `json:"opened_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	// Opens counts how often the alert has opened (it can reopen).
	Opens int `json:"opens"`
	// Openings are when the alert opened within its rule's flapping
	// window, oldest first (at most MaxOpenings), a held resolution
	// followed by a breach counting as an opening; Flapping is set, from
	// FlappingSince, once there are as many as the rule's flapping.opens,
	// until it has been quiet for flapping.quiet_for.
	Openings      []time.Time `json:"openings,omitempty"`
	Flapping      bool        `json:"flapping,omitempty"`
	FlappingSince time.Time   `json:"flapping_since,omitzero"`

	// Judged marks the late labels' verdicts recorded on the alert, one
	// mark per labels window and series: the window, the series and the
	// latest opening of the alert judged (internal/pipeline's reconcile
	// judges openings oldest first), the latest MaxJudged marks. A
	// redelivered quality event judges nothing twice, however many
	// openings its window covers.
	Judged []string `json:"judged,omitempty"`

	// AuditSeq and AuditHash are the head of the alert's audit chain.
	AuditSeq  int    `json:"audit_seq"`
	AuditHash string `json:"audit_hash"`
	Version   int64  `json:"version"`
}

// MaxJudged bounds Alert.Judged: far more label windows and series than
// judge one alert in practice (daily, weekly, monthly labels). A verdict
// whose mark was dropped is still known by its stored Slack reply
// (NoticeExists); only one told nowhere could be recorded again.
const MaxJudged = 16

// MaxOpenings bounds Alert.Openings: enough to count a flapping alert's
// openings in its window ("opened 20 times in 6h"), bounded so an alert
// stays small.
const MaxOpenings = 64

// Group gathers the alerts of one model and rule that open close together:
// twenty drifting features make one notification, not twenty.
type Group struct {
	ID     string    `json:"id"`
	Model  string    `json:"model"`
	Rule   string    `json:"rule"`
	Opened time.Time `json:"opened"`
	// Started is when the group was made, on the wall clock (Opened is
	// the event's time): its update windows count from it.
	Started time.Time `json:"started,omitzero"`
	// Windows are its update windows when it was made with others than
	// the default (zero: UpdateWindow; see UpdateID).
	Windows Windows `json:"windows,omitzero"`
	// Members names the group's first MaxMembers alerts, in the order
	// they joined; Total counts every alert that joined (see Size).
	Members []string `json:"members"`
	Total   int      `json:"total,omitempty"`
	// Open counts members not resolved; at 0 the group is over.
	Open int `json:"open"`
	// Notices numbers the group's notifications (outbox ids derive from it,
	// so a retried commit cannot queue one twice).
	Notices int `json:"notices"`
	// Lifecycle is who must respond and what people did (stored inline).
	Lifecycle
	Version int64 `json:"version"`
	// OpenRead is Open as the store returned it. Joins move Open without
	// moving Version, so a write that changes Open is conditioned on it
	// still being OpenRead; a write that leaves it alone keeps the
	// store's (and its Members).
	OpenRead int `json:"-"`
	// New: the writer made this group (a first one, or one replacing the
	// rule's finished group), so its Open and Members are the writer's.
	New bool `json:"-"`
	// Legacy: stored before joins were commutative (no separate count);
	// joins rewrite it under its version instead.
	Legacy bool `json:"-"`
	// Grew: the writer joined an alert by rewriting the group (a join that
	// raises it, see Lifecycle.Level), not commutatively: its Open, Members
	// and Total are written, conditioned on Open still being OpenRead
	// (every join moves Open, so none happened meanwhile).
	Grew bool `json:"-"`
}

// MaxMembers bounds the alert ids a group names: a group of two thousand
// drifting features still fits one DynamoDB item (400 KB), however long
// their ids. The group counts the rest (Total); people are told "and N
// more".
const MaxMembers = 100

// MutedInGroup reports whether a CloudWatch mute holds back what alert a,
// in its group when the mute began, tells (see SilencedBy): its latest
// state is told when the mute ends.
func (a *Alert) MutedInGroup() bool {
	return a.SilencedBy != "" && a.Group != "" && a.Status != Suppressed
}

// Size is how many alerts joined the group, named in Members or not.
// Groups stored before Total existed name all of theirs.
func (g *Group) Size() int { return max(g.Total, len(g.Members)) }

// Inhibitors are a model's firing alerts that suppress others (by default
// freshness, schema and data-quality alerts suppress drift, prediction and
// quality ones: a broken feed goes to the data owner once).
type Inhibitors struct {
	Model string `json:"model"`
	// Active maps alert id to its kind: at most MaxInhibitors of them.
	Active  map[string]string `json:"active,omitempty"`
	Version int64             `json:"version"`
}

// MaxInhibitors bounds Inhibitors.Active, so that the record stays one
// bounded item however many features go stale at once: one firing
// inhibitor suppresses as well as a hundred. Past it an inhibiting alert
// is not recorded; the model's targets are inhibited until the recorded
// ones resolve.
const MaxInhibitors = 100

// MaxRecentValues bounds Alert.Recent.
const MaxRecentValues = 24

// Notification kinds.
const (
	NoticeOpened   = "opened"   // a group's first alert: tell the owner
	NoticeUpdated  = "updated"  // a new member, a reopened or un-suppressed alert
	NoticeResolved = "resolved" // the group's last open alert resolved
)

// Notification is an outbox item: recorded in the same commit as the change
// that caused it, sent after. Its ID is deterministic.
type Notification struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Group    string   `json:"group"`
	Model    string   `json:"model"`
	Rule     string   `json:"rule"`
	Owner    string   `json:"owner"`
	Role     string   `json:"role"`
	Channels []string `json:"channels"`
	Alert    Alert    `json:"alert"` // the alert whose change caused it
	Members  int      `json:"members"`
	// Subjects are what the group's members are about ("income",
	// "region=eu"), in the order they joined, at most MaxSubjects.
	Subjects []string  `json:"subjects,omitempty"`
	Created  time.Time `json:"created"`
	Sent     time.Time `json:"sent,omitzero"`
	// Lifecycle is the group's, as of this notification: who must respond,
	// who acknowledged, when it escalates.
	Lifecycle Lifecycle `json:"lifecycle,omitzero"`
	// Since starts the period a digest covers (it ends at Created).
	Since time.Time `json:"since,omitzero"`
	// Request is the retrain or rollback a person asked for.
	Request *Request `json:"request,omitempty"`
	// Joined are the subjects of the alerts that joined the group in an
	// update's window (state.Join), one update for all of them: those
	// that took one of the group's MaxMembers names. Joins counts every
	// alert that joined in the window (see JoinCount).
	Joined []string `json:"joined,omitempty"`
	Joins  int      `json:"joins,omitempty"`
	// After is the notification this one follows on every channel (the
	// group's latest when an update window opened; the notification a
	// failure notice is about).
	After string `json:"after,omitempty"`

	// Hold is when the notification may first be sent (zero: at once):
	// the start of the owner's next working period for an alert held
	// outside working hours (Alert.HeldUntil).
	Hold time.Time `json:"hold,omitzero"`
	// Dropped says why the notification was not sent (Sent is when the
	// sender decided so): a held opening whose group was over when the
	// hold ended, or a notification that follows one dropped.
	Dropped string `json:"dropped,omitempty"`

	// Delivery progress, written by the sender (never by the router).
	// Claim is the token of the sender holding the notification until
	// ClaimedUntil; a sender that gives up leaves ClaimedUntil as the
	// earliest next attempt.
	Claim        string    `json:"claim,omitempty"`
	ClaimedUntil time.Time `json:"claimed_until,omitzero"`
	Attempts     int       `json:"attempts,omitempty"`
	// Done maps each finished channel to its outcome ("posted 1700…",
	// "failed: channel_not_found; told ml-platform"): a channel done is
	// never sent again, whatever happens to the rest.
	Done map[string]string `json:"done,omitempty"`
	// Tries is the progress of each channel not done yet. Channels are
	// delivered independently — each with its own attempts, backoff and
	// deadline — so that one vendor's outage never holds another back.
	Tries map[string]*Try `json:"tries,omitempty"`
	// Failure is what a NoticeDeliveryFailed reports.
	Failure *Failure `json:"failure,omitempty"`
	// Reopened marks the update of a group that ended and is open again
	// (a flapping alert rejoined it): its messages are updated in place,
	// and, unlike other updates, it pages (a new incident).
	Reopened bool `json:"reopened,omitempty"`
	// Version is the stored version: the router writes version 1, every
	// claim and every progress record moves it.
	Version int64 `json:"version"`
}

// Try is one channel's delivery progress.
type Try struct {
	Attempts int `json:"attempts"`
	// Runs counts the runs that failed on the channel: the wait in the
	// outbox doubles with each.
	Runs int `json:"runs,omitempty"`
	// First is the first failed attempt: the channel's deadline counts
	// from it.
	First time.Time `json:"first,omitzero"`
	// Next is the earliest time of the next attempt.
	Next time.Time `json:"next,omitzero"`
	// Error is the last attempt's reason ("http 503", "invalid_auth").
	Error string `json:"error,omitempty"`
	// GaveUp is when the failure was declared (audited, told through the
	// other channels, counted): past the channel's deadline, or at once
	// when every notification fails alike (a revoked token). Delivery is
	// still tried, so that the channel catches up once it is back.
	GaveUp time.Time `json:"gave_up,omitzero"`
}

// Failure is a channel that could not deliver a notification.
type Failure struct {
	Channel string `json:"channel"`
	Reason  string `json:"reason"`
	// Notice is the notification that failed.
	Notice string `json:"notice"`
}

// NoticeDeliveryFailed tells an owner, through the channels that work,
// that another channel failed them.
const NoticeDeliveryFailed = "delivery-failed"

// Seq is the notification's number within its group (ids are
// "<group>#<n>"); 0 if the id has no number.
func (n *Notification) Seq() int {
	i := strings.LastIndexByte(n.ID, '#')
	if i < 0 {
		return 0
	}
	seq, _ := strconv.Atoi(n.ID[i+1:])
	return seq
}

// Renotify says an escalation step paged nobody new: past the end of its
// chain, the owner who has the group is told again.
func (n *Notification) Renotify() bool {
	return n.Kind == NoticeEscalated && n.Lifecycle.From == n.Owner
}

// JoinCount is how many alerts joined in an update's window, named in
// Joined or not (updates stored before Joins existed name all of theirs).
func (n *Notification) JoinCount() int { return max(n.Joins, len(n.Joined)) }

// Due is when the notification is next to be tried: when it was queued,
// or, once a sender has held it, when its claim (or its wait after a
// failure) ends.
func (n *Notification) Due() time.Time {
	due := n.ClaimedUntil
	if due.IsZero() {
		due = n.Created
	}
	if n.Hold.After(due) {
		return n.Hold
	}
	return due
}

// MaxSubjects bounds Notification.Subjects.
const MaxSubjects = 20

// Delivery is what has been sent for one alert group: the Slack message
// of each channel (updated in place, replied to in its thread) and the
// PagerDuty incident. Senders read it before every external call and write
// it after each, so a retry never posts what was already posted.
type Delivery struct {
	Group string `json:"group"`
	// Slack maps a channel id to the group's message there.
	Slack map[string]SlackMessage `json:"slack,omitempty"`
	// Pages are the group's PagerDuty incidents by owner id and incident
	// (PageKey): the first owner's, each owner's it escalated or was
	// reassigned to, and those of its later incidents (Lifecycle.Repages).
	Pages map[string]*Page `json:"pages,omitempty"`
	// Failing maps each channel that failed the group, and whose failure
	// was told through the others, to the reason: shown on the group's
	// messages, told once per outage, cleared when the channel delivers.
	Failing map[string]string `json:"failing,omitempty"`
	// Updating is held by an update window's sender while it edits the
	// group's messages: the group's other notifications wait for it, so
	// that an update read before an acknowledgement or a resolution never
	// lands after it.
	Updating *Fence `json:"updating,omitempty"`
	Version  int64  `json:"version"`
}

// Fence is a short hold on a group's messages by one notification.
type Fence struct {
	Notice   string    `json:"notice"`
	Channels []string  `json:"channels"`
	Until    time.Time `json:"until"`
}

// Holds reports whether the fence, if any, stops notification id from
// using ch at now.
func (f *Fence) Holds(id, ch string, now time.Time) bool {
	return f.Live(id, now) && slices.Contains(f.Channels, ch)
}

// Live reports whether the fence, if any, is another notification's and
// not over at now.
func (f *Fence) Live(id string, now time.Time) bool {
	return f != nil && f.Notice != id && now.Before(f.Until)
}

// SlackMessage is a group's message in one channel.
type SlackMessage struct {
	TS    string `json:"ts"`
	Owner string `json:"owner"`
	// Link is the message's address (for PagerDuty's links).
	Link string `json:"link,omitempty"`
}

// Page is a group's PagerDuty incident.
type Page struct {
	DedupKey string `json:"dedup_key"`
	// RoutingKey is the owner's secret reference (never the key).
	RoutingKey string `json:"routing_key"`
	Status     string `json:"status"` // triggered, acknowledged, resolved
	// Incident is the group's incident it belongs to (Lifecycle.Repages
	// when it was triggered): a later one supersedes it.
	Incident int `json:"incident,omitempty"`
}

// PageKey is where Delivery.Pages keeps owner's page of the group's
// incident number `incident` (Lifecycle.Repages): the owner id alone for
// the first incident, as records before re-paging have it.
func PageKey(owner string, incident int) string {
	if incident == 0 {
		return owner
	}
	return owner + "#" + strconv.Itoa(incident)
}

// Request is a retrain or rollback a person asked for from an alert.
// stakeout does not perform it: it publishes it for the team's pipeline.
type Request struct {
	Type string `json:"type"` // RequestRetrain or RequestRollback
	// Version is the model version live when asked; Target, for a
	// rollback, the version to return to ("" when none could be chosen).
	Version   string `json:"version,omitempty"`
	Target    string `json:"target,omitempty"`
	Requester string `json:"requester"` // "slack:U012ABCDE"
	Name      string `json:"name,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Request types.
const (
	RequestRetrain  = "retrain"
	RequestRollback = "rollback"
)

// DigestEntry is a notification kept for its owner's daily digest.
type DigestEntry struct {
	Owner string `json:"owner"`
	// At is when the entry was kept (a digest covers the entries kept
	// since the one before: one kept late is in the next, never lost).
	At     time.Time    `json:"at,omitzero"`
	Notice Notification `json:"notice"`
}

// When is the entry's time in its owner's digests.
func (e *DigestEntry) When() time.Time {
	if e.At.IsZero() {
		return e.Notice.Created
	}
	return e.At
}

// Quarantined is an event that can never be processed, kept with the
// reason instead of being retried forever or dropped.
type Quarantined struct {
	ID       string    `json:"id"` // the EventBridge id, or a hash of the body
	Received time.Time `json:"received"`
	Reason   string    `json:"reason"`
	Body     string    `json:"body"`
}

// MaxCommitItems is how many records one commit may write: DynamoDB's
// limit on a transaction, held by every store so that what replays locally
// also commits in production.
const MaxCommitItems = 100

// Items counts the records c writes or checks.
func (c *Commit) Items() int {
	n := len(c.Alerts) + len(c.Groups) + len(c.Outbox) + len(c.Audit) + len(c.Deliveries) + len(c.Notices) + len(c.Digest) +
		len(c.Watches) + len(c.Schedules) + 2*len(c.Joins)
	for _, present := range []bool{c.EventID != "", c.Series != nil, c.Quiets != nil, c.Inhibitors != nil, c.InhibitorsRead != nil} {
		if present {
			n++
		}
	}
	return n
}

// Commit is everything one event changes, applied atomically.
type Commit struct {
	// EventID is recorded (until EventExpires) so that a late redelivery
	// of the event is refused with ErrDuplicate.
	EventID      string
	EventExpires time.Time
	// Series is written if its Version still matches the stored one.
	Series     *Series
	Alerts     []*Alert
	Groups     []*Group
	Inhibitors *Inhibitors
	// InhibitorsRead, when set, is the inhibitors record the decision read
	// without changing it: the commit fails if its version moved (a
	// freshness alert opening or resolving meanwhile changes the outcome).
	InhibitorsRead *Inhibitors
	Outbox         []*Notification
	Audit          []audit.Record

	// What senders write (the router writes none of these).
	// Notices are outbox items changed by a sender (claimed, progressed,
	// sent), written if their Version still matches.
	Notices []*Notification
	// Deliveries are written if their Version still matches.
	Deliveries []*Delivery
	// Digest entries are written once each (by owner and notification id).
	Digest []DigestEntry

	// What the escalator writes, each if its Version still matches.
	Watches   []*Watch
	Schedules []*Schedule

	// Joins add alerts to open groups, commutatively (see Join).
	Joins []*Join

	// Quiets is a model's windows made from Slack, written if its Version
	// still matches (a window made or ended).
	Quiets *Quiets
}
