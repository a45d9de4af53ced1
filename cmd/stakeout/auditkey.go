package main

import (
	"fmt"
	"os"

	"github.com/stakeout-ml/stakeout/internal/audit"
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
