package setup

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/router"
)

// records reads an alert's audit trail from the embedded or the table store.
type records interface {
	AlertRecords(ctx context.Context, id string) ([]audit.Record, error)
}

// Serve's dependencies on each store: an opened alert is posted to Slack
// (SLACK_BOT_TOKEN at STAKEOUT_SLACK_API_URL); its page, with no routing
// key set, is printed to the log, as are lifecycle events with no bus —
// each said once at start; the trail is keyed with the local key.
func TestLocalDeliversToSlackAndPrintsWhatHasNoCredentials(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) (LocalOptions, records)
	}{
		{"embedded", func(t *testing.T) (LocalOptions, records) {
			st := memstore.New(time.Now)
			return LocalOptions{Embedded: st}, st
		}},
		{"table", func(t *testing.T) (LocalOptions, records) {
			table := dynamotest.TableName(t)
			if err := dynamostore.CreateTable(context.Background(), dynamotest.Client(t), table); err != nil {
				t.Fatal(err)
			}
			// DynamoDB Local takes any credentials: placeholders.
			t.Setenv("AWS_REGION", "us-east-1")
			t.Setenv("AWS_ACCESS_KEY_ID", "local")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
			return LocalOptions{Table: table, Endpoint: dynamotest.Endpoint()}, dynamostore.New(dynamotest.Client(t), table, time.Now)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, st := tc.store(t)
			slack := notifytest.NewSlack(t, notifytest.WithChannels("C0CREDITDS", "C0FRAUDDSX", "C0MLPLATFM"))
			env := map[string]string{EnvLocalSlackToken: slack.Token(), EnvLocalSlackAPI: slack.URL(), EnvAuditKey: localKey}
			var logs bytes.Buffer
			o.Dir, o.Getenv, o.Log = "../..", func(k string) string { return env[k] }, slog.New(slog.NewJSONHandler(&logs, nil))
			d, err := Local(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile("../../testdata/events/envelope/credit-approval-accuracy-drop.json")
			if err != nil {
				t.Fatal(err)
			}
			h := router.New(d.Config, d.Store, d.Sender, d.Metrics, d.Log, time.Now)
			if err := h.Handle(context.Background(), raw); err != nil {
				t.Fatal(err)
			}
			for _, r := range slack.Rejections() {
				t.Errorf("Slack refused: %s", r)
			}
			if msgs := slack.Messages("C0CREDITDS"); len(msgs) != 1 || !strings.Contains(string(msgs[0].Blocks), "accuracy-loss") {
				t.Errorf("credit-ds' channel has %d messages, want one about accuracy-loss", len(msgs))
			}
			out := logs.String()
			for line, want := range map[string]int{
				`"msg":"no PagerDuty routing key for some owners`: 1, `"msg":"no event bus`: 1, `"msg":"no Slack bot token`: 0,
				`"msg":"pagerduty event (printed, not sent)","action":"trigger","routing_key":"stakeout/pagerduty/credit-ds"`: 1,
				`"msg":"lifecycle event (printed, not published)","detail_type":"Alert Opened"`:                               1,
			} {
				if got := strings.Count(out, line); got != want {
					t.Errorf("%d lines with %s, want %d:\n%s", got, line, want, out)
				}
			}
			if strings.Contains(out, slack.Token()) {
				t.Error("the Slack token is in the log")
			}
			checkKeyed(t, st, "credit-approval/accuracy-loss")
		})
	}
}

// checkKeyed fails unless alert's trail is vouched for, whole, by the
// local key.
func checkKeyed(t *testing.T, st records, alert string) {
	t.Helper()
	recs, err := st.AlertRecords(context.Background(), alert)
	if err != nil || len(recs) == 0 {
		t.Fatalf("%s's trail: %d records, %v", alert, len(recs), err)
	}
	k, err := audit.ParseLocalKey(localKey)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Check(context.Background(), recs, audit.Keys{k.KeyID(): k})
	if err != nil || rep.Unkeyed() != 0 {
		t.Errorf("Check = %+v, %v; want every record vouched for by the local key", rep, err)
	}
}

// The table may hold the functions' keyed trail: serve on it needs the
// key, as they do. The embedded store without one is unkeyed, said.
func TestLocalAuditKey(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	none := func(string) string { return "" }
	_, err := Local(context.Background(), LocalOptions{Dir: "../..", Table: "t", Endpoint: "http://127.0.0.1:1", Getenv: none, Log: log})
	if err == nil || !strings.Contains(err.Error(), EnvAuditKey) {
		t.Errorf("Local on a table without a key = %v, want an error naming %s", err, EnvAuditKey)
	}
	if _, err := Local(context.Background(), LocalOptions{Dir: "../..", Embedded: memstore.New(time.Now), Getenv: none, Log: log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"msg":"audit chain unkeyed`) {
		t.Errorf("an unkeyed embedded store not said:\n%s", logs.String())
	}
}

func TestLocalNeedsOneStore(t *testing.T) {
	for _, o := range []LocalOptions{{Dir: "../.."}, {Dir: "../..", Embedded: memstore.New(time.Now), Table: "t"}} {
		if _, err := Local(context.Background(), o); err == nil || !strings.Contains(err.Error(), "one store") {
			t.Errorf("Local(%+v) = %v, want an error asking for one store", o, err)
		}
	}
}
