package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"

	"github.com/coderclaw/coderclaw/internal/skill"
	"github.com/coderclaw/coderclaw/internal/skill/mcp"
)

// serverEnv makes the test binary act as an MCP server (or a broken one)
// instead of running the tests, so stdio tests speak to a real process.
const serverEnv = "CODERCLAW_MCP_TEST_SERVER"

func TestMain(m *testing.M) {
	switch os.Getenv(serverEnv) {
	case "":
		goleak.VerifyTestMain(m)
	case "serve":
		if err := testServer(nil, nil).Run(context.Background(), &sdk.StdioTransport{}); err != nil {
			fmt.Fprintln(os.Stderr, "test server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case "fail":
		fmt.Fprintln(os.Stderr, "boom: cannot open the database")
		os.Exit(2)
	case "silent":
		// Reads the handshake and never answers; ends with its stdin.
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "unknown", serverEnv)
		os.Exit(1)
	}
}

type echoIn struct {
	Text string `json:"text" jsonschema:"the text to echo"`
}

// testServer is the MCP server of the tests. started, if not nil,
// receives a value when the hang tool has started; the hang tool returns
// when its call is cancelled or stop closes.
func testServer(started chan<- struct{}, stop <-chan struct{}) *sdk.Server {
	s := sdk.NewServer(&sdk.Implementation{Name: "test", Version: "1"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "echo", Description: "Echo the text."},
		func(_ context.Context, _ *sdk.CallToolRequest, in echoIn) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{
				&sdk.TextContent{Text: in.Text},
				&sdk.ImageContent{MIMEType: "image/png", Data: []byte{1, 2, 3}},
			}}, nil, nil
		})
	sdk.AddTool(s, &sdk.Tool{Name: "fail", Description: "Always fails."},
		func(context.Context, *sdk.CallToolRequest, any) (*sdk.CallToolResult, any, error) {
			return nil, nil, errors.New("no such file: x.go")
		})
	sdk.AddTool(s, &sdk.Tool{Name: "hang", Description: "Never answers."},
		func(ctx context.Context, _ *sdk.CallToolRequest, _ any) (*sdk.CallToolResult, any, error) {
			if started != nil {
				started <- struct{}{}
			}
			select {
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-stop:
				return nil, nil, errors.New("stopped")
			}
		})
	sdk.AddTool(s, &sdk.Tool{Name: "crash", Description: "Kills the server."},
		func(context.Context, *sdk.CallToolRequest, any) (*sdk.CallToolResult, any, error) {
			fmt.Fprintln(os.Stderr, "crashing on purpose")
			os.Exit(3)
			return nil, nil, nil
		})
	sdk.AddTool(s, &sdk.Tool{Name: "read file.v2", Description: "A name models refuse."},
		func(context.Context, *sdk.CallToolRequest, any) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "read"}}}, nil, nil
		})
	return s
}

// stdioConfig is the configuration of the test binary as a stdio server.
func stdioConfig(mode string) mcp.ServerConfig {
	return mcp.ServerConfig{Name: "local", Command: os.Args[0], Args: []string{"-test.run=^$"}, Env: []string{serverEnv + "=" + mode}}
}

// transport connects to the test server one way. started receives a
// value when the hang tool starts, where the transport can tell.
type transport struct {
	name    string
	connect func(t *testing.T, cfg mcp.ServerConfig) (*mcp.Server, <-chan struct{})
}

var transports = []transport{
	{"stdio", func(t *testing.T, cfg mcp.ServerConfig) (*mcp.Server, <-chan struct{}) {
		c := stdioConfig("serve")
		c.Timeout, c.Dangerous = cfg.Timeout, cfg.Dangerous
		return connect(t, c), nil
	}},
	{"http", func(t *testing.T, cfg mcp.ServerConfig) (*mcp.Server, <-chan struct{}) {
		started, stop := make(chan struct{}, 1), make(chan struct{})
		srv := testServer(started, stop)
		hs := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, nil))
		t.Cleanup(hs.Close)
		s := connect(t, mcp.ServerConfig{Name: "remote", URL: hs.URL, Timeout: cfg.Timeout, Dangerous: cfg.Dangerous})
		// Over HTTP a cancelled call need not reach the tool: release it
		// before the session and the server close, which wait for it.
		t.Cleanup(func() { close(stop) })
		return s, started
	}},
}

