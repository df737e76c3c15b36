package mcp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/security"
	"github.com/coderclaw/coderclaw/internal/skill"
)

// MaxIDLen is the longest skill id: model APIs refuse longer tool names.
const MaxIDLen = 64

// SkillID returns the id of the skill for a server's tool:
// mcp__<server>__<tool>. Characters other than ASCII letters, digits, '_'
// and '-' become '_'; an id that had to change that way, or that is longer
// than MaxIDLen, is cut to fit and ends with '_' and 8 hex digits of a
// hash of the server and tool names, so that different tools keep
// different ids.
func SkillID(server, tool string) string {
	raw := "mcp__" + server + "__" + tool
	id := "mcp__" + sanitize(server) + "__" + sanitize(tool)
	if id == raw && len(id) <= MaxIDLen {
		return id
	}
	sum := sha256.Sum256([]byte(server + "\x00" + tool))
	suffix := "_" + hex.EncodeToString(sum[:4])
	if len(id) > MaxIDLen-len(suffix) {
		id = id[:MaxIDLen-len(suffix)]
	}
	return id + suffix
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// ToolError is the result of a call the tool itself marked as an error.
// Its message is the tool's text, for the model to read.
type ToolError struct {
	Server, Tool string
	// Text is the text of the tool's result.
	Text string
}

func (e *ToolError) Error() string { return e.Text }

// tool is the skill for one tool of a server.
type tool struct {
	server *Server
	name   string // the tool's name on the server
	info   coderclaw.Skill
	schema json.RawMessage
}

var _ skill.Skill = (*tool)(nil)

// toolSkills makes the skills for the tools the server listed. A tool
// without a name, or whose id another tool already has, is left out with
// a warning.
func (s *Server) toolSkills(tools []*sdk.Tool) []skill.Skill {
	out := make([]skill.Skill, 0, len(tools))
	seen := make(map[string]string, len(tools))
	for _, t := range tools {
		if t == nil || t.Name == "" {
			s.log.Warn("mcp server offered a tool without a name; left out")
			continue
		}
		id := SkillID(s.cfg.Name, t.Name)
		if other, dup := seen[id]; dup {
			s.log.Warn("mcp tools map to the same skill id; the later one is left out", "id", id, "tool", t.Name, "kept", other)
			continue
		}
		seen[id] = t.Name
		desc := t.Description
		if desc == "" {
			desc = t.Title
		}
		if desc == "" {
			desc = fmt.Sprintf("Tool %s of the MCP server %s.", t.Name, s.cfg.Name)
		}
		out = append(out, &tool{
			server: s,
			name:   t.Name,
			info: coderclaw.Skill{
				ID:                 id,
				Description:        desc,
				RequiredPermission: string(security.SkillExecute),
				Dangerous:          *s.cfg.Dangerous,
				Source:             "mcp:" + s.cfg.Name,
			},
			schema: inputSchema(t.InputSchema),
		})
	}
	return out
}

// inputSchema returns the tool's input schema as JSON: an object schema
// when the tool gave none or one that does not marshal.
func inputSchema(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil || len(b) == 0 || b[0] != '{' {
		return json.RawMessage(`{"type":"object"}`)
	}
	return b
}

// Info describes the skill.
func (t *tool) Info() coderclaw.Skill { return t.info }

// Schema returns the tool's input schema.
func (t *tool) Schema() json.RawMessage { return bytes.Clone(t.schema) }

// Call calls the tool with input, which must be a JSON object (empty means
// {}). env is not used: the tool runs in its server.
func (t *tool) Call(ctx context.Context, _ skill.Env, input json.RawMessage) (string, error) {
	args, err := arguments(input)
	if err != nil {
		return "", err
	}
	s := t.server
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	res, err := s.session.CallTool(cctx, &sdk.CallToolParams{Name: t.name, Arguments: args})
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return "", fmt.Errorf("mcp server %q: tool %q: %w", s.cfg.Name, t.name, context.Cause(ctx))
	case cctx.Err() != nil:
		return "", fmt.Errorf("mcp server %q: tool %q did not answer within %s: %w", s.cfg.Name, t.name, s.cfg.Timeout, cctx.Err())
	case errors.Is(err, sdk.ErrConnectionClosed) || errors.Is(err, io.EOF):
		if tail := s.stderrTail(); tail != "" {
			return "", fmt.Errorf("mcp server %q: tool %q: the server is gone: %w; stderr: %s", s.cfg.Name, t.name, err, tail)
		}
		return "", fmt.Errorf("mcp server %q: tool %q: the server is gone: %w", s.cfg.Name, t.name, err)
	default:
		return "", fmt.Errorf("mcp server %q: tool %q: %w", s.cfg.Name, t.name, err)
	}
	text := Render(res)
	if res.IsError {
		if text == "" {
			text = fmt.Sprintf("tool %s of the MCP server %s reported an error without a message", t.name, s.cfg.Name)
		}
		return "", &ToolError{Server: s.cfg.Name, Tool: t.name, Text: text}
	}
	return text, nil
}

