package main

import (
	"testing"
	"time"
)

func date(text string) time.Time {
	parsed, err := time.Parse(dateLayout, text)
	if err != nil {
		panic(err)
	}
	return parsed
}

func TestDaysUntilBirthday(t *testing.T) {
	tests := []struct {
		name        string
		dateOfBirth string
		today       string
		want        int
	}{
		{"today is the birthday", "1990-06-15", "2026-06-15", 0},
		{"tomorrow", "1990-06-16", "2026-06-15", 1},
		{"yesterday means almost a year", "1990-06-14", "2026-06-15", 364},
		{"ten days", "2000-11-30", "2026-11-20", 10},
		{"Dec 31 to Jan 1 wraps into the next year", "1985-01-01", "2026-12-31", 1},
		{"Jan 1 to Dec 31 stays in the year", "1985-12-31", "2026-01-01", 364},
		{"a year after the birthday in a leap year", "1985-03-01", "2028-03-02", 364},
		{"the next birthday falls after Feb 29 of a leap year", "1985-03-01", "2027-03-02", 365},
		{"Feb 29 in a leap year", "2000-02-29", "2028-02-29", 0},
		{"Feb 29 counts to Mar 1 in a non-leap year", "2000-02-29", "2026-02-28", 1},
		{"Feb 29 is celebrated on Mar 1 in a non-leap year", "2000-02-29", "2026-03-01", 0},
		{"Feb 29 the day before, in a leap year", "2000-02-29", "2028-02-28", 1},
		{"Feb 29 just passed, next one is in a non-leap year", "2000-02-29", "2028-03-01", 365},
		{"1900 was not a leap year", "1896-02-29", "1900-02-28", 1},
		{"2000 was a leap year", "1996-02-29", "2000-02-28", 1},
		{"Feb 28 is not moved", "2001-02-28", "2026-02-28", 0},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got := daysUntilBirthday(date(test.dateOfBirth), date(test.today))
			if got != test.want {
				t.Errorf("daysUntilBirthday(%s, today %s) = %d, want %d", test.dateOfBirth, test.today, got, test.want)
			}
		})
	}
}

func TestDaysUntilBirthdayIgnoresTheTimeOfDay(t *testing.T) {
	lateToday := time.Date(2026, 6, 15, 23, 59, 59, 0, time.UTC)
	if got := daysUntilBirthday(date("1990-06-16"), lateToday); got != 1 {
		t.Errorf("one second before midnight: got %d days, want 1", got)
	}
	// A clock in another zone is read in UTC: 01:00 in Tokyo on June 16 is still June 15.
	tokyo := time.FixedZone("JST", 9*60*60)
	if got := daysUntilBirthday(date("1990-06-15"), time.Date(2026, 6, 16, 1, 0, 0, 0, tokyo)); got != 0 {
		t.Errorf("Tokyo time: got %d days, want 0", got)
	}
}

func TestGreeting(t *testing.T) {
	if got, want := greeting("Ann", 0), "Hello, Ann! Happy birthday!"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := greeting("Ann", 10), "Hello, Ann! Your birthday is in 10 day(s)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestValidateUsername(t *testing.T) {
	tests := []struct {
		username string
		wantErr  string
	}{
		{"Ann", ""},
		{"abcXYZ", ""},
		{"", "username must not be empty"},
		{"ann1", `username "ann1" must contain only letters (A-Z, a-z)`},
		{"ann-marie", `username "ann-marie" must contain only letters (A-Z, a-z)`},
		{"ann marie", `username "ann marie" must contain only letters (A-Z, a-z)`},
		{"Zoë", `username "Zoë" must contain only letters (A-Z, a-z)`},
		{string(make([]byte, 101)), "username must be at most 100 letters long"},
	}
	for _, test := range tests {
		err := validateUsername(test.username)
		switch {
		case test.wantErr == "" && err != nil:
			t.Errorf("validateUsername(%q) = %v, want no error", test.username, err)
		case test.wantErr != "" && (err == nil || err.Error() != test.wantErr):
			t.Errorf("validateUsername(%q) = %v, want %q", test.username, err, test.wantErr)
		case err != nil && !isValidationError(err):
			t.Errorf("validateUsername(%q) = %v, want a validation error", test.username, err)
		}
	}
}

func TestParseDateOfBirth(t *testing.T) {
	today := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		body    string
		want    string
		wantErr string
	}{
		{`{"dateOfBirth":"1990-06-15"}`, "1990-06-15", ""},
		{`{"dateOfBirth":"2026-11-22"}`, "2026-11-22", ""},
		{`{"dateOfBirth":"2000-02-29"}`, "2000-02-29", ""},
		{`{"dateOfBirth":"2026-11-23"}`, "", `dateOfBirth "2026-11-23" must be a date before today (2026-11-23)`},
		{`{"dateOfBirth":"2030-01-01"}`, "", `dateOfBirth "2030-01-01" must be a date before today (2026-11-23)`},
		{`{"dateOfBirth":"2023-02-30"}`, "", `dateOfBirth "2023-02-30" is not a valid date in the format YYYY-MM-DD`},
		{`{"dateOfBirth":"2023-02-29"}`, "", `dateOfBirth "2023-02-29" is not a valid date in the format YYYY-MM-DD`},
		{`{"dateOfBirth":"2023-2-3"}`, "", `dateOfBirth "2023-2-3" is not a valid date in the format YYYY-MM-DD`},
		{`{"dateOfBirth":"15.06.1990"}`, "", `dateOfBirth "15.06.1990" is not a valid date in the format YYYY-MM-DD`},
		{`{"dateOfBirth":19900615}`, "", "dateOfBirth must be a string in the format YYYY-MM-DD"},
		{`{"dateOfBirth":null}`, "", "dateOfBirth is required (YYYY-MM-DD)"},
		{`{"birthday":"1990-06-15"}`, "", "dateOfBirth is required (YYYY-MM-DD)"},
		{`{"dateOfBirth":`, "", `request body must be a JSON object like {"dateOfBirth": "YYYY-MM-DD"}`},
		{``, "", `request body must be a JSON object like {"dateOfBirth": "YYYY-MM-DD"}`},
		{`null`, "", `request body must be a JSON object like {"dateOfBirth": "YYYY-MM-DD"}`},
		{`["1990-06-15"]`, "", `request body must be a JSON object like {"dateOfBirth": "YYYY-MM-DD"}`},
	}
	for _, test := range tests {
		got, err := parseDateOfBirth([]byte(test.body), today)
		if test.wantErr != "" {
			if err == nil || err.Error() != test.wantErr || !isValidationError(err) {
				t.Errorf("parseDateOfBirth(%s) = %v, %v; want error %q", test.body, got, err, test.wantErr)
			}
			continue
		}
		if err != nil || got.Format(dateLayout) != test.want {
			t.Errorf("parseDateOfBirth(%s) = %v, %v; want %s", test.body, got, err, test.want)
		}
	}
}
