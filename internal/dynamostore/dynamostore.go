// Package dynamostore keeps the router's state in one DynamoDB table.
//
// Single-table design (every key is a string; records are stored as JSON
// in attribute "data", with a numeric "v" where writes are conditional),
// as package layout describes it:
//
//	item                PK                          SK                 GSI1 (PK / SK)                         GSI2 (PK / SK)
//	series state        SERIES#<model/kind/metric…>  STATE
//	alert               ALERT#<alert id>            ALERT
//	audit record        ALERT#<alert id>            AUDIT#<seq:08d>    MODEL#<model> / <at>#<alert id>#<seq>
//	current group       GROUP#<model>/<rule>        CURRENT            OPEN / <model>/<rule> (while not over)   DUE / <due>#group#<model>/<rule>
//	inhibitors          MODEL#<model>               INHIBITORS
//	quiet windows       MODEL#<model>               QUIET
//	model version       MODEL#<model>               VERSION#<version>  ("first", "last": when seen)
//	watch (expect)      WATCH#<model/kind[/metric]> WATCH              ("seen": latest sighting)                DUE / <next>#watch#<id>
//	schedule (digest)   SCHEDULE#<name>             SCHEDULE                                                DUE / <next>#schedule#<name>
//	outbox notification NOTICE#<id>                 NOTICE                                                  PENDING / <due>#<id> (removed when sent)
//	group delivery      DELIVERY#<group id>         DELIVERY
//	digest entry        DIGEST#<owner>              <kept at>#<notification id>
//	applied event       EVENT#<event id>            EVENT              ("expires": TTL attribute, epoch seconds)
//	quarantined event   QUARANTINE#<yyyy-mm-dd>     <received>#<id>
//
// A part of a key that would pass DynamoDB's limits (partition key 2,048
// bytes, sort key 1,024) keeps a readable prefix and a hash of the whole
// (state.KeyPart); a group's "members" names at most state.MaxMembers
// alerts, "total" counts them all.
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
// event record's condition failed, a conflict when another did, and
// rejected (state.ErrRejected: never retried) on a ValidationException.
package dynamostore

import (
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
	"github.com/aws/smithy-go"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/layout"
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

// The table's attribute names and index partitions (see layout).
const (
	attrPK, attrSK         = layout.PK, layout.SK
	attrGSI1PK, attrGSI1SK = layout.GSI1PK, layout.GSI1SK
	attrGSI2PK, attrGSI2SK = layout.GSI2PK, layout.GSI2SK
	attrData, attrVersion  = layout.Data, layout.Version
	attrExpires            = layout.Expires
	indexByModel           = layout.IndexByModel
	indexPending           = layout.IndexDue
	pending                = layout.Pending
	due                    = layout.Due
	attrSeen, attrSilent   = layout.Seen, layout.Silent
	attrFirst, attrLast    = layout.First, layout.Last
)

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
		return false, fmt.Errorf("get %s: %w", pk, rejected(err))
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
	pk, sk := layout.Series(k)
	found, err := s.get(ctx, pk, sk, &v)
	if err != nil || !found {
		return &state.Series{Key: k}, err
	}
	return &v, nil
}

// GetAlert returns the alert, or nil.
func (s *Store) GetAlert(ctx context.Context, id string) (*state.Alert, error) {
	var v state.Alert
	pk, sk := layout.Alert(id)
	found, err := s.get(ctx, pk, sk, &v)
	if err != nil || !found {
		return nil, err
	}
	return &v, nil
}

// GetGroup returns the model's current group for the rule, or nil.
func (s *Store) GetGroup(ctx context.Context, model, rule string) (*state.Group, error) {
	var v state.Group
	pk, sk := layout.Group(model, rule)
	found, err := s.get(ctx, pk, sk, &v)
	if err != nil || !found {
		return nil, err
	}
	return &v, nil
}

// GetInhibitors returns the model's firing inhibitors.
func (s *Store) GetInhibitors(ctx context.Context, model string) (*state.Inhibitors, error) {
	v := state.Inhibitors{Model: model}
	pk, sk := layout.Inhibitors(model)
	_, err := s.get(ctx, pk, sk, &v)
	return &v, err
}

