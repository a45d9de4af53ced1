package kmstest

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/awsjsontest"
)

// wire is KMS's wire protocol, AWS JSON 1.1 (X-Amz-Target
// "TrentService.<operation>"). Blobs travel as base64 strings, which
// encoding/json does for []byte.
var wire = awsjsontest.Service{
	Target:        "TrentService",
	Operations:    []string{"GenerateMac", "VerifyMac"},
	SigningName:   "kms",
	Region:        Region,
	Server:        "kmstest",
	InternalError: "KMSInternalException",
	FaultCode:     faultCode,
}

const (
	// GenerateMac's and VerifyMac's Message: 1 to 4096 bytes
	// (https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateMac.html).
	maxMessage = 4096
	algorithm  = "HMAC_SHA_256" // the one HMAC_256 keys support
)

type macRequest struct {
	KeyId        *string
	Message      []byte
	MacAlgorithm *string
	Mac          []byte // VerifyMac
	GrantTokens  []string
	DryRun       *bool
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.latency > 0 {
		time.Sleep(s.latency)
	}
	op := wire.Operation(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	var req macRequest
	if e := wire.Receive(r, &s.faults, &req); e != nil {
		wire.WriteError(w, e)
		return
	}
	k, e := s.usable(&req)
	if e != nil {
		wire.WriteError(w, e)
		return
	}
	mac := hmac.New(sha256.New, k.material)
	mac.Write(req.Message)
	sum := mac.Sum(nil)
	if op == "GenerateMac" {
		wire.WriteJSON(w, http.StatusOK, map[string]any{"KeyId": k.arn, "Mac": sum, "MacAlgorithm": algorithm})
		return
	}
	if !hmac.Equal(sum, req.Mac) {
		wire.WriteError(w, awsjsontest.NewError(http.StatusBadRequest, "KMSInvalidMacException", ""))
		return
	}
	wire.WriteJSON(w, http.StatusOK, map[string]any{"KeyId": k.arn, "MacValid": true, "MacAlgorithm": algorithm})
}

// usable validates a request's members and key as KMS does: parameters,
// then the key, its state, its usage.
func (s *Server) usable(req *macRequest) (*key, *awsjsontest.Error) {
	switch {
	case req.KeyId == nil || *req.KeyId == "":
		return nil, validation("1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	case len(req.Message) < 1 || len(req.Message) > maxMessage:
		return nil, validation(fmt.Sprintf("1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length between 1 and %d", maxMessage))
	case req.MacAlgorithm == nil:
		return nil, validation("1 validation error detected: Value null at 'macAlgorithm' failed to satisfy constraint: Member must not be null")
	}
	k := s.lookup(*req.KeyId)
	switch {
	case k == nil:
		return nil, awsjsontest.NewError(http.StatusBadRequest, "NotFoundException", fmt.Sprintf("Key '%s' does not exist", *req.KeyId))
	case k.state == "Disabled":
		return nil, awsjsontest.NewError(http.StatusBadRequest, "DisabledException", k.arn+" is disabled.")
	case k.state == "PendingDeletion":
		return nil, awsjsontest.NewError(http.StatusBadRequest, "KMSInvalidStateException", k.arn+" is pending deletion.")
	case *req.MacAlgorithm != algorithm:
		return nil, awsjsontest.NewError(http.StatusBadRequest, "InvalidKeyUsageException", fmt.Sprintf("The request is not valid for the key spec HMAC_256 (%s).", *req.MacAlgorithm))
	}
	return k, nil
}

// lookup finds a key by id, key ARN, alias or alias ARN.
func (s *Server) lookup(id string) *key {
	if arn, ok := s.aliases[id]; ok {
		id = arn
	}
	if _, alias, ok := strings.Cut(id, ":alias/"); ok {
		if arn, ok := s.aliases["alias/"+alias]; ok {
			id = arn
		}
	}
	if _, kid, ok := strings.Cut(id, ":key/"); ok {
		if k := s.keys[kid]; k != nil && k.arn == id {
			return k
		}
		return nil
	}
	return s.keys[id]
}

func validation(msg string) *awsjsontest.Error {
	return awsjsontest.NewError(http.StatusBadRequest, "ValidationException", msg)
}

// faultCode is the code of the error KMS answers a failed call with HTTP
// status.
func faultCode(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusTooManyRequests:
		return "ThrottlingException"
	case http.StatusForbidden:
		return "AccessDeniedException"
	case http.StatusServiceUnavailable:
		return "KeyUnavailableException"
	}
	return "KMSInternalException"
}
