// Command bootstrap answers GET /go/{name} through the Lambda Runtime API, with the
// standard library only (no aws-lambda-go, so the build needs no module download).
package main

import (
	"bytes"
	"encoding/json"
	"log"
	"net/http"
	"os"
	"runtime"
)

type event struct {
	PathParameters map[string]string `json:"pathParameters"`
}

type result struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

func main() {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	for {
		next, err := http.Get(api + "next")
		if err != nil {
			log.Fatalf("failed to get the next event: %v", err)
		}
		requestID := next.Header.Get("Lambda-Runtime-Aws-Request-Id")
		var request event
		decodeErr := json.NewDecoder(next.Body).Decode(&request)
		next.Body.Close()
		if decodeErr != nil {
			log.Printf("failed to decode the event: %v", decodeErr)
		}
		name := request.PathParameters["name"]
		body, _ := json.Marshal(map[string]string{
			"message": "Hello, " + name + "!",
			"goos":    runtime.GOOS,
			"goarch":  runtime.GOARCH,
		})
		answer, _ := json.Marshal(result{
			StatusCode: 200,
			Headers:    map[string]string{"content-type": "application/json"},
			Body:       string(body),
		})
		posted, err := http.Post(api+requestID+"/response", "application/json", bytes.NewReader(answer))
		if err != nil {
			log.Fatalf("failed to post the response: %v", err)
		}
		posted.Body.Close()
	}
}
