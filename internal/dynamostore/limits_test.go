package dynamostore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/layout"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// The embedded store refuses what DynamoDB refuses because layout counts
// as DynamoDB does: at each limit, the item layout accepts DynamoDB Local
// accepts, and one byte more both refuse, as a state.ErrRejected.
func TestLayoutLimitsAreDynamoDBs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dynamotest.Client(t)
	table := dynamotest.TableName(t)
	if err := CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	// fill is an item of the given shape whose "data" makes it n bytes.
	fill := func(shape layout.Item, n int) layout.Item {
		it := layout.Item{}
		for k, v := range shape {
			it[k] = v
		}
		it[layout.Data] = ""
		it[layout.Data] = strings.Repeat("é", (n-it.Size())/2) + strings.Repeat("x", (n-it.Size())%2)
		return it
	}
	key := func(pk, sk string) layout.Item { return layout.Item{layout.PK: pk, layout.SK: sk} }
	long := func(n int) string { return strings.Repeat("k", n) }
	cases := map[string]struct {
		ok, over layout.Item
	}{
		"item of strings": {fill(key("a", "b"), layout.MaxItem), fill(key("a", "b"), layout.MaxItem+1)},
		"item with numbers, lists and booleans": {
			fill(layout.Item{layout.PK: "a", layout.SK: "c", layout.Version: int64(1234567), layout.Members: []string{"m/r", "m/s/feature=é"},
				layout.Joined: []string{}, layout.Silent: true, layout.Expires: int64(1700000000)}, layout.MaxItem),
			fill(layout.Item{layout.PK: "a", layout.SK: "c", layout.Version: int64(1234567), layout.Members: []string{"m/r", "m/s/feature=é"},
				layout.Joined: []string{}, layout.Silent: true, layout.Expires: int64(1700000000)}, layout.MaxItem+1)},
		"partition key":      {key(long(layout.MaxPartitionKey), "s"), key(long(layout.MaxPartitionKey+1), "s")},
		"sort key":           {key("p", long(layout.MaxSortKey)), key("p", long(layout.MaxSortKey+1))},
		"GSI1 sort key":      {layout.Item{layout.PK: "p", layout.SK: "1", layout.GSI1PK: "m", layout.GSI1SK: long(layout.MaxSortKey)}, layout.Item{layout.PK: "p", layout.SK: "1", layout.GSI1PK: "m", layout.GSI1SK: long(layout.MaxSortKey + 1)}},
		"GSI2 partition key": {layout.Item{layout.PK: "p", layout.SK: "2", layout.GSI2PK: long(layout.MaxPartitionKey), layout.GSI2SK: "s"}, layout.Item{layout.PK: "p", layout.SK: "2", layout.GSI2PK: long(layout.MaxPartitionKey + 1), layout.GSI2SK: "s"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			put := func(it layout.Item) error {
				_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: attrs(it)})
				return rejected(err)
			}
			if err := c.ok.Check(); err != nil {
				t.Errorf("at the limit, layout refuses: %v", err)
			}
			if err := put(c.ok); err != nil {
				t.Errorf("at the limit, DynamoDB refuses: %v", err)
			}
			layoutErr, dynamoErr := c.over.Check(), put(c.over)
			if !errors.Is(layoutErr, state.ErrRejected) || !errors.Is(dynamoErr, state.ErrRejected) {
				t.Errorf("one byte over: layout says %v, DynamoDB %v; want both to refuse it for good", layoutErr, dynamoErr)
			}
		})
	}
}

