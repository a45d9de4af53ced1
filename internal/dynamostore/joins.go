package dynamostore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stakeout-ml/stakeout/internal/layout"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// A group's open count, total and named members, and an update
// notification's joined subjects and count, are attributes of their own
// ("open", "total", "members", "joined", "joins"), beside the JSON: joins
// add to them with an update expression, without reading or rewriting the
// rest, so that concurrent joins of one group commute. Every other write
// of those items is an update that leaves them alone unless it means to
// set them.
const (
	attrOpen, attrMembers, attrTotal = layout.Open, layout.Members, layout.Total
	attrJoined, attrJoins            = layout.Joined, layout.Joins
)

// overlay copies the separately kept attributes of item onto v.
func overlay(item map[string]types.AttributeValue, v any) {
	switch v := v.(type) {
	case *state.Group:
		n, ok := item[attrOpen].(*types.AttributeValueMemberN)
		if !ok {
			v.Legacy, v.OpenRead = true, v.Open
			return
		}
		open, _ := strconv.Atoi(n.Value)
		v.Open, v.OpenRead = open, open
		v.Members = stringList(item[attrMembers])
		v.Total = number(item[attrTotal])
	case *state.Notification:
		if l := stringList(item[attrJoined]); len(l) > 0 {
			v.Joined = l
		}
		if n := number(item[attrJoins]); n > 0 {
			v.Joins = n
		}
	}
}

// number reads a numeric attribute (0 when absent).
func number(av types.AttributeValue) int {
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	v, _ := strconv.Atoi(n.Value)
	return v
}

func stringList(av types.AttributeValue) []string {
	l, ok := av.(*types.AttributeValueMemberL)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l.Value))
	for _, e := range l.Value {
		if s, ok := e.(*types.AttributeValueMemberS); ok {
			out = append(out, s.Value)
		}
	}
	return out
}

func list(ss ...string) types.AttributeValue {
	l := make([]types.AttributeValue, len(ss))
	for i, s := range ss {
		l[i] = str(s)
	}
	return &types.AttributeValueMemberL{Value: l}
}

// update builds a conditional update that writes a record's JSON and
// version and sets or removes the given attributes, conditioned on the
// version read (absent for a new record) and on extra conditions.
type update struct {
	set    []string
	remove []string
	cond   []string
	names  map[string]string
	values map[string]types.AttributeValue
}

func newUpdate(data []byte, version int64) *update {
	u := &update{names: map[string]string{"#d": attrData, "#v": attrVersion},
		values: map[string]types.AttributeValue{":d": str(string(data)), ":nv": num(version + 1)}}
	u.set = append(u.set, "#d = :d", "#v = :nv")
	if version == 0 {
		u.cond = append(u.cond, "attribute_not_exists(#v)")
	} else {
		u.cond = append(u.cond, "#v = :v")
		u.values[":v"] = num(version)
	}
	return u
}

// attr sets (v non-nil) or removes (v nil) attribute name.
func (u *update) attr(name string, v types.AttributeValue) {
	ph := "#a" + strconv.Itoa(len(u.names))
	u.names[ph] = name
	if v == nil {
		u.remove = append(u.remove, ph)
		return
	}
	u.set = append(u.set, ph+" = :a"+ph[2:])
	u.values[":a"+ph[2:]] = v
}

func (u *update) item(table, pk, sk string) types.TransactWriteItem {
	expr := "SET " + strings.Join(u.set, ", ")
	if len(u.remove) > 0 {
		expr += " REMOVE " + strings.Join(u.remove, ", ")
	}
	return types.TransactWriteItem{Update: &types.Update{TableName: &table, Key: key(pk, sk),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String(strings.Join(u.cond, " AND ")),
		ExpressionAttributeNames: u.names, ExpressionAttributeValues: u.values}}
}

