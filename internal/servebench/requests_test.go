package servebench

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Both systems get the same alerts: one per feature, in requests of the
// batch size, stakeout's as PutEvents entries whose Detail is a native
// event, Alertmanager's as API v2 alerts with the same feature label.
func TestBothSystemsGetTheSameAlertsInBatches(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	pe, am := putEvents(25, 10, at), amAlerts(25, 10, at)
	if len(pe) != 3 || len(am) != 3 || pe[2].alerts != 5 || am[2].alerts != 5 {
		t.Fatalf("25 alerts by 10: %d and %d requests, last of %d and %d alerts; want 3 requests, the last of 5", len(pe), len(am), pe[2].alerts, am[2].alerts)
	}
	var peFeatures, amFeatures []string
	for i := range pe {
		var body struct {
			Entries []struct{ Source, DetailType, Detail string }
		}
		if err := json.Unmarshal(pe[i].body, &body); err != nil {
			t.Fatal(err)
		}
		for _, e := range body.Entries {
			var d struct {
				Model, Kind, Metric, Feature string
				Value                        float64
				ObservedAt                   time.Time `json:"observed_at"`
			}
			if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
				t.Fatalf("entry's Detail: %v", err)
			}
			if e.DetailType != "ML Model Signal" || d.Model != benchModel || d.Kind != "freshness" || d.Metric != "lag_seconds" || d.Value <= 129600 || !d.ObservedAt.Equal(at) {
				t.Errorf("entry %+v, detail %+v: not a firing scoring-lag reading of %s at %s", e, d, benchModel, at)
			}
			peFeatures = append(peFeatures, d.Feature)
		}
		var alerts []struct{ Labels map[string]string }
		if err := json.Unmarshal(am[i].body, &alerts); err != nil {
			t.Fatal(err)
		}
		for _, a := range alerts {
			amFeatures = append(amFeatures, a.Labels["feature"])
		}
	}
	if strings.Join(peFeatures, ",") != strings.Join(amFeatures, ",") || peFeatures[0] != "f00001" || peFeatures[24] != "f00025" {
		t.Errorf("features differ or are not f00001…f00025:\nstakeout:     %v\nalertmanager: %v", peFeatures, amFeatures)
	}
}

// A PutEvents answer counts the entries EventBridge did not fail; a failed
// entry is an error naming its code.
func TestPutEventsAnswerCountsAcceptedEntries(t *testing.T) {
	ok := &http.Response{StatusCode: http.StatusOK, Status: "200 OK"}
	n, err := putEventsAnswer(ok, []byte(`{"FailedEntryCount":0,"Entries":[{"EventId":"a"},{"EventId":"b"}]}`), 2)
	if n != 2 || err != nil {
		t.Errorf("two accepted: %d, %v", n, err)
	}
	n, err = putEventsAnswer(ok, []byte(`{"FailedEntryCount":1,"Entries":[{"EventId":"a"},{"ErrorCode":"MalformedDetail","ErrorMessage":"Detail is malformed."}]}`), 2)
	if n != 1 || err == nil || !strings.Contains(err.Error(), "MalformedDetail") {
		t.Errorf("one failed: %d, %v; want 1 and an error naming MalformedDetail", n, err)
	}
	if n, err = putEventsAnswer(&http.Response{StatusCode: http.StatusBadRequest, Status: "400 Bad Request"}, []byte(`{"__type":"ValidationException"}`), 2); n != 0 || err == nil {
		t.Errorf("a 400: %d, %v; want 0 and an error", n, err)
	}
	if n, err = putEventsAnswer(ok, []byte(`{"FailedEntryCount":0,"Entries":[{"EventId":"a"}]}`), 2); n != 0 || err == nil {
		t.Errorf("one answer for two entries: %d, %v; want 0 and an error", n, err)
	}
}
