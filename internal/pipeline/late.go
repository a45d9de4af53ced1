package pipeline

import (
	"fmt"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

// lateness says why ev is late for its series ("" when it is not): it is
// no newer than the series' latest reading (an event delivered out of
// order, or again under another id). Such a reading still enters the
// history that last(n) and slope(n) read, but says nothing about now.
// stale is set when it can change nothing at all: it is older than every
// reading the series keeps (its window of history), or the model's rules
// keep no history.
func lateness(m *config.Model, ev *signal.Event, st *series.State) (reason string, stale bool) {
	if !st.Late(ev.ObservedAt) {
		return "", false
	}
	at, latest := utc(ev.ObservedAt), utc(st.Latest)
	switch {
	case m.HistoryDepth == 0:
		return fmt.Sprintf("late: observed_at %s is no newer than the series' latest reading %s, and the model's rules keep no history: it changes nothing",
			at, latest), true
	case st.Len() >= m.HistoryDepth && ev.ObservedAt.Before(st.Observations[0].At):
		return fmt.Sprintf("late: observed_at %s is older than every reading the series keeps (the oldest is %s, the latest %s): it changes nothing",
			at, utc(st.Observations[0].At), latest), true
	}
	return fmt.Sprintf("late: observed_at %s is no newer than the series' latest reading %s: kept in its history for last(n) and slope(n), it opens, resolves and counts toward for: nothing",
		at, latest), false
}

func utc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