// arguments checks that input is a JSON object, the only form of tool
// arguments MCP knows.
func arguments(input json.RawMessage) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(input)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return json.RawMessage("{}"), nil
	}
	if trimmed[0] != '{' || !json.Valid(trimmed) {
		return nil, fmt.Errorf("input must be a JSON object, got %s", clip(string(trimmed), 80))
	}
	return json.RawMessage(trimmed), nil
}

// Render turns a tool's result into the text the model sees: the text
// parts joined by newlines, the other parts described in brackets (an
// embedded text resource is quoted), or the structured content as JSON
// when there are no parts. Text past MaxOutput is cut, saying so.
func Render(res *sdk.CallToolResult) string {
	if res == nil {
		return ""
	}
	parts := make([]string, 0, len(res.Content))
	for _, c := range res.Content {
		parts = append(parts, renderPart(c))
	}
	if len(parts) == 0 && res.StructuredContent != nil {
		if b, err := json.Marshal(res.StructuredContent); err == nil {
			parts = append(parts, string(b))
		}
	}
	out := strings.Join(parts, "\n")
	if len(out) > MaxOutput {
		cut := strings.ToValidUTF8(out[:MaxOutput], "")
		out = cut + fmt.Sprintf("\n[output truncated: %d more bytes]", len(out)-len(cut))
	}
	return out
}

func renderPart(c sdk.Content) string {
	switch c := c.(type) {
	case *sdk.TextContent:
		return c.Text
	case *sdk.ImageContent:
		return fmt.Sprintf("[image %s, %d bytes]", orUnknown(c.MIMEType), len(c.Data))
	case *sdk.AudioContent:
		return fmt.Sprintf("[audio %s, %d bytes]", orUnknown(c.MIMEType), len(c.Data))
	case *sdk.ResourceLink:
		s := fmt.Sprintf("[resource link %s: %s", c.Name, c.URI)
		if c.Description != "" {
			s += " — " + c.Description
		}
		return s + "]"
	case *sdk.EmbeddedResource:
		r := c.Resource
		switch {
		case r == nil:
			return "[empty resource]"
		case r.Blob == nil:
			return fmt.Sprintf("[resource %s]\n%s", r.URI, r.Text)
		default:
			return fmt.Sprintf("[resource %s, %s, %d bytes]", r.URI, orUnknown(r.MIMEType), len(r.Blob))
		}
	case nil:
		return "[empty content]"
	}
	// A content type this client does not describe: name its wire type.
	var wire struct {
		Type string `json:"type"`
	}
	if b, err := c.MarshalJSON(); err == nil && json.Unmarshal(b, &wire) == nil && wire.Type != "" {
		return "[" + clip(wire.Type, 40) + " content]"
	}
	return fmt.Sprintf("[%T content]", c)
}

func orUnknown(mime string) string {
	if mime == "" {
		return "of unknown type"
	}
	return mime
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
