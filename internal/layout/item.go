package layout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Item is a record as DynamoDB stores it: attribute name to value, each a
// string, an int64, a []string (a list of strings) or a bool.
type Item map[string]any

// Size is the item's size as DynamoDB counts it against MaxItem: each
// attribute's name and value in bytes — a string its UTF-8 length, a
// number one byte per two significant digits plus one, a list three bytes
// plus each element and one byte per element, a boolean one.
func (it Item) Size() int {
	n := 0
	for name, v := range it {
		n += len(name)
		switch v := v.(type) {
		case string:
			n += len(v)
		case int64:
			n += numberSize(v)
		case []string:
			n += 3
			for _, e := range v {
				n += len(e) + 1
			}
		case bool:
			n++
		}
	}
	return n
}

// numberSize is the size DynamoDB counts for an integer.
func numberSize(v int64) int {
	digits := strings.TrimRight(strings.TrimLeft(strconv.FormatInt(v, 10), "-0"), "0")
	return (len(digits)+1)/2 + 1
}

// LimitError is an item over one of DynamoDB's limits, worded as DynamoDB
// words its ValidationException. It is a state.ErrRejected.
type LimitError struct {
	// Key names the item ("PK / SK", cut for reading).
	Key     string
	Message string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("ValidationException: %s (item %s)", e.Message, e.Key)
}

// Unwrap makes it a state.ErrRejected: retrying cannot help.
func (e *LimitError) Unwrap() error { return state.ErrRejected }

// indexKeys are each index's key attributes.
var indexKeys = [...]struct{ index, pk, sk string }{{IndexByModel, GSI1PK, GSI1SK}, {IndexDue, GSI2PK, GSI2SK}}

// Check refuses an item DynamoDB would: a key, or an index key, over its
// limit, or an item over MaxItem, with DynamoDB's words.
func (it Item) Check() error {
	p, _ := it[PK].(string)
	s, _ := it[SK].(string)
	fail := func(msg string) error {
		return &LimitError{Key: state.Clip(p, 120) + " / " + state.Clip(s, 80), Message: msg}
	}
	switch {
	case len(p) > MaxPartitionKey:
		return fail("One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes")
	case len(s) > MaxSortKey:
		return fail("One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes")
	}
	for _, ix := range indexKeys {
		for _, k := range [...]struct {
			name string
			max  int
		}{{ix.pk, MaxPartitionKey}, {ix.sk, MaxSortKey}} {
			if v, _ := it[k.name].(string); len(v) > k.max {
				return fail(fmt.Sprintf("One or more parameter values were invalid: Size limit exceeded for Index Key %s Actual Size: %d bytes Max Size: %d bytes IndexName: %s",
					k.name, len(v), k.max, ix.index))
			}
		}
	}
	if n := it.Size(); n > MaxItem {
		return fail(fmt.Sprintf("Item size has exceeded the maximum allowed size (%d bytes, more than %d)", n, MaxItem))
	}
	return nil
}

// JSON encodes a record as it is stored in Data: without HTML escaping,
// since a body or lineage full of <, > and & would otherwise grow
// six-fold, towards the item limit.
func JSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

// versioned is a record written conditionally: its JSON (as given, with
// the version it was read at) and its new version.
func versioned(pk, sk string, v any, read int64) (Item, error) {
	data, err := JSON(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", pk, err)
	}
	return Item{PK: pk, SK: sk, Data: string(data), Version: read + 1}, nil
}

// SeriesItem is a series state as written.
func SeriesItem(s *state.Series) (Item, error) {
	p, k := Series(s.Key)
	return versioned(p, k, s, s.Version)
}

// AlertItem is an alert as written.
func AlertItem(a *state.Alert) (Item, error) {
	p, k := Alert(a.ID)
	return versioned(p, k, a, a.Version)
}

// InhibitorsItem is a model's inhibitors as written.
func InhibitorsItem(in *state.Inhibitors) (Item, error) {
	p, k := Inhibitors(in.Model)
	return versioned(p, k, in, in.Version)
}

// QuietsItem is a model's windows made from Slack as written.
func QuietsItem(q *state.Quiets) (Item, error) {
	p, k := Quiets(q.Model)
	return versioned(p, k, q, q.Version)
}

// DeliveryItem is a group's delivery as written.
func DeliveryItem(d *state.Delivery) (Item, error) {
	p, k := Delivery(d.Group)
	return versioned(p, k, d, d.Version)
}

