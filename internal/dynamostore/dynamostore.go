// Package dynamostore keeps the router's state in one DynamoDB table.
//
// Single-table design (every key is a string; records are stored as JSON
// in attribute "data", with a numeric "v" where writes are conditional):
//
//	item                PK                          SK                 GSI1 (PK / SK)                         GSI2 (PK / SK)
//	series state        SERIES#<model/kind/metric…>  STATE
//	alert               ALERT#<alert id>            ALERT
//	audit record        ALERT#<alert id>            AUDIT#<seq:08d>    MODEL#<model> / <at>#<alert id>#<seq>
//	current group       GROUP#<model>/<rule>        CURRENT            OPEN / <model>/<rule> (while not over)   DUE / <due>#group#<model>/<rule>
//	inhibitors          MODEL#<model>               INHIBITORS
//	model version       MODEL#<model>               VERSION#<version>  ("first", "last": when seen)
//	watch (expect)      WATCH#<model/kind[/metric]> WATCH              ("seen": latest sighting)                DUE / <next>#watch#<id>
//	schedule (digest)   SCHEDULE#<name>             SCHEDULE                                                DUE / <next>#schedule#<name>
//	outbox notification NOTICE#<id>                 NOTICE                                                  PENDING / <due>#<id> (removed when sent)
//	group delivery      DELIVERY#<group id>         DELIVERY
//	digest entry        DIGEST#<owner>              <kept at>#<notification id>
//	applied event       EVENT#<event id>            EVENT              ("expires": TTL attribute, epoch seconds)
//	quarantined event   QUARANTINE#<yyyy-mm-dd>     <received>#<id>
//
// GSI1 answers "a model's audit records over a time range" and, in its
// OPEN partition, "which groups are open"; GSI2 is sparse: its PENDING
// partition holds only unsent notifications, by when each is next due
// (queued, or its claim or wait after a failure ends), so draining the
// outbox never scans and never meets, first, the ones that are waiting;
// its DUE partition holds what the escalator must look at by when —
// groups to escalate or un-snooze, watches whose signal may be late,
// schedules — so a run reads only what is due.
// Applied-event records expire by TTL after the idempotency window.
// Notifications are versioned like state: the router writes version 1, and
// a sender's claim and progress are conditional writes on the version, so
// two senders can never both hold one notification.
//
// An event's changes go in one TransactWriteItems: each record conditioned
// on the version read (absent for new ones), audit records and
// notifications on not existing yet, and the event record on not existing
// (or having expired). A cancelled transaction is a duplicate when the
// event record's condition failed, a conflict otherwise.
package dynamostore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store is the DynamoDB store.
type Store struct {
	db    API
	table string
	now   func() time.Time
}

// New returns a store on an existing table. now is the wall clock (for
// expired idempotency records not yet deleted by TTL).
func New(db API, table string, now func() time.Time) *Store {
	return &Store{db: db, table: table, now: now}
}

// MaxItemsPerCommit is DynamoDB's limit on a transaction.
const MaxItemsPerCommit = 100

const (
	attrPK, attrSK         = "PK", "SK"
	attrGSI1PK, attrGSI1SK = "GSI1PK", "GSI1SK"
	attrGSI2PK, attrGSI2SK = "GSI2PK", "GSI2SK"
	attrData, attrVersion  = "data", "v"
	attrExpires            = "expires"
	indexByModel           = "GSI1"
	indexPending           = "GSI2"
	pending                = "PENDING"
	due                    = "DUE"
	open                   = "OPEN"
	attrSeen, attrSilent   = "seen", "silent"
	attrFirst, attrLast    = "first", "last"
)

