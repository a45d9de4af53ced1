package putevents_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/putevents"
)

// internal/bustest applies these rules too: they are pinned here, where
// they are stated, as well as through both servers' HTTP tests.

func TestBusNameIsTheNameOrTheARNsLastPart(t *testing.T) {
	for in, want := range map[string]string{
		"":       putevents.DefaultBus,
		"alerts": "alerts",
		"arn:aws:events:us-east-1:123456789012:event-bus/alerts": "alerts",
	} {
		if got := putevents.BusName(&in); got != want {
			t.Errorf("BusName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := putevents.BusName(nil); got != putevents.DefaultBus {
		t.Errorf("BusName(nil) = %q, want %q", got, putevents.DefaultBus)
	}
}

func TestCheckEntryGivesTheEntrysTimeOrNow(t *testing.T) {
	now := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	s := func(v string) *string { return &v }
	e := putevents.Entry{Source: s("ml.monitor"), DetailType: s("ML Model Signal"), Detail: s(`{"model":"m"}`)}
	if got, bad := putevents.CheckEntry(&e, now); bad != nil || !got.Equal(now) {
		t.Errorf("without Time: CheckEntry = %v, %v; want %v, nil", got, bad, now)
	}
	sent := json.Number("1772420400.25")
	e.Time = &sent
	want := time.UnixMilli(1772420400250).UTC()
	if got, bad := putevents.CheckEntry(&e, now); bad != nil || !got.Equal(want) {
		t.Errorf("with Time %s: CheckEntry = %v, %v; want %v, nil", sent, got, bad, want)
	}
	e.Detail = s(`["not", "an", "object"]`)
	if _, bad := putevents.CheckEntry(&e, now); bad == nil || bad.Code != "MalformedDetail" {
		t.Errorf("array Detail: CheckEntry rejection = %v, want MalformedDetail", bad)
	}
}
