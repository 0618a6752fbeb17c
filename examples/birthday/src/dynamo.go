// A minimal DynamoDB client: the two calls this function makes (PutItem and GetItem) over
// DynamoDB's JSON protocol, signed with AWS Signature Version 4. Written against the
// standard library so the example shows everything that goes over the wire.

package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

// errUserNotFound is GetItem finding no item for the username.
var errUserNotFound = errors.New("user not found")

// dynamoClient holds what every request needs: where DynamoDB is and the credentials
// Lambda (or Serverful) put in the function's environment.
type dynamoClient struct {
	endpoint     *url.URL
	region       string
	accessKeyID  string
	secretKey    string
	sessionToken string
	table        string
	http         *http.Client
	now          func() time.Time
}

// newDynamoClientFromEnv configures the client as the AWS SDKs do: AWS_ENDPOINT_URL_DYNAMODB
// or AWS_ENDPOINT_URL when set (Serverful sets the latter), else DynamoDB's public
// endpoint in AWS_REGION.
func newDynamoClientFromEnv(table string) (*dynamoClient, error) {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return nil, errors.New("AWS_REGION is not set")
	}
	endpoint := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB")
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL")
	}
	if endpoint == "" {
		endpoint = "https://dynamodb." + region + ".amazonaws.com"
	}
	parsed, err := url.Parse(endpoint)
	if err != nil || parsed.Host == "" {
		return nil, fmt.Errorf("the DynamoDB endpoint %q is not a URL", endpoint)
	}
	client := &dynamoClient{
		endpoint:     parsed,
		region:       region,
		accessKeyID:  os.Getenv("AWS_ACCESS_KEY_ID"),
		secretKey:    os.Getenv("AWS_SECRET_ACCESS_KEY"),
		sessionToken: os.Getenv("AWS_SESSION_TOKEN"),
		table:        table,
		http:         &http.Client{Timeout: 5 * time.Second},
		now:          time.Now,
	}
	return client, nil
}

// attributeValue is DynamoDB's typed value; this table only stores strings.
type attributeValue struct {
	S string `json:"S"`
}

// putBirthday creates or replaces the user's item.
func (c *dynamoClient) putBirthday(ctx context.Context, username string, dateOfBirth time.Time) error {
	input := map[string]any{
		"TableName": c.table,
		"Item": map[string]attributeValue{
			"username":    {S: username},
			"dateOfBirth": {S: dateOfBirth.Format(dateLayout)},
		},
	}
	return c.call(ctx, "PutItem", input, nil)
}

// getBirthday reads the user's date of birth, or returns errUserNotFound.
func (c *dynamoClient) getBirthday(ctx context.Context, username string) (time.Time, error) {
	input := map[string]any{
		"TableName": c.table,
		"Key":       map[string]attributeValue{"username": {S: username}},
		// A user who just saved a date expects the next GET to see it, which an eventually
		// consistent read does not promise.
		"ConsistentRead": true,
	}
	var output struct {
		Item map[string]attributeValue `json:"Item"`
	}
	if err := c.call(ctx, "GetItem", input, &output); err != nil {
		return time.Time{}, err
	}
	if output.Item == nil {
		return time.Time{}, errUserNotFound
	}
	stored, ok := output.Item["dateOfBirth"]
	if !ok {
		return time.Time{}, fmt.Errorf("the item for %q has no dateOfBirth", username)
	}
	dateOfBirth, err := time.Parse(dateLayout, stored.S)
	if err != nil {
		return time.Time{}, fmt.Errorf("the item for %q has a malformed dateOfBirth %q", username, stored.S)
	}
	return dateOfBirth, nil
}

