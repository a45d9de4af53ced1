package memstore_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/storetest"
)

func newStore(*testing.T) storetest.Store {
	return memstore.New(func() time.Time { return storetest.Now })
}

func TestConformance(t *testing.T) { storetest.Run(t, newStore) }

// A store saved and opened again passes the suite too: nothing is lost in
// the file.
func TestConformanceAfterSaveAndOpen(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		path := filepath.Join(t.TempDir(), "state.json")
		if err := memstore.New(time.Now).Save(path); err != nil {
			t.Fatal(err)
		}
		st, err := memstore.Open(path, func() time.Time { return storetest.Now })
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestReliability(t *testing.T) { storetest.Reliability(t, newStore(t), 50, 200) }
