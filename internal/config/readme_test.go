package config

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"testing/fstest"
)

// The README's rules, stakes and owners examples (its first three yaml
// blocks, in that order) must validate against the example owners, so the
// documentation cannot drift from the loader.
func TestReadmeExamplesValidate(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(readme, -1)
	if len(blocks) < 3 {
		t.Fatalf("README has %d yaml blocks, want rules, stakes and owners examples", len(blocks))
	}
	fsys := fstest.MapFS{}
	owners, _ := filepath.Glob("../../owners/*.yaml")
	for _, f := range owners {
		data, _ := os.ReadFile(f)
		fsys["owners/"+filepath.Base(f)] = &fstest.MapFile{Data: data}
	}
	fsys["rules/credit-approval.yaml"] = &fstest.MapFile{Data: blocks[0][1]}
	fsys["rules/stakes.yaml"] = &fstest.MapFile{Data: blocks[1][1]}
	fsys["owners/credit-ds.yaml"] = &fstest.MapFile{Data: blocks[2][1]}
	cfg, err := LoadFS(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cfg.Problems {
		t.Errorf("README example: %s", p)
	}
	if cfg.Models["credit-approval"] == nil || len(cfg.Models["credit-approval"].Tests) == 0 {
		t.Errorf("README rules example did not load with its test")
	}
}
