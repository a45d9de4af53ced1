package main

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config/configtest"
	"github.com/stakeout-ml/stakeout/internal/deploytest"
	"github.com/stakeout-ml/stakeout/internal/runtimeapi/runtimeapitest"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

// Shape of BenchmarkMemory's run: the generated configuration of
// memModels models × memRules rules (configtest), and memEvents events
// spread over all the models in turn, so that every model has been used
// (compiled, its series kept) when the peak is read.
const (
	memModels = 200
	memRules  = 10
	memEvents = 10_000
)

// BenchmarkMemory is the router's memory at 2,000 rules after 10,000
// events: the built bootstrap, in the environment template.yaml gives it,
// on DynamoDB Local and the Slack, PagerDuty, EventBridge and KMS test
// servers (deploytest), with the generated 200 × 10 configuration,
// invoked through the Runtime API once per event as Lambda invokes one
// container. The events are "ML Model Signal" events as monitoring jobs
// send them (memEvent), most not firing, some opening alerts that are
// then posted and paged. It reports the process's peak resident memory
// (MiB-rss, the kernel's VmHWM: what Lambda reports as "Max Memory Used")
// and the same right after its cold start (MiB-rss-start).
//
// Target: MiB-rss ≤ 64, a quarter of the router's MemorySize (256 MB in
// template.yaml): memory that grows with the events a container has
// handled would end in an out-of-memory kill, and one that grows with the
// rules would price large configurations out.
//
// One run takes a minute or more (10,000 invocations, each with its
// DynamoDB Local round trips): -benchtime=1x.
func BenchmarkMemory(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads the process's peak RSS from /proc")
	}
	dir := configtest.Write(b, configtest.Generate(memModels, memRules))
	bin := builtWith(b, dir) // the bootstrap as the build ships it: its compact configuration beside it
	var start, peak int64
	for b.Loop() {
		w := deploytest.New(b, "../../template.yaml", "RouterFunction", deploytest.WithConfigDir(dir))
		delete(w.Env, setup.EnvConfigDir) // the compact form beside the bootstrap, not the directory, configures it
		fn := runtimeapitest.Start(b, bin, w.Env)
		ctx := context.Background()
		if _, err := fn.ColdStart(ctx); err != nil {
			b.Fatal(err)
		}
		requireCompact(b, fn.Logs(), bin, memModels)
		start = peakRSS(b, fn)
		begin := time.Now()
		for i := range memEvents {
			res, err := fn.Invoke(ctx, memEvent(i, time.Now()))
			if err != nil || res.Err != nil {
				b.Fatalf("event %d: %v %v", i, err, res.Err)
			}
		}
		took := time.Since(begin)
		peak = peakRSS(b, fn)
		groups, err := w.Store.OpenGroups(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%d events in %s; %d open alert groups, %d Slack messages, %d PagerDuty events", memEvents, took.Round(time.Second),
			len(groups), len(w.Slack.Messages("C0TEAM0001")), len(w.PD.Events()))
		fn.Close()
	}
	b.ReportMetric(float64(start)/(1<<20), "MiB-rss-start")
	b.ReportMetric(float64(peak)/(1<<20), "MiB-rss")
}

// peakRSS is fn's peak resident memory in bytes.
func peakRSS(b *testing.B, fn *runtimeapitest.Server) int64 {
	b.Helper()
	rss, err := fn.PeakRSS()
	if err != nil {
		b.Fatal(err)
	}
	return rss
}

// memEvent is the i-th event of BenchmarkMemory, observed at: model m =
// i mod memModels in turn, so that round i / memModels reaches every
// model once, each round with another kind of reading (k = (m + round)
// mod 10). Against configtest's rules (psi-<r> watches feature f<r>,
// acc-<r> a drop from the accuracy baseline, trend-<r> the AUC's slope),
// a quarter of the models drift, a fifth lose accuracy and a third slide
// in AUC; the others stay quiet:
//
//	k 0–3  PSI of watched feature f0, f3, f6 or f9 (psi-<r>'s for: 3
//	       fires on the third breach in a row)
//	k 4    PSI of a feature no rule watches
//	k 5–6  accuracy against its baseline (acc-1 fires on a 4-point drop)
//	k 7–8  AUC (trend-<r> fires once slope(7) is known and falling)
//	k 9    a latency reading no rule watches
func memEvent(i int, at time.Time) []byte {
	m, round := i%memModels, i/memModels
	var detail string
	switch k := (m + round) % 10; {
	case k < 4:
		psi := 0.08 + 0.01*float64(k)
		if m%4 == 0 {
			psi = 0.31
		}
		detail = fmt.Sprintf(`"kind":"drift","metric":"psi","feature":"f%d","value":%v,"labels":{"detector":"evidently","job_id":"drift-%d"}`, 3*k, psi, round)
	case k == 4:
		detail = fmt.Sprintf(`"kind":"drift","metric":"psi","feature":"f1","value":0.4,"labels":{"detector":"evidently","job_id":"drift-%d"}`, round)
	case k < 7:
		acc := 0.895
		if m%5 == 0 {
			acc = 0.86
		}
		detail = fmt.Sprintf(`"kind":"quality","metric":"accuracy","value":%v,"baseline":0.9,"sample_size":8400,`+
			`"window_start":"2026-02-01T00:00:00Z","window_end":"2026-02-08T00:00:00Z","labels":{"detector":"matured-cohort-eval"}`, acc)
	case k < 9:
		auc := 0.8
		if m%3 == 0 {
			auc -= 0.002 * float64(round)
		}
		detail = fmt.Sprintf(`"kind":"quality","metric":"auc","value":%v,"baseline":0.8,"labels":{"detector":"nightly-eval"}`, auc)
	default:
		detail = `"kind":"operational","metric":"latency_p99_ms","value":85`
	}
	model, ts := fmt.Sprintf("model-%d", m), at.UTC()
	return fmt.Appendf(nil, `{"version":"0","id":"mem-%d","detail-type":"ML Model Signal","source":"com.example.monitoring",`+
		`"account":"123456789012","time":%q,"region":"eu-west-1","resources":["arn:aws:sagemaker:eu-west-1:123456789012:endpoint/%s-prod"],`+
		`"detail":{"model":%q,%s,"observed_at":%q,"version":"2026.02.1","environment":"prod"}}`,
		i, ts.Format(time.RFC3339), model, model, detail, ts.Format(time.RFC3339Nano))
}
