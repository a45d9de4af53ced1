// Package storetest is the conformance suite every store passes (the
// embedded one and DynamoDB): the same conditional writes, atomicity,
// idempotency and queries, so that what `stakeout replay` shows is what the
// router does. It also holds the at-least-once reliability scenario run
// against each store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Store is everything the suite exercises.
type Store interface {
	pipeline.Store
	LifecycleStore
	Pending(ctx context.Context, due time.Time, limit int) ([]*state.Notification, error)
	GetNotice(ctx context.Context, id string) (*state.Notification, error)
	GetDelivery(ctx context.Context, group string) (*state.Delivery, error)
	Digest(ctx context.Context, owner string, since, until time.Time) ([]state.DigestEntry, error)
	AlertRecords(ctx context.Context, id string) ([]audit.Record, error)
	ModelRecords(ctx context.Context, model string, since, until time.Time) ([]audit.Record, error)
	QuarantinedOn(ctx context.Context, day time.Time) ([]state.Quarantined, error)
	TimelineStore
}

// Now is the clock the suite gives stores: far enough ahead of the records'
// times that nothing looks future-dated.
var Now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

var key = signal.SeriesKey{Model: "m", Kind: "drift", Metric: "psi", Feature: "income"}

func newSeries() *state.Series {
	s := &state.Series{Key: key, Alerts: map[string]state.AlertRef{"r": {ID: "m/r/feature=income", Status: state.Open}}}
	s.State.Add(series.Observation{At: t0, Value: 0.3}, 10)
	return s
}

func record(alert string, seq int, at time.Time) audit.Record {
	r := audit.Record{Alert: alert, At: at, Recorded: at, Action: audit.Opened, Actor: "router", Model: "m", Rule: "r", ConfigDigest: "d"}
	r.Seal(seq-1, "")
	return r
}

