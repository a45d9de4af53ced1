package series

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func day(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }

func TestAddKeepsTimeOrderAndDepth(t *testing.T) {
	var s State
	for _, d := range []int{1, 3, 2, 5, 4} {
		s.Add(Observation{At: day(d), Value: float64(d)}, 3)
	}
	if diff := cmp.Diff([]float64{3, 4, 5}, s.Last(10)); diff != "" {
		t.Errorf("Last(10) (-want +got):\n%s", diff)
	}
}

func TestDepthZeroKeepsNothing(t *testing.T) {
	var s State
	s.Add(Observation{At: day(1), Value: 1}, 0)
	if s.Len() != 0 {
		t.Errorf("Len() = %d, want 0", s.Len())
	}
}

func TestSlopePerDay(t *testing.T) {
	var s State
	for d := range 10 {
		s.Add(Observation{At: day(d), Value: 0.8 - 0.01*float64(d)}, 10)
	}
	if got := s.Slope(5); math.Abs(got-(-0.01)) > 1e-12 {
		t.Errorf("Slope(5) = %v, want -0.01", got)
	}
	var one State
	one.Add(Observation{At: day(0), Value: 1}, 5)
	if got := one.Slope(5); got != 0 {
		t.Errorf("Slope of one observation = %v, want 0", got)
	}
}

func TestStreaks(t *testing.T) {
	var s State
	s.Breach("r", day(1))
	got, changed := s.Breach("r", day(2))
	if diff := cmp.Diff(Streak{Count: 2, Since: day(1), Last: day(2)}, got); diff != "" || !changed {
		t.Errorf("Breach (-want +got):\n%s", diff)
	}
	if _, changed := s.Breach("r", day(2)); changed {
		t.Errorf("the same breach delivered twice changed the streak")
	}
	if _, changed := s.Breach("r", day(1)); changed {
		t.Errorf("a late breach changed the streak")
	}
	if s.Clear("r", day(1)) {
		t.Errorf("a late clean reading ended the streak")
	}
	if !s.Clear("r", day(3)) {
		t.Errorf("a clean reading after the streak did not end it")
	}
	if got, _ := s.Breach("r", day(4)); got.Count != 1 || !got.Since.Equal(day(4)) {
		t.Errorf("Breach after Clear = %+v, want count 1 since day 4", got)
	}
}

func TestAddSkipsRedeliveredObservation(t *testing.T) {
	var s State
	if !s.Add(Observation{At: day(1), Value: 1}, 5) || s.Add(Observation{At: day(1), Value: 1}, 5) {
		t.Errorf("Add of the same observation twice: want true then false")
	}
	if !s.Add(Observation{At: day(1), Value: 2}, 5) || s.Len() != 2 {
		t.Errorf("a different value at the same time must be kept (Len = %d)", s.Len())
	}
}

// The streaks are stored in the series' item as a JSON object by rule
// name: states written before they were kept in a slice must read back,
// and states written now must read as before.
func TestStreaksJSONIsAnObjectByRule(t *testing.T) {
	var s State
	s.Breach("zeta", day(1))
	s.Breach("alpha", day(2))
	s.Breach("alpha", day(3))
	got, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(map[string]any{"streaks": map[string]Streak{
		"alpha": {Count: 2, Since: day(2), Last: day(3)},
		"zeta":  {Count: 1, Since: day(1), Last: day(1)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("json.Marshal(state) = %s, want %s", got, want)
	}
	var back State
	if err := json.Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	for _, rule := range []string{"alpha", "zeta", "other"} {
		if diff := cmp.Diff(s.Streak(rule), back.Streak(rule)); diff != "" {
			t.Errorf("Streak(%q) after a round trip (-want +got):\n%s", rule, diff)
		}
	}
	if empty, _ := json.Marshal(&State{}); string(empty) != "{}" {
		t.Errorf("json.Marshal(empty state) = %s, want {}", empty)
	}
}
