package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/kmsmac"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

// auditReader is what the audit command reads from a store.
type auditReader interface {
	AlertRecords(ctx context.Context, id string) ([]audit.Record, error)
	ModelRecords(ctx context.Context, model string, since, until time.Time) ([]audit.Record, error)
}

// storeReader is what the commands that read a store (audit, noise,
// versions) read.
type storeReader interface {
	auditReader
	timelineReader
}

type auditCmd struct {
	statePath, table, endpoint string
	model, since, until        string
	verify, jsonOut            bool
	requireKeyed               bool
	kmsKeys                    []string
	alert                      string
	drills                     bool
}

func (*auditCmd) name() string { return "audit" }
func (*auditCmd) synopsis() string {
	return "the audit trail of an alert, or of a model over a time range"
}
func (c *auditCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.statePath, "state", "", "the embedded store saved by stakeout replay --state")
	fs.StringVar(&c.table, "table", "", "the router's DynamoDB table (with the usual AWS configuration)")
	fs.StringVar(&c.endpoint, "endpoint", "", "with --table: a DynamoDB endpoint, such as DynamoDB Local's")
	fs.StringVar(&c.model, "model", "", "show the records of this model's alerts (instead of one alert)")
	fs.StringVar(&c.since, "since", "", "with --model: from this long ago (7d, 12h) or this RFC 3339 time (default: the beginning)")
	fs.StringVar(&c.until, "until", "", "with --model: until this RFC 3339 time (default: now)")
	fs.BoolVar(&c.verify, "verify", false, "check each alert's hash chain and its MACs (with the keys of --kms-key and "+envAuditKey+"); exit 1 if any record was altered, removed or cannot be vouched for")
	fs.Func("kms-key", "with --verify: the ARN of a KMS audit key to check MACs with (the stack's AuditKeyArn output); repeat it for keys replaced since", func(arn string) error {
		c.kmsKeys = append(c.kmsKeys, arn)
		return nil
	})
	fs.BoolVar(&c.requireKeyed, "require-keyed", false, "with --verify: a record no MAC vouches for (an unkeyed chain) is a failure too")
	fs.BoolVar(&c.jsonOut, "json", false, "print the records as JSON, one per line")
	fs.BoolVar(&c.drills, "drills", false, "list the fire drills (stakeout drill, /stakeout drill) and their outcomes; exit 1 if one went unanswered")
}

func (c *auditCmd) run(args []string, io stdio) int {
	if c.drills {
		return c.runDrills(args, io)
	}
	if (c.model == "") == (len(args) != 1) {
		fmt.Fprintln(io.err, "stakeout audit: name one alert id (model/rule[/feature=…][/segment=…]), or --model M")
		return 2
	}
	if len(args) == 1 {
		c.alert = args[0]
	}
	if !storeFlags(io.err, "audit", c.statePath, c.table, c.endpoint) {
		return 2
	}
	if !c.verify && (len(c.kmsKeys) > 0 || c.requireKeyed) {
		fmt.Fprintln(io.err, "stakeout audit: --kms-key and --require-keyed go with --verify")
		return 2
	}
	st, err := openAuditStore(context.Background(), c.statePath, c.table, c.endpoint)
	if err != nil {
		fmt.Fprintf(io.err, "stakeout audit: %v\n", err)
		return 2
	}
	recs, err := c.records(context.Background(), st)
	if err != nil {
		fmt.Fprintf(io.err, "stakeout audit: %v\n", err)
		if errors.As(err, new(*notFound)) {
			return 1
		}
		return 2
	}
	if len(recs) == 0 {
		fmt.Fprintln(io.err, "stakeout audit: no records found")
		return 1
	}
	byAlert := map[string][]audit.Record{}
	for _, r := range recs {
		byAlert[r.Alert] = append(byAlert[r.Alert], r)
	}
	var keys audit.Keys
	if c.verify {
		if keys, err = c.trustedKeys(context.Background()); err != nil {
			fmt.Fprintf(io.err, "stakeout audit: %v\n", err)
			return 2
		}
	}
	findings, unchecked := false, false
	for _, id := range slices.Sorted(maps.Keys(byAlert)) {
		if c.jsonOut {
			for _, r := range byAlert[id] {
				writeJSONLine(io.out, r)
			}
		} else {
			writeTrail(io.out, id, byAlert[id])
		}
		if c.verify {
			// A range shows part of a trail; the chain is checked whole.
			f, u := c.verifyTrail(io.out, st, id, keys)
			findings, unchecked = findings || f, unchecked || u
		}
	}
	switch {
	case findings:
		return 1
	case unchecked:
		return 2
	}
	return 0
}

