package memstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/stakeout-ml/stakeout/internal/layout"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Timeline returns a copy of the model's version timeline (empty, version
// 0, when it has none).
func (s *Store) Timeline(_ context.Context, model string) (*state.Timeline, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timeline(model), nil
}

func (s *Store) timeline(model string) *state.Timeline {
	t := s.timelines[model]
	if t == nil {
		return &state.Timeline{Model: model}
	}
	c := *t
	c.Entries = slices.Clone(t.Entries)
	return &c
}

// RecordVersionChange adds c to its model's timeline; false when the
// timeline held it already.
func (s *Store) RecordVersionChange(_ context.Context, c signal.VersionChange) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.timeline(c.Model)
	if !t.Add(c) {
		return false, nil
	}
	if err := check(layout.TimelineItem(t)); err != nil {
		return false, fmt.Errorf("record version %s of %s: %w", c.Version, c.Model, err)
	}
	t.Version++
	s.putTimeline(t)
	return true, nil
}

// putTimeline keeps t (the caller holds the lock, or owns the store).
func (s *Store) putTimeline(t *state.Timeline) {
	if s.timelines == nil {
		s.timelines = map[string]*state.Timeline{}
	}
	s.timelines[t.Model] = t
}
