package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpinput "github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// envRequireChromium makes the browser test fail, rather than skip, when no
// Chromium is installed: CI sets it (.ci/run installs Debian's chromium).
const envRequireChromium = "STAKEOUT_REQUIRE_CHROMIUM"

// chromium finds a Chromium or Chrome binary, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv(envRequireChromium) == "1" {
		t.Fatalf("no chromium on PATH, and %s=1 (apt-get install chromium)", envRequireChromium)
	}
	t.Skipf("no chromium on PATH (apt-get install chromium; %s=1 makes this a failure)", envRequireChromium)
	return ""
}

// pageTrouble collects what a page must not do: log an error, throw, or
// ask for anything but its own file.
type pageTrouble struct {
	mu       sync.Mutex
	problems []string
}

func (p *pageTrouble) listen(ev any) {
	var problem string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			problem = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		problem = fmt.Sprintf("exception at %d:%d: %s", d.LineNumber, d.ColumnNumber, d.Text)
		if d.Exception != nil {
			problem += " " + d.Exception.Description
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			problem = "log: " + ev.Entry.Text + " " + ev.Entry.URL
		}
	case *network.EventRequestWillBeSent:
		if u := ev.Request.URL; !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") {
			problem = "the page asked the network for " + u
		}
	}
	if problem != "" {
		p.mu.Lock()
		p.problems = append(p.problems, problem)
		p.mu.Unlock()
	}
}

func (p *pageTrouble) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.problems...)
}

func mouseMove(x, y float64) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, cdpinput.DispatchMouseEvent, cdpinput.DispatchMouseEventParams{Type: cdpinput.DispatchMouseEventTypeMouseMoved, X: x, Y: y})
		return chromedp.Void{}, err
	}
}

// The quick start's report in a real headless Chromium at 1280 px: it loads
// with no console error, exception or network request, shows the story's
// marks, and its tooltips work. With -update, its screenshot is written to
// report.png beside the README.
func TestReportInChromium(t *testing.T) {
	bin := chromium(t)
	state := replayToState(t, "churn-competitor-launch")
	page, err := filepath.Abs(writeReport(t, state))
	if err != nil {
		t.Fatal(err)
	}
	trouble := &pageTrouble{}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ctx, cancelBrowser := chromedp.NewContext(ctx, chromedp.WithListener(trouble.listen), chromedp.WithAllocatorOptions(
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900), chromedp.Flag("hide-scrollbars", true)))
	defer cancelBrowser()
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate("file://"+page), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("load %s in %s: %v", page, bin, err)
	}
	want := 0
	for _, kinds := range quickStartMarks {
		for _, n := range kinds {
			want += n
		}
	}
	marks, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("[data-mark]").length`))
	if err != nil || marks != want {
		t.Errorf("marks in the DOM: %d (%v), want %d", marks, err, want)
	}
	escalations, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('svg[data-rule="auc-slow-slide"] [data-mark="escalated"]').length`))
	if err != nil || escalations != quickStartMarks["churn-prediction/auc-slow-slide"]["escalated"] {
		t.Errorf("auc-slow-slide's escalation marks in the DOM: %d (%v), want %d", escalations, err, quickStartMarks["churn-prediction/auc-slow-slide"]["escalated"])
	}
	// Every chart fits the 1280 px page: nothing wider than the window.
	if wide, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || wide > 1280 {
		t.Errorf("page width %d (%v), want at most 1280", wide, err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil || img.Bounds().Dx() != 1280 {
		t.Fatalf("screenshot: %v, %v; want a PNG 1280 px wide", err, img)
	}
	// The tooltip script: hovering the first mark shows what it was.
	type point struct{ X, Y float64 }
	at, err := chromedp.Run(ctx, chromedp.Evaluate[point](`(() => { const m = document.querySelector("[data-mark]"); m.scrollIntoView({block: "center"}); const r = m.getBoundingClientRect(); return {X: r.x + r.width / 2, Y: r.y + r.height / 2}; })()`))
	if err != nil {
		t.Fatalf("find a mark: %v", err)
	}
	if err := chromedp.Do(ctx, mouseMove(at.X, at.Y)); err != nil {
		t.Fatal(err)
	}
	tip, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const t = document.getElementById("tip"); return t.hidden ? "" : t.textContent; })()`))
	if err != nil || !strings.Contains(tip, "opened") && !strings.Contains(tip, "escalated") {
		t.Errorf("tooltip over the first mark: %q (%v), want what the mark was", tip, err)
	}
	t.Logf("loaded, checked and captured in %s (%d marks, %d KB screenshot)", time.Since(start).Round(time.Millisecond), marks, len(shot)/1024)
	for _, p := range trouble.all() {
		t.Errorf("page trouble: %s", p)
	}
	if *update {
		if err := os.WriteFile("report.png", shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
