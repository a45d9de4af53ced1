package config

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// withOwners is a configuration of the given rules files plus the owner
// they name.
func withOwners(rules map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{"owners/team.yaml": {Data: []byte("id: team\nslack: {channel: C0TEAM0001}\npagerduty: {routing_key: \"secret:stakeout/pagerduty/team\"}\n")}}
	for name, src := range rules {
		fsys["rules/"+name] = &fstest.MapFile{Data: []byte(src)}
	}
	return fsys
}

const modelHead = "model: m\nstakes: low\nowners: {data: team, model: team, platform: team, product: team}\nexpect: [{kind: drift, every: 1d}]\n"

// manyRules is model m with n rules.
func manyRules(n int) string {
	var b strings.Builder
	b.WriteString(modelHead + "rules:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: r%d, when: 'value > 0.5', severity: info, owner: data}\n", i)
	}
	return b.String()
}

func problems(t *testing.T, fsys fstest.MapFS) string {
	t.Helper()
	cfg, err := LoadFS(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range cfg.Problems {
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}

// A 100,000-rule file is refused for its size, before it is decoded, with
// the file and the limit named: not with a message about YAML aliases it
// does not have.
func TestHugeRulesFileIsRefusedForItsSize(t *testing.T) {
	src := manyRules(100_000)
	got := problems(t, withOwners(map[string]string{"m.yaml": src}))
	want := fmt.Sprintf("rules/m.yaml:1:1: file is %d bytes, more than the 1048576 (1 MiB) a rules or owners file may have\n", len(src))
	if got != want {
		t.Errorf("problems:\n%s\nwant:\n%s", got, want)
	}
}

// One byte over the cap is refused, at the cap is read; owners files too.
func TestFileSizeCap(t *testing.T) {
	pad := func(src string, size int) string { return src + "#" + strings.Repeat("x", size-len(src)-2) + "\n" }
	model := manyRules(1)
	if got := problems(t, withOwners(map[string]string{"m.yaml": pad(model, MaxFileBytes)})); got != "" {
		t.Errorf("a file of exactly %d bytes: %s", MaxFileBytes, got)
	}
	if got := problems(t, withOwners(map[string]string{"m.yaml": pad(model, MaxFileBytes+1)})); !strings.Contains(got, "rules/m.yaml:1:1: file is 1048577 bytes, more than the 1048576 (1 MiB)") {
		t.Errorf("a file of %d bytes: %s", MaxFileBytes+1, got)
	}
	fsys := withOwners(map[string]string{"m.yaml": model})
	fsys["owners/team.yaml"].Data = []byte(pad(string(fsys["owners/team.yaml"].Data), MaxFileBytes+1))
	if got := problems(t, fsys); !strings.Contains(got, "owners/team.yaml:1:1: file is 1048577 bytes, more than") {
		t.Errorf("an oversized owners file: %s", got)
	}
}

// A file under the size cap with more YAML nodes than the alias guard's
// budget, and no alias at all (a long test case), is not an alias bomb.
func TestLargeFileWithoutAliases(t *testing.T) {
	var b strings.Builder
	b.WriteString(manyRules(1) + "tests:\n  - name: a long week\n    expect: []\n    events:\n")
	for i := range 12_000 {
		fmt.Fprintf(&b, "      - {kind: drift, metric: psi, value: 0.1, observed_at: 2026-03-01T%02d:%02d:%02dZ}\n", i/3600, i/60%60, i%60)
	}
	if b.Len() > MaxFileBytes {
		t.Fatalf("test broken: %d bytes", b.Len())
	}
	if got := problems(t, withOwners(map[string]string{"m.yaml": b.String()})); got != "" {
		t.Errorf("problems:\n%s", got)
	}
}