func seriesKey(k signal.SeriesKey) (string, string) { return "SERIES#" + k.ID(), "STATE" }
func alertKey(id string) (string, string)           { return "ALERT#" + id, "ALERT" }
func groupKey(model, rule string) (string, string)  { return "GROUP#" + model + "/" + rule, "CURRENT" }
func inhibitorsKey(model string) (string, string)   { return "MODEL#" + model, "INHIBITORS" }
func noticeKey(id string) (string, string)          { return "NOTICE#" + id, "NOTICE" }
func deliveryKey(group string) (string, string)     { return "DELIVERY#" + group, "DELIVERY" }
func eventKey(id string) (string, string)           { return "EVENT#" + id, "EVENT" }
func watchKey(id string) (string, string)           { return "WATCH#" + id, "WATCH" }
func scheduleKey(name string) (string, string)      { return "SCHEDULE#" + name, "SCHEDULE" }
func versionKey(model, v string) (string, string)   { return "MODEL#" + model, "VERSION#" + v }
func dueSK(at time.Time, kind, key string) string   { return sortKey(at) + "#" + kind + "#" + key }
func auditSK(seq int) string                        { return fmt.Sprintf("AUDIT#%08d", seq) }

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(sk)}
}

// get reads one item's data into v; found is false when it does not exist.
// The stored "v" attribute is authoritative: the JSON copy is written
// before the version is bumped, so it lags by one.
func (s *Store) get(ctx context.Context, pk, sk string, v state.Versioned) (bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, fmt.Errorf("get %s: %w", pk, err)
	}
	if _, ok := out.Item[attrData].(*types.AttributeValueMemberS); !ok {
		return false, nil
	}
	if err := decodeItem(out.Item, v); err != nil {
		return false, err
	}
	return true, nil
}

// GetSeries returns the series (Version 0 when never stored).
func (s *Store) GetSeries(ctx context.Context, k signal.SeriesKey) (*state.Series, error) {
	var v state.Series
	pk, sk := seriesKey(k)
	found, err := s.get(ctx, pk, sk, &v)
	if err != nil || !found {
		return &state.Series{Key: k}, err
	}
	return &v, nil
}

// GetAlert returns the alert, or nil.
func (s *Store) GetAlert(ctx context.Context, id string) (*state.Alert, error) {
	var v state.Alert
	pk, sk := alertKey(id)
	found, err := s.get(ctx, pk, sk, &v)
	if err != nil || !found {
		return nil, err
	}
	return &v, nil
}

// GetGroup returns the model's current group for the rule, or nil.
func (s *Store) GetGroup(ctx context.Context, model, rule string) (*state.Group, error) {
	var v state.Group
	pk, sk := groupKey(model, rule)
	found, err := s.get(ctx, pk, sk, &v)
	if err != nil || !found {
		return nil, err
	}
	return &v, nil
}

// GetInhibitors returns the model's firing inhibitors.
func (s *Store) GetInhibitors(ctx context.Context, model string) (*state.Inhibitors, error) {
	v := state.Inhibitors{Model: model}
	pk, sk := inhibitorsKey(model)
	_, err := s.get(ctx, pk, sk, &v)
	return &v, err
}

