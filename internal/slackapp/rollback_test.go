package slackapp_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/layout"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

func rollbackDay(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }

// credit-approval's registry history when the alert opens: 2026.01.3 and
// 2026.01.9 approved and deployed in turn, then 2026.02.1 live in prod, so
// the alert's previous approved version is 2026.01.9.
var rollbackHistory = []signal.VersionChange{
	{Model: "credit-approval", Version: "2026.01.3", At: rollbackDay(1, 19), Change: signal.ChangeRegistry, Approval: signal.Approved},
	{Model: "credit-approval", Version: "2026.01.3", At: rollbackDay(1, 20), Change: signal.ChangeDeployed, Environment: "prod"},
	{Model: "credit-approval", Version: "2026.01.9", At: rollbackDay(1, 25), Change: signal.ChangeRegistry, Approval: signal.Approved},
	{Model: "credit-approval", Version: "2026.01.9", At: rollbackDay(1, 26), Change: signal.ChangeDeployed, Environment: "prod"},
	{Model: "credit-approval", Version: "2026.02.1", At: rollbackDay(2, 10), Change: signal.ChangeDeployed, Environment: "prod"},
}

// rejected is the registry rejecting version a minute before the click,
// after the alert opened.
func rejected(version string) signal.VersionChange {
	return signal.VersionChange{Model: "credit-approval", Version: version, At: t0.Add(-time.Minute), Change: signal.ChangeRegistry, Approval: "Rejected"}
}

func memEnv(t *testing.T, history []signal.VersionChange) *env {
	t.Helper()
	return newEnvWith(t, func(e *env) testStore { return memstore.New(e.clock) }, history)
}

// previousAtOpening checks that the alert opened naming want as its
// rollback target: what the message offered.
func previousAtOpening(t *testing.T, e *env, want string) {
	t.Helper()
	a, err := e.st.GetAlert(context.Background(), e.alert)
	if err != nil || a == nil || a.Release == nil || a.Release.Previous != want || a.ModelVersion != "2026.02.1" {
		t.Fatalf("alert %+v (%v): want version 2026.02.1 with previous approved %s", a, err, want)
	}
}

// The version the alert named when it opened was rejected since: the
// Rollback button asks for the version approved before the live one now,
// and the request and its audit record say why it is not the one shown.
func TestRollbackSkipsAVersionRejectedSinceTheAlertOpened(t *testing.T) {
	e := memEnv(t, rollbackHistory)
	previousAtOpening(t, e, "2026.01.9")
	if _, err := e.st.RecordVersionChange(context.Background(), rejected("2026.01.9")); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot()
	e.clickOK(press{user: credit1, name: "ana", action: slacknotify.ActionMore, option: slacknotify.OptionRollback})
	n := e.notice(before)
	if n.Request == nil || n.Request.Type != state.RequestRollback || n.Request.Target != "2026.01.3" || n.Request.Version != "2026.02.1" {
		t.Fatalf("rollback request %+v: want from 2026.02.1 to 2026.01.3 (2026.01.9 was rejected since the alert opened)", n.Request)
	}
	const why = "2026.01.9 was rejected since the alert opened"
	if !strings.Contains(n.Lifecycle.Note, why) {
		t.Errorf("the request's note %q does not say %q", n.Lifecycle.Note, why)
	}
	recs := e.newRecords(before)
	if len(recs) == 0 || recs[0].Action != audit.RollbackRequested || !strings.Contains(recs[0].Detail, "to version 2026.01.3") || !strings.Contains(recs[0].Detail, why) {
		t.Errorf("new audit records %+v: want rollback-requested to 2026.01.3 saying %q", recs, why)
	}
}

// Still approved: the target the alert showed, with nothing to explain.
func TestRollbackKeepsTheTargetTheAlertShowedWhileApproved(t *testing.T) {
	e := memEnv(t, rollbackHistory)
	before := e.snapshot()
	e.clickOK(press{user: credit1, action: slacknotify.ActionMore, option: slacknotify.OptionRollback})
	n := e.notice(before)
	if n.Request == nil || n.Request.Target != "2026.01.9" || strings.Contains(n.Lifecycle.Note, "since the alert opened") {
		t.Errorf("rollback request %+v, note %q: want to 2026.01.9 and no note of a change", n.Request, n.Lifecycle.Note)
	}
}

// No version the registry still approves is left before the live one:
// nothing is requested, and the user is told why — never a rollback to
// the revoked version, nor one the pipeline picks blind.
func TestRollbackRefusedWhenNoApprovedVersionIsLeft(t *testing.T) {
	e := memEnv(t, rollbackHistory[2:])
	previousAtOpening(t, e, "2026.01.9")
	if _, err := e.st.RecordVersionChange(context.Background(), rejected("2026.01.9")); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot()
	code, resp := e.click(press{user: credit1, action: slacknotify.ActionMore, option: slacknotify.OptionRollback})
	refused(t, code, resp, "2026.01.9 was rejected since the alert opened")
	refused(t, code, resp, "no other version approved before 2026.02.1")
	e.unchanged(before)
}

// failTimelineReads is a DynamoDB client option: while on is set, reading
// model's version timeline fails as a throttled DynamoDB does once the
// SDK's retries are spent.
func failTimelineReads(model string, on *atomic.Bool) func(*dynamodb.Options) {
	pk, sk := layout.Timeline(model)
	fail := middleware.InitializeMiddlewareFunc("FailTimelineReads", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if get, ok := in.Parameters.(*dynamodb.GetItemInput); ok && on.Load() {
			p, _ := get.Key[layout.PK].(*types.AttributeValueMemberS)
			s, _ := get.Key[layout.SK].(*types.AttributeValueMemberS)
			if p != nil && s != nil && p.Value == pk && s.Value == sk {
				return middleware.InitializeOutput{}, middleware.Metadata{}, &types.ProvisionedThroughputExceededException{Message: aws.String("Rate of requests exceeds the allowed throughput")}
			}
		}
		return next.HandleInitialize(ctx, in)
	})
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error { return stack.Initialize.Add(fail, middleware.After) })
	}
}

// The timeline cannot be read when the button is pressed: the action
// fails visibly — the user is asked to try again — and no rollback to the
// target the alert stored (perhaps revoked since) is requested.
func TestRollbackFailsVisiblyWhenTheTimelineCannotBeRead(t *testing.T) {
	var down atomic.Bool
	e := newEnvWith(t, func(e *env) testStore {
		table := dynamotest.TableName(t)
		if err := dynamostore.CreateTable(context.Background(), dynamotest.Client(t), table); err != nil {
			t.Fatal(err)
		}
		return dynamostore.New(dynamotest.Client(t, failTimelineReads("credit-approval", &down)), table, e.clock)
	}, rollbackHistory)
	previousAtOpening(t, e, "2026.01.9")
	down.Store(true)
	before := e.snapshot()
	code, resp := e.click(press{user: credit1, action: slacknotify.ActionMore, option: slacknotify.OptionRollback})
	refused(t, code, resp, "try again")
	refused(t, code, resp, "version timeline")
	e.unchanged(before)
}