// What the store writes is what layout describes (so that the embedded
// store's limits are checked on the items DynamoDB holds): each record of
// a commit, read back raw, is its layout item, attribute for attribute.
func TestWrittenItemsAreLayoutItems(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dynamotest.Client(t)
	table := dynamotest.TableName(t)
	if err := CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 123, time.UTC)
	st := New(db, table, func() time.Time { return now })
	s := &state.Series{Key: signal.SeriesKey{Model: "m", Kind: "drift", Metric: "psi", Feature: strings.Repeat("/", 200)}}
	a := &state.Alert{ID: "m/r/feature=x", Model: "m", Rule: "r", Status: state.Open, Summary: "s"}
	g := &state.Group{ID: "m/r@1", Model: "m", Rule: "r", Opened: now, Members: []string{a.ID}, Total: 1, Open: 1, Notices: 1, New: true,
		Lifecycle: state.Lifecycle{Owner: "team", EscalateAt: now}}
	n := &state.Notification{ID: "m/r@1#1", Kind: state.NoticeOpened, Group: g.ID, Owner: "team", Created: now}
	r := audit.Record{Alert: a.ID, At: now, Model: "m", Rule: "r"}
	a.AuditSeq, a.AuditHash = r.Seal(0, "")
	d := &state.Delivery{Group: g.ID, Failing: map[string]string{"slack": "http 503"}}
	w := &state.Watch{Model: "m", Kind: "drift", Since: now, Seen: now, Alert: "m/silent:drift", Next: now}
	sc := &state.Schedule{Name: "digest:team", Next: now}
	e := state.DigestEntry{Owner: "team", At: now, Notice: *n}
	c := &state.Commit{EventID: strings.Repeat("e", 300), EventExpires: now.Add(time.Hour), Series: s, Alerts: []*state.Alert{a},
		Groups: []*state.Group{g}, Outbox: []*state.Notification{n}, Audit: []audit.Record{r}, Deliveries: []*state.Delivery{d},
		Watches: []*state.Watch{w}, Schedules: []*state.Schedule{sc}, Digest: []state.DigestEntry{e},
		Inhibitors: &state.Inhibitors{Model: "m", Active: map[string]string{a.ID: "freshness"}}}
	var want []layout.Item
	for _, build := range []func() (layout.Item, error){
		func() (layout.Item, error) { return layout.SeriesItem(s) }, func() (layout.Item, error) { return layout.AlertItem(a) },
		func() (layout.Item, error) { return layout.GroupItem(g) }, func() (layout.Item, error) { return layout.NoticeItem(n) },
		func() (layout.Item, error) { return layout.AuditItem(&r) }, func() (layout.Item, error) { return layout.DeliveryItem(d) },
		func() (layout.Item, error) { return layout.WatchItem(w) }, func() (layout.Item, error) { return layout.ScheduleItem(sc) },
		func() (layout.Item, error) { return layout.DigestItem(&e) }, func() (layout.Item, error) { return layout.InhibitorsItem(c.Inhibitors) },
		func() (layout.Item, error) { return layout.EventItem(c.EventID, c.EventExpires), nil },
	} {
		it, err := build()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, it)
	}
	if err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	q := state.Quarantined{ID: strings.Repeat("q", 2000), Received: now, Reason: "r", Body: "{}"}
	if err := st.Quarantine(ctx, q); err != nil {
		t.Fatal(err)
	}
	qi, _ := layout.QuarantineItem(&q)
	for _, it := range append(want, qi) {
		got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key(it[layout.PK].(string), it[layout.SK].(string))})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(it, fromAttrs(got.Item)); diff != "" {
			t.Errorf("stored item %s differs from its layout (-layout +stored):\n%s", it[layout.PK], diff)
		}
	}
}

// fromAttrs converts a stored item back to a layout item.
func fromAttrs(av map[string]types.AttributeValue) layout.Item {
	it := layout.Item{}
	for name, v := range av {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			it[name] = v.Value
		case *types.AttributeValueMemberN:
			n, _ := strconv.ParseInt(v.Value, 10, 64)
			it[name] = n
		case *types.AttributeValueMemberL:
			it[name] = stringList(v)
		case *types.AttributeValueMemberBOOL:
			it[name] = v.Value
		}
	}
	return it
}
