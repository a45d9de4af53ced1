// Package kmsmac is the audit key in AWS: a KMS HMAC key (KeySpec
// HMAC_256, KeyUsage GENERATE_VERIFY_MAC, created by template.yaml) used
// through GenerateMac, which the functions may call, and VerifyMac, which
// only `stakeout audit --verify` calls, with the operator's credentials.
// The key material never leaves KMS: whoever can write the table but not
// call GenerateMac on this key cannot forge a MAC on the audit chain.
//
// Key implements audit.Signer and Verifier audit.Checker; the core
// (internal/audit, internal/state) knows only those interfaces.
package kmsmac

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// API is the KMS call signing makes (kms:GenerateMac, all the functions'
// roles allow).
type API interface {
	GenerateMac(ctx context.Context, in *kms.GenerateMacInput, opts ...func(*kms.Options)) (*kms.GenerateMacOutput, error)
}

// VerifyAPI is the KMS call verifying makes (kms:VerifyMac, for operators).
type VerifyAPI interface {
	VerifyMac(ctx context.Context, in *kms.VerifyMacInput, opts ...func(*kms.Options)) (*kms.VerifyMacOutput, error)
}

// Algorithm is the MAC algorithm of HMAC_256 keys; the template's policies
// allow no other (kms:MacAlgorithm).
const Algorithm = types.MacAlgorithmSpecHmacSha256

// keyARN is a KMS key ARN: records name the exact key, so an alias (which
// can be moved to another key) is refused. Compiled at the first check,
// not at the start of every process that links the package.
var keyARN = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$`)
})

func checkARN(arn string) error {
	if !keyARN().MatchString(arn) {
		return fmt.Errorf("audit key %q is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>; an alias can move, records must name the key)", arn)
	}
	return nil
}

// Key signs with a KMS HMAC key.
type Key struct {
	api API
	arn string
}

// New returns the KMS key with ARN arn, through api.
func New(api API, arn string) (*Key, error) {
	if err := checkARN(arn); err != nil {
		return nil, err
	}
	return &Key{api: api, arn: arn}, nil
}

// KeyID is the key's ARN.
func (k *Key) KeyID() string { return k.arn }

// MAC calls GenerateMac. The SDK's retryer retries throttling and KMS's
// transient faults; what is left is returned, and the commit it was for
// fails as a transient fault.
func (k *Key) MAC(ctx context.Context, msg []byte) ([]byte, error) {
	out, err := k.api.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(k.arn), Message: msg, MacAlgorithm: Algorithm})
	if err != nil {
		return nil, fmt.Errorf("kms GenerateMac: %w", err)
	}
	if got := aws.ToString(out.KeyId); got != k.arn {
		return nil, fmt.Errorf("kms GenerateMac answered for key %s, asked %s", got, k.arn)
	}
	return out.Mac, nil
}

// Verifier checks MACs with a KMS HMAC key.
type Verifier struct {
	api VerifyAPI
	arn string
}

// NewVerifier returns a checker of MACs made with the key with ARN arn.
func NewVerifier(api VerifyAPI, arn string) (*Verifier, error) {
	if err := checkARN(arn); err != nil {
		return nil, err
	}
	return &Verifier{api: api, arn: arn}, nil
}

// KeyID is the key's ARN.
func (v *Verifier) KeyID() string { return v.arn }

// VerifyMAC calls VerifyMac. A MAC that does not verify is KMS's
// KMSInvalidMacException (or MacValid false, as some emulators answer):
// false, not an error. A key that cannot be used (disabled, pending
// deletion, not found, access denied) is an error: the MAC was not checked.
func (v *Verifier) VerifyMAC(ctx context.Context, msg, mac []byte) (bool, error) {
	out, err := v.api.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(v.arn), Message: msg, Mac: mac, MacAlgorithm: Algorithm})
	var invalid *types.KMSInvalidMacException
	switch {
	case errors.As(err, &invalid):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("kms VerifyMac: %w", err)
	}
	return out.MacValid, nil
}
