package auth

import (
	"errors"
	"fmt"
)

// ErrLoginFailed is wrapped by every error of Directory.Authenticate. Its
// text is the only one a client should see, whatever the reason.
var ErrLoginFailed = errors.New("login incorrect")

// Reasons a login fails, as LoginFailureReason returns them: a small fixed
// set, fit for logs and metric labels.
const (
	ReasonUnknownUser    = "unknown user"
	ReasonBadPassword    = "bad password"
	ReasonDisabled       = "user disabled"
	ReasonAddress        = "address not allowed for user"
	ReasonNoPassword     = "no password login for user"
	ReasonMalformedHash  = "unusable password hash"
	ReasonCheckAbandoned = "password check abandoned"
)

// loginError is a failed login: ErrLoginFailed plus the reason for the log,
// and the cause when there is one (a context error, a malformed hash).
type loginError struct {
	reason string
	cause  error
}

func (e *loginError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%v: %s: %v", ErrLoginFailed, e.reason, e.cause)
	}
	return fmt.Sprintf("%v: %s", ErrLoginFailed, e.reason)
}

func (e *loginError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrLoginFailed, e.cause}
	}
	return []error{ErrLoginFailed}
}

// LoginFailureReason returns the reason of a failed login (one of the
// Reason constants), or "" when err is not an error of Authenticate.
func LoginFailureReason(err error) string {
	var le *loginError
	if errors.As(err, &le) {
		return le.reason
	}
	return ""
}
