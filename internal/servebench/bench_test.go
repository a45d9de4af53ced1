package servebench

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/stakeout-ml/stakeout/internal/state"
)

var (
	serveOn         = flag.Bool("servebench", false, "run BenchmarkServe (minutes: make bench-serve)")
	only            = flag.String("servebench.only", "", "run one system only: alertmanager or stakeout (default both)")
	alerts          = flag.Int("servebench.alerts", 10000, "alerts sent to each system per batch size")
	clients         = flag.Int("servebench.clients", 8, "concurrent HTTP clients sending them")
	timeout         = flag.Duration("servebench.timeout", 3*time.Minute, "how long after the first request the sink may take to see every alert")
	amGroupInterval = flag.Duration("servebench.am-group-interval", time.Second, "Alertmanager's group_interval: how often a group's changes go out; stakeout runs at its default update window (5s) and at this one")
	cpuProfiles     = flag.String("servebench.cpuprofile", "", "a directory: stakeout serve writes a CPU profile of each run there (stakeout-batch<N>[-window<D>].pprof)")
	stakeoutBin     = flag.String("servebench.stakeout", "", "the stakeout CLI to run (default: built from ./cmd/stakeout into a temporary directory)")
)

// batchSizes: one alert per request, and ten (EventBridge's most entries
// per PutEvents call).
var batchSizes = []int{1, 10}

// BenchmarkServe sends the same alerts (-servebench.alerts, one per
// feature of churn-prediction's scoring-lag rule) to Alertmanager (POST
// /api/v2/alerts) and to `stakeout serve` (EventBridge PutEvents), one
// per request and ten, from -servebench.clients concurrent clients, each
// system a fresh process with fresh state, and waits until the loopback
// sink has seen every alert delivered (see the package doc for what
// delivered means for each). Each run prints one line
//
//	servebench: system=… batch=… alerts=… accepted=… accepted_per_s=… delivered=… delivered_per_s=… …
//
// and the whole run a table of both systems side by side, with the ratio.
//
// stakeout runs twice: at its default update window (5 s, the
// functions'), and with --update-window set to Alertmanager's
// group_interval, like for like: the window bounds what a windowed
// system delivers, alerts/window (10,000/5 s = 2,000/s), however fast it
// accepts them.
//
// Target: stakeout ≥ 5× Alertmanager's delivered alerts/s, with the
// embedded store (--state), at both batch sizes. The benchmark reports
// the ratio; it does not fail on it.
func BenchmarkServe(b *testing.B) {
	if !*serveOn {
		b.Skip("starts Alertmanager and stakeout serve, minutes: make bench-serve (or -args -servebench)")
	}
	systems, err := chosenSystems(*only, *amGroupInterval)
	if err != nil {
		b.Fatal(err)
	}
	bins := map[string]string{}
	for _, s := range systems {
		if bins[s.kind] == "" {
			bins[s.kind] = s.binary(b)
		}
	}
	var results []result
	for _, size := range batchSizes {
		for _, s := range systems {
			b.Run(fmt.Sprintf("batch=%d/%s", size, s.name), func(b *testing.B) {
				var r result
				for range b.N {
					b.StopTimer()
					r = s.run(b, bins[s.kind], *alerts, size)
					r.system = s.name
				}
				fmt.Println(r)
				b.ReportMetric(r.sent.acceptedPerSecond(), "accepted/s")
				b.ReportMetric(r.deliveredPerSecond(), "delivered/s")
				results = append(results, r)
				if r.sent.firstErr != nil {
					b.Errorf("%s refused %d of %d alerts, first: %v", s.name, r.sent.refused, r.alerts, r.sent.firstErr)
				}
				if r.delivered < r.sent.accepted {
					b.Errorf("%s delivered %d of the %d alerts it accepted within %s", s.name, r.delivered, r.sent.accepted, *timeout)
				}
			})
		}
	}
	printTable(os.Stdout, results)
}

// system is one side of the comparison: kind is the program, name the
// program as configured.
type system struct {
	kind, name string
	binary     func(testing.TB) string
	run        func(b *testing.B, bin string, n, size int) result
}

