package llm_test

import (
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw/internal/agent/llm"
)

func TestStripDate(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5", true},
		{"gpt-4o-2024-08-06", "gpt-4o", true},
		{"claude-sonnet-4-5", "", false},
		{"-20250929", "", false},
		{"x-2025092a", "", false},
		{"x-2024-0806", "", false},
	}
	for _, tt := range tests {
		if got, ok := llm.StripDate(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("StripDate(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLookupPrice(t *testing.T) {
	prices := map[string]llm.Price{"m": {InputPerMTok: 1, OutputPerMTok: 2}, "n": {InputPerMTok: 3}}
	for _, tt := range []struct {
		reported, requested string
		want                llm.Price
		ok                  bool
	}{
		{"m", "n", prices["m"], true},
		{"m-20250101", "n", prices["m"], true},
		{"unknown", "n-2025-01-01", prices["n"], true},
		{"", "unknown", llm.Price{}, false},
	} {
		if got, ok := llm.LookupPrice(prices, tt.reported, tt.requested); got != tt.want || ok != tt.ok {
			t.Errorf("LookupPrice(%q, %q) = %v, %v; want %v, %v", tt.reported, tt.requested, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzStripDate checks that a stripped date is exactly a dated suffix.
func FuzzStripDate(f *testing.F) {
	f.Add("claude-sonnet-4-5-20250929")
	f.Add("gpt-4o-2024-08-06")
	f.Add("claude-opus-4-7")
	f.Fuzz(func(t *testing.T, model string) {
		base, ok := llm.StripDate(model)
		if !ok {
			return
		}
		suffix := strings.TrimPrefix(model, base)
		if !strings.HasPrefix(model, base) || base == "" || (len(suffix) != 9 && len(suffix) != 11) || suffix[0] != '-' {
			t.Fatalf("StripDate(%q) = %q", model, base)
		}
	})
}