func connect(t *testing.T, cfg mcp.ServerConfig) *mcp.Server {
	t.Helper()
	s, err := mcp.Connect(t.Context(), cfg, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func skillByID(t *testing.T, s *mcp.Server, id string) skill.Skill {
	t.Helper()
	var ids []string
	for _, sk := range s.Skills() {
		if sk.Info().ID == id {
			return sk
		}
		ids = append(ids, sk.Info().ID)
	}
	t.Fatalf("no skill %s among %v", id, ids)
	return nil
}

var validID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func TestListAndCall(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			s, _ := tr.connect(t, mcp.ServerConfig{})
			name := s.Name()
			if got := len(s.Skills()); got != 5 {
				t.Errorf("%d skills, want 5", got)
			}
			for _, sk := range s.Skills() {
				info := sk.Info()
				if !validID.MatchString(info.ID) || !strings.HasPrefix(info.ID, "mcp__"+name+"__") {
					t.Errorf("id %q", info.ID)
				}
				if info.Source != "mcp:"+name || info.RequiredPermission != "skill:execute" || !info.Dangerous || info.Description == "" {
					t.Errorf("info %+v", info)
				}
				var schema map[string]any
				if err := json.Unmarshal(sk.Schema(), &schema); err != nil || schema["type"] != "object" {
					t.Errorf("%s: schema %s (%v)", info.ID, sk.Schema(), err)
				}
			}

			echo := skillByID(t, s, "mcp__"+name+"__echo")
			if d := echo.Info().Description; d != "Echo the text." {
				t.Errorf("description %q", d)
			}
			if !strings.Contains(string(echo.Schema()), `"text"`) {
				t.Errorf("echo schema lacks its property: %s", echo.Schema())
			}
			out, err := echo.Call(t.Context(), skill.Env{}, json.RawMessage(`{"text":"hello"}`))
			if err != nil || out != "hello\n[image image/png, 3 bytes]" {
				t.Errorf("echo = %q, %v", out, err)
			}
			if _, err := echo.Call(t.Context(), skill.Env{}, json.RawMessage(`["hello"]`)); err == nil || !strings.Contains(err.Error(), "JSON object") {
				t.Errorf("array input: %v", err)
			}
			if _, err := echo.Call(t.Context(), skill.Env{}, json.RawMessage(`{"text":5}`)); err == nil {
				t.Error("input of the wrong type was accepted")
			}

			_, err = skillByID(t, s, "mcp__"+name+"__fail").Call(t.Context(), skill.Env{}, nil)
			var te *mcp.ToolError
			if !errors.As(err, &te) || !strings.Contains(te.Text, "no such file: x.go") || te.Tool != "fail" || te.Server != name {
				t.Errorf("tool error: %#v", err)
			}

			odd := skillByID(t, s, mcp.SkillID(name, "read file.v2"))
			if out, err := odd.Call(t.Context(), skill.Env{}, json.RawMessage(`{}`)); err != nil || out != "read" {
				t.Errorf("sanitised tool = %q, %v", out, err)
			}
		})
	}
}

func TestDangerousFromConfig(t *testing.T) {
	no := false
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			s, _ := tr.connect(t, mcp.ServerConfig{Dangerous: &no})
			for _, sk := range s.Skills() {
				if sk.Info().Dangerous {
					t.Errorf("%s is dangerous", sk.Info().ID)
				}
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			s, _ := tr.connect(t, mcp.ServerConfig{Timeout: 50 * time.Millisecond})
			_, err := skillByID(t, s, "mcp__"+s.Name()+"__hang").Call(t.Context(), skill.Env{}, nil)
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not answer within 50ms") {
				t.Errorf("hanging call: %v", err)
			}
			// The session survives a call that timed out.
			if _, err := skillByID(t, s, "mcp__"+s.Name()+"__echo").Call(t.Context(), skill.Env{}, json.RawMessage(`{"text":"x"}`)); err != nil {
				t.Errorf("echo after a timeout: %v", err)
			}
		})
	}
}

