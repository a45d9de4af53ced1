package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/memstore"
)

// auditReader is what the audit command reads from a store.
type auditReader interface {
	AlertRecords(ctx context.Context, id string) ([]audit.Record, error)
	ModelRecords(ctx context.Context, model string, since, until time.Time) ([]audit.Record, error)
}

type auditCmd struct {
	statePath, table, endpoint string
	model, since, until        string
	verify, jsonOut            bool
	alert                      string
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
	fs.StringVar(&c.since, "since", "", "with --model: from this RFC 3339 time (default: the beginning)")
	fs.StringVar(&c.until, "until", "", "with --model: until this RFC 3339 time (default: now)")
	fs.BoolVar(&c.verify, "verify", false, "check each alert's hash chain; exit 1 if any record was altered or removed")
	fs.BoolVar(&c.jsonOut, "json", false, "print the records as JSON, one per line")
}

func (c *auditCmd) run(args []string, io stdio) int {
	if (c.model == "") == (len(args) != 1) {
		fmt.Fprintln(io.err, "stakeout audit: name one alert id (model/rule[/feature=…][/segment=…]), or --model M")
		return 2
	}
	if len(args) == 1 {
		c.alert = args[0]
	}
	if (c.statePath == "") == (c.table == "") {
		fmt.Fprintln(io.err, "stakeout audit: name the store: --state FILE (a replay's) or --table NAME (the router's)")
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
	code := 0
	for _, id := range slices.Sorted(maps.Keys(byAlert)) {
		if c.jsonOut {
			for _, r := range byAlert[id] {
				enc := json.NewEncoder(io.out)
				enc.SetEscapeHTML(false)
				enc.Encode(r)
			}
		} else {
			writeTrail(io.out, id, byAlert[id])
		}
		if c.verify {
			// A range shows part of a trail; the chain is checked whole.
			full, err := st.AlertRecords(context.Background(), id)
			if err == nil {
				err = audit.Verify(full)
			}
			if err != nil {
				fmt.Fprintf(io.out, "VERIFY FAILED: %v\n", err)
				code = 1
			} else {
				fmt.Fprintf(io.out, "verified: %d records of %s, hash chain intact\n", len(full), id)
			}
		}
	}
	return code
}

// openAuditStore opens the store whose trail audit and noise read: the
// embedded store at statePath, or else the DynamoDB table (at endpoint, if
// not "").
func openAuditStore(ctx context.Context, statePath, table, endpoint string) (auditReader, error) {
	if statePath != "" {
		// Open treats a missing file as an empty store (for replay); here a
		// missing file is a mistake to report.
		if _, err := os.Stat(statePath); err != nil {
			return nil, err
		}
		return memstore.Open(statePath, time.Now)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	client := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = &endpoint
		}
	})
	return dynamostore.New(client, table, time.Now), nil
}

func (c *auditCmd) records(ctx context.Context, st auditReader) ([]audit.Record, error) {
	if c.model == "" {
		return st.AlertRecords(ctx, strings.TrimSpace(c.alert))
	}
	since, until := time.Time{}, time.Now()
	var err error
	if c.since != "" {
		if since, err = time.Parse(time.RFC3339, c.since); err != nil {
			return nil, fmt.Errorf("--since: %q is not an RFC 3339 time", c.since)
		}
	}
	if c.until != "" {
		if until, err = time.Parse(time.RFC3339, c.until); err != nil {
			return nil, fmt.Errorf("--until: %q is not an RFC 3339 time", c.until)
		}
	}
	return st.ModelRecords(ctx, c.model, since, until)
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
