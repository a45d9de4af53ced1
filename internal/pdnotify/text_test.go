package pdnotify

import (
	"testing"

	"github.com/PagerDuty/go-pagerduty"
)

// A trigger reads as its severity, source and class, summary and links;
// an acknowledge carries no payload and reads as nothing.
func TestTextRendersTheTriggersPayload(t *testing.T) {
	trigger := &pagerduty.V2Event{Action: "trigger", Payload: &pagerduty.V2Payload{Severity: "critical", Source: "stakeout/m", Class: "drift/psi",
		Summary: "[m] psi: 0.4"}, Links: []any{map[string]string{"href": "https://example.com/runbook", "text": "Runbook"}}}
	want := "severity critical · source stakeout/m · class drift/psi\nsummary: [m] psi: 0.4\nlink: Runbook https://example.com/runbook"
	if got := Text(trigger); got != want {
		t.Errorf("Text(trigger) =\n%s\nwant\n%s", got, want)
	}
	if got := Text(&pagerduty.V2Event{Action: "acknowledge"}); got != "" {
		t.Errorf("Text(acknowledge) = %q, want empty", got)
	}
}
