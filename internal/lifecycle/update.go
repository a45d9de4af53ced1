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
	channels := slices.DeleteFunc(slices.Clone(Notify(g, a)), func(ch string) bool { return ch == "pagerduty" })
	n := &state.Notification{ID: id, Kind: state.NoticeUpdated, Group: g.ID, Model: a.Model, Rule: a.Rule,
		Owner: a.Owner, Role: a.Role, Channels: channels, Created: created, ClaimedUntil: due,
		Joined: []string{state.Subject(a.ID)}, Joins: 1, Alert: *a.Clone()}
	// As the group is now; the sender brings it up to the group as it is
	// when the window is sent (a raise, an acknowledgement meanwhile).
	AsGroup(n, g)
	n.Members, n.Subjects = g.Size()+1, nil
	if g.Notices > 0 {
		n.After = fmt.Sprintf("%s#%d", g.ID, g.Notices)
	}
	return n
}