// GroupItem is a group as stored once written (and joined): its JSON, and
// its count, total and named members beside it; in GSI1's open partition
// while it is not over, and in GSI2's due partition while something about
// it is due.
func GroupItem(g *state.Group) (Item, error) {
	p, k := Group(g.Model, g.Rule)
	it, err := versioned(p, k, g, g.Version)
	if err != nil {
		return nil, err
	}
	it[Open], it[Members], it[Total] = int64(g.Open), g.Members, int64(g.Size())
	if !g.Over() {
		it[GSI1PK], it[GSI1SK] = OpenGroups, OpenIndex(g.Model, g.Rule)
	}
	if at := g.Due(); !at.IsZero() {
		it[GSI2PK], it[GSI2SK] = Due, DueSK(at, state.DueGroup, g.Model+"/"+g.Rule)
	}
	return it, nil
}

// NoticeItem is an outbox notification as stored once written (and
// joined): in GSI2's pending partition until it is sent.
func NoticeItem(n *state.Notification) (Item, error) {
	p, k := Notice(n.ID)
	it, err := versioned(p, k, n, n.Version)
	if err != nil {
		return nil, err
	}
	if len(n.Joined) > 0 {
		it[Joined] = n.Joined
	}
	if n.Joins > 0 {
		it[Joins] = int64(n.Joins)
	}
	if n.Sent.IsZero() {
		it[GSI2PK], it[GSI2SK] = Pending, PendingSK(n)
	}
	return it, nil
}

// WatchItem is a watch as written: its latest sighting and whether it is
// silent beside the JSON, and in GSI2's due partition while it is due.
func WatchItem(w *state.Watch) (Item, error) {
	p, k := Watch(w.ID())
	it, err := versioned(p, k, w, w.Version)
	if err != nil {
		return nil, err
	}
	if !w.Seen.IsZero() {
		it[Seen] = SortTime(w.Seen)
	}
	if w.Alert != "" {
		it[Silent] = true
	}
	if !w.Next.IsZero() {
		it[GSI2PK], it[GSI2SK] = Due, DueSK(w.Next, state.DueWatch, w.ID())
	}
	return it, nil
}

// ScheduleItem is a schedule as written.
func ScheduleItem(sc *state.Schedule) (Item, error) {
	p, k := Schedule(sc.Name)
	it, err := versioned(p, k, sc, sc.Version)
	if err != nil {
		return nil, err
	}
	if !sc.Next.IsZero() {
		it[GSI2PK], it[GSI2SK] = Due, DueSK(sc.Next, state.DueSchedule, sc.Name)
	}
	return it, nil
}

// AuditItem is an audit record: in its alert's partition, and in its
// model's partition of GSI1.
func AuditItem(r *audit.Record) (Item, error) {
	data, err := JSON(r)
	if err != nil {
		return nil, fmt.Errorf("encode audit record: %w", err)
	}
	p, k := Audit(r)
	ip, ik := AuditIndex(r)
	return Item{PK: p, SK: k, Data: string(data), GSI1PK: ip, GSI1SK: ik}, nil
}

// DigestItem is an owner's digest entry.
func DigestItem(e *state.DigestEntry) (Item, error) {
	data, err := JSON(e)
	if err != nil {
		return nil, fmt.Errorf("encode digest entry %s: %w", e.Notice.ID, err)
	}
	p, k := Digest(e)
	return Item{PK: p, SK: k, Data: string(data)}, nil
}

// QuarantineItem is a quarantined event.
func QuarantineItem(q *state.Quarantined) (Item, error) {
	data, err := JSON(q)
	if err != nil {
		return nil, fmt.Errorf("encode quarantined event: %w", err)
	}
	p, k := Quarantine(q)
	return Item{PK: p, SK: k, Data: string(data)}, nil
}

// EventItem is an applied event's idempotency record.
func EventItem(id string, expires time.Time) Item {
	p, k := Event(id)
	return Item{PK: p, SK: k, Expires: expires.Unix()}
}

// VersionItem is a model version's sightings.
func VersionItem(v *state.ModelVersion) Item {
	p, k := ModelVersion(v.Model, v.Version)
	return Item{PK: p, SK: k, First: SortTime(v.FirstSeen), Last: SortTime(v.LastSeen)}
}

// TimelineItem is a model's version timeline as written.
func TimelineItem(t *state.Timeline) (Item, error) {
	p, k := Timeline(t.Model)
	return versioned(p, k, t, t.Version)
}