// Commit applies c in one transaction.
func (s *Store) Commit(ctx context.Context, c *state.Commit) error {
	var items []types.TransactWriteItem
	add := func(item types.TransactWriteItem) { items = append(items, item) }
	if c.EventID != "" {
		pk, sk := eventKey(c.EventID)
		it := key(pk, sk)
		it[attrExpires] = num(c.EventExpires.Unix())
		add(types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: it,
			ConditionExpression:       aws.String("attribute_not_exists(PK) OR #exp < :now"),
			ExpressionAttributeNames:  map[string]string{"#exp": attrExpires},
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(s.now().Unix())}}})
	}
	versioned := func(pk, sk string, version int64, v any) error {
		data, err := marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s: %w", pk, err)
		}
		it := key(pk, sk)
		it[attrData], it[attrVersion] = str(string(data)), num(version+1)
		put := &types.Put{TableName: &s.table, Item: it}
		if version == 0 {
			// New: no versioned item there. (An item written before it
			// carried a version — an outbox entry of an older router —
			// counts as version 0 too, rather than as stuck forever.)
			put.ConditionExpression = aws.String("attribute_not_exists(#v)")
			put.ExpressionAttributeNames = map[string]string{"#v": attrVersion}
		} else {
			put.ConditionExpression = aws.String("#v = :v")
			put.ExpressionAttributeNames = map[string]string{"#v": attrVersion}
			put.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(version)}
		}
		add(types.TransactWriteItem{Put: put})
		return nil
	}
	if c.Series != nil {
		pk, sk := seriesKey(c.Series.Key)
		if err := versioned(pk, sk, c.Series.Version, c.Series); err != nil {
			return err
		}
	}
	for _, a := range c.Alerts {
		pk, sk := alertKey(a.ID)
		if err := versioned(pk, sk, a.Version, a); err != nil {
			return err
		}
	}
	for _, g := range c.Groups {
		it, err := s.groupItem(g)
		if err != nil {
			return err
		}
		add(it)
	}
	for _, j := range c.Joins {
		its, err := s.joinItems(j)
		if err != nil {
			return err
		}
		items = append(items, its...)
	}
	for _, w := range c.Watches {
		pk, sk := watchKey(w.ID())
		if err := versioned(pk, sk, w.Version, w); err != nil {
			return err
		}
		it := items[len(items)-1].Put.Item
		if !w.Seen.IsZero() {
			it[attrSeen] = str(sortKey(w.Seen))
		}
		if w.Alert != "" {
			it[attrSilent] = &types.AttributeValueMemberBOOL{Value: true}
		}
		if !w.Next.IsZero() {
			it[attrGSI2PK], it[attrGSI2SK] = str(due), str(dueSK(w.Next, state.DueWatch, w.ID()))
		}
	}
	for _, sc := range c.Schedules {
		pk, sk := scheduleKey(sc.Name)
		if err := versioned(pk, sk, sc.Version, sc); err != nil {
			return err
		}
		if !sc.Next.IsZero() {
			it := items[len(items)-1].Put.Item
			it[attrGSI2PK], it[attrGSI2SK] = str(due), str(dueSK(sc.Next, state.DueSchedule, sc.Name))
		}
	}
	if in := c.Inhibitors; in != nil {
		pk, sk := inhibitorsKey(in.Model)
		if err := versioned(pk, sk, in.Version, in); err != nil {
			return err
		}
	}
	if in := c.InhibitorsRead; in != nil {
		pk, sk := inhibitorsKey(in.Model)
		check := &types.ConditionCheck{TableName: &s.table, Key: key(pk, sk), ConditionExpression: aws.String("attribute_not_exists(PK)")}
		if in.Version != 0 {
			check.ConditionExpression = aws.String("#v = :v")
			check.ExpressionAttributeNames = map[string]string{"#v": attrVersion}
			check.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(in.Version)}
		}
		add(types.TransactWriteItem{ConditionCheck: check})
	}
	for _, n := range append(slices.Clone(c.Outbox), c.Notices...) {
		it, err := s.noticeItem(n)
		if err != nil {
			return err
		}
		add(it)
	}
	for _, d := range c.Deliveries {
		pk, sk := deliveryKey(d.Group)
		if err := versioned(pk, sk, d.Version, d); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, e := range c.Digest {
		if seen[e.Owner+"\x00"+e.Notice.ID] {
			continue // one transaction may not write an item twice
		}
		seen[e.Owner+"\x00"+e.Notice.ID] = true
		data, err := marshal(e)
		if err != nil {
			return fmt.Errorf("encode digest entry %s: %w", e.Notice.ID, err)
		}
		// Unconditional: writing an entry twice writes the same item.
		it := key("DIGEST#"+e.Owner, sortKey(e.When())+"#"+e.Notice.ID)
		it[attrData] = str(string(data))
		add(types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: it}})
	}
	for _, r := range c.Audit {
		data, err := marshal(r)
		if err != nil {
			return fmt.Errorf("encode audit record: %w", err)
		}
		pk, _ := alertKey(r.Alert)
		it := key(pk, auditSK(r.Seq))
		it[attrData] = str(string(data))
		it[attrGSI1PK] = str("MODEL#" + r.Model)
		it[attrGSI1SK] = str(fmt.Sprintf("%s#%s#%08d", sortKey(r.At), r.Alert, r.Seq))
		add(types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")}})
	}
	if len(items) == 0 {
		return nil
	}
	if len(items) > MaxItemsPerCommit {
		return fmt.Errorf("commit of event %s has %d items, more than DynamoDB's %d per transaction", c.EventID, len(items), MaxItemsPerCommit)
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		// Reasons come in item order; the event record, when present, is
		// first. Only failed conditions and conflicting transactions mean
		// "re-read and decide again"; anything else (throttling, a
		// validation error) is returned as it is.
		for i, r := range tce.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed":
				if i == 0 && c.EventID != "" {
					return state.ErrDuplicate
				}
				return fmt.Errorf("commit event %s: %w", c.EventID, state.ErrConflict)
			case "TransactionConflict":
				return fmt.Errorf("commit event %s: %w", c.EventID, state.ErrConflict)
			}
		}
		return fmt.Errorf("commit event %s: %w", c.EventID, err)
	}
	if err != nil {
		return fmt.Errorf("commit event %s: %w", c.EventID, err)
	}
	return nil
}

