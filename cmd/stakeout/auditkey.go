package main

import (
	"context"
	"fmt"
	"os"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// envAuditKey is the local audit key, as the functions read it outside AWS
// (internal/setup): hex of at least 32 bytes, or "unkeyed". Never printed.
const envAuditKey = "STAKEOUT_AUDIT_KEY"

// localAuditKey reads STAKEOUT_AUDIT_KEY: nil when it is unset or says
// "unkeyed".
func localAuditKey() (*audit.LocalKey, error) {
	v := os.Getenv(envAuditKey)
	if v == "" {
		return nil, nil
	}
	k, err := audit.ParseLocalKey(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envAuditKey, err)
	}
	return k, nil
}

// signedStore is the embedded store whose commits are keyed as the
// functions' are (state.Commit.Sign), with the local audit key.
type signedStore struct {
	*memstore.Store
	key audit.Signer // nil: unkeyed
}

func newSignedStore(st *memstore.Store, k *audit.LocalKey) *signedStore {
	s := &signedStore{Store: st}
	if k != nil { // a nil *LocalKey is not a nil Signer
		s.key = k
	}
	return s
}

func (s *signedStore) Commit(ctx context.Context, c *state.Commit) error {
	if err := c.Sign(ctx, s.key); err != nil {
		return err
	}
	return s.Store.Commit(ctx, c)
}
