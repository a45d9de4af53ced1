package setup

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stakeout-ml/stakeout"
	"github.com/stakeout-ml/stakeout/internal/config"
)

var discard = slog.New(slog.DiscardHandler)

// The binaries must route with the commit's files: the embedded
// configuration is the repository's rules/ and owners/, byte for byte (the
// digest covers every path and content).
func TestEmbeddedConfigurationIsTheRepositorys(t *testing.T) {
	embedded, from, err := loadConfig("", compactForm{}, discard)
	if err != nil {
		t.Fatal(err)
	}
	if from != "embedded" {
		t.Errorf("loadConfig(\"\") read from %q, want embedded", from)
	}
	onDisk, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	if embedded.Digest != onDisk.Digest {
		t.Errorf("embedded digest = %s, want %s (the files in rules/ and owners/)", embedded.Digest, onDisk.Digest)
	}
	if len(embedded.Models) == 0 || len(embedded.Problems) != 0 {
		t.Errorf("embedded configuration: %d models, problems %v", len(embedded.Models), embedded.Problems)
	}
}

func TestConfigDirectoryOverridesTheEmbeddedOne(t *testing.T) {
	_, from, err := loadConfig("../../testdata/valid/minimal", compactForm{}, discard)
	if err != nil {
		t.Fatal(err)
	}
	if from != "../../testdata/valid/minimal" {
		t.Errorf("from = %q", from)
	}
	if _, _, err := loadConfig(t.TempDir(), compactForm{}, discard); err == nil {
		t.Error("loadConfig(empty dir) = nil error, want one naming the directory")
	}
}

// The router's build writes the compact form beside it: the router loads
// it (the same digest as the files, each model's rules left until its
// first event); a configuration directory still overrides it.
func TestCompactFormIsLoadedWhenTheBuildWroteOne(t *testing.T) {
	whole, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	compact := filepath.Join(t.TempDir(), config.CompactDir)
	if err := config.WriteCompact(whole, os.DirFS("../.."), "../..", compact); err != nil {
		t.Fatal(err)
	}
	cfg, from, err := loadConfig("", compactForm{dir: compact}, discard)
	if err != nil {
		t.Fatal(err)
	}
	if from != compact || cfg.Digest != whole.Digest || len(cfg.Models) != len(whole.Models) {
		t.Errorf("from %q, digest %s, %d models; want %q, %s, %d", from, cfg.Digest, len(cfg.Models), compact, whole.Digest, len(whole.Models))
	}
	m := cfg.Models["credit-approval"]
	if m == nil || m.Rules != nil {
		t.Fatalf("credit-approval = %+v, want it loaded, its rules not yet compiled", m)
	}
	if err := m.Ready(); err != nil || len(m.Rules) != len(whole.Models["credit-approval"].Rules) {
		t.Errorf("credit-approval after Ready: %d rules, %v; want %d", len(m.Rules), err, len(whole.Models["credit-approval"].Rules))
	}
	if _, from, err := loadConfig("../../testdata/valid/minimal", compactForm{dir: compact}, discard); err != nil || from != "../../testdata/valid/minimal" {
		t.Errorf("with a directory: from %q, %v; want the directory", from, err)
	}
	if _, _, err := loadConfig("", compactForm{dir: t.TempDir()}, discard); err == nil || !strings.Contains(err.Error(), "compact") {
		t.Errorf("an empty compact directory: %v, want an error saying the compact configuration cannot be loaded", err)
	}
}

// A compact form of other files than the binary embeds (a plain go build
// into a directory holding an older build's stakeout-config/) is not
// routed with: the router says so at ERROR, naming both digests, and loads
// the embedded configuration whole, as every other function does.
func TestStaleCompactFormGivesWayToTheEmbeddedConfiguration(t *testing.T) {
	other, err := config.Load("../../testdata/valid/minimal")
	if err != nil {
		t.Fatal(err)
	}
	compact := filepath.Join(t.TempDir(), config.CompactDir)
	if err := config.WriteCompact(other, os.DirFS("../../testdata/valid/minimal"), "../../testdata/valid/minimal", compact); err != nil {
		t.Fatal(err)
	}
	embedded, err := config.LoadFS(stakeout.Config, ".")
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cfg, from, err := loadConfig("", compactForm{dir: compact}, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if from != "embedded" || cfg.Digest != embedded.Digest || len(cfg.Models) != len(embedded.Models) {
		t.Errorf("from %q, digest %s, %d models; want embedded, %s, %d", from, cfg.Digest, len(cfg.Models), embedded.Digest, len(embedded.Models))
	}
	for _, want := range []string{`"level":"ERROR"`, compact, other.Digest, embedded.Digest} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs do not say %s:\n%s", want, logs.String())
		}
	}
}

// A router with no compact form beside it says, once at start, that it
// loads the configuration whole and why.
func TestRouterWithoutACompactFormSaysWhy(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	if _, err := loadLogged("", compactDir(), slog.New(slog.NewJSONHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("no %s beside %s", config.CompactDir, exe)
	if strings.Count(logs.String(), want) != 1 || !strings.Contains(logs.String(), `"from":"embedded"`) {
		t.Errorf("logs do not say once that the embedded configuration loads because there is %s:\n%s", want, logs.String())
	}
}

// A compact form in another format version (an older build's, beside a
// plain go build) is stale as one of other files is, whatever shape its
// index has: the router names both versions at ERROR and loads the
// embedded configuration whole, rather than failing to start.
func TestCompactFormOfAnotherVersionGivesWayToTheEmbeddedConfiguration(t *testing.T) {
	embedded, err := config.LoadFS(stakeout.Config, ".")
	if err != nil {
		t.Fatal(err)
	}
	for name, index := range map[string]string{
		"an older index of the same files":   `{"Version":0,"Digest":"` + embedded.Digest + `"}`,
		"an index of another shape entirely": `{"Version":7,"Digest":"` + embedded.Digest + `","Models":{"credit-approval":1}}`,
		"an index with no version":           `{"Digest":"` + embedded.Digest + `","Models":"all"}`,
	} {
		t.Run(name, func(t *testing.T) {
			compact := filepath.Join(t.TempDir(), config.CompactDir)
			if err := os.Mkdir(compact, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(compact, "index.json"), []byte(index), 0o644); err != nil {
				t.Fatal(err)
			}
			var logs strings.Builder
			cfg, from, err := loadConfig("", compactForm{dir: compact}, slog.New(slog.NewJSONHandler(&logs, nil)))
			if err != nil {
				t.Fatalf("loadConfig: %v, want the embedded configuration", err)
			}
			if from != "embedded" || cfg.Digest != embedded.Digest || len(cfg.Models) != len(embedded.Models) {
				t.Errorf("from %q, digest %s, %d models; want embedded, %s, %d", from, cfg.Digest, len(cfg.Models), embedded.Digest, len(embedded.Models))
			}
			for _, want := range []string{`"level":"ERROR"`, compact, `"compact_version":`, fmt.Sprintf(`"reads_version":%d`, config.CompactVersion), embedded.Digest} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("logs do not say %s:\n%s", want, logs.String())
				}
			}
		})
	}
}
