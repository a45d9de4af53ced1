package layout

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

var at = time.Date(2026, 3, 1, 2, 0, 0, 123456789, time.UTC)

// Keys of ids and names of any length stay within DynamoDB's limits.
func TestKeysStayWithinLimits(t *testing.T) {
	huge := strings.Repeat("/", 5000)
	r := &audit.Record{Alert: huge, Model: huge, Seq: 12345678, At: at}
	q := &state.Quarantined{ID: huge, Received: at}
	n := &state.Notification{ID: huge, Created: at}
	e := &state.DigestEntry{Owner: huge, At: at, Notice: *n}
	keys := map[string][2]string{}
	keys["series"] = pair(Series(signal.SeriesKey{Model: huge, Kind: huge, Metric: huge, Feature: huge, Segment: huge}))
	keys["alert"] = pair(Alert(huge))
	keys["group"] = pair(Group(huge, huge))
	keys["inhibitors"] = pair(Inhibitors(huge))
	keys["notice"] = pair(Notice(huge))
	keys["delivery"] = pair(Delivery(huge))
	keys["event"] = pair(Event(huge))
	keys["watch"] = pair(Watch(huge))
	keys["schedule"] = pair(Schedule(huge))
	keys["model version"] = pair(ModelVersion(huge, huge))
	keys["audit"] = pair(Audit(r))
	keys["audit index"] = pair(AuditIndex(r))
	keys["digest"] = pair(Digest(e))
	keys["quarantine"] = pair(Quarantine(q))
	keys["open index"] = pair(OpenGroups, OpenIndex(huge, huge))
	keys["pending index"] = pair(Pending, PendingSK(n))
	for name, k := range keys {
		if err := (Item{PK: k[0], SK: k[1]}).Check(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func pair(pk, sk string) [2]string { return [2]string{pk, sk} }

// Keys that fitted before keys were bounded are what they were: records
// already stored keep their keys.
func TestKeysThatFitAreUnchanged(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{first(Series(signal.SeriesKey{Model: "m", Kind: "drift", Metric: "psi", Feature: "a/b"})), "SERIES#m/drift/psi/a%2Fb/"},
		{first(Alert("m/r/feature=income")), "ALERT#m/r/feature=income"},
		{first(Group("m", "r")), "GROUP#m/r"},
		{second(ModelVersion("m", "v1")), "VERSION#v1"},
		{second(Audit(&audit.Record{Alert: "m/r", Seq: 3})), "AUDIT#00000003"},
		{second(AuditIndex(&audit.Record{Alert: "m/r", Seq: 3, At: at})), "2026-03-01T02:00:00.123456789Z#m/r#00000003"},
		{second(Quarantine(&state.Quarantined{ID: "e1", Received: at})), "2026-03-01T02:00:00.123456789Z#e1"},
		{DueSK(at, state.DueGroup, "m/r"), "2026-03-01T02:00:00.123456789Z#group#m/r"},
	} {
		if c.got != c.want {
			t.Errorf("key %q, want %q", c.got, c.want)
		}
	}
}

func first(pk, _ string) string  { return pk }
func second(_, sk string) string { return sk }

func TestParseDueReadsDueSK(t *testing.T) {
	d, ok := ParseDue(DueSK(at, state.DueWatch, "m/drift/psi#x"))
	if !ok || d.Kind != state.DueWatch || d.Key != "m/drift/psi#x" || !d.At.Equal(at) {
		t.Errorf("ParseDue = %+v, %v", d, ok)
	}
	if _, ok := ParseDue("garbage"); ok {
		t.Error("ParseDue(garbage) is ok")
	}
}

// Check words its refusals as DynamoDB's ValidationException does, and
// they are refusals for good.
func TestCheckSpeaksDynamoDB(t *testing.T) {
	for want, it := range map[string]Item{
		"Size of hashkey has exceeded the maximum size limit of2048 bytes":                      {PK: strings.Repeat("p", 2049), SK: "s"},
		"Aggregated size of all range keys has exceeded the size limit of 1024 bytes":           {PK: "p", SK: strings.Repeat("s", 1025)},
		"Size limit exceeded for Index Key GSI1SK Actual Size: 1025 bytes Max Size: 1024 bytes": {PK: "p", SK: "s", GSI1PK: "m", GSI1SK: strings.Repeat("s", 1025)},
		"Size limit exceeded for Index Key GSI2PK Actual Size: 2049 bytes Max Size: 2048 bytes": {PK: "p", SK: "s", GSI2PK: strings.Repeat("s", 2049), GSI2SK: "x"},
		"Item size has exceeded the maximum allowed size (409601 bytes, more than 409600)":      {PK: "p", SK: "s", Data: strings.Repeat("d", MaxItem-1-1-2-2-4+1)},
	} {
		err := it.Check()
		if !errors.Is(err, state.ErrRejected) || !strings.Contains(err.Error(), "ValidationException: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("Check = %v, want a rejection saying %q", err, want)
		}
	}
}