// Quarantine keeps an event that can never be processed.
func (s *Store) Quarantine(ctx context.Context, q state.Quarantined) error {
	data, err := marshal(q)
	if err != nil {
		return err
	}
	it := key("QUARANTINE#"+q.Received.UTC().Format("2006-01-02"), sortKey(q.Received)+"#"+q.ID)
	it[attrData] = str(string(data))
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: it}); err != nil {
		return fmt.Errorf("quarantine %s: %w", q.ID, err)
	}
	return nil
}

// QuarantinedOn returns the events quarantined on the (UTC) day of day.
func (s *Store) QuarantinedOn(ctx context.Context, day time.Time) ([]state.Quarantined, error) {
	return query[state.Quarantined](ctx, s, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str("QUARANTINE#" + day.UTC().Format("2006-01-02"))},
	})
}

// query runs a query through every page (up to in.Limit items), decoding
// each item's data into a T.
func query[T any](ctx context.Context, s *Store, in *dynamodb.QueryInput) ([]T, error) {
	in.TableName = &s.table
	var items []T
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
		for _, it := range out.Items {
			d, ok := it[attrData].(*types.AttributeValueMemberS)
			if !ok {
				continue
			}
			var v T
			if err := json.Unmarshal([]byte(d.Value), &v); err != nil {
				return nil, fmt.Errorf("decode %v: %w", it[attrPK], err)
			}
			// The stored "v" is authoritative (the JSON copy lags by one),
			// as in get.
			if rec, ok := any(v).(state.Versioned); ok {
				if n, ok := it[attrVersion].(*types.AttributeValueMemberN); ok {
					ver, _ := strconv.ParseInt(n.Value, 10, 64)
					rec.SetVersion(ver)
				}
			}
			overlay(it, any(v))
			items = append(items, v)
		}
		if len(out.LastEvaluatedKey) == 0 || (in.Limit != nil && len(items) >= int(*in.Limit)) {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// Pending returns up to limit unsent notifications due by `due`, the
// longest-waiting first.
func (s *Store) Pending(ctx context.Context, due time.Time, limit int) ([]*state.Notification, error) {
	return query[*state.Notification](ctx, s, &dynamodb.QueryInput{IndexName: aws.String(indexPending), Limit: aws.Int32(int32(limit)),
		KeyConditionExpression:    aws.String("GSI2PK = :p AND GSI2SK <= :due"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(pending), ":due": str(sortKey(due) + "#\uffff")},
	})
}

// GetNotice returns an outbox notification, or nil (a consistent read:
// senders claim from what it returns).
func (s *Store) GetNotice(ctx context.Context, id string) (*state.Notification, error) {
	var v state.Notification
	pk, sk := noticeKey(id)
	found, err := s.get(ctx, pk, sk, &v)
	if err != nil || !found {
		return nil, err
	}
	return &v, nil
}

// GetDelivery returns what was sent for a group (Version 0 when nothing).
func (s *Store) GetDelivery(ctx context.Context, group string) (*state.Delivery, error) {
	v := state.Delivery{Group: group}
	pk, sk := deliveryKey(group)
	_, err := s.get(ctx, pk, sk, &v)
	return &v, err
}

// Digest returns an owner's digest entries kept in [since, until),
// oldest first.
func (s *Store) Digest(ctx context.Context, owner string, since, until time.Time) ([]state.DigestEntry, error) {
	return query[state.DigestEntry](ctx, s, &dynamodb.QueryInput{ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("PK = :pk AND SK BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str("DIGEST#" + owner),
			":a": str(sortKey(since)), ":b": str(sortKey(until.Add(-time.Nanosecond)) + "#\uffff")},
	})
}

// AlertRecords returns an alert's audit trail in order.
func (s *Store) AlertRecords(ctx context.Context, id string) ([]audit.Record, error) {
	pk, _ := alertKey(id)
	return query[audit.Record](ctx, s, &dynamodb.QueryInput{ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :a)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk), ":a": str("AUDIT#")},
	})
}

