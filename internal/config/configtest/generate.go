// Package configtest generates configurations for tests and benchmarks: a
// given number of models of a given number of rules, with the owners they
// name, in the shape of the example configuration (rules of the three
// kinds a model usually has: a drift threshold held for three readings, a
// quality drop with an impact, a trend). The loader's benchmark and the
// router's cold start measure the same generated configuration.
package configtest

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// Generate is a configuration of models × rules per model, with owners:
// rules/model-<i>.yaml and owners/{team,boss}.yaml.
func Generate(models, rules int) fstest.MapFS {
	fsys := fstest.MapFS{
		"owners/team.yaml": {Data: []byte("id: team\nslack: {channel: C0TEAM0001}\npagerduty: {routing_key: \"secret:stakeout/pagerduty/team\"}\nescalation: [boss]\n")},
		"owners/boss.yaml": {Data: []byte("id: boss\nslack: {channel: C0BOSS0001}\npagerduty: {routing_key: \"secret:stakeout/pagerduty/boss\"}\n")},
	}
	for m := range models {
		fsys[fmt.Sprintf("rules/model-%d.yaml", m)] = &fstest.MapFile{Data: []byte(model(m, rules))}
	}
	return fsys
}

// model is rules/model-<m>.yaml with rules rules.
func model(m, rules int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "model: model-%d\nstakes: critical\nowners: {data: team, model: team, platform: team, product: team}\n", m)
	b.WriteString("business: {daily: 20000, cost: 900}\nexpect: [{kind: drift, every: 1d}]\nrules:\n")
	for r := range rules {
		switch r % 3 {
		case 0:
			fmt.Fprintf(&b, "  - name: psi-%d\n    when: kind == \"drift\" && metric == \"psi\" && feature == \"f%d\" && value > 0.25\n    for: 3\n    severity: high\n    owner: data\n    summary: \"PSI {{value}} on {{feature}}\"\n", r, r)
		case 1:
			fmt.Fprintf(&b, "  - name: acc-%d\n    when: kind == \"quality\" && metric == \"accuracy\" && baseline - value > 0.0%d\n    severity: critical\n    owner: model\n    impact: (baseline - value) * business.daily * business.cost\n", r, r%9+1)
		default:
			fmt.Fprintf(&b, "  - name: trend-%d\n    when: kind == \"quality\" && metric == \"auc\" && slope(7) < -0.00%d\n    severity: warning\n    owner: model\n", r, r%9+1)
		}
	}
	return b.String()
}

// Write writes fsys into a new temporary directory of t and returns it:
// a configuration directory for --dir or STAKEOUT_CONFIG_DIR.
func Write(t testing.TB, fsys fstest.MapFS) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, fsys); err != nil {
		t.Fatalf("configtest: write the configuration: %v", err)
	}
	return dir
}
