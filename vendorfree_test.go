package stakeout_test

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// vendorFreeCore is the vendor-free core: the packages that decide what
// happens to an alert, which must build, run and be tested without AWS,
// Slack or PagerDuty, and stay small enough to load fast in every Lambda.
var vendorFreeCore = []string{
	"./internal/config",
	"./internal/deliver",
	"./internal/notify",
	"./internal/pipeline",
	"./internal/engine",
	"./internal/lifecycle",
	"./internal/state",
	"./internal/audit",
	"./internal/series",
	"./internal/signal",
	"./internal/expression",
	"./internal/escalator",
	"./internal/memstore",
	"./internal/layout",
	"./internal/report",
	"./internal/drill",
	"./internal/router",
	"./internal/serve",
	"./internal/metrics",
	"./internal/putevents",
}

// vendorSDKs are the import path prefixes of the vendors' SDKs. Only the
// adapters (awssecret, bus, dynamostore, kmsmac, slacknotify, pdnotify, setup,
// promexport, the functions' mains) may import them. putevents speaks
// EventBridge's wire protocol by hand and needs none.
var vendorSDKs = []string{
	"github.com/aws/aws-sdk-go-v2",
	"github.com/aws/smithy-go",
	"github.com/aws/aws-lambda-go",
	"github.com/slack-go/slack",
	"github.com/PagerDuty/go-pagerduty",
	"github.com/prometheus", // the core records through internal/metrics
}

// notVendors are libraries under a vendor's prefix that are no SDK of a
// service: Alertmanager's timeinterval evaluates maintenance windows'
// time_intervals with the standard library and YAML alone (its own
// imports are still checked).
var notVendors = []string{"github.com/prometheus/alertmanager/timeinterval"}

func isVendor(path string) bool {
	if slices.Contains(notVendors, path) {
		return false
	}
	for _, p := range vendorSDKs {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// TestCoreImportsNoVendorSDK fails naming the chain of imports by which a
// core package reaches a vendor's SDK. It lists the packages' build
// dependencies, not their tests': a core package's tests may use DynamoDB
// Local or a vendor's wire format.
func TestCoreImportsNoVendorSDK(t *testing.T) {
	imports, roots := importGraph(t, vendorFreeCore)
	for _, root := range roots {
		t.Run(strings.TrimPrefix(root, "github.com/stakeout-ml/stakeout/internal/"), func(t *testing.T) {
			for _, chain := range vendorChains(imports, root) {
				t.Errorf("reaches a vendor SDK: %s", strings.Join(chain, " -> "))
			}
		})
	}
}

// importGraph runs go list -deps from the repository root (the test's
// working directory) and returns every package's imports, and the import
// paths of pkgs.
func importGraph(t *testing.T, pkgs []string) (map[string][]string, []string) {
	t.Helper()
	const format = `{{if .DepOnly}}dep{{else}}root{{end}} {{.ImportPath}} {{join .Imports " "}}`
	cmd := exec.Command("go", append([]string{"list", "-deps", "-f", format}, pkgs...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, stderr.Bytes())
	}
	imports := map[string][]string{}
	var roots []string
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Fatalf("go list -deps printed %q, want \"root|dep <path> <imports>\"", line)
		}
		imports[f[1]] = f[2:]
		if f[0] == "root" {
			roots = append(roots, f[1])
		}
	}
	if len(roots) != len(pkgs) {
		t.Fatalf("go list -deps listed %d packages %v, want the %d asked for", len(roots), roots, len(pkgs))
	}
	slices.Sort(roots)
	return imports, roots
}

// vendorChains returns, for every vendor package that root reaches from
// its own code, the shortest chain of imports from root to it: the first
// vendor package on each path, not the SDK's own dependencies.
func vendorChains(imports map[string][]string, root string) [][]string {
	parent := map[string]string{root: ""}
	queue := []string{root}
	var entries []string
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, q := range imports[p] {
			if _, seen := parent[q]; seen {
				continue
			}
			parent[q] = p
			if isVendor(q) {
				entries = append(entries, q)
				continue
			}
			queue = append(queue, q)
		}
	}
	slices.Sort(entries)
	var chains [][]string
	for _, e := range entries {
		var chain []string
		for p := e; p != ""; p = parent[p] {
			chain = append(chain, p)
		}
		slices.Reverse(chain)
		chains = append(chains, chain)
	}
	return chains
}
