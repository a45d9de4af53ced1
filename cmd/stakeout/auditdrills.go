package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/stakeout-ml/stakeout/internal/drill"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// runDrills lists the fire drills of the store and their outcomes: a
// drill nobody acknowledged in time is a finding.
func (c *auditCmd) runDrills(args []string, io stdio) int {
	switch {
	case len(args) > 0 || c.model != "":
		fmt.Fprintln(io.err, "stakeout audit: --drills lists every drill: it takes no alert id and no --model")
		return 2
	case c.verify:
		fmt.Fprintf(io.err, "stakeout audit: --drills lists outcomes; verify a drill's chain with stakeout audit --verify %s/<owner>\n", state.DrillModel)
		return 2
	case !storeFlags(io.err, "audit", c.statePath, c.table, c.endpoint):
		return 2
	}
	st, err := openAuditStore(context.Background(), c.statePath, c.table, c.endpoint)
	if err != nil {
		fmt.Fprintf(io.err, "stakeout audit: %v\n", err)
		return 2
	}
	c.model = state.DrillModel
	recs, err := c.records(context.Background(), st)
	if err != nil {
		fmt.Fprintf(io.err, "stakeout audit: %v\n", err)
		return 2
	}
	outs := drill.Outcomes(recs)
	if len(outs) == 0 {
		fmt.Fprintln(io.err, "stakeout audit: no drills found (stakeout drill --owner ID starts one)")
		return 1
	}
	unanswered := 0
	for _, o := range outs {
		if o.Result == drill.Unanswered {
			unanswered++
		}
		if c.jsonOut {
			writeJSONLine(io.out, o)
			continue
		}
		fmt.Fprintf(io.out, "%s  %-22s %-10s via %s, ack within %s, started by %s\n", o.Started.UTC().Format("2006-01-02 15:04Z"), o.Owner,
			strings.ToUpper(o.Result), strings.Join(o.Notify, ", "), o.AckWithin, o.StartedBy)
		switch {
		case o.Detail != "":
			fmt.Fprintf(io.out, "        %s\n", o.Detail)
		default:
			fmt.Fprintln(io.out, "        no outcome yet: waiting for an acknowledgement (the escalator records it unanswered once its window ends)")
		}
		fmt.Fprintf(io.out, "        group %s\n", o.Group)
	}
	if unanswered > 0 {
		fmt.Fprintf(io.err, "stakeout audit: %s unanswered\n", plural(unanswered, "drill"))
		return 1
	}
	return 0
}
