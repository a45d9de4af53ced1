package state

import (
	"fmt"
	"time"
)

// Join adds an alert to its rule's open group without rewriting the
// group: stores apply it commutatively — the group's open count, total and
// member list grow, the group's version does not move — so that any number
// of alerts joining one group at once (two thousand drifting features)
// never conflict with each other. It fails the commit (ErrConflict) only
// when the group changed otherwise since it was read: replaced, closed,
// acknowledged, escalated; or when it names the alert (Named) and the
// group's names filled up meanwhile (MaxMembers): read again, the join
// only counts.
type Join struct {
	Model, Rule string
	Group       string
	// Version is the group's version as read.
	Version int64
	Alert   string
	// Member: the alert joined the group before (it reopened in the group
	// it belonged to); only the open count grows.
	Member bool
	// Named: a new member named in the group's Members, as the group read
	// names fewer than MaxMembers; stores condition it on the group still
	// naming fewer. A new member past them is only counted (Total).
	Named bool
	// Size is the group's Size as read: a group stored before it kept a
	// total starts counting from it.
	Size int
	// Update is the group's update notification of the join's window
	// (UpdateID): the first join of the window writes it, every join adds
	// one to its Joins and its subjects (Named joins') to its Joined.
	Update *Notification
}

// UpdateWindow is how long a group's updates gather before they go out
// as one: one edit of the group's Slack message and one thread reply per
// window, whatever the burst (Slack allows about one message a second per
// channel).
const UpdateWindow = 5 * time.Second

// updateGrace keeps a window's notification unsent for a moment after the
// window ends, so that a join from a container whose clock is a little
// behind still finds it open.
const updateGrace = 2 * time.Second

// Windows are a group's update windows: how long each gathers (Length)
// and how long its notification stays unsent after it ends (Grace). The
// zero value is the default, UpdateWindow and a 2-second grace, which
// the functions use. `stakeout serve --update-window` opens groups with
// others, which they keep: every join of a group agrees on its windows.
type Windows struct {
	Length time.Duration `json:"length"`
	Grace  time.Duration `json:"grace"`
}

// windows are g's update windows, the default when it has none of its own.
func (g *Group) windows() Windows {
	if g.Windows.Length <= 0 {
		return Windows{Length: UpdateWindow, Grace: updateGrace}
	}
	return g.Windows
}

// NextWindow is `at` moved one of group g's update windows on.
func (g *Group) NextWindow(at time.Time) time.Time { return at.Add(g.windows().Length) }

// UpdateID is the id of group g's update notification for the window
// that holds `at`, and when that notification is due. Windows count from
// the group's start (Started), so a burst of d seconds takes ⌈d/5⌉ of
// them (by default: see Windows).
func UpdateID(g *Group, at time.Time) (string, time.Time) {
	start := g.Started
	if start.IsZero() || at.Before(start) {
		start = time.Unix(0, 0)
	}
	w := g.windows()
	k := int64(at.Sub(start) / w.Length)
	return fmt.Sprintf("%s#u%d", g.ID, k), start.Add(time.Duration(k+1) * w.Length).Add(w.Grace).UTC()
}

// WindowClosed is the conflict of a join whose update window was taken by
// a sender already (claimed, or sent): what joins now goes in a later
// window (Journal.Closed), or it would never be told.
type WindowClosed struct{ ID string }

func (e *WindowClosed) Error() string {
	return "update " + e.ID + " is being sent or was: " + ErrConflict.Error()
}

// Is makes a closed window a conflict: the event is read and decided again.
func (e *WindowClosed) Is(target error) bool { return target == ErrConflict }

// GroupKey names a model's current group of a rule.
type GroupKey struct{ Model, Rule string }

// Keys are records to read at once.
type Keys struct {
	Alerts     []string
	Groups     []GroupKey
	Inhibitors string // a model's, or ""
	Quiets     string // a model's windows made from Slack, or ""
	Timeline   string // a model's version timeline, or ""
}

// Records are what Keys read: absent alerts and groups map to nil.
type Records struct {
	Alerts     map[string]*Alert
	Groups     map[GroupKey]*Group
	Inhibitors *Inhibitors
	Quiets     *Quiets
	Timeline   *Timeline
}
