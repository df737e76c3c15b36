package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw/internal/agent/cli/clifake"
	"github.com/coderclaw/coderclaw/internal/llmfake"
)

// EnvRealCLIs names an npm prefix holding the real CLIs
// (node_modules/.bin/claude, opencode); TestRealCLIs skips without it.
const EnvRealCLIs = "CODERCLAW_REAL_CLIS"

// TestRealCLIs drives the real CLIs, when installed, against llmfake
// following the recipes of CLI-AGENTS.md, and checks the file the scripted
// model had them write.
func TestRealCLIs(t *testing.T) {
	prefix := os.Getenv(EnvRealCLIs)
	if prefix == "" {
		t.Skipf("%s is not set: no real CLIs to run (npm install --prefix DIR @anthropic-ai/claude-code opencode-ai, then set it to DIR)", EnvRealCLIs)
	}
	bin := func(t *testing.T, name string) string {
		p := filepath.Join(prefix, "node_modules", ".bin", name)
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s is not installed under %s: %v", name, prefix, err)
		}
		return p
	}

	t.Run("claude", func(t *testing.T) {
		path := bin(t, "claude")
		dir := t.TempDir()
		fake := llmfake.NewAnthropic(t,
			llmfake.Turn{ToolCalls: []llmfake.ToolCall{{Name: "Write",
				Input: mustJSON(map[string]string{"file_path": filepath.Join(dir, clifake.HelloFile), "content": clifake.HelloContent})}},
				Usage: llmfake.Usage{InputTokens: 20, OutputTokens: 10}},
			llmfake.Turn{Text: clifake.Done, Usage: llmfake.Usage{InputTokens: 30, OutputTokens: 5}},
		)
		front := sideCalls(t, fake.URL(), "anthropic")
		runReal(t, Config{Kind: "claude", Path: path, Timeout: 2 * time.Minute, Env: map[string]string{
			"ANTHROPIC_BASE_URL": front, "ANTHROPIC_API_KEY": "test", "CLAUDE_CODE_MAX_RETRIES": "0",
		}}, dir)
	})
	t.Run("opencode", func(t *testing.T) {
		path := bin(t, "opencode")
		dir := t.TempDir()
		fake := llmfake.NewOpenAI(t,
			llmfake.Turn{ToolCalls: []llmfake.ToolCall{{Name: "write",
				Input: mustJSON(map[string]string{"filePath": clifake.HelloFile, "content": clifake.HelloContent})}}},
			llmfake.Turn{Text: clifake.Done},
		)
		front := sideCalls(t, strings.TrimSuffix(fake.URL(), "/v1"), "openai")
		runReal(t, Config{Kind: "opencode", Path: path, Model: "fake-model", Timeout: 2 * time.Minute, Env: map[string]string{
			"OPENAI_BASE_URL": front + "/v1", "OPENAI_API_KEY": "test",
		}}, dir)
	})
	t.Run("codex", func(t *testing.T) {
		t.Skip("codex speaks only the Responses API to a custom provider, which llmfake does not serve")
	})
}

func runReal(t *testing.T, cfg Config, dir string) {
	t.Helper()
	ex, info, err := New(cfg)
	if err != nil || !info.Available {
		t.Fatalf("New = %+v, %v", info, err)
	}
	if v, err := Detect(context.Background(), cfg); err == nil {
		t.Logf("%s %s", cfg.Kind, v)
	}
	run := newTestRun(t, "Create HELLO.md")
	run.dir = dir
	out, err := ex.Execute(context.Background(), run)
	if err != nil {
		run.dump(t)
		t.Fatalf("Execute: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, clifake.HelloFile)); err != nil || string(b) != clifake.HelloContent {
		run.dump(t)
		t.Fatalf("%s = %q, %v", clifake.HelloFile, b, err)
	}
	if !strings.Contains(out, clifake.Done) || len(run.tools()) == 0 {
		run.dump(t)
		t.Errorf("output %q, %d tool events", out, len(run.tools()))
	}
	if _, n := run.usage(); n == 0 {
		t.Error("no usage recorded")
	}
}

// sideCalls fronts a scripted fake with the requests the real CLIs make
// besides their turns: probes (HEAD /) and side calls without tools or
// asking for a JSON format (the session title), answered here so that the script holds only the turns.
func sideCalls(t *testing.T, upstream, dialect string) string {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	tr := &http.Transport{}
	proxy.Transport = tr
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusOK)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req struct {
			Stream       bool              `json:"stream"`
			Tools        []json.RawMessage `json:"tools"`
			OutputConfig struct {
				Format json.RawMessage `json:"format"`
			} `json:"output_config"`
		}
		_ = json.Unmarshal(body, &req)
		if len(req.Tools) == 0 || len(req.OutputConfig.Format) > 0 {
			answerSideCall(w, dialect, req.Stream)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
	})
	return srv.URL
}

// answerSideCall answers with the text {"title":"Hello"}.
func answerSideCall(w http.ResponseWriter, dialect string, stream bool) {
	const text = `{"title":"Hello"}`
	if dialect == "anthropic" {
		if !stream {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"msg_side","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":%q}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}`, text)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []string{
			`event: message_start` + "\n" + `data: {"type":"message_start","message":{"id":"msg_side","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}}`,
			`event: content_block_start` + "\n" + `data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`event: content_block_delta` + "\n" + fmt.Sprintf(`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":%q}}`, text),
			`event: content_block_stop` + "\n" + `data: {"type":"content_block_stop","index":0}`,
			`event: message_delta` + "\n" + `data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":1}}`,
			`event: message_stop` + "\n" + `data: {"type":"message_stop"}`,
		} {
			fmt.Fprintf(w, "%s\n\n", ev)
		}
		return
	}
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"side","object":"chat.completion","created":1700000000,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`, text)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprintf(w, "data: {\"id\":\"side\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":%q},\"finish_reason\":null}]}\n\n", text)
	fmt.Fprint(w, "data: {\"id\":\"side\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}\n\n")
	fmt.Fprint(w, "data: [DONE]\n\n")
}
