package setup

import (
	"testing"

	"github.com/stakeout-ml/stakeout/internal/config"
)

// The binaries must route with the commit's files: the embedded
// configuration is the repository's rules/ and owners/, byte for byte (the
// digest covers every path and content).
func TestEmbeddedConfigurationIsTheRepositorys(t *testing.T) {
	embedded, from, err := loadConfig("")
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
	_, from, err := loadConfig("../../testdata/valid/minimal")
	if err != nil {
		t.Fatal(err)
	}
	if from != "../../testdata/valid/minimal" {
		t.Errorf("from = %q", from)
	}
	if _, _, err := loadConfig(t.TempDir()); err == nil {
		t.Error("loadConfig(empty dir) = nil error, want one naming the directory")
	}
}
