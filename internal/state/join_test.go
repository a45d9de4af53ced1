package state

import (
	"testing"
	"time"
)

// A group without windows of its own has the functions': 5-second
// windows from its start, each due 2 s after it ends; a group made with
// others keeps them (and stores them, so that every join agrees).
func TestUpdateIDFollowsTheGroupsWindows(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name    string
		windows Windows
		at      time.Duration
		id      string
		due     time.Duration
	}{
		{"default, first window", Windows{}, 4 * time.Second, "g#u0", 7 * time.Second},
		{"default, second window", Windows{}, 5 * time.Second, "g#u1", 12 * time.Second},
		{"1s windows, no grace", Windows{Length: time.Second}, 1500 * time.Millisecond, "g#u1", 2 * time.Second},
		{"1s windows, 300ms grace", Windows{Length: time.Second, Grace: 300 * time.Millisecond}, 0, "g#u0", 1300 * time.Millisecond},
	} {
		g := &Group{ID: "g", Started: t0, Windows: c.windows}
		id, due := UpdateID(g, t0.Add(c.at))
		if id != c.id || !due.Equal(t0.Add(c.due)) {
			t.Errorf("%s: UpdateID at +%v = %s due %v, want %s due +%v", c.name, c.at, id, due, c.id, c.due)
		}
		length := UpdateWindow
		if c.windows.Length > 0 {
			length = c.windows.Length
		}
		if got, want := g.NextWindow(t0), t0.Add(length); !got.Equal(want) {
			t.Errorf("%s: NextWindow = %v, want %v", c.name, got, want)
		}
	}
}
