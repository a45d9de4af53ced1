package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Sightings records what arrives, apart from rule evaluation: each
// expected signal (so that the escalator notices when one stops) and each
// model version (the history a rollback request picks from).
type Sightings interface {
	SawSignal(ctx context.Context, watch string, at, next, now time.Time) error
	SawVersion(ctx context.Context, model, version string, at time.Time) error
}

// sightingCache spares the store a write per event: a watch is written
// again only once its signal has moved on by a twentieth of its period (at
// most 5 minutes), a version once per process. A signal that returns after
// a silence has moved on by far more, so it is always written.
type sightingCache struct {
	mu       sync.Mutex
	signals  map[string]time.Time
	versions map[string]bool
}

// maxSightingGap bounds how stale a watch's last sighting may be kept.
const maxSightingGap = 5 * time.Minute

func (p *Processor) sight(ctx context.Context, m *config.Model, ev *signal.Event) {
	if p.Sightings == nil {
		return
	}
	c := &p.sightings
	now := p.wallClock(ev.ObservedAt)
	for i := range m.Expect {
		x := &m.Expect[i]
		if x.Kind != ev.Kind || (x.Metric != "" && x.Metric != ev.Metric) {
			continue
		}
		id := state.WatchID(m.ID, x.Kind, x.Metric)
		c.mu.Lock()
		last, seen := c.signals[id]
		fresh := seen && ev.ObservedAt.Sub(last) < min(x.Every/20, maxSightingGap)
		c.mu.Unlock()
		if fresh {
			continue
		}
		if err := p.Sightings.SawSignal(ctx, id, ev.ObservedAt, ev.ObservedAt.Add(x.Every+x.Grace), now); err != nil {
			p.logWarn(ctx, "could not record a sighting", "watch", id, "error", err)
			continue
		}
		c.mu.Lock()
		if c.signals == nil {
			c.signals = map[string]time.Time{}
		}
		if ev.ObservedAt.After(c.signals[id]) {
			c.signals[id] = ev.ObservedAt
		}
		c.mu.Unlock()
	}
	if ev.Version == "" {
		return
	}
	key := m.ID + "\x00" + ev.Version
	c.mu.Lock()
	known := c.versions[key]
	c.mu.Unlock()
	if known {
		return
	}
	if err := p.Sightings.SawVersion(ctx, m.ID, ev.Version, ev.ObservedAt); err != nil {
		p.logWarn(ctx, "could not record a model version", "model", m.ID, "version", ev.Version, "error", err)
		return
	}
	c.mu.Lock()
	if c.versions == nil {
		c.versions = map[string]bool{}
	}
	c.versions[key] = true
	c.mu.Unlock()
}

func (p *Processor) logWarn(ctx context.Context, msg string, args ...any) {
	if p.Log != nil {
		p.Log.WarnContext(ctx, msg, args...)
	}
}
