package pipeline

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/layout"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// FuzzKeys: for any names an event may carry (at most MaxNameLength
// bytes) and any event id, with the longest model and rule names, every
// key of the records they make is within DynamoDB's limits, and two
// different series never share an alert id.
func FuzzKeys(f *testing.F) {
	f.Add("income", "region=eu", "income", "region=us", "e1")
	f.Add(strings.Repeat("/", 200), strings.Repeat("é", 100), strings.Repeat("/", 199), "", strings.Repeat("x", 3000))
	f.Add(strings.Repeat("\x01", 200), "a…b", "a%2Fb", "a/b", "…")
	model, rule := strings.Repeat("m", config.MaxNameLength), strings.Repeat("r", config.MaxNameLength)
	at := time.Date(2026, 3, 1, 0, 0, 0, 123456789, time.UTC)
	f.Fuzz(func(t *testing.T, feature, segment, feature2, segment2, id string) {
		for _, s := range []string{feature, segment, feature2, segment2} {
			if len(s) > MaxNameLength {
				t.Skip("beyond the contract: quarantined before any key is made")
			}
		}
		a := AlertID(model, rule, feature, segment)
		if len(a) > 899 {
			t.Errorf("alert id of %d bytes, want at most 899", len(a))
		}
		if b := AlertID(model, rule, feature2, segment2); (feature != feature2 || segment != segment2) && a == b {
			t.Errorf("two series share alert id %q", a)
		}
		if utf8.ValidString(feature) && utf8.ValidString(segment) && !utf8.ValidString(state.Subject(a)) {
			t.Errorf("subject %q is not valid UTF-8", state.Subject(a))
		}
		ev := EventID(id)
		r := &audit.Record{Alert: a, Model: model, Seq: 99999999, At: at}
		items := []layout.Item{key(layout.Alert(a)), key(layout.Audit(r)), key(layout.AuditIndex(r)), key(layout.Event(ev)),
			key(layout.Series(signal.SeriesKey{Model: model, Kind: "data_quality", Metric: feature2, Feature: feature, Segment: segment})),
			key(layout.Quarantine(&state.Quarantined{ID: ev, Received: at}))}
		for _, it := range items {
			if err := it.Check(); err != nil {
				t.Error(err)
			}
		}
	})
}

func key(pk, sk string) layout.Item { return layout.Item{layout.PK: pk, layout.SK: sk} }
