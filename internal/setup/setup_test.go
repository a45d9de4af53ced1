package setup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/config"
)

// The binaries must route with the commit's files: the embedded
// configuration is the repository's rules/ and owners/, byte for byte (the
// digest covers every path and content).
func TestEmbeddedConfigurationIsTheRepositorys(t *testing.T) {
	embedded, from, err := loadConfig("", "")
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
	_, from, err := loadConfig("../../testdata/valid/minimal", "")
	if err != nil {
		t.Fatal(err)
	}
	if from != "../../testdata/valid/minimal" {
		t.Errorf("from = %q", from)
	}
	if _, _, err := loadConfig(t.TempDir(), ""); err == nil {
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
	cfg, from, err := loadConfig("", compact)
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
	if _, from, err := loadConfig("../../testdata/valid/minimal", compact); err != nil || from != "../../testdata/valid/minimal" {
		t.Errorf("with a directory: from %q, %v; want the directory", from, err)
	}
	if _, _, err := loadConfig("", t.TempDir()); err == nil || !strings.Contains(err.Error(), "compact") {
		t.Errorf("an empty compact directory: %v, want an error saying the compact configuration cannot be loaded", err)
	}
}
