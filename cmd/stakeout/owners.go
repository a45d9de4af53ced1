package main

import (
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/stakeout-ml/stakeout/internal/config"
)

type ownersCmd struct{ dir string }

func (*ownersCmd) name() string { return "owners" }
func (*ownersCmd) synopsis() string {
	return "the ownership matrix: models × roles → owners, with gaps"
}
func (c *ownersCmd) flags(fs *flag.FlagSet) { dirFlag(fs, &c.dir) }

func (c *ownersCmd) run(args []string, io stdio) int {
	if len(args) > 0 {
		fmt.Fprintf(io.err, "stakeout owners: unexpected argument %q (use --dir)\n", args[0])
		return 2
	}
	cfg, ok := load(c.dir, io)
	if !ok {
		return 2
	}
	models := map[string]*config.Model{}
	for id, m := range cfg.Models {
		models[id] = m
	}
	for id, m := range cfg.Broken {
		models[id] = m
	}
	ids := slices.Sorted(maps.Keys(models))

	tw := tabwriter.NewWriter(io.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tSTAKES\t"+strings.ToUpper(strings.Join(config.Roles, "\t")))
	gaps := 0
	for _, id := range ids {
		m := models[id]
		row := []string{id, orDash(m.Stakes)}
		if m.Broken != "" {
			row[0] += " (errors)"
		}
		for _, role := range config.Roles {
			owner := m.Owners[role]
			if owner == "" {
				owner = "GAP"
				gaps++
			}
			row = append(row, owner)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()

	// The inverse view: what each owner answers for, and who can reach
	// them by escalation (head-of-ml answers for no model directly).
	answers := map[string][]string{}
	for _, id := range ids {
		for _, role := range config.Roles {
			if o := models[id].Owners[role]; o != "" {
				answers[o] = append(answers[o], fmt.Sprintf("%s (%s)", id, role))
			}
		}
	}
	escalatedFrom := map[string][]string{}
	for _, oid := range slices.Sorted(maps.Keys(cfg.Owners)) {
		for _, next := range cfg.Owners[oid].Escalation {
			escalatedFrom[next] = append(escalatedFrom[next], oid)
		}
	}
	for _, oid := range slices.Sorted(maps.Keys(cfg.Owners)) {
		o := cfg.Owners[oid]
		title := oid
		if o.Name != "" {
			title += " — " + o.Name
		}
		fmt.Fprintf(io.out, "\n%s\n", title)
		fmt.Fprintf(io.out, "  answers for:    %s\n", orDash(strings.Join(answers[oid], ", ")))
		fmt.Fprintf(io.out, "  escalates to:   %s\n", orDash(strings.Join(o.Escalation, " → ")))
		fmt.Fprintf(io.out, "  escalated from: %s\n", orDash(strings.Join(escalatedFrom[oid], ", ")))
	}
	if gaps > 0 {
		fmt.Fprintf(io.out, "\n%s: a role with no owner means alerts for it land nowhere\n", plural(gaps, "gap"))
		return 1
	}
	return 0
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
