package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fencedAfter returns the body of the first ```lang block after marker in
// text.
func fencedAfter(t *testing.T, text, marker, lang string) string {
	t.Helper()
	_, rest, ok := strings.Cut(text, marker)
	if !ok {
		t.Fatalf("README has no %q", marker)
	}
	_, rest, ok = strings.Cut(rest, "```"+lang+"\n")
	if !ok {
		t.Fatalf("README has no ```%s block after %q", lang, marker)
	}
	body, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("README's ```%s block after %q is not closed", lang, marker)
	}
	return body
}

// The README's quality collapse, replayed on the README's own example
// configuration, carries its impact as a number with its unit: exactly
// the line the README shows, with "impact":48000.
func TestReadmeImpactExample(t *testing.T) {
	t.Chdir("../..")
	readme := string(mustRead(t, "README.md"))
	dir := t.TempDir()
	for _, d := range []string{"rules", "owners"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	owners, err := filepath.Glob("owners/*.yaml")
	if err != nil || len(owners) == 0 {
		t.Fatalf("owners: %v", err)
	}
	for _, f := range append(owners, "rules/stakes.yaml") {
		if err := os.WriteFile(filepath.Join(dir, f), mustRead(t, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	model := fencedAfter(t, readme, "## File formats", "yaml")
	if !strings.HasPrefix(model, "model: credit-approval") {
		t.Fatalf("the first yaml block under ## File formats is not the example model:\n%s", model)
	}
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("rules/credit-approval.yaml", model)
	events := write("collapse.jsonl", fencedAfter(t, readme, "as one event\n(`collapse.jsonl`)", "json"))
	want := strings.TrimSpace(fencedAfter(t, readme, "prints for the alert it opens", "json"))

	if code, out, stderr := stakeout(t, "test", "--dir", dir); code != 0 {
		t.Fatalf("the README's example fails its own tests (exit %d):\n%s%s", code, out, stderr)
	}
	code, out, stderr := stakeout(t, "replay", "--json", "--dir", dir, events)
	if code != 0 {
		t.Fatalf("replay exited %d: %s", code, stderr)
	}
	got, _, _ := strings.Cut(out, "\n")
	if got != want {
		t.Errorf("replay --json of the README's collapse prints\n%s\nthe README shows\n%s", got, want)
	}
	if !strings.Contains(got, `"impact":48000,"impact_unit":"USD/day"`) {
		t.Errorf("replay --json of the README's collapse: %s; want \"impact\":48000 in USD/day", got)
	}
}
