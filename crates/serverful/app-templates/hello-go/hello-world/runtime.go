package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
)

// serve runs the Lambda Runtime API loop: take the next event, call the handler, post its
// answer or its error, forever.
func serve(handler func(Request, string) (Response, error)) {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	for {
		next, err := http.Get(api + "next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "runtime API:", err)
			os.Exit(1)
		}
		requestID := next.Header.Get("Lambda-Runtime-Aws-Request-Id")
		var request Request
		err = json.NewDecoder(next.Body).Decode(&request)
		next.Body.Close()
		var response Response
		if err == nil {
			response, err = handler(request, requestID)
		}
		if err != nil {
			failure, _ := json.Marshal(map[string]string{
				"errorMessage": err.Error(),
				"errorType":    fmt.Sprintf("%T", err),
			})
			post(api+requestID+"/error", failure)
			continue
		}
		answer, _ := json.Marshal(response)
		post(api+requestID+"/response", answer)
	}
}

func post(url string, body []byte) {
	answer, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintln(os.Stderr, "runtime API:", err)
		os.Exit(1)
	}
	answer.Body.Close()
}
