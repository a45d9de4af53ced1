package series

import (
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
	got := s.Breach("r", day(2))
	if diff := cmp.Diff(Streak{Count: 2, Since: day(1)}, got); diff != "" {
		t.Errorf("Breach (-want +got):\n%s", diff)
	}
	s.Clear("r")
	if got := s.Breach("r", day(3)); got.Count != 1 || !got.Since.Equal(day(3)) {
		t.Errorf("Breach after Clear = %+v, want count 1 since day 3", got)
	}
}
