// Hello world for Lambda in Go, answering GET /hello and GET /hello/{name}.
//
// It speaks the Lambda Runtime API itself (runtime.go), so it builds with the standard
// library alone; github.com/aws/aws-lambda-go's lambda.Start(handler) works the same way
// if you prefer the library.
package main

import "fmt"

// Request is the part of an HTTP API (payload 2.0) event this function reads.
type Request struct {
	PathParameters map[string]string `json:"pathParameters"`
}

// Response is an HTTP API proxy response.
type Response struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

func handler(request Request, requestID string) (Response, error) {
	name := request.PathParameters["name"]
	if name == "" {
		name = "world"
	}
	body := fmt.Sprintf(`{"message": "Hello, %s!", "requestId": "%s"}`, name, requestID)
	return Response{
		StatusCode: 200,
		Headers:    map[string]string{"content-type": "application/json"},
		Body:       body,
	}, nil
}

func main() {
	serve(handler)
}
