package main

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

// fakeStore keeps users in a map, or fails every call when err is set.
type fakeStore struct {
	users map[string]time.Time
	err   error
}

func (f *fakeStore) putBirthday(_ context.Context, username string, dateOfBirth time.Time) error {
	if f.err != nil {
		return f.err
	}
	f.users[username] = dateOfBirth
	return nil
}

func (f *fakeStore) getBirthday(_ context.Context, username string) (time.Time, error) {
	if f.err != nil {
		return time.Time{}, f.err
	}
	dateOfBirth, ok := f.users[username]
	if !ok {
		return time.Time{}, errUserNotFound
	}
	return dateOfBirth, nil
}

func request(method, user, body string) apiGatewayRequest {
	return apiGatewayRequest{HTTPMethod: method, PathParameters: map[string]string{"user": user}, Body: &body}
}

func TestHandle(t *testing.T) {
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	users := &fakeStore{users: map[string]time.Time{}}
	steps := []struct {
		request    apiGatewayRequest
		wantStatus int
		wantBody   string
	}{
		{request("GET", "Ann", ""), 404, `{"message":"user \"Ann\" not found: save a date of birth with PUT /hello/Ann first"}`},
		{request("PUT", "Ann", `{"dateOfBirth":"1990-12-03"}`), 204, ``},
		{request("GET", "Ann", ""), 200, `{"message":"Hello, Ann! Your birthday is in 10 day(s)"}`},
		{request("PUT", "Ann", `{"dateOfBirth":"1990-11-23"}`), 204, ``},
		{request("GET", "Ann", ""), 200, `{"message":"Hello, Ann! Happy birthday!"}`},
		{request("PUT", "Ann1", `{"dateOfBirth":"1990-11-23"}`), 400, `{"message":"username \"Ann1\" must contain only letters (A-Z, a-z)"}`},
		{request("PUT", "Ann", `{}`), 400, `{"message":"dateOfBirth is required (YYYY-MM-DD)"}`},
		{request("DELETE", "Ann", ""), 405, `{"message":"use GET or PUT on /hello/{user}"}`},
		{
			apiGatewayRequest{HTTPMethod: "PUT", PathParameters: map[string]string{"user": "Bo"}, IsBase64Encoded: true, Body: ptr(base64.StdEncoding.EncodeToString([]byte(`{"dateOfBirth":"2000-11-24"}`)))},
			204, ``,
		},
		{request("GET", "Bo", ""), 200, `{"message":"Hello, Bo! Your birthday is in 1 day(s)"}`},
	}
	for i, step := range steps {
		got := handle(context.Background(), users, step.request, now)
		if got.StatusCode != step.wantStatus || got.Body != step.wantBody {
			t.Errorf("step %d (%s %s): got %d %s, want %d %s", i, step.request.HTTPMethod, step.request.PathParameters["user"], got.StatusCode, got.Body, step.wantStatus, step.wantBody)
		}
	}
}

func TestHandleStoreFailureIs500(t *testing.T) {
	users := &fakeStore{err: errors.New("DynamoDB GetItem: connection refused")}
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	for _, req := range []apiGatewayRequest{request("GET", "Ann", ""), request("PUT", "Ann", `{"dateOfBirth":"1990-12-03"}`)} {
		got := handle(context.Background(), users, req, now)
		if got.StatusCode != 500 {
			t.Errorf("%s: got %d %s, want 500", req.HTTPMethod, got.StatusCode, got.Body)
		}
	}
}

func ptr(text string) *string { return &text }