// GetQuiets returns the model's windows made from Slack.
func (s *Store) GetQuiets(ctx context.Context, model string) (*state.Quiets, error) {
	v := state.Quiets{Model: model}
	pk, sk := layout.Quiets(model)
	_, err := s.get(ctx, pk, sk, &v)
	return &v, err
}

// Commit applies c in one transaction.
func (s *Store) Commit(ctx context.Context, c *state.Commit) error {
	items, err := s.commitItems(c)
	if err != nil || len(items) == 0 {
		return err
	}
	if len(items) > MaxItemsPerCommit {
		return fmt.Errorf("commit of event %s has %d items, more than DynamoDB's %d per transaction", c.EventID, len(items), MaxItemsPerCommit)
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		// Reasons come in item order; the event record, when present, is
		// first. Failed conditions and conflicting transactions mean
		// "re-read and decide again"; a validation error (a key or an item
		// over DynamoDB's limits) never passes; anything else (throttling)
		// is returned as it is.
		for i, r := range tce.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed":
				if i == 0 && c.EventID != "" {
					return state.ErrDuplicate
				}
				if id := closedWindow(c, items[i]); id != "" {
					return &state.WindowClosed{ID: id}
				}
				if id := queuedNotice(c, items[i]); id != "" {
					return &state.NoticeExists{ID: id}
				}
				return fmt.Errorf("commit event %s: %w", c.EventID, state.ErrConflict)
			case "TransactionConflict":
				return fmt.Errorf("commit event %s: %w", c.EventID, state.ErrConflict)
			case "ValidationError":
				return fmt.Errorf("commit event %s: item %d: ValidationException: %s: %w", c.EventID, i+1, aws.ToString(r.Message), state.ErrRejected)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("commit event %s: %w", c.EventID, rejected(err))
	}
	return nil
}

// closedWindow names the update window of a join whose condition failed
// on item it ("": it is not one).
func closedWindow(c *state.Commit, it types.TransactWriteItem) string {
	for _, j := range c.Joins {
		if isNotice(it, j.Update.ID) {
			return j.Update.ID
		}
	}
	return ""
}

// queuedNotice names the notification of c's outbox whose condition failed
// on item it ("": it is not one): a new notification's only condition is
// that none by its id is stored.
func queuedNotice(c *state.Commit, it types.TransactWriteItem) string {
	for _, n := range c.Outbox {
		if isNotice(it, n.ID) {
			return n.ID
		}
	}
	return ""
}

// isNotice says whether item it writes notification id.
func isNotice(it types.TransactWriteItem, id string) bool {
	if it.Update == nil {
		return false
	}
	pk, _ := it.Update.Key[attrPK].(*types.AttributeValueMemberS)
	npk, _ := layout.Notice(id)
	return pk != nil && pk.Value == npk
}

// rejected marks DynamoDB's ValidationException — a request DynamoDB will
// refuse however often it is retried — as state.ErrRejected, keeping its
// words; it returns any other error as it is.
func rejected(err error) error {
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "ValidationException" {
		return fmt.Errorf("%w: %w", err, state.ErrRejected)
	}
	return err
}

