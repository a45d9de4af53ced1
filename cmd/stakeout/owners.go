package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/stakeout-ml/stakeout/internal/config"
)

type ownersCmd struct {
	dir        string
	codeowners bool
	githubOrg  string
}

func (*ownersCmd) name() string { return "owners" }
func (*ownersCmd) synopsis() string {
	return "the ownership matrix: models × roles → owners, with gaps"
}

// ownersAbout is the long part of `stakeout owners -h`.
const ownersAbout = `Without --codeowners: the ownership matrix (models × roles → owners) and,
per owner, what it answers for and its escalation. Exit 1 if a role has no
owner.

With --codeowners: a GitHub CODEOWNERS file, so that a model's owners are
asked to approve changes to its rules. Owner files name Slack ids, not
GitHub accounts, so each stakeout owner id stands for the GitHub team of
the same name in ORG: owner credit-ds is @ORG/credit-ds. Create those teams
and give them write access to the repository, or GitHub ignores them.
  rules/<model>.yaml   every owner the model names (data, model, platform,
                       product), sorted, each once
  owners/<id>.yaml     that owner
  rules/stakes.yaml    the platform owners (every model's platform role).
                       The stakes table sets how loud and fast every
                       model's alerts are, and GitHub accepts the approval
                       of any one team on a line: listing every owner would
                       let any one product team approve a change to
                       everyone's paging. The platform owners also cover
                       rules/ and owners/ files no model or owner loads
                       from (a new model in its first pull request), and
                       the CODEOWNERS file itself.
Paths are anchored at the Git repository holding D (the nearest directory
above it with a .git), or at D without one. Exit 1, after printing the
file, if a model's role names no owner or a name cannot be written in
CODEOWNERS; exit 2 on usage errors.
`

func (c *ownersCmd) flags(fs *flag.FlagSet) {
	dirFlag(fs, &c.dir)
	fs.BoolVar(&c.codeowners, "codeowners", false, "print a GitHub CODEOWNERS file instead of the matrix (needs --github-org)")
	fs.StringVar(&c.githubOrg, "github-org", "", "with --codeowners: the GitHub organisation whose team <owner-id> stands for each owner (@ORG/<owner-id>)")
}

// githubLogin is what GitHub accepts as an organisation's login.
var githubLogin = regexp.MustCompile(`^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$`)

