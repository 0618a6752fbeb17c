package main

import (
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The signing key example from AWS's Signature Version 4 documentation.
func TestSigningKeyMatchesAWSExample(t *testing.T) {
	key := signingKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
	want := "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
	if got := hex.EncodeToString(key); got != want {
		t.Errorf("signing key = %s, want %s", got, want)
	}
}

func TestSignSignsTheDynamoDBHeaders(t *testing.T) {
	endpoint, _ := url.Parse("http://127.0.0.1:4566")
	client := &dynamoClient{endpoint: endpoint, region: "us-east-1", accessKeyID: "AKID", secretKey: "secret", sessionToken: "token"}
	request, _ := http.NewRequest(http.MethodPost, endpoint.String(), strings.NewReader("{}"))
	request.Header.Set("Content-Type", "application/x-amz-json-1.0")
	request.Header.Set("X-Amz-Target", "DynamoDB_20120810.GetItem")
	client.sign(request, []byte("{}"), time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC))

	authorization := request.Header.Get("Authorization")
	wantPrefix := "AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/dynamodb/aws4_request, " +
		"SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-amz-target, Signature="
	if !strings.HasPrefix(authorization, wantPrefix) {
		t.Errorf("Authorization = %s, want it to start with %s", authorization, wantPrefix)
	}
	if got := request.Header.Get("X-Amz-Security-Token"); got != "token" {
		t.Errorf("X-Amz-Security-Token = %q", got)
	}
	if got := request.Header.Get("X-Amz-Date"); got != "20261123T080000Z" {
		t.Errorf("X-Amz-Date = %q", got)
	}
}

func TestDescribeError(t *testing.T) {
	got := describeError(400, []byte(`{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}`))
	if want := "ResourceNotFoundException: Requested resource not found (HTTP 400)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := describeError(502, []byte("bad gateway\n")), "HTTP 502: bad gateway"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
