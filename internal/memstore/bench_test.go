package memstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// backlog is the size of the outbox in the benchmarks: the 40k firing
// alerts of the replay whose profile had NextDue at 40% of CPU.
const backlog = 40_000

var benchT0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// busyStore returns a store holding `notices` unsent notifications, queued
// a second apart from benchT0, and `groups` open groups escalating a
// minute apart after the last of them.
func busyStore(b *testing.B, notices, groups int) *memstore.Store {
	b.Helper()
	st := memstore.New(func() time.Time { return benchT0 })
	ctx := context.Background()
	c := &state.Commit{}
	flush := func() {
		if err := st.Commit(ctx, c); err != nil {
			b.Fatal(err)
		}
		c = &state.Commit{}
	}
	for i := range notices {
		c.Outbox = append(c.Outbox, &state.Notification{ID: fmt.Sprintf("m/r%d@1#1", i), Kind: state.NoticeOpened,
			Group: fmt.Sprintf("m/r%d@1", i), Owner: "team", Channels: []string{"slack"}, Created: benchT0.Add(time.Duration(i) * time.Second)})
		if len(c.Outbox) == state.MaxCommitItems {
			flush()
		}
	}
	flush()
	last := benchT0.Add(time.Duration(notices) * time.Second)
	for i := range groups {
		c.Groups = append(c.Groups, &state.Group{ID: fmt.Sprintf("m/g%d@1", i), Model: "m", Rule: fmt.Sprintf("g%d", i), Opened: benchT0,
			Members: []string{"m/g"}, Open: 1, Lifecycle: state.Lifecycle{Owner: "team", EscalateAt: last.Add(time.Duration(i) * time.Minute)}})
		if len(c.Groups) == state.MaxCommitItems {
			flush()
		}
	}
	flush()
	return st
}

// BenchmarkNextDue is what a replay asks after every event that wrote and
// every escalator tick: when is anything next due, with 40k notifications
// waiting and 1k groups escalating.
// Target: O(log n) or better, under 1 µs at 40k.
func BenchmarkNextDue(b *testing.B) {
	st := busyStore(b, backlog, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if st.NextDue().IsZero() {
			b.Fatal("NextDue is zero with work waiting")
		}
	}
}

// BenchmarkPending is one Drain of the sender (100 at a time) with 40k
// notifications waiting, every one due.
// Target: proportional to the limit, not the outbox: under 200 µs at 40k,
// about what copying the 100 notifications out costs alone.
func BenchmarkPending(b *testing.B) {
	st := busyStore(b, backlog, 0)
	ctx := context.Background()
	due := benchT0.Add(backlog * time.Second)
	b.ReportAllocs()
	for b.Loop() {
		if p, err := st.Pending(ctx, due, 100); err != nil || len(p) != 100 {
			b.Fatal(len(p), err)
		}
	}
}

// BenchmarkDue is one escalator tick's question with 40k groups open and
// the first 200 (the escalator's limit) due.
// Target: proportional to the limit, not the groups: under 50 µs at 40k.
func BenchmarkDue(b *testing.B) {
	st := busyStore(b, 0, backlog)
	ctx := context.Background()
	now := benchT0.Add(199 * time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		if items, err := st.Due(ctx, now, 200); err != nil || len(items) != 200 {
			b.Fatal(len(items), err)
		}
	}
}

// BenchmarkReplayOutbox is a replay's store work for one firing alert
// with 40k notifications already waiting: queue its notification, ask
// what is next due, claim it, then record it sent.
// Target: independent of the backlog, under 25 µs per notification at 40k
// (three commits and the copies they make).
func BenchmarkReplayOutbox(b *testing.B) {
	st := busyStore(b, backlog, 1000)
	ctx := context.Background()
	at := benchT0.Add(backlog * time.Second)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("m/new%d@1#1", i)
		n := &state.Notification{ID: id, Kind: state.NoticeOpened, Group: fmt.Sprintf("m/new%d@1", i), Owner: "team",
			Channels: []string{"slack"}, Created: at}
		if err := st.Commit(ctx, &state.Commit{Outbox: []*state.Notification{n}}); err != nil {
			b.Fatal(err)
		}
		if st.NextDue().IsZero() {
			b.Fatal("NextDue is zero with work waiting")
		}
		n, err := st.GetNotice(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		n.Claim, n.ClaimedUntil, n.Attempts = "c", at.Add(time.Minute), 1
		if err := st.Commit(ctx, &state.Commit{Notices: []*state.Notification{n}}); err != nil {
			b.Fatal(err)
		}
		n.Version++
		n.Sent = at
		if err := st.Commit(ctx, &state.Commit{Notices: []*state.Notification{n}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDigestEntry keeps one more notification for an owner's digest
// when 40k are kept already (a replay whose warnings all go to the
// digest): the sender's commit of a digest entry.
// Target: independent of the entries kept, under 20 µs (appending the
// 1.7 KB entry to the owner's slice is most of it).
func BenchmarkDigestEntry(b *testing.B) {
	st := memstore.New(func() time.Time { return benchT0 })
	ctx := context.Background()
	entry := func(i int) state.DigestEntry {
		return state.DigestEntry{Owner: "team", At: benchT0, Notice: state.Notification{ID: fmt.Sprintf("m/r%d@1#1", i), Group: fmt.Sprintf("m/r%d@1", i),
			Created: benchT0.Add(time.Duration(i) * time.Second)}}
	}
	for i := range backlog {
		if err := st.Commit(ctx, &state.Commit{Digest: []state.DigestEntry{entry(i)}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for i := backlog; b.Loop(); i++ {
		if err := st.Commit(ctx, &state.Commit{Digest: []state.DigestEntry{entry(i)}}); err != nil {
			b.Fatal(err)
		}
	}
}