// trustedKeys are the keys MACs are checked with: each --kms-key, and the
// local key of STAKEOUT_AUDIT_KEY. A MAC under any other key is a finding.
func (c *auditCmd) trustedKeys(ctx context.Context) (audit.Keys, error) {
	keys := audit.Keys{}
	local, err := localAuditKey()
	if err != nil {
		return nil, err
	}
	if local != nil {
		keys[local.KeyID()] = local
	}
	if len(c.kmsKeys) == 0 {
		return keys, nil
	}
	// The KMS endpoint is the SDK's: AWS_ENDPOINT_URL_KMS points it elsewhere.
	awsCfg, err := setup.AWSConfig(ctx, cliLogger())
	if err != nil {
		return nil, err
	}
	client := kms.NewFromConfig(awsCfg)
	for _, arn := range c.kmsKeys {
		v, err := kmsmac.NewVerifier(client, arn)
		if err != nil {
			return nil, fmt.Errorf("--kms-key: %w", err)
		}
		keys[arn] = v
	}
	return keys, nil
}

// verifyTrail checks one alert's whole trail and says what it found:
// whether it is intact, which records MACs vouch for and under which
// keys, or which record fails and why. It reports a finding (altered,
// cut, MACed under a key not given, unkeyed with --require-keyed), or a
// MAC that could not be checked (the key unreachable, disabled, gone).
func (c *auditCmd) verifyTrail(w io.Writer, st auditReader, id string, keys audit.Keys) (finding, unchecked bool) {
	full, err := st.AlertRecords(context.Background(), id)
	if err != nil {
		fmt.Fprintf(w, "CANNOT VERIFY %s: %v\n", id, err)
		return false, true
	}
	if len(full) > 0 && full[0].Alert != id {
		// A trail copied whole from another alert verifies as a chain.
		fmt.Fprintf(w, "VERIFY FAILED: the trail stored for %s is of alert %s\n", id, full[0].Alert)
		return true, false
	}
	rep, err := audit.Check(context.Background(), full, keys)
	var b *audit.Broken
	switch {
	case errors.As(err, &b):
		fmt.Fprintf(w, "VERIFY FAILED: %v\n", err)
		if strings.Contains(b.Reason, "not a key given") {
			fmt.Fprintf(w, "  (give the key: --kms-key ARN for a KMS key, %s for a local one)\n", envAuditKey)
		}
		return true, false
	case err != nil:
		fmt.Fprintf(w, "CANNOT VERIFY %s: %v\n", id, err)
		return false, true
	}
	fmt.Fprintf(w, "verified: %d records of %s, hash chain intact", rep.Records, id)
	if rep.Vouched > 0 {
		fmt.Fprintf(w, ", keyed: records 1-%d vouched for by MACs under %s", rep.Vouched, strings.Join(rep.Keys, ", "))
		if rep.Legacy > 0 {
			fmt.Fprintf(w, " (%d of them written before chains were keyed)", rep.Legacy)
		}
	}
	if n := rep.Unkeyed(); n > 0 {
		fmt.Fprintf(w, ", UNKEYED: records %d-%d carry no MAC (chain v1), anyone who could write the table could have rewritten them", rep.Vouched+1, rep.Records)
	}
	fmt.Fprintln(w)
	if rep.Unkeyed() > 0 && c.requireKeyed {
		fmt.Fprintf(w, "VERIFY FAILED: alert %s: %d records are unkeyed and --require-keyed was given\n", id, rep.Unkeyed())
		return true, false
	}
	return false, false
}

// storeFlags checks that exactly one store is named, and says what is
// wrong otherwise.
func storeFlags(w io.Writer, cmd, statePath, table, endpoint string) bool {
	switch {
	case statePath != "" && table != "":
		fmt.Fprintf(w, "stakeout %s: --state and --table name two stores: give one (--state FILE for a replay's, --table NAME for the router's)\n", cmd)
	case statePath == "" && table == "":
		fmt.Fprintf(w, "stakeout %s: name the store: --state FILE (a replay's) or --table NAME (the router's)\n", cmd)
	case endpoint != "" && table == "":
		fmt.Fprintf(w, "stakeout %s: --endpoint goes with --table\n", cmd)
	default:
		return true
	}
	return false
}

// openAuditStore opens the store whose trail audit and noise read: the
// embedded store at statePath, or else the DynamoDB table (at endpoint, if
// not "").
func openAuditStore(ctx context.Context, statePath, table, endpoint string) (storeReader, error) {
	if statePath != "" {
		// Open treats a missing file as an empty store (for replay); here a
		// missing file is a mistake to report.
		if _, err := os.Stat(statePath); err != nil {
			return nil, err
		}
		return memstore.Open(statePath, time.Now)
	}
	awsCfg, err := setup.AWSConfig(ctx, cliLogger())
	if err != nil {
		return nil, err
	}
	client := setup.DynamoDB(awsCfg, endpoint)
	return dynamostore.New(client, table, time.Now), nil
}

