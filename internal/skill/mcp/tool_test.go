package mcp_test

import (
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/coderclaw/coderclaw/internal/skill/mcp"
)

func TestSkillID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		server, tool, want string
		hashed             bool // want is followed by 8 hex digits
	}{
		{"github", "create_issue", "mcp__github__create_issue", false},
		{"my-srv", "Get-Thing", "mcp__my-srv__Get-Thing", false},
		{"fs", "read.file", "mcp__fs__read_file_", true},
		{"fs", "read_file", "mcp__fs__read_file", false},
		{"dé", "x", "mcp__d____x_", true}, // each byte of é is one '_'
		{strings.Repeat("s", 40), strings.Repeat("t", 40), "mcp__" + strings.Repeat("s", 40) + "__" + strings.Repeat("t", 8) + "_", true},
	} {
		got := mcp.SkillID(tc.server, tc.tool)
		if !validID.MatchString(got) {
			t.Errorf("SkillID(%q, %q) = %q: not a valid tool name", tc.server, tc.tool, got)
		}
		want := len(tc.want)
		if tc.hashed {
			want += 8
		}
		if !strings.HasPrefix(got, tc.want) || len(got) != want {
			t.Errorf("SkillID(%q, %q) = %q, want %q (hashed: %v)", tc.server, tc.tool, got, tc.want, tc.hashed)
		}
	}
	if mcp.SkillID("fs", "read.file") == mcp.SkillID("fs", "read_file") || mcp.SkillID("fs", "read.file") == mcp.SkillID("fs", "read file") {
		t.Error("distinct tools share an id")
	}
	long := strings.Repeat("x", 100)
	if mcp.SkillID("s", long+"a") == mcp.SkillID("s", long+"b") {
		t.Error("long names that differ at the end share an id")
	}
}

func FuzzSkillID(f *testing.F) {
	f.Add("github", "create_issue")
	f.Add("fs", "read.file")
	f.Add("", "")
	f.Add(strings.Repeat("é", 50), "\x00")
	f.Fuzz(func(t *testing.T, server, tool string) {
		id := mcp.SkillID(server, tool)
		if !validID.MatchString(id) {
			t.Fatalf("SkillID(%q, %q) = %q", server, tool, id)
		}
		if id != mcp.SkillID(server, tool) {
			t.Fatal("not deterministic")
		}
	})
}

func TestRender(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		res  *sdk.CallToolResult
		want string
	}{
		{"nil", nil, ""},
		{"texts", &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "a"}, &sdk.TextContent{Text: "b"}}}, "a\nb"},
		{"audio", &sdk.CallToolResult{Content: []sdk.Content{&sdk.AudioContent{Data: []byte("xy")}}}, "[audio of unknown type, 2 bytes]"},
		{"link", &sdk.CallToolResult{Content: []sdk.Content{&sdk.ResourceLink{Name: "readme", URI: "file:///r.md", Description: "the readme"}}},
			"[resource link readme: file:///r.md — the readme]"},
		{"text resource", &sdk.CallToolResult{Content: []sdk.Content{&sdk.EmbeddedResource{Resource: &sdk.ResourceContents{URI: "file:///a", Text: "body"}}}},
			"[resource file:///a]\nbody"},
		{"blob resource", &sdk.CallToolResult{Content: []sdk.Content{&sdk.EmbeddedResource{Resource: &sdk.ResourceContents{URI: "file:///b", MIMEType: "application/zip", Blob: []byte{1}}}}},
			"[resource file:///b, application/zip, 1 bytes]"},
		{"structured", &sdk.CallToolResult{StructuredContent: map[string]int{"n": 1}}, `{"n":1}`},
	} {
		if got := mcp.Render(tc.res); got != tc.want {
			t.Errorf("%s: Render = %q, want %q", tc.name, got, tc.want)
		}
	}
	big := mcp.Render(&sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: strings.Repeat("é", mcp.MaxOutput)}}})
	if !strings.HasSuffix(big, "[output truncated: 65536 more bytes]") || len(big) > mcp.MaxOutput+64 {
		t.Errorf("long output: %d bytes ending %q", len(big), big[len(big)-60:])
	}
}
