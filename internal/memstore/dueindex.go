package memstore

import (
	"container/heap"
	"iter"
	"time"

	"github.com/stakeout-ml/stakeout/internal/state"
)

// The store keeps what is due in two indexes, so that NextDue, Pending
// and Due cost what they return rather than a scan of every record: a
// replay of 40k firing alerts asks NextDue after each event, and with
// scans that question alone was 40% of the replay's CPU.

// dueKey names a record the escalator looks at: its DueItem kind and its
// key in the store's map.
type dueKey struct{ kind, key string }

// dueEntry is one record in a dueIndex: a notification not sent yet, or a
// group, watch or schedule with a due time. Entries are updated in place
// whenever their record changes (never left stale), so reads need no
// version check.
type dueEntry struct {
	dueKey // kind is empty for notifications; key is the notification's id
	at     time.Time
	// seq is a notification's place in the outbox: Pending orders by due
	// time and id, and a repeated id (two in one commit) by queue order.
	seq    int
	notice *state.Notification // the stored notification, for Pending
	pos    int                 // index in the heap; -1 while out of it
}

// before is the order of an index: due time, then kind and key (as Due
// returns them), then place in the outbox.
// (Not cmp.Or: it would compare the strings of every pair, and this is
// the inner loop of every read.)
func (e *dueEntry) before(o *dueEntry) bool {
	if c := e.at.Compare(o.at); c != 0 {
		return c < 0
	}
	if e.kind != o.kind {
		return e.kind < o.kind
	}
	if e.key != o.key {
		return e.key < o.key
	}
	return e.seq < o.seq
}

// dueIndex is a binary min-heap of entries that know their position, so
// a record whose due time moves is fixed or removed in O(log n).
type dueIndex []*dueEntry

func (x dueIndex) Len() int           { return len(x) }
func (x dueIndex) Less(i, j int) bool { return x[i].before(x[j]) }
func (x dueIndex) Swap(i, j int) {
	x[i], x[j] = x[j], x[i]
	x[i].pos, x[j].pos = i, j
}
func (x *dueIndex) Push(v any) {
	e := v.(*dueEntry)
	e.pos = len(*x)
	*x = append(*x, e)
}
func (x *dueIndex) Pop() any {
	old := *x
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*x = old[:len(old)-1]
	e.pos = -1
	return e
}

// set puts e in the index due at `at`, or moves it there.
func (x *dueIndex) set(e *dueEntry, at time.Time) {
	e.at = at
	if e.pos < 0 {
		heap.Push(x, e)
		return
	}
	heap.Fix(x, e.pos)
}

// remove takes e out of the index (if it is in).
func (x *dueIndex) remove(e *dueEntry) {
	if e.pos >= 0 {
		heap.Remove(x, e.pos)
	}
}

// rebuild orders an index filled by appending (pos set to each entry's
// index), in O(n).
func (x *dueIndex) rebuild() { heap.Init(x) }

// ascend yields the entries due by `by`, earliest first. It walks the
// heap best-first, so taking k entries costs O(k log k) whatever the size
// of the index. The index must not change during the walk.
func (x dueIndex) ascend(by time.Time) iter.Seq[*dueEntry] {
	return x.walk(func(at time.Time) bool { return !at.After(by) })
}

// walk yields, in order, the entries whose due time is within — a
// predicate that, true of a time, is true of every earlier one: a heap
// node outside it has no descendant inside.
func (x dueIndex) walk(within func(time.Time) bool) iter.Seq[*dueEntry] {
	return func(yield func(*dueEntry) bool) {
		if len(x) == 0 || !within(x[0].at) {
			return
		}
		// The frontier holds the nodes whose parent was yielded, and
		// their least is the next in order.
		f := &frontier{x[0]}
		for f.Len() > 0 {
			e := heap.Pop(f).(*dueEntry)
			if !yield(e) {
				return
			}
			for _, c := range []int{2*e.pos + 1, 2*e.pos + 2} {
				if c < len(x) && within(x[c].at) {
					heap.Push(f, x[c])
				}
			}
		}
	}
}

