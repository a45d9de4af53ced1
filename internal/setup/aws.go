package setup

import (
	"context"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"log/slog"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smithy "github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/stakeout-ml/stakeout/internal/awssecret"
	"github.com/stakeout-ml/stakeout/internal/bus"
	"github.com/stakeout-ml/stakeout/internal/kmsmac"
	"github.com/stakeout-ml/stakeout/internal/secret"
)

// awsConfig is the AWS configuration every client is built from. The SDK
// logs through the function's logger (sdkLogger), so the function's output
// stays JSON. Checksums are calculated and validated only where an
// operation requires them: the default, "when supported", makes the SDK
// warn about every response that carries none. No client of ours uses
// these flexible checksums today (they are S3's); DynamoDB's own CRC32
// check is another middleware, fixed by crc32Validation.
func awsConfig(ctx context.Context, log *slog.Logger) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithLogger(sdkLogger{log: log}),
		awsconfig.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		awsconfig.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// dynamoClient is the table's client: DynamoDB Local's endpoint when the
// environment names one, the response checksum checked as crc32Validation
// says, then opts.
func dynamoClient(cfg aws.Config, getenv func(string) string, opts []func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, append([]func(*dynamodb.Options){withCRC32Validation, func(o *dynamodb.Options) {
		if ep := getenv(EnvEndpoint); ep != "" {
			o.BaseEndpoint = &ep
		}
	}}, opts...)...)
}

// crc32Header carries the CRC32 of a DynamoDB response's body.
const crc32Header = "X-Amz-Crc32"

// crc32Validation takes the place of the SDK's DynamoDB response checksum
// middleware (same ID), which checks a response without X-Amz-Crc32
// against 0. DynamoDB's error responses carry none, so every
// conditional-check failure, our everyday lost race, logged "failed to
// close HTTP response body ... did not match expected checksum"
// (aws-sdk-go-v2 issue #3545). This one checks the responses that carry
// the header and leaves the others alone, as the fix proposed upstream
// (aws-sdk-go-v2 PR #3559) does: drop it once the SDK has that fix. As in
// the SDK, a mismatch is the error of the body's Close, which the SDK logs
// as a warning (through sdkLogger): the operation's result stands.
type crc32Validation struct{}

func (crc32Validation) ID() string { return "DynamoDB:ResponseChecksumValidation" }

func (crc32Validation) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error,
) {
	out, md, err := next.HandleDeserialize(ctx, in)
	if err != nil {
		return out, md, err
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok {
		return out, md, &smithy.DeserializationError{Err: fmt.Errorf("unknown response type %T", out.RawResponse)}
	}
	header := resp.Header.Get(crc32Header)
	if header == "" {
		return out, md, nil
	}
	want, err := strconv.ParseUint(header, 10, 32)
	if err != nil {
		return out, md, &smithy.DeserializationError{Err: fmt.Errorf("DynamoDB response header %s: %w", crc32Header, err)}
	}
	sum := crc32.NewIEEE()
	resp.Body = &crc32Body{Reader: io.TeeReader(resp.Body, sum), body: resp.Body, sum: sum, want: uint32(want)}
	return out, md, nil
}

// crc32Body checks, when closed, that what was read of it has the CRC32
// its header announced.
type crc32Body struct {
	io.Reader
	body io.Closer
	sum  hash.Hash32
	want uint32
}

func (b *crc32Body) Close() error {
	err := b.body.Close()
	if got := b.sum.Sum32(); got != b.want {
		return fmt.Errorf("DynamoDB response body has CRC32 %d, its %s header says %d", got, crc32Header, b.want)
	}
	return err
}

// withCRC32Validation installs crc32Validation in a DynamoDB client, in
// place of the SDK's check. A client without that check
// (DisableValidateResponseChecksum) is left without: nothing to replace.
// Should a new SDK rename its middleware, the old check would run again
// and TestConditionalCheckFailureLogsOnlyJSON say so.
func withCRC32Validation(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		id := crc32Validation{}.ID()
		if _, ok := s.Deserialize.Get(id); !ok {
			return nil
		}
		_, err := s.Deserialize.Swap(id, crc32Validation{})
		return err
	})
}

// AWSConfig is the AWS configuration the functions build their clients
// from, for the CLI's commands that read the router's table: the SDK's
// log lines go to log, and DynamoDB clients made by DynamoDB check
// checksums as the functions do.
func AWSConfig(ctx context.Context, log *slog.Logger) (aws.Config, error) { return awsConfig(ctx, log) }

// DynamoDB is a client of the router's table built as the functions build
// theirs, at endpoint when it is not empty (DynamoDB Local's).
func DynamoDB(cfg aws.Config, endpoint string) *dynamodb.Client {
	return dynamoClient(cfg, func(string) string { return endpoint }, nil)
}

// The clients only some invocations need — KMS for the audit records of
// an alert, Secrets Manager for a vendor's credentials, EventBridge for
// lifecycle events: a container whose events open no alert calls none —
// are built at their first call rather than at the cold start, which
// Lambda's init phase and every first event after a deploy wait for.
// DynamoDB's, which every event uses, is built at start.

// onFirstUse is build's client, built when first asked for, once.
func onFirstUse[C any](build func() C) func() C { return sync.OnceValue(build) }

// lazyKMS is the audit key's KMS client, built on first use.
type lazyKMS struct{ client func() *kms.Client }

func (l lazyKMS) GenerateMac(ctx context.Context, in *kms.GenerateMacInput, opts ...func(*kms.Options)) (*kms.GenerateMacOutput, error) {
	return l.client().GenerateMac(ctx, in, opts...)
}

// lazySecretsManager is Secrets Manager's client, built on first use.
type lazySecretsManager struct{ client func() *secretsmanager.Client }

func (l lazySecretsManager) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput,
	opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return l.client().GetSecretValue(ctx, in, opts...)
}

// lazyEventBridge is EventBridge's client, built on first use.
type lazyEventBridge struct{ client func() *eventbridge.Client }

func (l lazyEventBridge) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput,
	opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	return l.client().PutEvents(ctx, in, opts...)
}

var (
	_ kmsmac.API                  = lazyKMS{}
	_ awssecret.SecretsManagerAPI = lazySecretsManager{}
	_ bus.API                     = lazyEventBridge{}
)

// kmsClient is the audit key's KMS client, built at its first call: a
// function keyed locally, or an event that opens no alert, builds none.
func kmsClient(awsCfg aws.Config, getenv func(string) string) kmsmac.API {
	return lazyKMS{onFirstUse(func() *kms.Client {
		return kms.NewFromConfig(awsCfg, func(o *kms.Options) {
			if ep := getenv(EnvKMSEndpoint); ep != "" {
				o.BaseEndpoint = &ep
			}
		})
	})}
}

// secretsManager resolves secret references from Secrets Manager.
func secretsManager(awsCfg aws.Config, getenv func(string) string) *secret.Cache {
	return awssecret.New(lazySecretsManager{onFirstUse(func() *secretsmanager.Client {
		return secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) {
			if ep := getenv(EnvSecretsManager); ep != "" {
				o.BaseEndpoint = &ep
			}
		})
	})})
}

// eventBus publishes lifecycle events to the bus name.
func eventBus(awsCfg aws.Config, getenv func(string) string, name string) *bus.Publisher {
	return bus.New(lazyEventBridge{onFirstUse(func() *eventbridge.Client {
		return eventbridge.NewFromConfig(awsCfg, func(o *eventbridge.Options) {
			if ep := getenv(EnvEventBridgeURL); ep != "" {
				o.BaseEndpoint = &ep
			}
		})
	})}, name)
}