// commitItems are the transaction's writes: each record conditioned on the
// version read (absent for new ones), audit records and digest entries on
// not existing yet, the event record on not existing (or having expired).
func (s *Store) commitItems(c *state.Commit) ([]types.TransactWriteItem, error) {
	var items []types.TransactWriteItem
	put := func(it layout.Item, err error) error {
		if err != nil {
			return err
		}
		items = append(items, types.TransactWriteItem{Put: s.versionedPut(it)})
		return nil
	}
	if c.EventID != "" {
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: attrs(layout.EventItem(c.EventID, c.EventExpires)),
			ConditionExpression:       aws.String("attribute_not_exists(PK) OR #exp < :now"),
			ExpressionAttributeNames:  map[string]string{"#exp": attrExpires},
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(s.now().Unix())}}})
	}
	var errs []error
	if c.Series != nil {
		errs = append(errs, put(layout.SeriesItem(c.Series)))
	}
	for _, a := range c.Alerts {
		errs = append(errs, put(layout.AlertItem(a)))
	}
	for _, g := range c.Groups {
		it, err := s.groupItem(g)
		items, errs = append(items, it), append(errs, err)
	}
	for _, j := range c.Joins {
		its, err := s.joinItems(j)
		items, errs = append(items, its...), append(errs, err)
	}
	for _, w := range c.Watches {
		errs = append(errs, put(layout.WatchItem(w)))
	}
	for _, sc := range c.Schedules {
		errs = append(errs, put(layout.ScheduleItem(sc)))
	}
	if q := c.Quiets; q != nil {
		errs = append(errs, put(layout.QuietsItem(q)))
	}
	if in := c.Inhibitors; in != nil {
		errs = append(errs, put(layout.InhibitorsItem(in)))
	}
	if in := c.InhibitorsRead; in != nil {
		items = append(items, types.TransactWriteItem{ConditionCheck: s.inhibitorsCheck(in)})
	}
	for _, n := range append(slices.Clone(c.Outbox), c.Notices...) {
		it, err := s.noticeItem(n)
		items, errs = append(items, it), append(errs, err)
	}
	for _, d := range c.Deliveries {
		errs = append(errs, put(layout.DeliveryItem(d)))
	}
	items = append(items, s.digestItems(c.Digest, &errs)...)
	for _, r := range c.Audit {
		it, err := layout.AuditItem(&r)
		errs = append(errs, err)
		if err == nil {
			items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: attrs(it), ConditionExpression: aws.String("attribute_not_exists(PK)")}})
		}
	}
	return items, errors.Join(errs...)
}

// versionedPut writes a versioned record if its stored version is still
// the one read: it.Version - 1, or none for a new record. (An item
// written before it carried a version — an outbox entry of an older
// router — counts as version 0 too, rather than as stuck forever.)
func (s *Store) versionedPut(it layout.Item) *types.Put {
	put := &types.Put{TableName: &s.table, Item: attrs(it), ExpressionAttributeNames: map[string]string{"#v": attrVersion}}
	if read := it[layout.Version].(int64) - 1; read == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(#v)")
	} else {
		put.ConditionExpression = aws.String("#v = :v")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(read)}
	}
	return put
}

// inhibitorsCheck fails the transaction if the model's inhibitors moved
// since they were read.
func (s *Store) inhibitorsCheck(in *state.Inhibitors) *types.ConditionCheck {
	pk, sk := layout.Inhibitors(in.Model)
	check := &types.ConditionCheck{TableName: &s.table, Key: key(pk, sk), ConditionExpression: aws.String("attribute_not_exists(PK)")}
	if in.Version != 0 {
		check.ConditionExpression = aws.String("#v = :v")
		check.ExpressionAttributeNames = map[string]string{"#v": attrVersion}
		check.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(in.Version)}
	}
	return check
}

// digestItems write each digest entry once (one transaction may not write
// an item twice), unconditionally: writing an entry twice writes the same
// item.
func (s *Store) digestItems(entries []state.DigestEntry, errs *[]error) []types.TransactWriteItem {
	var items []types.TransactWriteItem
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.Owner+"\x00"+e.Notice.ID] {
			continue
		}
		seen[e.Owner+"\x00"+e.Notice.ID] = true
		it, err := layout.DigestItem(&e)
		*errs = append(*errs, err)
		if err == nil {
			items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: attrs(it)}})
		}
	}
	return items
}

// attrs converts a layout item to DynamoDB's attribute values.
func attrs(it layout.Item) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(it))
	for name, v := range it {
		switch v := v.(type) {
		case string:
			out[name] = str(v)
		case int64:
			out[name] = num(v)
		case []string:
			out[name] = list(v...)
		case bool:
			out[name] = &types.AttributeValueMemberBOOL{Value: v}
		}
	}
	return out
}

// Quarantine keeps an event that can never be processed.
func (s *Store) Quarantine(ctx context.Context, q state.Quarantined) error {
	it, err := layout.QuarantineItem(&q)
	if err != nil {
		return err
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: attrs(it)}); err != nil {
		return fmt.Errorf("quarantine %s: %w", q.ID, rejected(err))
	}
	return nil
}

// QuarantinedOn returns the events quarantined on the (UTC) day of day.
func (s *Store) QuarantinedOn(ctx context.Context, day time.Time) ([]state.Quarantined, error) {
	return query[state.Quarantined](ctx, s, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(layout.QuarantineDay(day))},
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
			return nil, fmt.Errorf("query: %w", rejected(err))
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
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(pending), ":due": str(layout.SortTime(due) + "#\uffff")},
	})
}