func TestCallEndsWithContext(t *testing.T) {
	s, started := transports[1].connect(t, mcp.ServerConfig{})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-started
		cancel()
	}()
	_, err := skillByID(t, s, "mcp__remote__hang").Call(ctx, skill.Env{}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: %v", err)
	}
}

func TestCloseEndsRunningCall(t *testing.T) {
	cfg := stdioConfig("serve")
	s, err := mcp.Connect(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := skillByID(t, s, "mcp__local__hang").Call(t.Context(), skill.Env{}, nil)
		errc <- err
	}()
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := <-errc; err == nil {
		t.Error("a call survived Close")
	}
	if _, err := skillByID(t, s, "mcp__local__echo").Call(t.Context(), skill.Env{}, nil); err == nil {
		t.Error("a call after Close succeeded")
	}
}

func TestServerCrash(t *testing.T) {
	s := connect(t, stdioConfig("serve"))
	_, err := skillByID(t, s, "mcp__local__crash").Call(t.Context(), skill.Env{}, nil)
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call to a crashing server: %v", err)
	}
	t.Logf("call to a crashing server: %v", err)
	if !strings.Contains(err.Error(), `mcp server "local"`) || !strings.Contains(err.Error(), "crashing on purpose") {
		t.Errorf("error does not name the server and quote its stderr: %v", err)
	}
	_, err = skillByID(t, s, "mcp__local__echo").Call(t.Context(), skill.Env{}, json.RawMessage(`{"text":"x"}`))
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("call after the crash: %v", err)
	}
}

func TestStartFailures(t *testing.T) {
	t.Run("missing command", func(t *testing.T) {
		t.Parallel()
		_, err := mcp.Connect(t.Context(), mcp.ServerConfig{Name: "ghost", Command: "/nonexistent/coderclaw-mcp-server", Args: []string{"--stdio"}}, nil)
		if err == nil || !strings.Contains(err.Error(), `mcp server "ghost"`) || !strings.Contains(err.Error(), "/nonexistent/coderclaw-mcp-server --stdio") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("exits at once", func(t *testing.T) {
		t.Parallel()
		_, err := mcp.Connect(t.Context(), stdioConfig("fail"), nil)
		if err == nil || !strings.Contains(err.Error(), `mcp server "local"`) || !strings.Contains(err.Error(), "boom: cannot open the database") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("never answers", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		_, err := mcp.Connect(ctx, stdioConfig("silent"), nil)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `mcp server "local"`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no http server", func(t *testing.T) {
		t.Parallel()
		hs := httptest.NewServer(http.NotFoundHandler())
		hs.Close()
		_, err := mcp.Connect(t.Context(), mcp.ServerConfig{Name: "gone", URL: hs.URL}, nil)
		if err == nil || !strings.Contains(err.Error(), `mcp server "gone" (url `+hs.URL) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  mcp.ServerConfig
		want string
	}{
		{mcp.ServerConfig{Command: "x"}, "name: must not be empty"},
		{mcp.ServerConfig{Name: "a"}, "command or url: one must be set"},
		{mcp.ServerConfig{Name: "a", Command: "x", URL: "http://h"}, "set only one"},
		{mcp.ServerConfig{Name: "a", URL: "ftp://h"}, "url: want an http"},
		{mcp.ServerConfig{Name: "a", URL: "http://h", Args: []string{"x"}}, "args and env: apply to a command"},
		{mcp.ServerConfig{Name: "a", Command: "x", Env: []string{"NOEQUALS"}}, `env[0]: want KEY=VALUE, got "NOEQUALS"`},
		{mcp.ServerConfig{Name: "a", Command: "x", Timeout: -time.Second}, "timeout: must not be negative"},
	} {
		_, err := mcp.Connect(t.Context(), tc.cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
