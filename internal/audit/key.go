package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Signer is the audit key as the writers see it: it MACs chain hashes.
// In AWS it is a KMS HMAC key (internal/kmsmac, which calls GenerateMac);
// elsewhere a LocalKey.
type Signer interface {
	// KeyID names the key on the records it MACs (a KMS key ARN, or
	// "local:<fingerprint>"); it is never the key itself.
	KeyID() string
	MAC(ctx context.Context, msg []byte) ([]byte, error)
}

// Checker is the audit key as the verifier sees it.
type Checker interface {
	KeyID() string
	// VerifyMAC reports whether mac is msg's MAC under the key; an error
	// means it could not be checked (the key unreachable, disabled, gone).
	VerifyMAC(ctx context.Context, msg, mac []byte) (bool, error)
}

// macMessage is what a record's MAC covers: its chain hash, which covers
// the record and, through PrevHash, every record before it. The prefix
// keeps these MACs apart from anything else the key might ever MAC.
func macMessage(hash string) []byte { return []byte("stakeout audit chain v2\n" + hash) }

// Unkeyed is the word that asks, explicitly, for an unkeyed chain where a
// local key would go (STAKEOUT_AUDIT_KEY=unkeyed).
const Unkeyed = "unkeyed"

// MinLocalKeyBytes is the least a local key may hold: HMAC-SHA-256's own
// output size.
const MinLocalKeyBytes = 32

// LocalKey is an HMAC-SHA-256 key held in the process, for replays, local
// runs and tests. It never prints its key material: its String, its log
// value and its errors name only its fingerprint.
type LocalKey struct {
	key []byte
	id  string
}

// NewLocalKey returns a local key of at least MinLocalKeyBytes bytes.
func NewLocalKey(key []byte) (*LocalKey, error) {
	if len(key) < MinLocalKeyBytes {
		return nil, fmt.Errorf("a local audit key needs at least %d bytes, this one has %d", MinLocalKeyBytes, len(key))
	}
	k := &LocalKey{key: append([]byte(nil), key...)}
	// A fingerprint that is itself a MAC: it names the key without
	// telling anything about it.
	fp := hmac.New(sha256.New, k.key)
	fp.Write([]byte("stakeout audit key fingerprint"))
	k.id = "local:" + hex.EncodeToString(fp.Sum(nil)[:8])
	return k, nil
}

// ParseLocalKey reads a local key as written in the environment: hex of at
// least 32 bytes (`openssl rand -hex 32`), or Unkeyed, which returns a nil
// key. Errors describe the value's shape, never the value.
func ParseLocalKey(s string) (*LocalKey, error) {
	s = strings.TrimSpace(s)
	if s == Unkeyed {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("not hex digits (write `openssl rand -hex 32`'s output, or \"unkeyed\")")
	}
	return NewLocalKey(b)
}

// KeyID is the key's fingerprint, "local:<16 hex digits>".
func (k *LocalKey) KeyID() string { return k.id }

// MAC returns msg's HMAC-SHA-256.
func (k *LocalKey) MAC(_ context.Context, msg []byte) ([]byte, error) {
	m := hmac.New(sha256.New, k.key)
	m.Write(msg)
	return m.Sum(nil), nil
}

// VerifyMAC compares in constant time.
func (k *LocalKey) VerifyMAC(ctx context.Context, msg, mac []byte) (bool, error) {
	want, _ := k.MAC(ctx, msg)
	return hmac.Equal(want, mac), nil
}

// String names the key by its fingerprint.
func (k *LocalKey) String() string { return "local audit key " + k.id }

// GoString keeps %#v from printing the key material.
func (k *LocalKey) GoString() string { return k.String() }

// LogValue keeps slog from printing the key material.
func (k *LocalKey) LogValue() slog.Value { return slog.StringValue(k.String()) }