// ModelRecords returns the audit records of a model's alerts with At in
// [since, until), ordered by time.
func (s *Store) ModelRecords(ctx context.Context, model string, since, until time.Time) ([]audit.Record, error) {
	return query[audit.Record](ctx, s, &dynamodb.QueryInput{IndexName: aws.String(indexByModel),
		KeyConditionExpression: aws.String("GSI1PK = :m AND GSI1SK BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":m": str("MODEL#" + model),
			":a": str(sortKey(since)), ":b": str(sortKey(until.Add(-time.Nanosecond)) + "#\uffff")},
	})
}

// CreateTable creates the table with its indexes (on-demand capacity), and
// waits until it is active. The SAM template declares the same table.
func CreateTable(ctx context.Context, db *dynamodb.Client, table string) error {
	attr := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	ks := func(pk, sk string) []types.KeySchemaElement {
		return []types.KeySchemaElement{{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}, {AttributeName: aws.String(sk), KeyType: types.KeyTypeRange}}
	}
	all := &types.Projection{ProjectionType: types.ProjectionTypeAll}
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            &table,
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{attr(attrPK), attr(attrSK), attr(attrGSI1PK), attr(attrGSI1SK), attr(attrGSI2PK), attr(attrGSI2SK)},
		KeySchema:            ks(attrPK, attrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			{IndexName: aws.String(indexByModel), KeySchema: ks(attrGSI1PK, attrGSI1SK), Projection: all},
			{IndexName: aws.String(indexPending), KeySchema: ks(attrGSI2PK, attrGSI2SK), Projection: all},
		},
	})
	if err != nil {
		return fmt.Errorf("create table %s: %w", table, err)
	}
	if err := dynamodb.NewTableExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: &table}, time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", table, err)
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: &table,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(attrExpires), Enabled: aws.Bool(true)}})
	if err != nil {
		return fmt.Errorf("enable TTL on %s: %w", table, err)
	}
	return nil
}

// marshal encodes v as JSON without HTML escaping: a body or lineage full
// of <, > and & would otherwise grow six-fold, towards DynamoDB's 400 KB
// item limit.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

// sortable formats times in sort keys: fixed width, so that string order is
// time order (RFC 3339 with trimmed fractions is not: "…00Z" > "…00.5Z").
const sortable = "2006-01-02T15:04:05.000000000Z"

func sortKey(t time.Time) string { return t.UTC().Format(sortable) }

