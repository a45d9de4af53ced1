package drill

import (
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Outcomes of a drill.
const (
	Passed     = "passed"
	Unanswered = "unanswered"
	Waiting    = "waiting"
)

// Outcome is one drill as its audit trail tells it.
type Outcome struct {
	Group     string    `json:"group"`
	Owner     string    `json:"owner"`
	Started   time.Time `json:"started"`
	StartedBy string    `json:"started_by"`
	Notify    []string  `json:"notify"`
	Severity  string    `json:"severity"`
	AckWithin string    `json:"ack_within,omitempty"`
	// Result is Passed, Unanswered or Waiting (no outcome recorded yet).
	Result string `json:"result"`
	// By is who acknowledged (Passed, or Unanswered when too late), and
	// After how long after the start.
	By     string `json:"by,omitempty"`
	After  string `json:"after,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Outcomes reads the drills off audit records of state.DrillModel, in
// the order they started.
func Outcomes(recs []audit.Record) []Outcome {
	var out []Outcome
	at := map[string]int{}
	for _, r := range recs {
		if !state.IsDrill(r.Model) || r.Group == "" {
			continue
		}
		i, ok := at[r.Group]
		if !ok && r.Action != audit.Opened {
			continue // a drill started before the range
		}
		switch r.Action {
		case audit.Opened:
			if ok {
				continue
			}
			at[r.Group] = len(out)
			out = append(out, Outcome{Group: r.Group, Owner: r.Owner, Started: r.At, StartedBy: r.Actor, Notify: slices.Clone(r.Notify),
				Severity: r.Severity, AckWithin: ackWithin(r.Detail), Result: Waiting})
		case audit.DrillAcknowledged, audit.DrillUnanswered:
			o := &out[i]
			o.Result, o.Detail = Passed, r.Detail
			if r.Action == audit.DrillUnanswered {
				o.Result = Unanswered
			}
			if r.Actor != "escalator" {
				o.By, o.After = r.Actor, duration.Format(r.At.Sub(o.Started).Round(time.Second))
			}
		}
	}
	return out
}

// ackWithin is the window the opening's detail names ("… ack within 15m").
func ackWithin(detail string) string {
	_, w, ok := strings.Cut(detail, "ack within ")
	if !ok {
		return ""
	}
	return strings.Fields(w + " ")[0]
}
