package coderclaw

import "context"

// Principal is who makes a request: the identity every transport
// establishes before a runtime call, and the subject of every
// authorization decision.
type Principal struct {
	UserID    string   `json:"user_id"`
	SessionID string   `json:"session_id,omitempty"`
	DeviceID  string   `json:"device_id,omitempty"`
	Roles     []string `json:"roles,omitempty"`
	// Method says how the principal was established ("local", "token", ...).
	Method string `json:"method"`
}

type principalKey struct{}

// WithPrincipal returns a context carrying the request's principal. Request
// identity is the one thing contexts carry.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of a request, if one was established.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