// Run runs the conformance suite; newStore returns an empty store.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	t.Run("a new series has version 0 and each commit adds one", func(t *testing.T) {
		st := newStore(t)
		s, err := st.GetSeries(ctx, key)
		if err != nil || s.Version != 0 || s.Key != key {
			t.Fatalf("GetSeries(new) = %+v, %v; want version 0", s, err)
		}
		want := newSeries()
		for v := range int64(3) {
			want.Version = v
			if err := st.Commit(ctx, &state.Commit{Series: want}); err != nil {
				t.Fatalf("Commit at version %d: %v", v, err)
			}
		}
		got, err := st.GetSeries(ctx, key)
		if err != nil || got.Version != 3 {
			t.Fatalf("GetSeries = version %d, %v; want 3", got.Version, err)
		}
		want.Version = 3
		if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(series.State{})); diff != "" {
			t.Errorf("series read back (-want +got):\n%s", diff)
		}
	})
	t.Run("a stale version is a conflict", func(t *testing.T) {
		st := newStore(t)
		s := newSeries()
		if err := st.Commit(ctx, &state.Commit{Series: s}); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(ctx, &state.Commit{Series: s}); !errors.Is(err, state.ErrConflict) {
			t.Errorf("Commit with the version read before another commit = %v, want ErrConflict", err)
		}
	})
	t.Run("a conflict on one record applies nothing", func(t *testing.T) {
		st := newStore(t)
		a := &state.Alert{ID: "m/r", Model: "m", Rule: "r", Status: state.Open}
		if err := st.Commit(ctx, &state.Commit{Alerts: []*state.Alert{a}}); err != nil {
			t.Fatal(err)
		}
		err := st.Commit(ctx, &state.Commit{EventID: "e1", EventExpires: Now.Add(time.Hour), Series: newSeries(),
			Alerts: []*state.Alert{a}, Audit: []audit.Record{record("m/r", 1, t0)}}) // a is stale now
		if !errors.Is(err, state.ErrConflict) {
			t.Fatalf("Commit = %v, want ErrConflict", err)
		}
		if s, _ := st.GetSeries(ctx, key); s.Version != 0 {
			t.Errorf("series was written by a failed commit (version %d)", s.Version)
		}
		if recs, _ := st.AlertRecords(ctx, "m/r"); len(recs) != 0 {
			t.Errorf("audit record was written by a failed commit")
		}
		if err := st.Commit(ctx, &state.Commit{EventID: "e1", EventExpires: Now.Add(time.Hour)}); err != nil {
			t.Errorf("the event of a failed commit counts as applied: %v", err)
		}
	})
	t.Run("inhibitors read but not written still guard the commit", func(t *testing.T) {
		st := newStore(t)
		read, err := st.GetInhibitors(ctx, "m") // nothing firing yet
		if err != nil {
			t.Fatal(err)
		}
		// Meanwhile a freshness alert starts firing.
		if err := st.Commit(ctx, &state.Commit{Inhibitors: &state.Inhibitors{Model: "m", Active: map[string]string{"m/lag": "freshness"}}}); err != nil {
			t.Fatal(err)
		}
		err = st.Commit(ctx, &state.Commit{Series: newSeries(), InhibitorsRead: read})
		if !errors.Is(err, state.ErrConflict) {
			t.Errorf("commit decided on stale inhibitors = %v, want ErrConflict", err)
		}
		fresh, _ := st.GetInhibitors(ctx, "m")
		if err := st.Commit(ctx, &state.Commit{Series: newSeries(), InhibitorsRead: fresh}); err != nil {
			t.Errorf("commit on current inhibitors = %v", err)
		}
	})
	t.Run("an applied event is a duplicate until it expires", func(t *testing.T) {
		st := newStore(t)
		if err := st.Commit(ctx, &state.Commit{EventID: "e1", EventExpires: Now.Add(time.Hour), Series: newSeries()}); err != nil {
			t.Fatal(err)
		}
		again := newSeries()
		again.Version = 1
		if err := st.Commit(ctx, &state.Commit{EventID: "e1", EventExpires: Now.Add(time.Hour), Series: again}); !errors.Is(err, state.ErrDuplicate) {
			t.Errorf("second commit of e1 = %v, want ErrDuplicate", err)
		}
		if s, _ := st.GetSeries(ctx, key); s.Version != 1 {
			t.Errorf("a duplicate commit changed the series (version %d)", s.Version)
		}
		if err := st.Commit(ctx, &state.Commit{EventID: "old", EventExpires: Now.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(ctx, &state.Commit{EventID: "old", EventExpires: Now.Add(time.Hour)}); err != nil {
			t.Errorf("an expired event id is refused: %v", err)
		}
	})
	t.Run("alerts, groups and inhibitors round trip with versions", func(t *testing.T) {
		st := newStore(t)
		impact := 1000.0
		a := &state.Alert{ID: "m/r/feature=income", Model: "m", Rule: "r", Feature: "income", Status: state.Open,
			Severity: "high", Owner: "team", Notify: []string{"slack"}, Impact: &impact, OpenedAt: t0, UpdatedAt: t0, Opens: 1}
		g := &state.Group{ID: "m/r@1", Model: "m", Rule: "r", Opened: t0, Members: []string{a.ID}, Total: 1, Open: 1, Notices: 1}
		in := &state.Inhibitors{Model: "m", Active: map[string]string{"m/lag": "freshness"}}
		if err := st.Commit(ctx, &state.Commit{Alerts: []*state.Alert{a}, Groups: []*state.Group{g}, Inhibitors: in}); err != nil {
			t.Fatal(err)
		}
		gotA, _ := st.GetAlert(ctx, a.ID)
		gotG, _ := st.GetGroup(ctx, "m", "r")
		gotI, _ := st.GetInhibitors(ctx, "m")
		a.Version, g.Version, in.Version, g.OpenRead = 1, 1, 1, 1
		for _, c := range []struct{ want, got any }{{a, gotA}, {g, gotG}, {in, gotI}} {
			if diff := cmp.Diff(c.want, c.got); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
		}
		if missing, err := st.GetAlert(ctx, "nope"); missing != nil || err != nil {
			t.Errorf("GetAlert(absent) = %v, %v; want nil, nil", missing, err)
		}
		if none, err := st.GetInhibitors(ctx, "other"); err != nil || len(none.Active) != 0 || none.Version != 0 {
			t.Errorf("GetInhibitors(absent) = %+v, %v", none, err)
		}
	})
	t.Run("the outbox drains in order and never twice", func(t *testing.T) {
		st := newStore(t)
		var outbox []*state.Notification
		for i := range 3 {
			outbox = append(outbox, &state.Notification{ID: fmt.Sprintf("g#%d", i+1), Kind: state.NoticeOpened, Group: "g",
				Owner: "team", Channels: []string{"slack"}, Created: t0.Add(time.Duration(i) * time.Minute)})
		}
		if err := st.Commit(ctx, &state.Commit{Outbox: outbox}); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(ctx, &state.Commit{Outbox: outbox[:1]}); err == nil {
			t.Errorf("queueing a notification id twice succeeded, want a conflict")
		}
		n, err := st.GetNotice(ctx, "g#1")
		if err != nil || n == nil || n.Version != 1 {
			t.Fatalf("GetNotice(g#1) = %+v, %v; want version 1", n, err)
		}
		n.Sent = t0
		if err := st.Commit(ctx, &state.Commit{Notices: []*state.Notification{n}}); err != nil {
			t.Fatal(err)
		}
		ids := func(due time.Time) []string {
			pending, err := st.Pending(ctx, due, 10)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, n := range pending {
				out = append(out, n.ID)
			}
			return out
		}
		if diff := cmp.Diff([]string{"g#2", "g#3"}, ids(Now)); diff != "" {
			t.Errorf("pending (-want +got):\n%s", diff)
		}
		// A notification waiting (claimed, or after a failure) is not due
		// until its time, and then comes after those waiting longer.
		n2, _ := st.GetNotice(ctx, "g#2")
		n2.ClaimedUntil = t0.Add(time.Hour)
		if err := st.Commit(ctx, &state.Commit{Notices: []*state.Notification{n2}}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"g#3"}, ids(t0.Add(30*time.Minute))); diff != "" {
			t.Errorf("pending before g#2 is due (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"g#3", "g#2"}, ids(t0.Add(time.Hour))); diff != "" {
			t.Errorf("pending once g#2 is due (-want +got):\n%s", diff)
		}
	})
	t.Run("a notification is claimed by one sender only", func(t *testing.T) {
		st := newStore(t)
		if err := st.Commit(ctx, &state.Commit{Outbox: []*state.Notification{{ID: "g#1", Kind: state.NoticeOpened, Group: "g", Created: t0}}}); err != nil {
			t.Fatal(err)
		}
		a, _ := st.GetNotice(ctx, "g#1")
		b, _ := st.GetNotice(ctx, "g#1")
		a.Claim, b.Claim = "a", "b"
		if err := st.Commit(ctx, &state.Commit{Notices: []*state.Notification{a}}); err != nil {
			t.Fatalf("first claim: %v", err)
		}
		if err := st.Commit(ctx, &state.Commit{Notices: []*state.Notification{b}}); !errors.Is(err, state.ErrConflict) {
			t.Errorf("second claim on the same version = %v, want ErrConflict", err)
		}
		got, _ := st.GetNotice(ctx, "g#1")
		if got.Claim != "a" || got.Version != 2 {
			t.Errorf("after the claims: claim %q version %d, want a, 2", got.Claim, got.Version)
		}
		if missing, err := st.GetNotice(ctx, "nope"); missing != nil || err != nil {
			t.Errorf("GetNotice(absent) = %v, %v; want nil, nil", missing, err)
		}
	})
	t.Run("queueing a notification whose id is stored, even sent, fails naming it and applies nothing", func(t *testing.T) {
		st := newStore(t)
		if err := st.Commit(ctx, &state.Commit{Outbox: []*state.Notification{{ID: "g/labels/1", Kind: state.NoticeLabels, Group: "g", Created: t0}}}); err != nil {
			t.Fatal(err)
		}
		sent, _ := st.GetNotice(ctx, "g/labels/1")
		sent.Sent = t0.Add(time.Minute)
		if err := st.Commit(ctx, &state.Commit{Notices: []*state.Notification{sent}}); err != nil {
			t.Fatalf("mark sent: %v", err)
		}
		again := &state.Commit{Series: newSeries(), Outbox: []*state.Notification{
			{ID: "g/labels/2", Kind: state.NoticeLabels, Group: "g", Created: t0},
			{ID: "g/labels/1", Kind: state.NoticeLabels, Group: "g", Created: t0.Add(time.Hour)},
		}}
		var exists *state.NoticeExists
		err := st.Commit(ctx, again)
		if !errors.As(err, &exists) || exists.ID != "g/labels/1" || !errors.Is(err, state.ErrConflict) {
			t.Fatalf("Commit queueing a stored notification = %v, want NoticeExists naming g/labels/1, a conflict", err)
		}
		if s, _ := st.GetSeries(ctx, key); s.Version != 0 {
			t.Errorf("series version %d after the failed commit, want 0: nothing applied", s.Version)
		}
		if n, _ := st.GetNotice(ctx, "g/labels/2"); n != nil {
			t.Errorf("notification g/labels/2 queued by the failed commit")
		}
		if n, _ := st.GetNotice(ctx, "g/labels/1"); n == nil || n.Version != 2 || !n.Sent.Equal(t0.Add(time.Minute)) {
			t.Errorf("stored notification after the failed commit = %+v, want it sent, version 2", n)
		}
	})
	t.Run("deliveries are versioned; digest entries are kept once per owner", func(t *testing.T) {
		st := newStore(t)
		d, err := st.GetDelivery(ctx, "m/r@1")
		if err != nil || d.Version != 0 || d.Group != "m/r@1" {
			t.Fatalf("GetDelivery(absent) = %+v, %v", d, err)
		}
		d.Slack = map[string]state.SlackMessage{"C1": {TS: "1.000100", Owner: "team"}}
		entry := state.DigestEntry{Owner: "team", Notice: state.Notification{ID: "m/r@1#1", Group: "m/r@1", Created: t0.Add(90 * time.Minute)}}
		if err := st.Commit(ctx, &state.Commit{Deliveries: []*state.Delivery{d}, Digest: []state.DigestEntry{entry, entry}}); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(ctx, &state.Commit{Deliveries: []*state.Delivery{d}}); !errors.Is(err, state.ErrConflict) {
			t.Errorf("writing a delivery on a stale version = %v, want ErrConflict", err)
		}
		got, _ := st.GetDelivery(ctx, "m/r@1")
		if got.Version != 1 || got.Slack["C1"].TS != "1.000100" {
			t.Errorf("GetDelivery = %+v", got)
		}
		day, err := st.Digest(ctx, "team", t0, t0.Add(24*time.Hour))
		if err != nil || len(day) != 1 || day[0].Notice.ID != "m/r@1#1" {
			t.Errorf("Digest(day) = %+v, %v; want the one entry", day, err)
		}
		if before, _ := st.Digest(ctx, "team", t0, t0.Add(time.Hour)); len(before) != 0 {
			t.Errorf("Digest(first hour) = %+v, want none", before)
		}
		if other, _ := st.Digest(ctx, "other", t0, t0.Add(24*time.Hour)); len(other) != 0 {
			t.Errorf("Digest(other owner) = %+v, want none", other)
		}
	})
	t.Run("audit records: chains, model ranges, no overwrite", func(t *testing.T) {
		st := newStore(t)
		var recs []audit.Record
		seq, hash := 0, ""
		for i := range 3 {
			r := audit.Record{Alert: "m/a", At: t0.Add(time.Duration(i) * time.Hour), Action: audit.Updated, Actor: "router", Model: "m", Rule: "a", ConfigDigest: "d"}
			seq, hash = r.Seal(seq, hash)
			recs = append(recs, r)
		}
		// A fraction of a second must not reorder records (in DynamoDB the
		// time is part of a sort key).
		recs[1].At = recs[1].At.Add(500 * time.Millisecond)
		seq, hash = 0, ""
		for i := range recs {
			recs[i].Hash = ""
			seq, hash = recs[i].Seal(seq, hash)
		}
		other := record("m/b", 1, t0.Add(90*time.Minute))
		if err := st.Commit(ctx, &state.Commit{Audit: append(recs, other)}); err != nil {
			t.Fatal(err)
		}
		got, err := st.AlertRecords(ctx, "m/a")
		if err != nil {
			t.Fatal(err)
		}
		if err := audit.Verify(got); err != nil || len(got) != 3 {
			t.Errorf("AlertRecords: %d records, Verify = %v", len(got), err)
		}
		ranged, err := st.ModelRecords(ctx, "m", t0.Add(time.Hour), t0.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var seen []string
		for _, r := range ranged {
			seen = append(seen, fmt.Sprintf("%s#%d", r.Alert, r.Seq))
		}
		if diff := cmp.Diff([]string{"m/a#2", "m/b#1"}, seen); diff != "" {
			t.Errorf("ModelRecords [1h, 2h) (-want +got):\n%s", diff)
		}
		if err := st.Commit(ctx, &state.Commit{Audit: []audit.Record{record("m/b", 1, t0)}}); !errors.Is(err, state.ErrConflict) {
			t.Errorf("rewriting record m/b#1 = %v, want ErrConflict (the trail is append-only)", err)
		}
	})
	t.Run("late labels find the openings their window covers, ends included, and their verdicts keep what they judged", func(t *testing.T) {
		st := newStore(t)
		start, end := t0, t0.Add(7*24*time.Hour)
		var recs []audit.Record
		for i, at := range []time.Time{start.Add(-time.Second), start, end, end.Add(time.Second)} {
			recs = append(recs, record(fmt.Sprintf("m/o%d", i), 1, at))
		}
		if err := st.Commit(ctx, &state.Commit{Audit: recs}); err != nil {
			t.Fatal(err)
		}
		// As the pipeline's reconcile asks: [start, end] is [start, end+1ns).
		got, more, err := st.LatestModelRecords(ctx, "m", start, end.Add(time.Nanosecond), pipeline.MaxLabelsRecords)
		if err != nil || more {
			t.Fatalf("LatestModelRecords: more %v, %v", more, err)
		}
		var seen []string
		for _, r := range got {
			seen = append(seen, r.Alert)
		}
		if diff := cmp.Diff([]string{"m/o1", "m/o2"}, seen); diff != "" {
			t.Errorf("openings in the window (-want +got):\n%s", diff)
		}
		a := &state.Alert{ID: "m/o1", Model: "m", Rule: "r", Status: state.Resolved, Judged: []string{"k1"}}
		a.AuditSeq, a.AuditHash = recs[1].Seq, recs[1].Hash
		c := &state.Commit{}
		verdict := audit.Record{Alert: a.ID, At: end.Add(14 * 24 * time.Hour), Action: audit.LabelsConfirmed, Actor: "router",
			Model: "m", Rule: "r", Covers: start, ConfigDigest: "d"}
		c.Record(a, verdict)
		if err := st.Commit(ctx, c); err != nil {
			t.Fatal(err)
		}
		trail, err := st.AlertRecords(ctx, a.ID)
		if err := errors.Join(err, audit.Verify(trail)); err != nil || len(trail) != 2 || !trail[1].Covers.Equal(start) {
			t.Fatalf("trail %+v, %v; want the opening and its verdict covering it", trail, err)
		}
		if stored, err := st.GetAlert(ctx, a.ID); err != nil || stored == nil || !slices.Equal(stored.Judged, []string{"k1"}) {
			t.Errorf("stored alert %+v, %v; want its verdicts kept", stored, err)
		}
	})
	t.Run("the latest of a model's records in a range, at most a limit, say whether older ones were left", func(t *testing.T) {
		st := newStore(t)
		var recs []audit.Record
		for i := range 7 {
			recs = append(recs, record(fmt.Sprintf("m/l%d", i), 1, t0.Add(time.Duration(i)*time.Hour)))
		}
		other := record("m/x", 1, t0.Add(3*time.Hour))
		other.Model = "n"
		other.Hash = ""
		other.Seal(0, "")
		if err := st.Commit(ctx, &state.Commit{Audit: append(recs, other)}); err != nil {
			t.Fatal(err)
		}
		alerts := func(rs []audit.Record) (out []string) {
			for _, r := range rs {
				out = append(out, r.Alert)
			}
			return out
		}
		for _, tc := range []struct {
			limit int
			want  []string
			more  bool
		}{
			{3, []string{"m/l3", "m/l4", "m/l5"}, true}, // the latest, oldest first
			{5, []string{"m/l1", "m/l2", "m/l3", "m/l4", "m/l5"}, false},
			{10, []string{"m/l1", "m/l2", "m/l3", "m/l4", "m/l5"}, false},
		} {
			got, more, err := st.LatestModelRecords(ctx, "m", t0.Add(time.Hour), t0.Add(6*time.Hour), tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, alerts(got)); diff != "" || more != tc.more {
				t.Errorf("LatestModelRecords [1h, 6h) limit %d: more %v, want %v; records (-want +got):\n%s", tc.limit, more, tc.more, diff)
			}
		}
	})
	t.Run("series whose parts join alike are kept apart", func(t *testing.T) {
		st := newStore(t)
		a := signal.SeriesKey{Model: "m", Kind: "drift", Metric: "psi", Feature: "x", Segment: "y"}
		b := signal.SeriesKey{Model: "m", Kind: "drift", Metric: "psi", Feature: "x/segment=y"}
		if err := st.Commit(ctx, &state.Commit{Series: &state.Series{Key: a}}); err != nil {
			t.Fatal(err)
		}
		if got, err := st.GetSeries(ctx, b); err != nil || got.Version != 0 || got.Key != b {
			t.Errorf("GetSeries(%v) = version %d, key %v, %v; want a new series", b, got.Version, got.Key, err)
		}
	})
	t.Run("quarantined events are kept with their reason", func(t *testing.T) {
		st := newStore(t)
		q := state.Quarantined{ID: "bad-1", Received: t0, Reason: "malformed JSON at line 1, column 9", Body: `{"model":`}
		if err := st.Quarantine(ctx, q); err != nil {
			t.Fatal(err)
		}
		got, err := st.QuarantinedOn(ctx, t0)
		if err != nil || len(got) != 1 || !got[0].Received.Equal(q.Received) || got[0].Reason != q.Reason || got[0].Body != q.Body {
			t.Errorf("QuarantinedOn = %+v, %v; want the event", got, err)
		}
	})
	t.Run("concurrent commits of one version: exactly one wins", func(t *testing.T) {
		st := newStore(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		for i := range 8 {
			wg.Go(func() {
				s := newSeries()
				s.Recent = []string{fmt.Sprint(i)}
				err := st.Commit(ctx, &state.Commit{EventID: fmt.Sprintf("c%d", i), EventExpires: Now.Add(time.Hour), Series: s})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, state.ErrConflict):
					conflicts++
				default:
					t.Errorf("Commit: %v", err)
				}
			})
		}
		wg.Wait()
		if wins != 1 || conflicts != 7 {
			t.Errorf("%d commits won and %d conflicted, want 1 and 7", wins, conflicts)
		}
	})
	runLifecycle(t, newStore)
	runJoins(t, newStore)
	runOnce(t, newStore)
	runWindows(t, newStore)
	runQuiets(t, newStore)
	runTimeline(t, newStore)
	runTimelineLimits(t, newStore)
}
