// The Go ticker: a provided.al2023 function built with the standard library only. It
// takes events from the Lambda Runtime API and, for each Scheduled Event, puts one item
// into the ticks table through DynamoDB's JSON protocol, signed with Signature Version 4.
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

type scheduledEvent struct {
	DetailType string   `json:"detail-type"`
	Time       string   `json:"time"`
	Resources  []string `json:"resources"`
}

func main() {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	for {
		response, err := http.Get(api + "next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "runtime API:", err)
			os.Exit(1)
		}
		body, _ := io.ReadAll(response.Body)
		response.Body.Close()
		requestID := response.Header.Get("Lambda-Runtime-Aws-Request-Id")
		result, err := handle(body)
		if err != nil {
			report(api+requestID+"/error", map[string]string{"errorType": "TickError", "errorMessage": err.Error()})
			continue
		}
		report(api+requestID+"/response", result)
	}
}

func report(url string, value interface{}) {
	payload, _ := json.Marshal(value)
	response, err := http.Post(url, "application/json", bytes.NewReader(payload))
	if err != nil {
		fmt.Fprintln(os.Stderr, "runtime API:", err)
		os.Exit(1)
	}
	response.Body.Close()
}

func handle(body []byte) (map[string]string, error) {
	var event scheduledEvent
	if err := json.Unmarshal(body, &event); err != nil || event.DetailType != "Scheduled Event" {
		return nil, fmt.Errorf("not a Scheduled Event: %s", body)
	}
	rule := ""
	if len(event.Resources) > 0 {
		rule = event.Resources[0]
	}
	tick := map[string]string{
		"ticker": "go",
		"at":     event.Time,
		"ranAt":  time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"rule":   rule,
	}
	item := map[string]map[string]string{}
	for name, value := range tick {
		item[name] = map[string]string{"S": value}
	}
	request, _ := json.Marshal(map[string]interface{}{"TableName": os.Getenv("TICKS_TABLE"), "Item": item})
	if err := dynamodb("PutItem", request); err != nil {
		return nil, err
	}
	fmt.Println("tick", event.Time)
	return tick, nil
}

// dynamodb sends one request of DynamoDB's JSON protocol to AWS_ENDPOINT_URL (or the
// region's endpoint), signed with the function's credentials.
func dynamodb(operation string, payload []byte) error {
	region := os.Getenv("AWS_REGION")
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	if endpoint == "" {
		endpoint = "https://dynamodb." + region + ".amazonaws.com"
	}
	request, err := http.NewRequest("POST", endpoint+"/", bytes.NewReader(payload))
	if err != nil {
		return err
	}
	request.Header.Set("Content-Type", "application/x-amz-json-1.0")
	request.Header.Set("X-Amz-Target", "DynamoDB_20120810."+operation)
	sign(request, payload, region, time.Now().UTC())
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	answer, _ := io.ReadAll(response.Body)
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("DynamoDB %s: %s", operation, answer)
	}
	return nil
}

// sign adds Signature Version 4 headers for the dynamodb service.
func sign(request *http.Request, payload []byte, region string, now time.Time) {
	date, stamp := now.Format("20060102"), now.Format("20060102T150405Z")
	payloadHash := sha256Hex(payload)
	request.Header.Set("X-Amz-Date", stamp)
	request.Header.Set("X-Amz-Content-Sha256", payloadHash)
	signed := []string{"content-type", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-target"}
	headers := map[string]string{"host": request.URL.Host}
	if token := os.Getenv("AWS_SESSION_TOKEN"); token != "" {
		request.Header.Set("X-Amz-Security-Token", token)
		signed = append(signed, "x-amz-security-token")
	}
	var canonicalHeaders strings.Builder
	for _, name := range signed {
		value, ok := headers[name]
		if !ok {
			value = request.Header.Get(name)
		}
		canonicalHeaders.WriteString(name + ":" + strings.TrimSpace(value) + "\n")
	}
	signedHeaders := strings.Join(signed, ";")
	canonical := strings.Join([]string{"POST", "/", "", canonicalHeaders.String(), signedHeaders, payloadHash}, "\n")
	scope := date + "/" + region + "/dynamodb/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + stamp + "\n" + scope + "\n" + sha256Hex([]byte(canonical))
	key := []byte("AWS4" + os.Getenv("AWS_SECRET_ACCESS_KEY"))
	for _, part := range []string{date, region, "dynamodb", "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	signature := hex.EncodeToString(hmacSHA256(key, toSign))
	request.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+os.Getenv("AWS_ACCESS_KEY_ID")+"/"+scope+
		", SignedHeaders="+signedHeaders+", Signature="+signature)
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, data string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(data))
	return mac.Sum(nil)
}