// groupItem writes a group: its JSON and indexes always; its open count
// and members when the writer made the group or changed the count (the
// latter conditioned on the count it read: a join meanwhile conflicts).
func (s *Store) groupItem(g *state.Group) (types.TransactWriteItem, error) {
	data, err := layout.JSON(g)
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("encode group %s: %w", g.ID, err)
	}
	u := newUpdate(data, g.Version)
	switch {
	case g.New || g.Legacy || g.Version == 0:
		u.attr(attrOpen, num(int64(g.Open)))
		u.attr(attrMembers, list(g.Members...))
		u.attr(attrTotal, num(int64(g.Size())))
	case g.Grew:
		u.attr(attrOpen, num(int64(g.Open)))
		u.attr(attrMembers, list(g.Members...))
		u.attr(attrTotal, num(int64(g.Size())))
		u.cond = append(u.cond, "#open = :openRead")
		u.names["#open"], u.values[":openRead"] = attrOpen, num(int64(g.OpenRead))
	case g.Open != g.OpenRead:
		u.attr(attrOpen, num(int64(g.Open)))
		u.cond = append(u.cond, "#open = :openRead")
		u.names["#open"], u.values[":openRead"] = attrOpen, num(int64(g.OpenRead))
	}
	if !g.Over() {
		u.attr(attrGSI1PK, str(layout.OpenGroups))
		u.attr(attrGSI1SK, str(layout.OpenIndex(g.Model, g.Rule)))
	} else {
		u.attr(attrGSI1PK, nil)
		u.attr(attrGSI1SK, nil)
	}
	if at := g.Due(); !at.IsZero() {
		u.attr(attrGSI2PK, str(due))
		u.attr(attrGSI2SK, str(layout.DueSK(at, state.DueGroup, g.Model+"/"+g.Rule)))
	} else {
		u.attr(attrGSI2PK, nil)
		u.attr(attrGSI2SK, nil)
	}
	pk, sk := layout.Group(g.Model, g.Rule)
	return u.item(s.table, pk, sk), nil
}

// noticeItem writes a notification: its JSON, and its place in the
// pending index while unsent. Its joined subjects are left as they are.
func (s *Store) noticeItem(n *state.Notification) (types.TransactWriteItem, error) {
	data, err := layout.JSON(n)
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("encode notification %s: %w", n.ID, err)
	}
	u := newUpdate(data, n.Version)
	if n.Sent.IsZero() {
		u.attr(attrGSI2PK, str(pending))
		u.attr(attrGSI2SK, str(layout.PendingSK(n)))
	} else {
		u.attr(attrGSI2PK, nil)
		u.attr(attrGSI2SK, nil)
	}
	pk, sk := layout.Notice(n.ID)
	return u.item(s.table, pk, sk), nil
}

// joinItems are a join's two commutative updates: the group's count,
// total and named members, conditioned on the group being the one read,
// still open and, for a join that names its alert, still naming fewer than
// state.MaxMembers; and the window's update notification, made by the
// first join and added to by the others while it is unsent.
func (s *Store) joinItems(j *state.Join) ([]types.TransactWriteItem, error) {
	gu := &update{names: map[string]string{"#v": attrVersion, "#open": attrOpen},
		values: map[string]types.AttributeValue{":v": num(j.Version), ":one": num(1), ":zero": num(0)}}
	gu.set = []string{"#open = #open + :one"}
	gu.cond = []string{"#v = :v", "#open > :zero"}
	if !j.Member {
		gu.names["#t"], gu.values[":size"] = attrTotal, num(int64(j.Size))
		gu.set = append(gu.set, "#t = if_not_exists(#t, :size) + :one")
	}
	if j.Named {
		gu.names["#m"] = attrMembers
		gu.values[":m"], gu.values[":cap"] = list(j.Alert), num(state.MaxMembers)
		gu.set = append(gu.set, "#m = list_append(#m, :m)")
		gu.cond = append(gu.cond, "size(#m) < :cap")
	}
	gpk, gsk := layout.Group(j.Model, j.Rule)
	n := j.Update
	data, err := layout.JSON(n)
	if err != nil {
		return nil, fmt.Errorf("encode notification %s: %w", n.ID, err)
	}
	nu := &update{names: map[string]string{"#d": attrData, "#v": attrVersion, "#j": attrJoined, "#n": attrJoins, "#p": attrGSI2PK, "#s": attrGSI2SK},
		values: map[string]types.AttributeValue{":d": str(string(data)), ":one": num(1), ":zero": num(0), ":j": list(n.Joined...),
			":none": list(), ":p": str(pending), ":s": str(layout.PendingSK(n))}}
	nu.set = []string{"#d = if_not_exists(#d, :d)", "#v = if_not_exists(#v, :one)", "#j = list_append(if_not_exists(#j, :none), :j)",
		"#n = if_not_exists(#n, :zero) + :one", "#p = :p", "#s = if_not_exists(#s, :s)"}
	// New, or as the router wrote it: a window a sender has taken (its
	// claim is the first write that moves the version) is closed, so no
	// join lands where its sender, having read it, would not tell it.
	nu.cond = []string{"(attribute_not_exists(#v) OR #v = :one)"}
	npk, nsk := layout.Notice(n.ID)
	return []types.TransactWriteItem{gu.item(s.table, gpk, gsk), nu.item(s.table, npk, nsk)}, nil
}

