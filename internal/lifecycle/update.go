package lifecycle

import (
	"fmt"
	"slices"
	"time"

	"github.com/stakeout-ml/stakeout/internal/state"
)

// Update builds the update notification of the window in which alert a
// joins group g at `created`: one for every alert that joins in the same
// window (state.Join adds their subjects), due when the window ends. It
// follows the group's latest notification on every channel, and never
// pages: an update is for the thread.
func Update(g *state.Group, a *state.Alert, created time.Time) *state.Notification {
	id, due := state.UpdateID(g, created)
	owner, role := g.Owner, g.Role
	if owner == "" {
		owner, role = a.Owner, a.Role
	}
	channels := slices.DeleteFunc(slices.Clone(Notify(g, a)), func(ch string) bool { return ch == "pagerduty" })
	n := &state.Notification{ID: id, Kind: state.NoticeUpdated, Group: g.ID, Model: a.Model, Rule: a.Rule,
		Owner: owner, Role: role, Channels: channels, Members: g.Size() + 1, Created: created,
		ClaimedUntil: due, Lifecycle: g.Lifecycle, Joined: []string{state.Subject(a.ID)}, Joins: 1, Alert: *a.Clone()}
	n.Alert.Severity = Severity(g, a)
	if g.Notices > 0 {
		n.After = fmt.Sprintf("%s#%d", g.ID, g.Notices)
	}
	return n
}
