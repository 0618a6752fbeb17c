// Command bootstrap is the birthday greeter as a Lambda function on a provided.* runtime:
// it speaks the Lambda Runtime API itself (no aws-lambda-go), takes API Gateway REST API
// events (payload format 1.0) and answers with proxy responses.
//
//	PUT /hello/{user} {"dateOfBirth": "YYYY-MM-DD"}  -> 204
//	GET /hello/{user}                                -> 200 {"message": "Hello, ..."}
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"
)

// runtimeAPIVersion is the path prefix of every Runtime API call.
const runtimeAPIVersion = "/2018-06-01/runtime"

// apiGatewayRequest holds the fields of a payload format 1.0 event this function reads.
type apiGatewayRequest struct {
	HTTPMethod      string            `json:"httpMethod"`
	PathParameters  map[string]string `json:"pathParameters"`
	Body            *string           `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
}

// apiGatewayResponse is a Lambda proxy integration's response.
type apiGatewayResponse struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers,omitempty"`
	Body       string            `json:"body"`
}

// store is what the handler needs from DynamoDB, so that a test could give it a fake.
type store interface {
	putBirthday(ctx context.Context, username string, dateOfBirth time.Time) error
	getBirthday(ctx context.Context, username string) (time.Time, error)
}

func main() {
	// Lambda timestamps every log line itself; a second timestamp is noise.
	log.SetFlags(0)
	log.SetOutput(os.Stderr)

	runtimeAPI := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	if runtimeAPI == "" {
		log.Fatal("AWS_LAMBDA_RUNTIME_API is not set: this program runs as a Lambda function (try `serverful up`)")
	}
	runtime := &runtimeClient{
		base: "http://" + runtimeAPI + runtimeAPIVersion,
		// No timeout: /next is a long poll that waits as long as there is no request.
		http: &http.Client{},
	}

	users, err := newStoreFromEnv()
	if err != nil {
		// Lambda reports an init error to the caller and starts a fresh process for the
		// next request, so exiting is the right thing after telling it why.
		log.Printf("failed to start: %v", err)
		runtime.post("/init/error", errorPayload("Runtime.InitError", err), "Runtime.InitError")
		os.Exit(1)
	}

	for {
		invocation, err := runtime.next()
		if err != nil {
			// Without the Runtime API there is nothing to serve; Lambda replaces the process.
			log.Fatalf("failed to get the next invocation: %v", err)
		}
		runtime.finish(invocation, users)
	}
}

func newStoreFromEnv() (store, error) {
	table := os.Getenv("TABLE_NAME")
	if table == "" {
		return nil, errors.New("TABLE_NAME is not set (template.yaml sets it to the UsersTable's name)")
	}
	return newDynamoClientFromEnv(table)
}

// runtimeClient talks to the Lambda Runtime API of this process's sandbox.
type runtimeClient struct {
	base string
	http *http.Client
}

type invocation struct {
	requestID string
	deadline  time.Time
	event     []byte
}

// next waits for the next event.
func (r *runtimeClient) next() (invocation, error) {
	response, err := r.http.Get(r.base + "/invocation/next")
	if err != nil {
		return invocation{}, err
	}
	defer response.Body.Close()
	event, err := io.ReadAll(response.Body)
	if err != nil {
		return invocation{}, fmt.Errorf("read the event: %w", err)
	}
	if response.StatusCode != http.StatusOK {
		return invocation{}, fmt.Errorf("HTTP %d: %s", response.StatusCode, event)
	}
	requestID := response.Header.Get("Lambda-Runtime-Aws-Request-Id")
	if requestID == "" {
		return invocation{}, errors.New("the response has no Lambda-Runtime-Aws-Request-Id")
	}
	// The deadline bounds the DynamoDB calls, so a slow store turns into a 500 before
	// Lambda kills the process for running past its timeout.
	deadline := time.Now().Add(10 * time.Second)
	if ms, err := strconv.ParseInt(response.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64); err == nil {
		deadline = time.UnixMilli(ms)
	}
	return invocation{requestID: requestID, deadline: deadline, event: event}, nil
}