func (c *auditCmd) records(ctx context.Context, st auditReader) ([]audit.Record, error) {
	if c.model == "" {
		// A prefix is looked for among a model's records: all of a saved
		// state's, the last prefixWindow of the router's table.
		from := time.Time{}
		if c.table != "" {
			from = time.Now().Add(-prefixWindow)
		}
		return alertRecords(ctx, st, strings.TrimSpace(c.alert), from)
	}
	until := time.Now()
	var err error
	if c.until != "" {
		if until, err = time.Parse(time.RFC3339, c.until); err != nil {
			return nil, fmt.Errorf("--until: %q is not an RFC 3339 time", c.until)
		}
	}
	if c.since == "" {
		return st.ModelRecords(ctx, c.model, time.Time{}, until)
	}
	if c.statePath == "" {
		since, err := parseSince(c.since, until)
		if err != nil {
			return nil, err
		}
		return st.ModelRecords(ctx, c.model, since, until)
	}
	// A replay's time is its events': --since 7d counts back from the
	// state's latest record of the model, as noise and report do.
	recs, err := st.ModelRecords(ctx, c.model, time.Time{}, until)
	if err != nil || len(recs) == 0 {
		return recs, err
	}
	latest := time.Time{}
	for _, r := range recs {
		latest = maxTime(latest, r.At)
	}
	since, err := parseSince(c.since, latest.Add(time.Second))
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(recs, func(r audit.Record) bool { return r.At.Before(since) }), nil
}

func writeTrail(w io.Writer, id string, recs []audit.Record) {
	fmt.Fprintf(w, "%s\n", id)
	for _, r := range recs {
		value := ""
		if r.Value != nil {
			value = " value " + expression.FormatNumber(*r.Value)
		}
		fmt.Fprintf(w, "  #%-3d %s  %-10s by %s%s", r.Seq, r.At.UTC().Format("2006-01-02 15:04Z"), r.Action, r.Actor, value)
		if r.Version != "" {
			fmt.Fprintf(w, "  model version %s", r.Version)
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "        rule %s, %s → %s (%s) via %s", r.Rule, r.Severity, r.Owner, r.Role, orNone(r.Notify))
		if r.InhibitedBy != "" {
			fmt.Fprintf(w, ", inhibited by %s", r.InhibitedBy)
		}
		fmt.Fprintln(w)
		if r.Detail != "" {
			fmt.Fprintf(w, "        %s\n", r.Detail)
		}
		if len(r.Lineage) > 0 {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(r.Lineage)) {
				parts = append(parts, fmt.Sprintf("%s=%v", k, r.Lineage[k]))
			}
			fmt.Fprintf(w, "        lineage: %s\n", strings.Join(parts, ", "))
		}
		fmt.Fprintf(w, "        event %s, configuration %s\n", r.EventID, short(r.ConfigDigest))
	}
}

func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

// notFound is an alert id that begins no alert of the store: a finding
// (exit 1), said with the ids that come close.
type notFound struct{ msg string }

func (e *notFound) Error() string { return e.msg }

// alertRecords reads the trail of the alert id names, or, when id is only
// the beginning of alert ids (credit-approval/key-feature-drift without
// its /feature=… part), the trails of every alert it begins. With none,
// the error suggests the model's alert ids that come close.
func alertRecords(ctx context.Context, st auditReader, id string, from time.Time) ([]audit.Record, error) {
	recs, err := st.AlertRecords(ctx, id)
	if err != nil || len(recs) > 0 {
		return recs, err
	}
	model, _, _ := strings.Cut(id, "/")
	all, err := st.ModelRecords(ctx, model, from, endOfTime)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, r := range all {
		if strings.HasPrefix(r.Alert, id) {
			recs = append(recs, r)
		}
		if !slices.Contains(ids, r.Alert) {
			ids = append(ids, r.Alert)
		}
	}
	if len(recs) > 0 {
		return recs, nil
	}
	if len(ids) == 0 {
		return nil, &notFound{fmt.Sprintf("no alert %s: the store has no records of a model %q", id, model)}
	}
	slices.Sort(ids)
	if close := closeMatches(id, ids); len(close) > 0 {
		return nil, &notFound{fmt.Sprintf("no alert %s; close matches:\n  %s", id, strings.Join(close, "\n  "))}
	}
	msg := fmt.Sprintf("no alert %s", id)
	if len(ids) <= 10 {
		msg += fmt.Sprintf("; the alerts of %s:\n  %s", model, strings.Join(ids, "\n  "))
	}
	return nil, &notFound{msg}
}

// closeMatches are the ids whose beginning, as long as id, is a typo away
// from it (at most ten).
func closeMatches(id string, ids []string) []string {
	var out []string
	for _, c := range ids {
		head := c
		if len(head) > len(id) {
			head = strings.ToValidUTF8(head[:len(id)], "")
		}
		if head == id || expression.Suggest(id, []string{head}) != "" {
			out = append(out, c)
		}
	}
	return out[:min(len(out), 10)]
}

// prefixWindow bounds the search for an alert id's beginning in the
// router's table: one mistyped id must not read a model's years of trail.
// A whole id finds its trail at any age.
const prefixWindow = 90 * 24 * time.Hour

// endOfTime is later than any record.
var endOfTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// cliLogger is where the AWS SDK's rare warnings go in the CLI: standard
// error, as text, warnings and worse only.
func cliLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