// Due returns up to limit groups, watches and schedules due by now, the
// earliest first (a query of the DUE partition of GSI2: never a scan).
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]state.DueItem, error) {
	in := &dynamodb.QueryInput{TableName: &s.table, IndexName: aws.String(indexPending), Limit: aws.Int32(int32(limit)),
		KeyConditionExpression:    aws.String("GSI2PK = :p AND GSI2SK <= :due"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(due), ":due": str(sortKey(now) + "#\uffff")},
		ProjectionExpression:      aws.String("GSI2SK"),
	}
	var out []state.DueItem
	for len(out) < limit {
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("query due items: %w", err)
		}
		for _, it := range page.Items {
			sk, _ := it[attrGSI2SK].(*types.AttributeValueMemberS)
			if sk == nil {
				continue
			}
			if d, ok := parseDue(sk.Value); ok {
				out = append(out, d)
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	return out[:min(len(out), limit)], nil
}

func parseDue(sk string) (state.DueItem, bool) {
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

// OpenGroups returns the groups not over, by model and rule.
func (s *Store) OpenGroups(ctx context.Context) ([]*state.Group, error) {
	gs, err := query[*state.Group](ctx, s, &dynamodb.QueryInput{IndexName: aws.String(indexByModel),
		KeyConditionExpression:    aws.String("GSI1PK = :o"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": str(open)},
	})
	if err != nil {
		return nil, err
	}
	// The index is eventually consistent: drop what it still lists after
	// the group ended.
	return slices.DeleteFunc(gs, func(g *state.Group) bool { return g.Over() }), nil
}

// GetWatch returns the watch, or nil (Seen and Next as the router last
// moved them).
func (s *Store) GetWatch(ctx context.Context, id string) (*state.Watch, error) {
	pk, sk := watchKey(id)
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", pk, err)
	}
	data, ok := out.Item[attrData].(*types.AttributeValueMemberS)
	if !ok {
		return nil, nil
	}
	var w state.Watch
	if err := json.Unmarshal([]byte(data.Value), &w); err != nil {
		return nil, fmt.Errorf("decode %s: %w", pk, err)
	}
	if n, ok := out.Item[attrVersion].(*types.AttributeValueMemberN); ok {
		w.Version, _ = strconv.ParseInt(n.Value, 10, 64)
	}
	if v, ok := out.Item[attrSeen].(*types.AttributeValueMemberS); ok {
		if t, err := time.Parse(sortable, v.Value); err == nil {
			w.Seen = t
		}
	}
	w.Next = time.Time{}
	if v, ok := out.Item[attrGSI2SK].(*types.AttributeValueMemberS); ok {
		if d, ok := parseDue(v.Value); ok {
			w.Next = d.At
		}
	}
	return &w, nil
}

// ensure writes a new versioned record unless one exists.
func (s *Store) ensure(ctx context.Context, pk, sk string, v any, extra map[string]types.AttributeValue) (bool, error) {
	data, err := marshal(v)
	if err != nil {
		return false, fmt.Errorf("encode %s: %w", pk, err)
	}
	it := key(pk, sk)
	it[attrData], it[attrVersion] = str(string(data)), num(1)
	maps.Copy(it, extra)
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create %s: %w", pk, err)
	}
	return true, nil
}

// EnsureWatch stores w unless its watch exists; created says which.
func (s *Store) EnsureWatch(ctx context.Context, w *state.Watch) (bool, error) {
	pk, sk := watchKey(w.ID())
	extra := map[string]types.AttributeValue{}
	if !w.Next.IsZero() {
		extra[attrGSI2PK], extra[attrGSI2SK] = str(due), str(dueSK(w.Next, state.DueWatch, w.ID()))
	}
	return s.ensure(ctx, pk, sk, w, extra)
}

// SawSignal records that the watch's signal arrived, observed at `at`: if
// that is its latest sighting, Seen moves there and the watch is next due
// at `next` — or at once (`now`) while its silence alert is open, so that
// the escalator resolves it. One conditional update (two while silent);
// the version moves, so an escalator deciding on an older sighting
// re-reads. A watch that does not exist is left alone.
func (s *Store) SawSignal(ctx context.Context, id string, at, next, now time.Time) error {
	pk, sk := watchKey(id)
	update := func(when time.Time, cond string) error {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: key(pk, sk),
			UpdateExpression:         aws.String("SET #seen = :t, #v = #v + :one, GSI2PK = :due, GSI2SK = :sk"),
			ConditionExpression:      aws.String("attribute_exists(#v) AND (attribute_not_exists(#seen) OR #seen < :t) AND " + cond),
			ExpressionAttributeNames: map[string]string{"#seen": attrSeen, "#v": attrVersion, "#silent": attrSilent},
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(sortKey(at)), ":one": num(1),
				":due": str(due), ":sk": str(dueSK(when, state.DueWatch, id))}})
		return err
	}
	err := update(next, "attribute_not_exists(#silent)")
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		if err != nil {
			return fmt.Errorf("record sighting of %s: %w", id, err)
		}
		return nil
	}
	// Not newer, absent, or silent: only the last needs the escalator now.
	if err := update(now, "attribute_exists(#silent)"); err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("record sighting of %s: %w", id, err)
	}
	return nil
}

