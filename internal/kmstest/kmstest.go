// Package kmstest runs an in-process AWS KMS for tests: an httptest server
// that speaks KMS's real wire protocol (AWS JSON 1.1, X-Amz-Target
// TrentService.GenerateMac and TrentService.VerifyMac), so the real
// aws-sdk-go-v2 kms client is pointed at it unchanged and the tests
// exercise the SDK's serialisation, signing and error decoding as
// production does.
//
// Its keys are HMAC_256 keys (KeyUsage GENERATE_VERIFY_MAC) computing real
// RFC 2104 HMAC-SHA-256. It validates what KMS documents: the key named by
// id, key ARN or alias; the key enabled (DisabledException) and not pending
// deletion (KMSInvalidStateException); the algorithm the key's spec
// supports (InvalidKeyUsageException); a Message of 1 to 4096 bytes. A MAC
// that does not verify is KMSInvalidMacException, as on AWS (some emulators
// answer MacValid false instead). Faults are queued with FailCalls and
// consumed by the next requests; WithLatency adds a round trip's delay.
//
// Every server is closed by t.Cleanup; all methods are safe for concurrent
// use.
package kmstest

import (
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/stakeout-ml/stakeout/internal/awsjsontest"
)

// Region and Account are where the server's keys live (Account is the
// documentation's example account, not a real one).
const (
	Region  = "us-east-1"
	Account = "111122223333"
)

type key struct {
	arn      string
	material []byte
	state    string // Enabled, Disabled, PendingDeletion
}

// Server is a fake KMS. Create it with New.
type Server struct {
	srv     *httptest.Server
	latency time.Duration

	mu      sync.Mutex
	keys    map[string]*key // by key id
	aliases map[string]string
	calls   map[string]int     // by operation
	faults  awsjsontest.Faults // FailCalls
}

// Option configures a Server.
type Option func(*Server)

// WithLatency delays every answer by d: a region's round trip, for
// measuring what callers wait.
func WithLatency(d time.Duration) Option { return func(s *Server) { s.latency = d } }

// New starts a server; t.Cleanup closes it.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{keys: map[string]*key{}, aliases: map[string]string{}, calls: map[string]int{}}
	for _, o := range opts {
		o(s)
	}
	s.srv = awsjsontest.Start(t, s.serveHTTP)
	return s
}

// URL is the server's endpoint, for a KMS client's BaseEndpoint.
func (s *Server) URL() string { return s.srv.URL }

// Client returns a KMS client for the server, with optFns applied after
// the defaults. The credentials are placeholders, not secrets: the server
// checks that requests are SigV4-signed for "kms" but not the signature.
func (s *Server) Client(t testing.TB, optFns ...func(*kms.Options)) *kms.Client {
	t.Helper()
	return kms.New(kms.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("kmstest", "kmstest", ""),
		HTTPClient:   s.srv.Client(),
	}, optFns...)
}

// CreateKey makes an enabled HMAC_256 key with random material, as
// CreateKey with KeySpec HMAC_256 and KeyUsage GENERATE_VERIFY_MAC does,
// and returns its ARN.
func (s *Server) CreateKey() string {
	id := awsjsontest.NewID()
	k := &key{arn: fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", Region, Account, id), material: make([]byte, 32), state: "Enabled"}
	rand.Read(k.material)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[id] = k
	return k.arn
}

// Alias names a key by alias ("alias/stakeout-audit").
func (s *Server) Alias(alias, arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aliases[alias] = arn
}

// Disable disables a key (DisableKey); ScheduleDeletion puts it in
// PendingDeletion (ScheduleKeyDeletion). Either makes it unusable.
func (s *Server) Disable(arn string)          { s.setState(arn, "Disabled") }
func (s *Server) ScheduleDeletion(arn string) { s.setState(arn, "PendingDeletion") }

func (s *Server) setState(arn, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.lookup(arn); k != nil {
		k.state = state
	}
}

// FailCalls makes the next n calls answer with HTTP status and the error
// KMS sends with it, without doing anything: 400 ThrottlingException,
// 403 AccessDeniedException, 500 KMSInternalException, 503
// KeyUnavailableException.
func (s *Server) FailCalls(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Set(n, status)
}

// Calls is the number of requests for an operation ("GenerateMac",
// "VerifyMac"), failed or not.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}