// GetNotice returns an outbox notification, or nil (a consistent read:
// senders claim from what it returns).
func (s *Store) GetNotice(ctx context.Context, id string) (*state.Notification, error) {
	var v state.Notification
	pk, sk := layout.Notice(id)
	found, err := s.get(ctx, pk, sk, &v)
	if err != nil || !found {
		return nil, err
	}
	return &v, nil
}

// GetDelivery returns what was sent for a group (Version 0 when nothing).
func (s *Store) GetDelivery(ctx context.Context, group string) (*state.Delivery, error) {
	v := state.Delivery{Group: group}
	pk, sk := layout.Delivery(group)
	_, err := s.get(ctx, pk, sk, &v)
	return &v, err
}

// Digest returns an owner's digest entries kept in [since, until),
// oldest first.
func (s *Store) Digest(ctx context.Context, owner string, since, until time.Time) ([]state.DigestEntry, error) {
	return query[state.DigestEntry](ctx, s, &dynamodb.QueryInput{ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("PK = :pk AND SK BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(layout.DigestPartition(owner)),
			":a": str(layout.SortTime(since)), ":b": str(layout.SortTime(until.Add(-time.Nanosecond)) + "#\uffff")},
	})
}

// AlertRecords returns an alert's audit trail in order.
func (s *Store) AlertRecords(ctx context.Context, id string) ([]audit.Record, error) {
	pk, _ := layout.Alert(id)
	return query[audit.Record](ctx, s, &dynamodb.QueryInput{ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :a)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk), ":a": str(layout.AuditPrefix)},
	})
}

// ModelRecords returns the audit records of a model's alerts with At in
// [since, until), ordered by time.
func (s *Store) ModelRecords(ctx context.Context, model string, since, until time.Time) ([]audit.Record, error) {
	return query[audit.Record](ctx, s, modelRange(model, since, until))
}

// modelRange queries the index of a model's records by time for [since,
// until).
func modelRange(model string, since, until time.Time) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{IndexName: aws.String(indexByModel),
		KeyConditionExpression: aws.String("GSI1PK = :m AND GSI1SK BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":m": str(layout.ModelPartition(model)),
			":a": str(layout.SortTime(since)), ":b": str(layout.SortTime(until.Add(-time.Nanosecond)) + "#\uffff")},
	}
}

