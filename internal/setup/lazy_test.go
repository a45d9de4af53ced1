package setup

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/stakeout-ml/stakeout/internal/kmsmac"
	"github.com/stakeout-ml/stakeout/internal/kmstest"
)

// A client the router may never need (KMS, Secrets Manager, EventBridge:
// a container whose events open no alert calls none) is built at its
// first call, not at the cold start; once, whichever invocations call it
// first and together.
func TestClientsAreBuiltOnFirstUse(t *testing.T) {
	server := kmstest.New(t)
	arn := server.CreateKey()
	var built atomic.Int32
	api := lazyKMS{onFirstUse(func() *kms.Client { built.Add(1); return server.Client(t) })}
	key, err := kmsmac.New(api, arn)
	if err != nil {
		t.Fatal(err)
	}
	if n := built.Load(); n != 0 {
		t.Fatalf("clients built before the first call = %d, want 0", n)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := key.MAC(context.Background(), []byte("record")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := built.Load(); n != 1 {
		t.Errorf("clients built after four calls = %d, want 1", n)
	}
}
