package setup

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/escalator"
	"github.com/stakeout-ml/stakeout/internal/kmsmac"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/slackapp"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Backend is what the functions' consumers need of a store (each declares
// its part): the DynamoDB table's (dynamostore) in the functions, the
// table's or the embedded one (memstore) in `stakeout serve`.
type Backend interface {
	pipeline.Store
	pipeline.Sightings
	pipeline.Timelines
	escalator.Store
	slackapp.Store
	deliver.Store
}

// Store is a store whose commits are signed with the audit key just before
// they are written (state.Commit.Sign): every writer — router, escalator,
// senders, the webhooks, replay and serve — keys the chain the same way.
type Store struct {
	Backend
	key audit.Signer // nil: unkeyed, said explicitly
}

// NewStore is b with its commits signed with key (nil: unkeyed).
func NewStore(b Backend, key audit.Signer) *Store { return &Store{Backend: b, key: key} }

// Commit signs c's audit records, then writes c. A key that cannot MAC
// fails the commit as a transient fault: nothing unkeyed is written.
func (s *Store) Commit(ctx context.Context, c *state.Commit) error {
	if err := c.Sign(ctx, s.key); err != nil {
		return err
	}
	return s.Backend.Commit(ctx, c)
}

// auditKey is the key the audit chain is keyed with: the stack's KMS key
// (AUDIT_KEY_ID), or outside AWS a local key or, said explicitly,
// "unkeyed" (STAKEOUT_AUDIT_KEY). No key at all is an error: a function
// that writes an unkeyed trail without anyone having asked for it would
// fail quietly.
func auditKey(getenv func(string) string, log *slog.Logger, client kmsmac.API) (audit.Signer, error) {
	local, arn := getenv(EnvAuditKey), getenv(EnvAuditKeyID)
	switch {
	case local != "" && arn != "":
		return nil, fmt.Errorf("both %s and %s are set: the audit chain has one key", EnvAuditKeyID, EnvAuditKey)
	case arn != "":
		k, err := kmsmac.New(client, arn)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvAuditKeyID, err)
		}
		log.Info("audit chain keyed", "key", k.KeyID())
		return k, nil
	case local != "":
		k, err := audit.ParseLocalKey(local)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvAuditKey, err)
		}
		if k == nil {
			log.Warn("audit chain unkeyed, as asked: anyone who can write the table can rewrite it", "variable", EnvAuditKey)
			return nil, nil
		}
		log.Info("audit chain keyed", "key", k.KeyID())
		return k, nil
	}
	return nil, fmt.Errorf("%s is not set (the ARN of the stack's audit key); outside AWS set %s to a key (openssl rand -hex 32) or to %q",
		EnvAuditKeyID, EnvAuditKey, audit.Unkeyed)
}

// routingKeysUnder resolves routing keys under prefix only (none given:
// any), and logs at start each owner whose routing key is elsewhere: its
// pages will fail, each with that reason.
func routingKeysUnder(r secret.Resolver, prefix string, cfg *config.Config, log *slog.Logger) secret.Resolver {
	if prefix == "" {
		return r
	}
	u := under{r: r, prefix: prefix}
	for _, id := range slices.Sorted(maps.Keys(cfg.Owners)) {
		if ref := cfg.Owners[id].PagerDuty.RoutingKey; ref != "" && !u.allows(ref) {
			log.Error("routing key outside the stack's prefix: this owner's pages will fail", "owner", id, "routing_key", secret.Name(ref), "prefix", prefix)
		}
	}
	return u
}

type under struct {
	r      secret.Resolver
	prefix string
}

// allows reports whether ref names a secret under the prefix, by name or
// by ARN (…:secret:<name>-AbCdEf).
func (u under) allows(ref string) bool {
	p, err := secret.ParseRef(ref)
	if err != nil {
		return false
	}
	name := p.SecretID
	if _, n, ok := strings.Cut(name, ":secret:"); ok && strings.HasPrefix(name, "arn:") {
		name = n
	}
	return strings.HasPrefix(name, u.prefix)
}

func (u under) Resolve(ctx context.Context, ref string) (secret.Value, error) {
	if !u.allows(ref) {
		return secret.Value{}, fmt.Errorf("routing key %s is outside %s %q: this stack's functions may not read it (owners/*.yaml routing_key must start with secret:%s)",
			secret.Name(ref), EnvRoutingKeyPrefix, u.prefix, u.prefix)
	}
	return u.r.Resolve(ctx, ref)
}
