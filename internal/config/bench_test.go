package config

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"

	"github.com/stakeout-ml/stakeout/internal/config/configtest"
)

// BenchmarkLoad: load and compile 200 models × 10 rules.
// Target: ≤ 100 ms per load (a Lambda cold start pays it once). Run with
// GOGC=400 as cmd/stakeout runs (see its main); the default GOGC costs ~30%.
func BenchmarkLoad(b *testing.B) {
	fsys := configtest.Generate(200, 10)
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := LoadFS(fsys, ".")
		if err != nil || len(cfg.Models) != 200 || len(cfg.Errors()) > 0 {
			b.Fatalf("LoadFS: %v, %d models, errors %v", err, len(cfg.Models), cfg.Errors())
		}
	}
}

// BenchmarkWindowEnd: the end of a week-long window, found from its start
// (what every alert a window silences costs the router once).
// Target: ≤ 100 µs per End (a minute-by-minute scan took 10,080 checks).
func BenchmarkWindowEnd(b *testing.B) {
	w := &Maintenance{Name: "week", Interval: &timeinterval.TimeInterval{
		Times:    []timeinterval.TimeRange{{StartMinute: 0, EndMinute: 1440}},
		Weekdays: []timeinterval.WeekdayRange{{InclusiveRange: timeinterval.InclusiveRange{Begin: 0, End: 6}}},
		Months:   []timeinterval.MonthRange{{InclusiveRange: timeinterval.InclusiveRange{Begin: 3, End: 3}}},
	}}
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		if end := w.End(at); !end.Equal(at.Add(MaxMaintenance)) {
			b.Fatalf("End = %s, want a week on", end)
		}
	}
}

// BenchmarkNextWorkingStart: the start of the next working period from a
// Friday evening (the longest wait of a Monday-to-Friday week), what every
// alert held by outside_hours: hold costs the router once.
// Target: ≤ 100 µs per NextStart.
func BenchmarkNextWorkingStart(b *testing.B) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		b.Fatal(err)
	}
	w := &WorkingHours{Location: london, Times: []TimeRange{{Start: 9 * 60, End: 18 * 60}},
		Weekdays: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}}
	at := time.Date(2026, 6, 5, 17, 30, 0, 0, time.UTC) // Friday 18:30 in London
	want := time.Date(2026, 6, 8, 8, 0, 0, 0, time.UTC) // Monday 09:00 in London
	for b.Loop() {
		if got := w.NextStart(at); !got.Equal(want) {
			b.Fatalf("NextStart = %s, want %s", got, want)
		}
	}
}

// BenchmarkLoadCompact: the router's configuration at a cold start, 200
// models × 10 rules in compact form (load: the index and owners, no rule
// compiled), the digest of the files checked against the form's (digest),
// and what a model's first event adds (first-use: its file decoded, its
// 10 rules compiled).
// Targets: load ≤ 5 ms (a twentieth of BenchmarkLoad); digest ≤ 1 ms;
// first-use ≤ 1 ms.
func BenchmarkLoadCompact(b *testing.B) {
	fsys := configtest.Generate(200, 10)
	cfg, err := LoadFS(fsys, ".")
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(b.TempDir(), CompactDir)
	if err := WriteCompact(cfg, fsys, ".", dir); err != nil {
		b.Fatal(err)
	}
	b.Run("load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if c, err := LoadCompact(dir); err != nil || len(c.Models) != 200 {
				b.Fatalf("LoadCompact: %v", err)
			}
		}
	})
	// What the router's check that the form is of the files it embeds
	// adds to a cold start: a hash of those files (here from a map, in
	// the router from the binary's embed.FS).
	b.Run("digest", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if d, err := Digest(fsys); err != nil || d != cfg.Digest {
				b.Fatalf("Digest = %s, %v; want %s", d, err, cfg.Digest)
			}
		}
	})
	b.Run("first-use", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			c, err := LoadCompact(dir)
			if err != nil {
				b.Fatal(err)
			}
			m := c.Models["model-7"]
			b.StartTimer()
			if err := m.Ready(); err != nil || len(m.Rules) != 10 {
				b.Fatalf("Ready: %v, %d rules", err, len(m.Rules))
			}
		}
	})
}