// call sends one DynamoDB operation and decodes its result into output (when not nil).
func (c *dynamoClient) call(ctx context.Context, operation string, input, output any) error {
	// Missing credentials fail the call rather than the start, so that requests which never
	// reach DynamoDB (validation errors) still work where no credentials are handed out,
	// such as a `serverful invoke` without the AWS endpoint.
	if c.accessKeyID == "" || c.secretKey == "" {
		return fmt.Errorf("DynamoDB %s: no credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set", operation)
	}
	body, err := json.Marshal(input)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", operation, err)
	}
	request, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build %s request: %w", operation, err)
	}
	request.Header.Set("Content-Type", "application/x-amz-json-1.0")
	request.Header.Set("X-Amz-Target", "DynamoDB_20120810."+operation)
	c.sign(request, body, c.now().UTC())

	response, err := c.http.Do(request)
	if err != nil {
		return fmt.Errorf("DynamoDB %s: %w", operation, err)
	}
	defer response.Body.Close()
	responseBody, err := io.ReadAll(io.LimitReader(response.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("DynamoDB %s: read response: %w", operation, err)
	}
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("DynamoDB %s: %s", operation, describeError(response.StatusCode, responseBody))
	}
	if output != nil {
		if err := json.Unmarshal(responseBody, output); err != nil {
			return fmt.Errorf("DynamoDB %s: decode response: %w", operation, err)
		}
	}
	return nil
}

// describeError turns DynamoDB's error body, {"__type": "namespace#Code", "message": ...},
// into "Code: message (HTTP 400)", falling back to the raw body when it is something else.
func describeError(status int, body []byte) string {
	var parsed struct {
		Type         string `json:"__type"`
		Message      string `json:"message"`
		MessageUpper string `json:"Message"`
	}
	if json.Unmarshal(body, &parsed) != nil || parsed.Type == "" {
		return fmt.Sprintf("HTTP %d: %s", status, strings.TrimSpace(string(body)))
	}
	code := parsed.Type[strings.LastIndex(parsed.Type, "#")+1:]
	message := parsed.Message
	if message == "" {
		message = parsed.MessageUpper
	}
	return fmt.Sprintf("%s: %s (HTTP %d)", code, message, status)
}

// sign adds the X-Amz-* headers and the Authorization header of Signature Version 4
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html).
func (c *dynamoClient) sign(request *http.Request, body []byte, now time.Time) {
	amzDate := now.Format("20060102T150405Z")
	day := now.Format("20060102")
	payloadHash := sha256Hex(body)

	request.Header.Set("X-Amz-Date", amzDate)
	request.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if c.sessionToken != "" {
		request.Header.Set("X-Amz-Security-Token", c.sessionToken)
	}

	// The canonical headers are the ones the signature covers, lower-cased and sorted. Host
	// is not in request.Header (Go sends request.Host), so it is added by hand.
	headers := map[string]string{"host": request.Host}
	for _, name := range []string{"Content-Type", "X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Security-Token", "X-Amz-Target"} {
		if value := request.Header.Get(name); value != "" {
			headers[strings.ToLower(name)] = strings.TrimSpace(value)
		}
	}
	names := make([]string, 0, len(headers))
	for name := range headers {
		names = append(names, name)
	}
	sort.Strings(names)
	var canonicalHeaders strings.Builder
	for _, name := range names {
		canonicalHeaders.WriteString(name + ":" + headers[name] + "\n")
	}
	signedHeaders := strings.Join(names, ";")

	path := request.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canonicalRequest := strings.Join([]string{
		request.Method,
		path,
		request.URL.RawQuery,
		canonicalHeaders.String(),
		signedHeaders,
		payloadHash,
	}, "\n")

	scope := day + "/" + c.region + "/dynamodb/aws4_request"
	stringToSign := strings.Join([]string{
		"AWS4-HMAC-SHA256",
		amzDate,
		scope,
		sha256Hex([]byte(canonicalRequest)),
	}, "\n")

	signature := hex.EncodeToString(hmacSHA256(signingKey(c.secretKey, day, c.region, "dynamodb"), []byte(stringToSign)))
	request.Header.Set("Authorization", fmt.Sprintf(
		"AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		c.accessKeyID, scope, signedHeaders, signature,
	))
}

// signingKey derives the day's key for one region and service from the secret key, so
// the secret itself never signs a request.
func signingKey(secretKey, day, region, service string) []byte {
	key := hmacSHA256([]byte("AWS4"+secretKey), []byte(day))
	key = hmacSHA256(key, []byte(region))
	key = hmacSHA256(key, []byte(service))
	return hmacSHA256(key, []byte("aws4_request"))
}

func hmacSHA256(key, data []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	return mac.Sum(nil)
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
