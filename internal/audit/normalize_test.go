package audit_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/audit"
)

func TestRedact(t *testing.T) {
	const R = audit.Redacted
	for _, tc := range []struct{ in, want string }{
		// Nothing to redact: identifiers, hashes, prose.
		{"0198c1b2-7a4e-7c3d-9b1a-2f3e4d5c6b7a", "0198c1b2-7a4e-7c3d-9b1a-2f3e4d5c6b7a"},
		{"commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904", "commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904"},
		{"role readonly lacks task:submit", "role readonly lacks task:submit"},
		{"task-0123456789abcdefghij", "task-0123456789abcdefghij"},
		{"", ""},
		// Keys that name a secret, in every syntax.
		{"token=abc123", "token=" + R},
		{"password: hunter2", "password: " + R},
		{"PASSWORD=hunter2 user=bob", "PASSWORD=" + R + " user=bob"},
		{`{"user":"bob","password":"hunter2"}`, `{"user":"bob","password":"` + R + `"}`},
		{`{'client_secret': 'abc'}`, `{'client_secret': '` + R + `'}`},
		{"https://x/cb?access_token=abc&state=1", "https://x/cb?access_token=" + R + "&state=1"},
		{"api_key=sk_abc, api-key: xyz", "api_key=" + R + ", api-key: " + R},
		{"X-Api-Key: abcdef", "X-Api-Key: " + R},
		{"Authorization: Bearer abc.def", "Authorization: " + R},
		{"authorization: Basic dXNlcjpwYXNz", "authorization: " + R},
		{"Authorization: token ghp_x", "Authorization: " + R},
		{"Cookie: sid=abc", "Cookie: " + R},
		{"refresh_token=\"a b\"", "refresh_token=\"" + R + "\""},
		// Bearer credentials without a key.
		{"sent Bearer abc.DEF-123_~+/= to node", "sent Bearer " + R + " to node"},
		{"bearer xyz", "bearer " + R},
		// URL passwords.
		{"git clone https://bob:s3cret@github.com/x/y.git", "git clone https://bob:" + R + "@github.com/x/y.git"},
		{"postgres://app:pw@db:5432/cc", "postgres://app:" + R + "@db:5432/cc"},
		{"mailto:bob@example.com", "mailto:bob@example.com"},
		// Tokens by their form.
		{"pushed with ghp_0123456789abcdefghijABCDEFGHIJ012345", "pushed with " + R},
		{"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", R},
		{"key sk-ant-api03-0123456789abcdef-XYZ!", "key " + R + "!"},
		{"sk-proj-abcdefghijklmnop0123", R},
		{"stripe sk_live_abcdefghijklmnop1234", "stripe " + R},
		{"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig-_nature", "jwt " + R},
		{"AKIAIOSFODNN7EXAMPLE", R},
		{"AIzaSyA-0123456789abcdefghijklmnopqrstu", R},
		{"glpat-abcdefghij0123456789", R},
		{"xoxb-123456789012-abcdefghijkl", R},
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- done", R + " done"},
		{"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn (cut)", R},
	} {
		got := audit.Redact(tc.in)
		if got != tc.want {
			t.Errorf("Redact(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
		if again := audit.Redact(got); again != got {
			t.Errorf("Redact is not idempotent on %q: %q", got, again)
		}
	}
}

func TestRedactSecrets(t *testing.T) {
	got := audit.Redact("node token n0de-T0ken in use; n0de-T0ken again", "n0de-T0ken", "unused")
	if want := "node token " + audit.Redacted + " in use; " + audit.Redacted + " again"; got != want {
		t.Errorf("Redact with secrets = %q, want %q", got, want)
	}
}

func TestNormalize(t *testing.T) {
	zone := time.FixedZone("X", -7*3600)
	e := audit.Entry{Time: time.Date(2030, 1, 1, 0, 0, 0, 999999999, zone), Action: "auth.login", UserID: "bob\xff",
		ResourceID: "a\x00b", Result: audit.ResultDenied, Reason: "password=hunter2 " + strings.Repeat("x", 3000),
		DeviceID: strings.Repeat("日", 200)}
	got, err := audit.Normalize(e, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2030, 1, 1, 7, 0, 0, 999999000, time.UTC); !got.Time.Equal(want) || got.Time.Location() != time.UTC {
		t.Errorf("time %v, want %v", got.Time, want)
	}
	if got.UserID != audit.Redacted+"\uFFFD" || got.ResourceID != "a\uFFFDb" {
		t.Errorf("user %q, resource %q", got.UserID, got.ResourceID)
	}
	if len(got.Reason) > audit.MaxReasonBytes || !strings.HasPrefix(got.Reason, "password="+audit.Redacted+" xx") || !strings.HasSuffix(got.Reason, "…") {
		t.Errorf("reason %d bytes: %.40q", len(got.Reason), got.Reason)
	}
	if len(got.DeviceID) > audit.MaxFieldBytes || !utf8.ValidString(got.DeviceID) {
		t.Errorf("device %d bytes, valid UTF-8 %v", len(got.DeviceID), utf8.ValidString(got.DeviceID))
	}
	again, err := audit.Normalize(got, "bob")
	if err != nil || again != got {
		t.Errorf("Normalize is not idempotent: %+v, %v", again, err)
	}

	for name, bad := range map[string]audit.Entry{
		"no action":  {Time: testTime, Result: audit.ResultOK},
		"no result":  {Time: testTime, Action: "a"},
		"bad result": {Time: testTime, Action: "a", Result: "Allowed"},
		"no time":    {Action: "a", Result: audit.ResultOK},
		"year 1600":  {Time: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), Action: "a", Result: audit.ResultOK},
	} {
		_, err := audit.Normalize(bad)
		var ce *coderclaw.Error
		if !errors.As(err, &ce) || ce.Code != coderclaw.CodeInvalid {
			t.Errorf("Normalize of an entry with %s: %v, want code invalid", name, err)
		}
	}
}

// FuzzRedact: Redact always returns valid UTF-8 for valid input, is
// idempotent, and never lets a value of a key named password through.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"token=abc", "Authorization: Bearer x", `{"password":"p"}`, "https://u:p@h/",
		"ghp_0123456789abcdefghijABCD", "eyJabcdefgh.eyJabcdefgh.x", "-----BEGIN PRIVATE KEY-----", "plain text", "é=é"} {
		f.Add(s, "v4lue")
	}
	f.Fuzz(func(t *testing.T, s, value string) {
		out := audit.Redact(s)
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("Redact(%q) = %q: invalid UTF-8", s, out)
		}
		if again := audit.Redact(out); again != out {
			t.Fatalf("Redact(%q) = %q, then %q: not idempotent", s, out, again)
		}
		// A plain value assigned to a password never survives.
		if len(value) < 4 || strings.ContainsAny(value, " \t\r\n\f\v\"',;&)}[]\x85\u00a0") || !utf8.ValidString(value) {
			return
		}
		text := s + " password=" + value
		if out := audit.Redact(text); strings.HasSuffix(out, value) {
			t.Fatalf("Redact(%q) = %q: the password survived", text, out)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	e := audit.Entry{Time: testTime, Action: "task.submit", UserID: "alice", SessionID: "sess-1", DeviceID: "laptop",
		ResourceType: "task", ResourceID: "0198c1b2-7a4e-7c3d-9b1a-2f3e4d5c6b7a", Result: audit.ResultAllowed,
		Reason: "role developer grants task:submit"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := audit.Normalize(e); err != nil {
			b.Fatal(err)
		}
	}
}
