package kmstest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// KMS's wire protocol, AWS JSON 1.1: every operation is a POST to "/"
// named by X-Amz-Target ("TrentService.<operation>"). Blobs travel as
// base64 strings, which encoding/json does for []byte.
const (
	targetPrefix = "TrentService."
	contentType  = "application/x-amz-json-1.1"
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

type apiError struct {
	status  int
	code    string
	message string
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.latency > 0 {
		time.Sleep(s.latency)
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	if e := checkProtocol(r, op); e != nil {
		writeError(w, e)
		return
	}
	if s.callFailN > 0 {
		s.callFailN--
		writeError(w, callFault(s.callStatus))
		return
	}
	var req macRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, &apiError{http.StatusBadRequest, "SerializationException", "request body is not valid JSON: " + err.Error()})
		return
	}
	k, e := s.usable(&req)
	if e != nil {
		writeError(w, e)
		return
	}
	mac := hmac.New(sha256.New, k.material)
	mac.Write(req.Message)
	sum := mac.Sum(nil)
	if op == "GenerateMac" {
		writeJSON(w, http.StatusOK, map[string]any{"KeyId": k.arn, "Mac": sum, "MacAlgorithm": algorithm})
		return
	}
	if !hmac.Equal(sum, req.Mac) {
		writeError(w, &apiError{http.StatusBadRequest, "KMSInvalidMacException", ""})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"KeyId": k.arn, "MacValid": true, "MacAlgorithm": algorithm})
}

// usable validates a request's members and key as KMS does: parameters,
// then the key, its state, its usage.
func (s *Server) usable(req *macRequest) (*key, *apiError) {
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
		return nil, &apiError{http.StatusBadRequest, "NotFoundException", fmt.Sprintf("Key '%s' does not exist", *req.KeyId)}
	case k.state == "Disabled":
		return nil, &apiError{http.StatusBadRequest, "DisabledException", k.arn + " is disabled."}
	case k.state == "PendingDeletion":
		return nil, &apiError{http.StatusBadRequest, "KMSInvalidStateException", k.arn + " is pending deletion."}
	case *req.MacAlgorithm != algorithm:
		return nil, &apiError{http.StatusBadRequest, "InvalidKeyUsageException", fmt.Sprintf("The request is not valid for the key spec HMAC_256 (%s).", *req.MacAlgorithm)}
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

// checkProtocol rejects what KMS would not route, or would not
// authenticate. The signature itself is not verified (the credentials are
// placeholders) but its scope is.
func checkProtocol(r *http.Request, op string) *apiError {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return &apiError{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("%s %s is not an operation", r.Method, r.URL.Path)}
	}
	if op != "GenerateMac" && op != "VerifyMac" {
		return &apiError{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("X-Amz-Target %q is not an operation kmstest serves", r.Header.Get("X-Amz-Target"))}
	}
	if ct := r.Header.Get("Content-Type"); ct != contentType {
		return &apiError{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("Content-Type %q is not %q", ct, contentType)}
	}
	cred, ok := strings.CutPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=")
	if !ok {
		return &apiError{http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	cred, _, _ = strings.Cut(cred, ",")
	scope := strings.Split(cred, "/") // access-key-id/date/region/service/aws4_request
	if len(scope) != 5 || scope[3] != "kms" || scope[2] != Region {
		return &apiError{http.StatusForbidden, "InvalidSignatureException", fmt.Sprintf("Credential should be scoped to kms in %s, not %q.", Region, cred)}
	}
	return nil
}

func validation(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "ValidationException", msg}
}

// callFault is the error KMS answers a failed call with: throttling is a
// 400 in AWS JSON services.
func callFault(status int) *apiError {
	code := map[int]string{http.StatusBadRequest: "ThrottlingException", http.StatusTooManyRequests: "ThrottlingException",
		http.StatusForbidden: "AccessDeniedException", http.StatusServiceUnavailable: "KeyUnavailableException"}[status]
	if code == "" {
		code = "KMSInternalException"
	}
	return &apiError{status, code, code + " (injected by kmstest)"}
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, map[string]string{"__type": e.code, "message": e.message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"__type":"KMSInternalException","message":"kmstest: encode response"}`)
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Amzn-Requestid", newID())
	w.WriteHeader(status)
	w.Write(body)
}

// newID returns a random version-4 UUID, the form of KMS key ids.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