// chosenSystems are Alertmanager and stakeout at its default update
// window, and stakeout at Alertmanager's group_interval too (if that is
// another window), or those of one program (only).
func chosenSystems(only string, amInterval time.Duration) ([]system, error) {
	all := []system{
		{"alertmanager", "alertmanager", installAlertmanager, runAlertmanager},
		{"stakeout", "stakeout", stakeoutBinary, runStakeout(0)},
	}
	if amInterval != state.UpdateWindow {
		all = append(all, system{"stakeout", "stakeout --update-window=" + amInterval.String(), stakeoutBinary, runStakeout(amInterval)})
	}
	if only == "" {
		return all, nil
	}
	var some []system
	for _, s := range all {
		if s.kind == only {
			some = append(some, s)
		}
	}
	if len(some) == 0 {
		return nil, fmt.Errorf("-servebench.only=%q: want alertmanager or stakeout (or nothing, for both)", only)
	}
	return some, nil
}

// result is what one run measured.
type result struct {
	system      string
	batch       int
	alerts      int
	sent        sendResult
	delivered   int
	deliveredIn time.Duration // from the first request until the sink had seen them all
	sinkCalls   int
}

// deliveredPerSecond: alerts delivered over the time from the first
// request until the last of them reached the sink (until the timeout, when
// some never did).
func (r result) deliveredPerSecond() float64 { return float64(r.delivered) / r.deliveredIn.Seconds() }

func (r result) String() string {
	return fmt.Sprintf("servebench: system=%s batch=%d alerts=%d clients=%d accepted=%d refused=%d send_s=%.2f accepted_per_s=%.1f"+
		" delivered=%d deliver_s=%.2f delivered_per_s=%.1f sink_calls=%d",
		r.system, r.batch, r.alerts, *clients, r.sent.accepted, r.sent.refused, r.sent.elapsed.Seconds(), r.sent.acceptedPerSecond(),
		r.delivered, r.deliveredIn.Seconds(), r.deliveredPerSecond(), r.sinkCalls)
}

// printTable prints the run's results side by side and, for each batch
// size both programs ran at, each stakeout's figures over Alertmanager's.
func printTable(out io.Writer, results []result) {
	fmt.Fprintf(out, "\nservebench: %d alerts of %s/%s per run, %d clients, GOMAXPROCS=%d, Alertmanager %s group_interval=%s;"+
		" target: stakeout delivered/s ≥ 5× Alertmanager's\n",
		*alerts, benchModel, benchRule, *clients, runtime.GOMAXPROCS(0), alertmanagerVersion, *amGroupInterval)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "batch\tsystem\taccepted/s\tdelivered/s\tdelivered\tsend s\tdeliver s\tsink calls\t")
	for _, size := range batchSizes {
		var am *result
		for _, r := range results {
			if r.batch != size {
				continue
			}
			if r.system == "alertmanager" {
				am = &r
			}
			delivered := fmt.Sprintf("%d/%d", r.delivered, r.sent.accepted)
			if r.delivered < r.sent.accepted {
				delivered += " (timed out)"
			}
			fmt.Fprintf(w, "%d\t%s\t%.0f\t%.0f\t%s\t%.2f\t%.2f\t%d\t\n", size, r.system, r.sent.acceptedPerSecond(),
				r.deliveredPerSecond(), delivered, r.sent.elapsed.Seconds(), r.deliveredIn.Seconds(), r.sinkCalls)
		}
		for _, so := range results {
			if am == nil || so.batch != size || so.system == "alertmanager" {
				continue
			}
			ratio := so.deliveredPerSecond() / am.deliveredPerSecond()
			verdict := "meets the 5× target"
			if ratio < 5 {
				verdict = "under the 5× target"
			}
			fmt.Fprintf(w, "%d\t%s\t%.2f×\t%.2f×\t%s\t\t\t\t\n", size, so.system+" / alertmanager",
				so.sent.acceptedPerSecond()/am.sent.acceptedPerSecond(), ratio, verdict)
		}
	}
	w.Flush()
}
