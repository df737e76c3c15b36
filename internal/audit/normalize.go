package audit

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coderclaw/coderclaw"
)

// Redacted replaces every credential Redact finds.
const Redacted = "[REDACTED]"

// Field limits: Normalize cuts longer fields (at a character boundary,
// ending them with "…") rather than lose the record.
const (
	MaxReasonBytes = 2048
	MaxFieldBytes  = 256
)

// Normalize returns e as a store writes it, or a *coderclaw.Error (code
// invalid) when it cannot be written: Action must not be blank, Result must
// be one of the Result constants and Time must be set (backends set a zero
// Time to their now before calling Normalize) and within the years
// 1678-2261. Then:
//
//   - every string field goes through Redact (with secrets), so no
//     credential is ever written;
//   - invalid UTF-8 and NUL bytes become U+FFFD, which every backend
//     stores as is;
//   - fields longer than MaxFieldBytes (MaxReasonBytes for Reason) are cut;
//   - Time is in UTC and truncated to the microsecond, the precision every
//     backend keeps, so that the hash computed before the write is the one
//     recomputed after a read.
//
// Normalize is idempotent.
func Normalize(e Entry, secrets ...string) (Entry, error) {
	if strings.TrimSpace(e.Action) == "" {
		return Entry{}, coderclaw.Errorf(coderclaw.CodeInvalid, "action: must not be empty")
	}
	if !validResult(e.Result) {
		return Entry{}, coderclaw.Errorf(coderclaw.CodeInvalid, "result: %q: want allowed, denied, ok or error", e.Result)
	}
	if e.Time.IsZero() {
		return Entry{}, coderclaw.Errorf(coderclaw.CodeInvalid, "time: must be set")
	}
	if y := e.Time.UTC().Year(); y < 1678 || y > 2261 {
		// Unix nanoseconds, the stored and hashed form, must fit an int64.
		return Entry{}, coderclaw.Errorf(coderclaw.CodeInvalid, "time: %s is outside the years 1678-2261", e.Time.Format(time.RFC3339))
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	for _, f := range [...]*string{&e.Action, &e.UserID, &e.SessionID, &e.DeviceID, &e.ResourceType, &e.ResourceID, &e.Result} {
		*f = clean(*f, MaxFieldBytes, secrets)
	}
	e.Reason = clean(e.Reason, MaxReasonBytes, secrets)
	return e, nil
}

// clean makes s valid UTF-8 without NUL, redacts it and cuts it to max
// bytes.
func clean(s string, max int, secrets []string) string {
	if s == "" {
		return s
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	s = Redact(s, secrets...)
	if len(s) > max {
		const ellipsis = "…"
		cut := max - len(ellipsis)
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + ellipsis
	}
	return s
}

// Credential patterns. Compiled regular expressions are safe for
// concurrent use and never change.
var (
	// keyValue finds a value assigned to a key whose name says it is
	// secret: token=..., "password": "...", api_key: ...,
	// Authorization: Bearer ..., with or without quotes. An unquoted value
	// never starts with '[', so that Redact is idempotent.
	keyValue = regexp.MustCompile(`(?i)((?:"|')?[a-z0-9_.\-]*(?:token|secret|passw(?:or)?d|pwd|api[_\-]?key|access[_\-]?key|private[_\-]?key|credential|authorization|cookie|session[_\-]?key|signature)[a-z0-9_.\-]*(?:"|')?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|(?:(?:bearer|basic|token)\s+)?[^\s"',;&)}\[\]]+)`)
	// bearer finds an HTTP bearer credential outside a key: "Bearer abc".
	bearer = regexp.MustCompile(`(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*`)
	// userinfo finds the password of a URL: scheme://user:password@host.
	userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:)[^@\s/]+@`)
	// shapes finds credentials by their well-known form wherever they
	// appear: JWTs, GitHub, GitLab, npm, Slack, OpenAI/Anthropic-style,
	// Stripe, AWS and Google keys, PEM private keys.
	shapes = regexp.MustCompile(`\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*` +
		`|\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_\-]{20,}|npm_[A-Za-z0-9]{36})` +
		`|\bxox[abposr]-[A-Za-z0-9\-]{10,}` +
		`|\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{16,}|\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}` +
		`|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|\bAIza[0-9A-Za-z_\-]{35}` +
		`|-----BEGIN [A-Z ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z ]*PRIVATE KEY-----|$)`)
)

// Literal hints, in lower case, without which a pattern cannot match: a
// string that has none skips the pattern's regular expression.
var (
	keyValueHints = [...]string{"token", "secret", "passw", "pwd", "key", "credential", "authorization", "cookie", "signature"}
	shapeHints    = [...]string{"eyj", "gh", "glpat-", "npm_", "xox", "sk-", "pk-", "rk-", "k_live_", "k_test_", "akia", "asia", "aiza", "private key"}
)

// Redact returns s with every occurrence of a secret, and everything that
// looks like a credential, replaced by Redacted: values of keys named like
// token, secret, password, api_key or authorization (key=value,
// key: value, JSON "key": "value"), bearer credentials, URL passwords, and
// tokens of a well-known form (JWT, GitHub, GitLab, Slack, npm, AWS,
// Google, sk-... API keys, PEM private keys). Redact errs on the side of
// redacting: "refresh token: expired" loses "expired". It is idempotent.
// A secret that cannot be recognised by its form or its key (a shared
// bearer token in free text) must be passed in secrets.
func Redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" && sec != Redacted {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	// The shortest text a pattern matches is "pwd=x" (a form: "xoxb-" and
	// ten characters; each has '.', '_', '-' or capitals). One pass over the
	// bytes rules out most patterns for most strings (identifiers, prose)
	// before any substring search or regular expression.
	if len(s) < 5 {
		return s
	}
	var sep, space, punct, upper bool
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ':' || c == '=':
			sep = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			space = true
		case c == '.' || c == '_' || c == '-':
			punct = true
		case 'A' <= c && c <= 'Z':
			upper = true
		}
	}
	lower := ""
	lowered := func() string {
		if lower == "" {
			lower = strings.ToLower(s)
		}
		return lower
	}
	if sep && containsAny(lowered(), keyValueHints[:]) {
		s = redactValues(s)
		lower = ""
	}
	if space && len(s) >= 8 && strings.Contains(lowered(), "bearer") {
		s = bearer.ReplaceAllString(s, "${1} "+Redacted)
		lower = ""
	}
	if sep && strings.Contains(s, "://") && strings.IndexByte(s, '@') >= 0 {
		s = userinfo.ReplaceAllString(s, "${1}"+Redacted+"@")
		lower = ""
	}
	if len(s) >= 15 && (punct || upper) && containsAny(lowered(), shapeHints[:]) {
		s = shapes.ReplaceAllString(s, Redacted)
	}
	return s
}

// redactValues replaces the values keyValue finds, keeping their quotes.
func redactValues(s string) string {
	ms := keyValue.FindAllStringSubmatchIndex(s, -1)
	if ms == nil {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, m := range ms {
		vStart, vEnd := m[4], m[5]
		b.WriteString(s[last:vStart])
		if q := s[vStart]; q == '"' || q == '\'' {
			b.WriteByte(q)
			b.WriteString(Redacted)
			b.WriteByte(q)
		} else {
			b.WriteString(Redacted)
		}
		last = vEnd
	}
	b.WriteString(s[last:])
	return b.String()
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
