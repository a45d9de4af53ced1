package putevents

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// contentType is AWS JSON 1.1's content type, of requests and answers.
const contentType = "application/x-amz-json-1.1"

// target is the one operation served: X-Amz-Target is
// "<service>.<operation>", and EventBridge's service is AWSEvents.
const target = "AWSEvents.PutEvents"

// maxBodySize bounds what is read of a body: JSON escaping can make 256 KB
// of entries (maxRequestSize) several times larger on the wire (\u0000 is
// six bytes), but not without bound.
const maxBodySize = 8 * maxRequestSize

// apiError is a call-level error, answered as an AWS JSON error body
// whose __type the SDK decodes (into a smithy.GenericAPIError, or the
// modelled type when there is one) and whose message says why.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// rejected is the call-level error of a Rejection: HTTP 400.
func rejected(r *Rejection) *apiError {
	return &apiError{http.StatusBadRequest, r.Code, r.Message}
}

// admit rejects what EventBridge would not route to PutEvents. The
// request is not authenticated: this is a local endpoint, and the AWS
// CLI and SDKs sign with whatever credentials they have, or none.
func admit(r *http.Request) *apiError {
	unknown := func(format string, a ...any) *apiError {
		return &apiError{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf(format, a...)}
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return unknown("%s %s is not an operation: PutEvents is POST / with X-Amz-Target: %s", r.Method, r.URL.Path, target)
	}
	if t := r.Header.Get("X-Amz-Target"); t != target {
		return unknown("X-Amz-Target %q is not an operation this endpoint serves: it serves only %s", t, target)
	}
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(ct) != contentType {
		return unknown("Content-Type %q is not %q (AWS JSON 1.1)", r.Header.Get("Content-Type"), contentType)
	}
	return nil
}

// decode reads the body: a body that is not JSON of PutEvents' shape is
// a SerializationException, as the service answers it.
func decode(w http.ResponseWriter, r *http.Request) (*Request, *apiError) {
	// UseNumber: a timestamp keeps its fraction of a second.
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodySize))
	dec.UseNumber()
	var req Request
	if err := dec.Decode(&req); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, rejected(validation(fmt.Sprintf("Total size of the entries in the request is over the limit (the body is over %d bytes).", maxBodySize)))
		}
		return nil, &apiError{http.StatusBadRequest, "SerializationException", "request body is not a PutEvents request in JSON: " + jsonProblem(err)}
	}
	// One JSON value: EventBridge refuses a body with more after it.
	if _, err := dec.Token(); err != io.EOF {
		return nil, &apiError{http.StatusBadRequest, "SerializationException", "request body is not a PutEvents request in JSON: more after the request object"}
	}
	return &req, nil
}

// jsonProblem says what is wrong with a body in the request's terms (the
// member, the JSON type found), not the decoder's Go types.
func jsonProblem(err error) string {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("%s cannot be a JSON %s (offset %d)", typ.Field, typ.Value, typ.Offset)
	}
	return err.Error()
}
