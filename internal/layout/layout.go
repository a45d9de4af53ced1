// Package layout is the router's one DynamoDB table as data: the key and
// index keys of every record, the attributes it is stored as, and the size
// DynamoDB counts for it. The DynamoDB store writes what it describes; the
// embedded store checks every record it keeps against DynamoDB's limits
// through it, so that what `stakeout replay` and the tests accept is what
// DynamoDB accepts. It knows no vendor: items are plain Go values.
//
// Every key built from an event or the configuration stays within
// DynamoDB's limits for any value (partition key 2,048 bytes, sort key
// 1,024, index keys alike): a part that would not fit keeps a readable
// prefix and a hash of the whole (state.KeyPart), and parts that fit are
// kept as they are, so records written before keys were bounded keep their
// keys. The due index's sort keys are the exception: the escalator reads
// the record's key back from them, so they are never hashed; validated
// names (at most 200 bytes each) keep them within the limit.
package layout

import (
	"fmt"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// DynamoDB's limits.
const (
	MaxPartitionKey = 2048
	MaxSortKey      = 1024
	MaxItem         = 400 << 10
)

// Attribute names. Every key is a string; records are stored as JSON in
// Data, with a numeric Version where writes are conditional.
const (
	PK, SK         = "PK", "SK"
	GSI1PK, GSI1SK = "GSI1PK", "GSI1SK"
	GSI2PK, GSI2SK = "GSI2PK", "GSI2SK"
	Data, Version  = "data", "v"
	Expires        = "expires" // an applied event's TTL, epoch seconds
	// A group's open count, total and named members, and an update's
	// joined subjects and count, are attributes of their own beside the
	// JSON: joins add to them with an update expression (see state.Join).
	Open, Members, Total = "open", "members", "total"
	Joined, Joins        = "joined", "joins"
	Seen, Silent         = "seen", "silent" // a watch's latest sighting; its silence alert is open
	First, Last          = "first", "last"  // when a model version was first and last seen
)

// Indexes and their fixed partitions.
const (
	IndexByModel = "GSI1" // a model's audit records by time; OPEN: the open groups
	IndexDue     = "GSI2" // PENDING: unsent notifications; DUE: what the escalator must look at
	OpenGroups   = "OPEN"
	Pending      = "PENDING"
	Due          = "DUE"
)

// sortable formats times in sort keys: fixed width, so that string order is
// time order (RFC 3339 with trimmed fractions is not: "…00Z" > "…00.5Z").
const sortable = "2006-01-02T15:04:05.000000000Z"

// SortTime formats t for a sort key.
func SortTime(t time.Time) string { return t.UTC().Format(sortable) }

// ParseSortTime reads a time SortTime wrote.
func ParseSortTime(s string) (time.Time, error) { return time.Parse(sortable, s) }

// pk is a partition key: prefix and a part bounded to fit.
func pk(prefix, part string) string { return prefix + state.KeyPart(part, MaxPartitionKey-len(prefix)) }

// sk is a sort key: prefix and a part bounded to fit after it and suffix.
func sk(prefix, part, suffix string) string {
	return prefix + state.KeyPart(part, MaxSortKey-len(prefix)-len(suffix)) + suffix
}

// Keys of each record (partition key, sort key).

func Series(k signal.SeriesKey) (string, string) { return pk("SERIES#", k.ID()), "STATE" }
func Alert(id string) (string, string)           { return pk("ALERT#", id), "ALERT" }
func Group(model, rule string) (string, string)  { return pk("GROUP#", model+"/"+rule), "CURRENT" }
func Inhibitors(model string) (string, string)   { return pk("MODEL#", model), "INHIBITORS" }
func Notice(id string) (string, string)          { return pk("NOTICE#", id), "NOTICE" }
func Delivery(group string) (string, string)     { return pk("DELIVERY#", group), "DELIVERY" }
func Event(id string) (string, string)           { return pk("EVENT#", id), "EVENT" }
func Watch(id string) (string, string)           { return pk("WATCH#", id), "WATCH" }
func Schedule(name string) (string, string)      { return pk("SCHEDULE#", name), "SCHEDULE" }
func Quiets(model string) (string, string)       { return pk("MODEL#", model), "QUIET" }

// ModelVersion is the key of a model's version; VersionPrefix begins the
// sort keys of all of them.
func ModelVersion(model, version string) (string, string) {
	p, _ := Inhibitors(model)
	return p, sk(VersionPrefix, version, "")
}

// VersionPrefix begins the sort keys of a model's versions.
const VersionPrefix = "VERSION#"

// AuditPrefix begins the sort keys of an alert's audit records.
const AuditPrefix = "AUDIT#"

// Audit is the key of an audit record: in its alert's partition, by seq.
func Audit(r *audit.Record) (string, string) {
	p, _ := Alert(r.Alert)
	return p, fmt.Sprintf("%s%08d", AuditPrefix, r.Seq)
}

// AuditIndex is an audit record's GSI1 key: its model, then its time,
// alert and seq. A query by model and time range reads only the time; the
// alert (bounded) and seq keep records of one instant apart.
func AuditIndex(r *audit.Record) (string, string) {
	t := SortTime(r.At) + "#"
	return ModelPartition(r.Model), sk(t, r.Alert, fmt.Sprintf("#%08d", r.Seq))
}

// ModelPartition is a model's partition of GSI1.
func ModelPartition(model string) string { return pk("MODEL#", model) }

// OpenIndex is an open group's GSI1 sort key (in the OpenGroups partition).
func OpenIndex(model, rule string) string { return sk("", model+"/"+rule, "") }

// DueSK is the GSI2 sort key of a record the escalator must look at by
// `at`. It is never hashed: Due reads kind and key back from it.
func DueSK(at time.Time, kind, key string) string { return SortTime(at) + "#" + kind + "#" + key }

// PendingSK is an unsent notification's GSI2 sort key.
func PendingSK(n *state.Notification) string { return sk(SortTime(n.Due())+"#", n.ID, "") }

// Digest is the key of an owner's digest entry.
func Digest(e *state.DigestEntry) (string, string) {
	return pk("DIGEST#", e.Owner), sk(SortTime(e.When())+"#", e.Notice.ID, "")
}

// DigestPartition is an owner's digest partition.
func DigestPartition(owner string) string { return pk("DIGEST#", owner) }

// Quarantine is the key of a quarantined event: by the day, then the
// time, received.
func Quarantine(q *state.Quarantined) (string, string) {
	return QuarantineDay(q.Received), sk(SortTime(q.Received)+"#", q.ID, "")
}

// QuarantineDay is the partition of the events quarantined on day (UTC).
func QuarantineDay(day time.Time) string { return "QUARANTINE#" + day.UTC().Format(time.DateOnly) }

// ParseDue reads a DueSK back.
func ParseDue(sk string) (state.DueItem, bool) {
	if len(sk) < len(sortable)+2 {
		return state.DueItem{}, false
	}
	at, err := time.Parse(sortable, sk[:len(sortable)])
	if err != nil {
		return state.DueItem{}, false
	}
	kind, key, ok := strings.Cut(sk[len(sortable)+1:], "#")
	return state.DueItem{Kind: kind, Key: key, At: at}, ok
}

// Timeline is the key of a model's version timeline (one record, bounded by
// state.MaxTimeline), beside its inhibitors and versions.
func Timeline(model string) (string, string) {
	p, _ := Inhibitors(model)
	return p, "TIMELINE"
}