// Read reads the records keys name in one round trip (BatchGetItem, with
// consistent reads), re-asking for what DynamoDB leaves unprocessed.
func (s *Store) Read(ctx context.Context, keys state.Keys) (*state.Records, error) {
	out := &state.Records{Alerts: map[string]*state.Alert{}, Groups: map[state.GroupKey]*state.Group{}}
	want := map[string]func(map[string]types.AttributeValue) error{}
	var reqKeys []map[string]types.AttributeValue
	add := func(pk, sk string, decode func(map[string]types.AttributeValue) error) {
		if _, dup := want[pk+"\x00"+sk]; dup {
			return
		}
		want[pk+"\x00"+sk] = decode
		reqKeys = append(reqKeys, key(pk, sk))
	}
	for _, id := range keys.Alerts {
		out.Alerts[id] = nil
		pk, sk := layout.Alert(id)
		add(pk, sk, func(it map[string]types.AttributeValue) error {
			var a state.Alert
			if err := decodeItem(it, &a); err != nil {
				return err
			}
			out.Alerts[id] = &a
			return nil
		})
	}
	for _, gk := range keys.Groups {
		out.Groups[gk] = nil
		pk, sk := layout.Group(gk.Model, gk.Rule)
		add(pk, sk, func(it map[string]types.AttributeValue) error {
			var g state.Group
			if err := decodeItem(it, &g); err != nil {
				return err
			}
			out.Groups[gk] = &g
			return nil
		})
	}
	if m := keys.Inhibitors; m != "" {
		out.Inhibitors = &state.Inhibitors{Model: m}
		pk, sk := layout.Inhibitors(m)
		add(pk, sk, func(it map[string]types.AttributeValue) error { return decodeItem(it, out.Inhibitors) })
	}
	if m := keys.Quiets; m != "" {
		out.Quiets = &state.Quiets{Model: m}
		pk, sk := layout.Quiets(m)
		add(pk, sk, func(it map[string]types.AttributeValue) error { return decodeItem(it, out.Quiets) })
	}
	if m := keys.Timeline; m != "" {
		out.Timeline = &state.Timeline{Model: m}
		pk, sk := layout.Timeline(m)
		add(pk, sk, func(it map[string]types.AttributeValue) error { return decodeItem(it, out.Timeline) })
	}
	err := s.batchGet(ctx, reqKeys, func(pk, sk string, it map[string]types.AttributeValue) error {
		if decode := want[pk+"\x00"+sk]; decode != nil {
			return decode(it)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// batchGet reads keys with consistent reads, maxBatchGet a call, asking
// again for what DynamoDB leaves unprocessed, and hands each item found to
// found.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, found func(pk, sk string, it map[string]types.AttributeValue) error) error {
	for len(keys) > 0 {
		batch := keys[:min(len(keys), maxBatchGet)]
		keys = keys[len(batch):]
		pending := map[string]types.KeysAndAttributes{s.table: {Keys: batch, ConsistentRead: aws.Bool(true)}}
		for len(pending[s.table].Keys) > 0 {
			res, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return fmt.Errorf("batch get: %w", rejected(err))
			}
			for _, it := range res.Responses[s.table] {
				pk, _ := it[attrPK].(*types.AttributeValueMemberS)
				sk, _ := it[attrSK].(*types.AttributeValueMemberS)
				if pk == nil || sk == nil {
					continue
				}
				if err := found(pk.Value, sk.Value, it); err != nil {
					return err
				}
			}
			pending = res.UnprocessedKeys
		}
	}
	return nil
}

// maxBatchGet is BatchGetItem's limit on keys per call.
const maxBatchGet = 100

// decodeItem decodes an item's JSON into v, with its stored version and
// separately kept attributes (as get does).
func decodeItem(it map[string]types.AttributeValue, v state.Versioned) error {
	data, ok := it[attrData].(*types.AttributeValueMemberS)
	if !ok {
		return nil
	}
	if err := json.Unmarshal([]byte(data.Value), v); err != nil {
		return fmt.Errorf("decode %v: %w", it[attrPK], err)
	}
	if n, ok := it[attrVersion].(*types.AttributeValueMemberN); ok {
		ver, _ := strconv.ParseInt(n.Value, 10, 64)
		v.SetVersion(ver)
	}
	overlay(it, v)
	return nil
}