// finish handles one invocation and reports its result. A panic in the handler is
// reported as a function error instead of ending the process, which would cost the next
// request a cold start.
func (r *runtimeClient) finish(inv invocation, users store) {
	path := "/invocation/" + inv.requestID
	defer func() {
		if recovered := recover(); recovered != nil {
			log.Printf("request %s: panic: %v", inv.requestID, recovered)
			r.post(path+"/error", errorPayload("Runtime.Panic", fmt.Errorf("%v", recovered)), "Runtime.Panic")
		}
	}()

	var request apiGatewayRequest
	if err := json.Unmarshal(inv.event, &request); err != nil {
		log.Printf("request %s: the event is not an API Gateway request: %v", inv.requestID, err)
		r.post(path+"/error", errorPayload("InvalidEvent", err), "InvalidEvent")
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), inv.deadline)
	defer cancel()
	response := handle(ctx, users, request, time.Now().UTC())
	body, err := json.Marshal(response)
	if err != nil {
		log.Printf("request %s: failed to encode the response: %v", inv.requestID, err)
		r.post(path+"/error", errorPayload("Runtime.MarshalError", err), "Runtime.MarshalError")
		return
	}
	r.post(path+"/response", body, "")
}

// post sends a result to the Runtime API. A failure here only affects this invocation
// (the caller gets a gateway error), so it is logged and the loop goes on.
func (r *runtimeClient) post(path string, body []byte, errorType string) {
	request, err := http.NewRequest(http.MethodPost, r.base+path, bytes.NewReader(body))
	if err != nil {
		log.Printf("failed to build POST %s: %v", path, err)
		return
	}
	request.Header.Set("Content-Type", "application/json")
	if errorType != "" {
		request.Header.Set("Lambda-Runtime-Function-Error-Type", errorType)
	}
	response, err := r.http.Do(request)
	if err != nil {
		log.Printf("failed to POST %s: %v", path, err)
		return
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusAccepted {
		text, _ := io.ReadAll(io.LimitReader(response.Body, 4096))
		log.Printf("POST %s: HTTP %d: %s", path, response.StatusCode, text)
	}
}

// errorPayload is the error document Lambda shows to whoever invoked the function.
func errorPayload(errorType string, err error) []byte {
	body, _ := json.Marshal(map[string]string{"errorType": errorType, "errorMessage": err.Error()})
	return body
}

// handle answers one API Gateway request; every outcome, failures included, is an HTTP
// response.
func handle(ctx context.Context, users store, request apiGatewayRequest, now time.Time) apiGatewayResponse {
	username := request.PathParameters["user"]
	if err := validateUsername(username); err != nil {
		return message(http.StatusBadRequest, err.Error())
	}
	switch request.HTTPMethod {
	case http.MethodPut:
		body, err := requestBody(request)
		if err != nil {
			return message(http.StatusBadRequest, err.Error())
		}
		dateOfBirth, err := parseDateOfBirth(body, now)
		if err != nil {
			return message(http.StatusBadRequest, err.Error())
		}
		if err := users.putBirthday(ctx, username, dateOfBirth); err != nil {
			log.Printf("failed to save the date of birth of %q: %v", username, err)
			return message(http.StatusInternalServerError, "could not save the date of birth, please try again later")
		}
		return apiGatewayResponse{StatusCode: http.StatusNoContent}
	case http.MethodGet:
		dateOfBirth, err := users.getBirthday(ctx, username)
		if errors.Is(err, errUserNotFound) {
			return message(http.StatusNotFound, fmt.Sprintf("user %q not found: save a date of birth with PUT /hello/%s first", username, username))
		}
		if err != nil {
			log.Printf("failed to read the date of birth of %q: %v", username, err)
			return message(http.StatusInternalServerError, "could not read the date of birth, please try again later")
		}
		return message(http.StatusOK, greeting(username, daysUntilBirthday(dateOfBirth, now)))
	default:
		// The template only routes GET and PUT here; this covers direct invocations.
		return message(http.StatusMethodNotAllowed, "use GET or PUT on /hello/{user}")
	}
}

// requestBody is the raw body, decoded when API Gateway base64-encoded it.
func requestBody(request apiGatewayRequest) ([]byte, error) {
	if request.Body == nil {
		return nil, nil
	}
	if !request.IsBase64Encoded {
		return []byte(*request.Body), nil
	}
	body, err := base64.StdEncoding.DecodeString(*request.Body)
	if err != nil {
		return nil, invalid("request body is not valid base64")
	}
	return body, nil
}

func message(status int, text string) apiGatewayResponse {
	body, _ := json.Marshal(map[string]string{"message": text})
	return apiGatewayResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(body),
	}
}