func (c *ownersCmd) run(args []string, io stdio) int {
	if len(args) > 0 {
		fmt.Fprintf(io.err, "stakeout owners: unexpected argument %q (use --dir)\n", args[0])
		return 2
	}
	switch {
	case c.codeowners && c.githubOrg == "":
		fmt.Fprintln(io.err, "stakeout owners: --codeowners needs --github-org ORG: owner files name no GitHub accounts, so each owner id stands for the team @ORG/<owner-id> (e.g. --github-org example-ml makes credit-ds @example-ml/credit-ds)")
		return 2
	case !c.codeowners && c.githubOrg != "":
		fmt.Fprintln(io.err, "stakeout owners: --github-org goes with --codeowners")
		return 2
	case c.codeowners && (!githubLogin.MatchString(c.githubOrg) || len(c.githubOrg) > 39):
		fmt.Fprintf(io.err, "stakeout owners: --github-org %q is not a GitHub organisation login (letters, digits and single dashes, at most 39; no @ and no team)\n", c.githubOrg)
		return 2
	}
	cfg, ok := load(c.dir, io)
	if !ok {
		return 2
	}
	if c.codeowners {
		return c.printCodeowners(cfg, io)
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

// CODEOWNERS takes gitignore-like patterns: these characters are written
// as they are (anything else — a space, *, #, ! — would need escaping that
// GitHub does not fully support). Owner ids are kebab-case, and so are
// GitHub team slugs.
var (
	codeownersPath = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	teamSlug       = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// printCodeowners writes the CODEOWNERS file (see ownersHelp). GitHub
// applies the last line matching a file, so the catch-all lines come first.
func (c *ownersCmd) printCodeowners(cfg *config.Config, io stdio) int {
	var problems []string
	root, err := repoRoot(c.dir)
	if err != nil {
		fmt.Fprintf(io.err, "stakeout owners: find the repository of %s: %v\n", c.dir, err)
		return 2
	}
	// pattern anchors a file of the configuration at the repository root.
	pattern := func(file string) (string, bool) {
		abs, err := filepath.Abs(file)
		if err == nil {
			file, err = filepath.Rel(root, abs)
		}
		p := "/" + filepath.ToSlash(file)
		if err != nil || !codeownersPath.MatchString(p) {
			problems = append(problems, fmt.Sprintf("%s: the file name cannot be written as a CODEOWNERS pattern (rename it to its model or owner id)", p))
			return p, false
		}
		return p, true
	}
	badTeam := map[string]bool{}
	team := func(id string) (string, bool) {
		if !teamSlug.MatchString(id) {
			if !badTeam[id] {
				badTeam[id] = true
				problems = append(problems, fmt.Sprintf("owner %q cannot be a GitHub team name (owner ids are lower-case words joined by dashes)", id))
			}
			return "", false
		}
		return "@" + c.githubOrg + "/" + id, true
	}

	// In file order, so that the problems come out in a stable order too.
	models := slices.Collect(maps.Values(cfg.Models))
	models = slices.AppendSeq(models, maps.Values(cfg.Broken))
	slices.SortFunc(models, func(a, b *config.Model) int { return strings.Compare(a.File, b.File) })
	type line struct{ pattern, owners string }
	var modelLines, ownerLines []line
	var platform []string
	for _, m := range models {
		p, ok := pattern(m.File)
		var teams, gaps []string
		for _, role := range config.Roles {
			id := m.Owners[role]
			if id == "" {
				gaps = append(gaps, role)
				continue
			}
			if t, ok := team(id); ok {
				teams = append(teams, t)
				if role == "platform" {
					platform = append(platform, t)
				}
			}
		}
		if len(gaps) > 0 {
			problems = append(problems, fmt.Sprintf("%s: model %s has no owner for %s, so its line leaves them out", p, m.ID, strings.Join(gaps, ", ")))
		}
		slices.Sort(teams)
		if ok && len(teams) > 0 {
			modelLines = append(modelLines, line{p, strings.Join(slices.Compact(teams), " ")})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(cfg.Owners)) {
		o := cfg.Owners[id]
		p, ok := pattern(o.File)
		t, tok := team(o.ID)
		if ok && tok {
			ownerLines = append(ownerLines, line{p, t})
		}
	}
	byPattern := func(a, b line) int { return strings.Compare(a.pattern, b.pattern) }
	slices.SortFunc(modelLines, byPattern)
	slices.SortFunc(ownerLines, byPattern)
	slices.Sort(platform)
	platform = slices.Compact(platform)

	var shared []line
	if len(platform) > 0 {
		for _, dir := range []string{"rules", "owners"} {
			if p, ok := pattern(filepath.Join(c.dir, dir)); ok {
				shared = append(shared, line{p + "/", strings.Join(platform, " ")})
			}
		}
		if p, ok := pattern(filepath.Join(c.dir, filepath.FromSlash(config.StakesFile))); ok {
			shared = append(shared, line{p, strings.Join(platform, " ")})
		}
		shared = append(shared, line{"/.github/CODEOWNERS", strings.Join(platform, " ")})
	} else {
		problems = append(problems, "no model names a platform owner: rules/stakes.yaml and new files have no owner")
	}

	width := 0
	for _, l := range slices.Concat(shared, modelLines, ownerLines) {
		width = max(width, len(l.pattern))
	}
	section := func(comment string, lines []line) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(io.out, "\n%s\n", comment)
		for _, l := range lines {
			fmt.Fprintf(io.out, "%-*s  %s\n", width, l.pattern, l.owners)
		}
	}
	fmt.Fprintf(io.out, `# Generated by `+"`stakeout owners --codeowners`"+`: do not edit by hand.
# Change rules/ and owners/ instead, then regenerate with
#   stakeout owners --codeowners --github-org %[1]s > .github/CODEOWNERS
#
# Each stakeout owner id stands for the GitHub team of the same name:
# owner credit-ds is @%[1]s/credit-ds. Each team needs write access to the
# repository. GitHub applies the last line that matches a file, and the
# approval of any one team on that line is enough.
`, c.githubOrg)
	section("# Shared files, and files no model or owner loads from: the platform owners.", shared)
	section("# Each model's rules: every owner its roles name.", modelLines)
	section("# Each owner's file: the owner.", ownerLines)
	for _, p := range problems {
		fmt.Fprintf(io.err, "stakeout owners: %s\n", p)
	}
	if len(problems) > 0 {
		return 1
	}
	return 0
}

// repoRoot is the nearest directory at or above dir holding a .git (a
// directory, or a file in a worktree or submodule) — where GitHub anchors
// CODEOWNERS patterns — or dir itself when there is none.
func repoRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; {
		_, err := os.Lstat(filepath.Join(d, ".git"))
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(d)
		if parent == d {
			return abs, nil
		}
		d = parent
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
