package kmstest_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/stakeout-ml/stakeout/internal/kmstest"
)

func generate(t *testing.T, c *kms.Client, in *kms.GenerateMacInput) (*kms.GenerateMacOutput, error) {
	t.Helper()
	if in.MacAlgorithm == "" {
		in.MacAlgorithm = types.MacAlgorithmSpecHmacSha256
	}
	return c.GenerateMac(context.Background(), in)
}

func TestKeysAreFoundByIdARNAndAlias(t *testing.T) {
	s := kmstest.New(t)
	c := s.Client(t)
	arn := s.CreateKey()
	s.Alias("alias/audit", arn)
	id := arn[strings.LastIndex(arn, "/")+1:]
	var macs [][]byte
	for _, name := range []string{arn, id, "alias/audit", "arn:aws:kms:us-east-1:111122223333:alias/audit"} {
		out, err := generate(t, c, &kms.GenerateMacInput{KeyId: aws.String(name), Message: []byte("m")})
		if err != nil {
			t.Fatalf("GenerateMac(%s) = %v", name, err)
		}
		if aws.ToString(out.KeyId) != arn {
			t.Errorf("GenerateMac(%s).KeyId = %s, want the key ARN", name, aws.ToString(out.KeyId))
		}
		macs = append(macs, out.Mac)
	}
	for _, m := range macs[1:] {
		if !bytes.Equal(m, macs[0]) {
			t.Error("the same key and message gave different MACs")
		}
	}
}

func TestRequestsAreValidatedAsKMSDoes(t *testing.T) {
	s := kmstest.New(t)
	c := s.Client(t)
	arn := s.CreateKey()
	for _, tc := range []struct {
		name string
		in   kms.GenerateMacInput
		code string
	}{
		{"empty message", kms.GenerateMacInput{KeyId: aws.String(arn), Message: []byte{}}, "ValidationException"},
		{"message over 4096 bytes", kms.GenerateMacInput{KeyId: aws.String(arn), Message: make([]byte, 4097)}, "ValidationException"},
		{"algorithm of another spec", kms.GenerateMacInput{KeyId: aws.String(arn), Message: []byte("m"), MacAlgorithm: types.MacAlgorithmSpecHmacSha512}, "InvalidKeyUsageException"},
		{"unknown key", kms.GenerateMacInput{KeyId: aws.String(arn + "0"), Message: []byte("m")}, "NotFoundException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := generate(t, c, &tc.in)
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tc.code {
				t.Errorf("GenerateMac = %v, want %s", err, tc.code)
			}
		})
	}
	if _, err := generate(t, c, &kms.GenerateMacInput{KeyId: aws.String(arn), Message: make([]byte, 4096)}); err != nil {
		t.Errorf("GenerateMac(4096 bytes) = %v", err)
	}
}

func TestUnsignedAndUnknownRequestsAreRefused(t *testing.T) {
	s := kmstest.New(t)
	for _, tc := range []struct{ target, auth, want string }{
		{"TrentService.GenerateMac", "", "MissingAuthenticationTokenException"},
		{"TrentService.Encrypt", "AWS4-HMAC-SHA256 Credential=k/20260301/us-east-1/kms/aws4_request, Signature=x", "UnknownOperationException"},
		{"TrentService.GenerateMac", "AWS4-HMAC-SHA256 Credential=k/20260301/us-east-1/dynamodb/aws4_request, Signature=x", "InvalidSignatureException"},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/", strings.NewReader(`{}`))
		req.Header.Set("X-Amz-Target", tc.target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || !strings.Contains(body.String(), tc.want) {
			t.Errorf("%s with %q = %d %s, want %s", tc.target, tc.auth, resp.StatusCode, body.String(), tc.want)
		}
	}
}
