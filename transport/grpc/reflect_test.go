package grpc

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/coderclaw/coderclaw/internal/nodetest"
)

// reflectionServices returns the services a Handler lists.
func reflectionServices() []string {
	return []string{"coderclaw.v1.RuntimeService", "grpc.reflection.v1.ServerReflection"}
}

// listAndDescribe lists the services through reflection and fetches the
// file that defines RuntimeService, checking it describes every method.
func listAndDescribe(t *testing.T, base string) {
	t.Helper()
	tr := newTransport(ProtocolGRPC)
	t.Cleanup(tr.CloseIdleConnections)
	rc := grpcreflect.NewClient(&http.Client{Transport: tr}, base, connect.WithGRPC())
	st := rc.NewStream(testCtx(t))
	defer func() { _, _ = st.Close() }()
	names, err := st.ListServices()
	if err != nil {
		t.Fatalf("list services: %v", err)
	}
	var got []string
	for _, n := range names {
		got = append(got, string(n))
	}
	slices.Sort(got)
	if !slices.Equal(got, reflectionServices()) {
		t.Errorf("services %v, want %v", got, reflectionServices())
	}
	for _, svc := range reflectionServices() {
		files, err := st.FileContainingSymbol(protoreflect.FullName(svc))
		if err != nil || len(files) == 0 {
			t.Fatalf("file containing %s: %v", svc, err)
		}
		if svc != "coderclaw.v1.RuntimeService" {
			continue
		}
		if files[0].GetName() != "coderclaw/v1/runtime.proto" || files[0].GetPackage() != "coderclaw.v1" {
			t.Fatalf("file %s package %s", files[0].GetName(), files[0].GetPackage())
		}
		var methods []string
		for _, s := range files[0].GetService() {
			for _, m := range s.GetMethod() {
				methods = append(methods, m.GetName())
				if m.GetName() == "StreamEvents" && !m.GetServerStreaming() {
					t.Errorf("StreamEvents is not server-streaming")
				}
			}
		}
		want := []string{"Submit", "GetTask", "ListTasks", "ListEvents", "StreamEvents", "Cancel", "Respond", "ListAgents", "ListSkills", "GetStatus"}
		if !slices.Equal(methods, want) {
			t.Errorf("methods %v, want %v", methods, want)
		}
		deps := map[string]bool{}
		for _, f := range files {
			deps[f.GetName()] = true
		}
		if !deps["google/protobuf/timestamp.proto"] || !deps["google/protobuf/duration.proto"] {
			t.Errorf("dependencies not sent: %v", deps)
		}
	}
}

// TestReflection lists and describes the service through gRPC server
// reflection v1, and through v1alpha when v1 is not offered (the fallback
// of older tools).
func TestReflection(t *testing.T) {
	t.Parallel()
	h := NewHandler(fixedRuntime{}, HandlerOptions{})
	t.Run("v1", func(t *testing.T) {
		t.Parallel()
		listAndDescribe(t, serveHandler(t, h, nil))
	})
	t.Run("v1alpha", func(t *testing.T) {
		t.Parallel()
		var alpha atomic.Int32
		onlyAlpha := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasPrefix(r.URL.Path, "/grpc.reflection.v1.ServerReflection/"):
				http.NotFound(w, r) // read as Unimplemented: the client falls back
				return
			case strings.HasPrefix(r.URL.Path, "/grpc.reflection.v1alpha.ServerReflection/"):
				alpha.Add(1)
			}
			h.ServeHTTP(w, r)
		})
		listAndDescribe(t, serveHandler(t, onlyAlpha, nil))
		if alpha.Load() == 0 {
			t.Error("v1alpha was not used")
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		h := NewHandler(fixedRuntime{}, HandlerOptions{NoReflection: true})
		if got := h.Paths(); len(got) != 1 || got[0] != "/coderclaw.v1.RuntimeService/" {
			t.Errorf("paths %v", got)
		}
		tr := newTransport(ProtocolGRPC)
		t.Cleanup(tr.CloseIdleConnections)
		st := grpcreflect.NewClient(&http.Client{Transport: tr}, serveHandler(t, h, nil), connect.WithGRPC()).NewStream(testCtx(t))
		defer func() { _, _ = st.Close() }()
		if _, err := st.ListServices(); connect.CodeOf(err) != connect.CodeUnimplemented {
			t.Errorf("reflection off: %v, want Unimplemented", err)
		}
	})
}

// TestMount checks that Mount serves the service and reflection next to a
// mux's other routes.
func TestMount(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("web ui")) })
	h := Mount(mux, nodetest.New(t), HandlerOptions{})
	base := serveHandler(t, mux, h.EndStreams)
	listAndDescribe(t, base)
	if _, err := newClient(t, base, ProtocolGRPC).Agents(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: newTransport(ProtocolConnect)}
	t.Cleanup(c.CloseIdleConnections)
	resp, err := c.Get(base + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("other route: %v %v", resp, err)
	}
	_ = resp.Body.Close()
}

// grpcurlBinary finds grpcurl on PATH or in GOPATH/bin.
func grpcurlBinary() string {
	if p, err := exec.LookPath("grpcurl"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "bin", "grpcurl")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// TestGrpcurl drives a node with grpcurl, which knows nothing of the
// .proto file but what reflection tells it.
func TestGrpcurl(t *testing.T) {
	t.Parallel()
	bin := grpcurlBinary()
	if bin == "" {
		t.Skip("grpcurl not installed (go install github.com/fullstorydev/grpcurl/cmd/grpcurl@latest); TestReflection covers reflection in Go")
	}
	n := nodetest.New(t)
	addr := strings.TrimPrefix(serve(t, NewHandler(n, HandlerOptions{})), "http://")
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(testCtx(t), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, append([]string{"-plaintext"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("grpcurl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run(addr, "list"); !strings.Contains(out, "coderclaw.v1.RuntimeService") {
		t.Errorf("list:\n%s", out)
	}
	if out := run(addr, "describe", "coderclaw.v1.RuntimeService.StreamEvents"); !strings.Contains(out, "returns ( stream .coderclaw.v1.StreamEventsResponse )") {
		t.Errorf("describe:\n%s", out)
	}
	out := run("-d", `{"agent_id":"noop","input":"hi","labels":{"k":"v"}}`, addr, "coderclaw.v1.RuntimeService/Submit")
	var sub struct {
		Task struct {
			ID     string            `json:"id"`
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"task"`
	}
	if err := json.Unmarshal([]byte(out), &sub); err != nil || sub.Task.Status != "pending" || sub.Task.Labels["k"] != "v" {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	out = run("-d", `{"id":"`+sub.Task.ID+`"}`, addr, "coderclaw.v1.RuntimeService/StreamEvents")
	if !strings.Contains(out, `"status": "completed"`) || !strings.Contains(out, `"type": "status"`) {
		t.Errorf("stream:\n%s", out)
	}
	// Errors arrive as gRPC status codes with the runtime's message.
	ctx, cancel := context.WithTimeout(testCtx(t), 30*time.Second)
	defer cancel()
	b, err := exec.CommandContext(ctx, bin, "-plaintext", "-d", `{"id":"nope"}`, addr, "coderclaw.v1.RuntimeService/GetTask").CombinedOutput()
	if err == nil || !strings.Contains(string(b), "Code: NotFound") {
		t.Errorf("unknown task: %v\n%s", err, b)
	}
}
