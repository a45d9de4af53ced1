package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Timelines keeps each model's version timeline: the registry's approvals
// and the deploys (signal.VersionChange).
type Timelines interface {
	Timeline(ctx context.Context, model string) (*state.Timeline, error)
	RecordVersionChange(ctx context.Context, c signal.VersionChange) (bool, error)
}

// recordVersion adds a version event to its model's timeline. It is no
// signal: no rule sees it. A deploy also counts as a sighting of its
// version (the rollback request's history).
func (p *Processor) recordVersion(ctx context.Context, id string, raw []byte, c signal.VersionChange, err error) (Outcome, error) {
	if err != nil {
		return p.quarantine(ctx, id, raw, err.Error())
	}
	m, out, err := p.model(ctx, id, raw, c.Model)
	if m == nil {
		return out, err
	}
	out = Outcome{EventID: id, Model: m.ID}
	if p.Timelines == nil {
		out.Ignored = "this router keeps no version timeline"
		return out, nil
	}
	added, err := p.Timelines.RecordVersionChange(ctx, c)
	if errors.Is(err, state.ErrRejected) {
		// The store will refuse it however often it is retried.
		return p.quarantine(ctx, id, raw, "the store refused the version change: "+err.Error())
	}
	if err != nil {
		return out, fmt.Errorf("event %s: %w", id, err)
	}
	out.Duplicate, out.Wrote, out.Recorded = !added, added, &c
	if c.Change == signal.ChangeDeployed && p.Sightings != nil {
		if err := p.Sightings.SawVersion(ctx, m.ID, c.Version, c.At); err != nil {
			p.logWarn(ctx, "could not record a model version", "model", m.ID, "version", c.Version, "error", err)
		}
	}
	return out, nil
}

// release is what the model's timeline (nil: not kept) says of the event:
// an event without a version takes the one live (in its environment) when
// it was observed, and the alerts it opens or updates say since when that
// version was live and which was approved before it. Nil when the timeline
// has no such deploy, or the event names a version the timeline never saw
// deployed. It is read with the alerts an event touches (prefetch), so a
// quiet event reads nothing more.
func release(t *state.Timeline, ev *signal.Event) *state.Release {
	if t == nil {
		return nil
	}
	live, ok := t.Live(ev.ObservedAt, ev.Environment)
	if !ok || (ev.Version != "" && ev.Version != live.Version) {
		return nil
	}
	ev.Version = live.Version
	return t.ReleaseOf(live)
}