// GetSchedule returns the schedule, or nil.
func (s *Store) GetSchedule(ctx context.Context, name string) (*state.Schedule, error) {
	var v state.Schedule
	pk, sk := scheduleKey(name)
	found, err := s.get(ctx, pk, sk, &v)
	if err != nil || !found {
		return nil, err
	}
	return &v, nil
}

// EnsureSchedule stores sc unless its schedule exists; created says which.
func (s *Store) EnsureSchedule(ctx context.Context, sc *state.Schedule) (bool, error) {
	pk, sk := scheduleKey(sc.Name)
	extra := map[string]types.AttributeValue{}
	if !sc.Next.IsZero() {
		extra[attrGSI2PK], extra[attrGSI2SK] = str(due), str(dueSK(sc.Next, state.DueSchedule, sc.Name))
	}
	return s.ensure(ctx, pk, sk, sc, extra)
}

// SawVersion records that the model's version was live at `at` (first
// and last sightings; idempotent).
func (s *Store) SawVersion(ctx context.Context, model, version string, at time.Time) error {
	pk, sk := versionKey(model, version)
	t := str(sortKey(at))
	names := map[string]string{"#f": attrFirst, "#l": attrLast}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: key(pk, sk),
		UpdateExpression:         aws.String("SET #f = if_not_exists(#f, :t), #l = :t"),
		ConditionExpression:      aws.String("attribute_not_exists(#l) OR #l < :t"),
		ExpressionAttributeNames: names, ExpressionAttributeValues: map[string]types.AttributeValue{":t": t}})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// Not the latest sighting: it may be the earliest.
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: key(pk, sk),
			UpdateExpression: aws.String("SET #f = :t"), ConditionExpression: aws.String("#f > :t"),
			ExpressionAttributeNames: map[string]string{"#f": attrFirst}, ExpressionAttributeValues: map[string]types.AttributeValue{":t": t}})
		if errors.As(err, &ccf) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("record version %s of %s: %w", version, model, err)
	}
	return nil
}

// Versions returns the model's versions seen, the first seen first.
func (s *Store) Versions(ctx context.Context, model string) ([]state.ModelVersion, error) {
	pk, _ := versionKey(model, "")
	in := &dynamodb.QueryInput{TableName: &s.table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :v)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk), ":v": str("VERSION#")}}
	var out []state.ModelVersion
	for {
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("query versions of %s: %w", model, err)
		}
		for _, it := range page.Items {
			skv, _ := it[attrSK].(*types.AttributeValueMemberS)
			f, _ := it[attrFirst].(*types.AttributeValueMemberS)
			l, _ := it[attrLast].(*types.AttributeValueMemberS)
			if skv == nil || f == nil || l == nil {
				continue
			}
			v := state.ModelVersion{Model: model, Version: strings.TrimPrefix(skv.Value, "VERSION#")}
			v.FirstSeen, _ = time.Parse(sortable, f.Value)
			v.LastSeen, _ = time.Parse(sortable, l.Value)
			out = append(out, v)
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	slices.SortFunc(out, func(a, b state.ModelVersion) int {
		return cmp.Or(a.FirstSeen.Compare(b.FirstSeen), cmp.Compare(a.Version, b.Version))
	})
	return out, nil
}
