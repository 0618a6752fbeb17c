// The birthday rules, free of HTTP and DynamoDB so that they can be tested with plain
// values: which usernames and dates of birth are valid, and how many days are left until
// a user's next birthday.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// dateLayout is the only date format the API accepts and stores (ISO 8601, YYYY-MM-DD).
const dateLayout = "2006-01-02"

// maxUsernameLength keeps usernames well under DynamoDB's 2048-byte limit on a partition
// key, so that a long name is the client's mistake (400) rather than a failed write (500).
const maxUsernameLength = 100

// validationError is a problem with the request that the client can fix: the handler
// answers it with 400 and the error's text as the message.
type validationError struct {
	message string
}

func (e *validationError) Error() string { return e.message }

func invalid(format string, args ...any) error {
	return &validationError{message: fmt.Sprintf(format, args...)}
}

// validateUsername accepts ASCII letters only (A-Z, a-z). Unicode letters are refused on
// purpose: they would make equal-looking names differ (composed and decomposed accents),
// and "letters only" is simplest to explain when it means the 52 letters everyone can type.
func validateUsername(username string) error {
	if username == "" {
		return invalid("username must not be empty")
	}
	if len(username) > maxUsernameLength {
		return invalid("username must be at most %d letters long", maxUsernameLength)
	}
	for _, r := range username {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return invalid("username %q must contain only letters (A-Z, a-z)", username)
		}
	}
	return nil
}

// parseDateOfBirth reads the body of a PUT request, {"dateOfBirth": "YYYY-MM-DD"}, and
// checks that the date exists and is strictly before today (both in UTC).
func parseDateOfBirth(body []byte, today time.Time) (time.Time, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return time.Time{}, invalid(`request body must be a JSON object like {"dateOfBirth": "YYYY-MM-DD"}`)
	}
	raw, ok := fields["dateOfBirth"]
	if !ok || string(raw) == "null" {
		return time.Time{}, invalid("dateOfBirth is required (YYYY-MM-DD)")
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return time.Time{}, invalid("dateOfBirth must be a string in the format YYYY-MM-DD")
	}
	// time.Parse checks the calendar too, so 2023-02-30 and 2023-13-01 fail here, and its
	// fixed-width fields refuse 2023-2-3.
	date, err := time.Parse(dateLayout, text)
	if err != nil {
		return time.Time{}, invalid("dateOfBirth %q is not a valid date in the format YYYY-MM-DD", text)
	}
	if !date.Before(startOfDay(today)) {
		return time.Time{}, invalid("dateOfBirth %q must be a date before today (%s)", text, today.UTC().Format(dateLayout))
	}
	return date, nil
}

// daysUntilBirthday counts the days from today to the next birthday of someone born on
// dateOfBirth: 0 when today is the birthday. Both dates are taken as calendar days in UTC.
func daysUntilBirthday(dateOfBirth, today time.Time) int {
	today = startOfDay(today)
	next := birthdayIn(today.Year(), dateOfBirth)
	if next.Before(today) {
		next = birthdayIn(today.Year()+1, dateOfBirth)
	}
	// UTC has no daylight saving time, so every day is exactly 24 hours long.
	return int(next.Sub(today).Hours() / 24)
}

// birthdayIn is the day in year on which someone born on dateOfBirth has a birthday.
// People born on February 29 celebrate on March 1 in years without a February 29, the
// rule many countries apply to legal age; it also means they are never greeted early.
func birthdayIn(year int, dateOfBirth time.Time) time.Time {
	month, day := dateOfBirth.Month(), dateOfBirth.Day()
	if month == time.February && day == 29 && !isLeapYear(year) {
		month, day = time.March, 1
	}
	return time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
}

func isLeapYear(year int) bool {
	return year%4 == 0 && (year%100 != 0 || year%400 == 0)
}

// greeting is the message for a user whose next birthday is days away.
func greeting(username string, days int) string {
	if days == 0 {
		return fmt.Sprintf("Hello, %s! Happy birthday!", username)
	}
	return fmt.Sprintf("Hello, %s! Your birthday is in %d day(s)", username, days)
}

func startOfDay(t time.Time) time.Time {
	year, month, day := t.UTC().Date()
	return time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
}

// isValidationError tells the client's mistakes from the server's.
func isValidationError(err error) bool {
	var target *validationError
	return errors.As(err, &target)
}