// LatestModelRecords returns the latest limit records of ModelRecords'
// range, oldest first; more when older ones were left. It reads the index
// backwards, one record more than limit (to know whether there are more),
// so a long range costs no more than limit records.
func (s *Store) LatestModelRecords(ctx context.Context, model string, since, until time.Time, limit int) ([]audit.Record, bool, error) {
	in := modelRange(model, since, until)
	in.ScanIndexForward, in.Limit = aws.Bool(false), aws.Int32(int32(limit+1))
	recs, err := query[audit.Record](ctx, s, in)
	if err != nil {
		return nil, false, err
	}
	more := len(recs) > limit
	recs = recs[:min(len(recs), limit)] // pages can add up past the limit
	slices.Reverse(recs)
	return recs, more, nil
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

// Due returns up to limit groups, watches and schedules due by now, the
// earliest first (a query of the DUE partition of GSI2: never a scan).
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]state.DueItem, error) {
	in := &dynamodb.QueryInput{TableName: &s.table, IndexName: aws.String(indexPending), Limit: aws.Int32(int32(limit)),
		KeyConditionExpression:    aws.String("GSI2PK = :p AND GSI2SK <= :due"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(due), ":due": str(layout.SortTime(now) + "#\uffff")},
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
			if d, ok := layout.ParseDue(sk.Value); ok {
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

// OpenGroups returns the groups not over, by model and rule.
func (s *Store) OpenGroups(ctx context.Context) ([]*state.Group, error) {
	gs, err := query[*state.Group](ctx, s, &dynamodb.QueryInput{IndexName: aws.String(indexByModel),
		KeyConditionExpression:    aws.String("GSI1PK = :o"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": str(layout.OpenGroups)},
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
	pk, sk := layout.Watch(id)
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", pk, rejected(err))
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
		if t, err := layout.ParseSortTime(v.Value); err == nil {
			w.Seen = t
		}
	}
	w.Next = time.Time{}
	if v, ok := out.Item[attrGSI2SK].(*types.AttributeValueMemberS); ok {
		if d, ok := layout.ParseDue(v.Value); ok {
			w.Next = d.At
		}
	}
	return &w, nil
}

// ensure writes a new versioned record unless one exists.
func (s *Store) ensure(ctx context.Context, pk, sk string, v any, extra map[string]types.AttributeValue) (bool, error) {
	data, err := layout.JSON(v)
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
		return false, fmt.Errorf("create %s: %w", pk, rejected(err))
	}
	return true, nil
}

// EnsureWatch stores w unless its watch exists; created says which.
func (s *Store) EnsureWatch(ctx context.Context, w *state.Watch) (bool, error) {
	pk, sk := layout.Watch(w.ID())
	extra := map[string]types.AttributeValue{}
	if !w.Next.IsZero() {
		extra[attrGSI2PK], extra[attrGSI2SK] = str(due), str(layout.DueSK(w.Next, state.DueWatch, w.ID()))
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
	pk, sk := layout.Watch(id)
	update := func(when time.Time, cond string) error {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: key(pk, sk),
			UpdateExpression:         aws.String("SET #seen = :t, #v = #v + :one, GSI2PK = :due, GSI2SK = :sk"),
			ConditionExpression:      aws.String("attribute_exists(#v) AND (attribute_not_exists(#seen) OR #seen < :t) AND " + cond),
			ExpressionAttributeNames: map[string]string{"#seen": attrSeen, "#v": attrVersion, "#silent": attrSilent},
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(layout.SortTime(at)), ":one": num(1),
				":due": str(due), ":sk": str(layout.DueSK(when, state.DueWatch, id))}})
		return err
	}
	err := update(next, "attribute_not_exists(#silent)")
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		if err != nil {
			return fmt.Errorf("record sighting of %s: %w", id, rejected(err))
		}
		return nil
	}
	// Not newer, absent, or silent: only the last needs the escalator now.
	if err := update(now, "attribute_exists(#silent)"); err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("record sighting of %s: %w", id, rejected(err))
	}
	return nil
}

// GetSchedule returns the schedule, or nil.
func (s *Store) GetSchedule(ctx context.Context, name string) (*state.Schedule, error) {
	var v state.Schedule
	pk, sk := layout.Schedule(name)
	found, err := s.get(ctx, pk, sk, &v)
	if err != nil || !found {
		return nil, err
	}
	return &v, nil
}

// EnsureSchedule stores sc unless its schedule exists; created says which.
func (s *Store) EnsureSchedule(ctx context.Context, sc *state.Schedule) (bool, error) {
	pk, sk := layout.Schedule(sc.Name)
	extra := map[string]types.AttributeValue{}
	if !sc.Next.IsZero() {
		extra[attrGSI2PK], extra[attrGSI2SK] = str(due), str(layout.DueSK(sc.Next, state.DueSchedule, sc.Name))
	}
	return s.ensure(ctx, pk, sk, sc, extra)
}

// SawVersion records that the model's version was live at `at` (first
// and last sightings; idempotent).
func (s *Store) SawVersion(ctx context.Context, model, version string, at time.Time) error {
	pk, sk := layout.ModelVersion(model, version)
	t := str(layout.SortTime(at))
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
		return fmt.Errorf("record version %s of %s: %w", version, model, rejected(err))
	}
	return nil
}

// Versions returns the model's versions seen, the first seen first.
func (s *Store) Versions(ctx context.Context, model string) ([]state.ModelVersion, error) {
	pk, _ := layout.ModelVersion(model, "")
	in := &dynamodb.QueryInput{TableName: &s.table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :v)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk), ":v": str(layout.VersionPrefix)}}
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
			v := state.ModelVersion{Model: model, Version: strings.TrimPrefix(skv.Value, layout.VersionPrefix)}
			v.FirstSeen, _ = layout.ParseSortTime(f.Value)
			v.LastSeen, _ = layout.ParseSortTime(l.Value)
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