// earliest is the earliest due time that is not zero (zero if there is
// none). A notification without a Created time is due at zero: Pending
// returns it, but NextDue has nothing to wait for.
func (x dueIndex) earliest() time.Time {
	if len(x) > 0 && !x[0].at.IsZero() {
		return x[0].at
	}
	for e := range x.walk(func(time.Time) bool { return true }) {
		if !e.at.IsZero() {
			return e.at
		}
	}
	return time.Time{}
}

// frontier is the min-heap of a walk: entries ordered like the index but
// without moving their positions in it.
type frontier []*dueEntry

func (f frontier) Len() int           { return len(f) }
func (f frontier) Less(i, j int) bool { return f[i].before(f[j]) }
func (f frontier) Swap(i, j int)      { f[i], f[j] = f[j], f[i] }
func (f *frontier) Push(v any)        { *f = append(*f, v.(*dueEntry)) }
func (f *frontier) Pop() any {
	old := *f
	e := old[len(old)-1]
	*f = old[:len(old)-1]
	return e
}

// indexNotice files an outbox notification after it was queued or
// changed: unsent, at its Due(); sent, out of the index. Its entry is kept
// either way, so that it keeps its place in the outbox.
func (s *Store) indexNotice(n *state.Notification) {
	e := s.noticeEntries[n]
	if e == nil {
		e = &dueEntry{dueKey: dueKey{key: n.ID}, seq: len(s.noticeEntries), notice: n, pos: -1}
		s.noticeEntries[n] = e
	}
	if n.Sent.IsZero() {
		s.outboxDue.set(e, n.Due())
	} else {
		s.outboxDue.remove(e)
	}
}

// NextNotice is when the earliest unsent notification is due (zero if
// none is, as for NextDue): `stakeout serve` drains the outbox then, so that an update
// goes out when its window ends.
func (s *Store) NextNotice() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outboxDue.earliest()
}

// indexDue files a group, watch or schedule at its due time; a zero time
// takes it out (never due).
func (s *Store) indexDue(kind, key string, at time.Time) {
	k := dueKey{kind, key}
	e := s.dueEntries[k]
	if at.IsZero() {
		if e != nil {
			s.escalatorDue.remove(e)
			delete(s.dueEntries, k)
		}
		return
	}
	if e == nil {
		e = &dueEntry{dueKey: k, pos: -1}
		s.dueEntries[k] = e
	}
	s.escalatorDue.set(e, at)
}

// reindex rebuilds both indexes from the records (after loading a file).
func (s *Store) reindex() {
	s.outboxDue, s.noticeEntries = nil, make(map[*state.Notification]*dueEntry, len(s.outbox))
	for _, n := range s.outbox {
		e := &dueEntry{dueKey: dueKey{key: n.ID}, seq: len(s.noticeEntries), notice: n, pos: -1}
		s.noticeEntries[n] = e
		if n.Sent.IsZero() {
			e.at, e.pos = n.Due(), len(s.outboxDue)
			s.outboxDue = append(s.outboxDue, e)
		}
	}
	s.outboxDue.rebuild()
	s.escalatorDue, s.dueEntries = nil, map[dueKey]*dueEntry{}
	add := func(kind, key string, at time.Time) {
		if !at.IsZero() {
			e := &dueEntry{dueKey: dueKey{kind, key}, at: at, pos: len(s.escalatorDue)}
			s.dueEntries[e.dueKey] = e
			s.escalatorDue = append(s.escalatorDue, e)
		}
	}
	for k, g := range s.groups {
		add(state.DueGroup, k, g.Due())
	}
	for k, w := range s.watches {
		add(state.DueWatch, k, w.Next)
	}
	for k, sc := range s.schedules {
		add(state.DueSchedule, k, sc.Next)
	}
	s.escalatorDue.rebuild()
}
