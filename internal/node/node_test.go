package node_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/config"
	"github.com/coderclaw/coderclaw/internal/login"
	"github.com/coderclaw/coderclaw/internal/node"
	grpctransport "github.com/coderclaw/coderclaw/transport/grpc"
	httptransport "github.com/coderclaw/coderclaw/transport/http"
	wstransport "github.com/coderclaw/coderclaw/transport/ws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, rc config.Runtime, token string) *node.Node {
	t.Helper()
	rc.Transport.Addr = "127.0.0.1:0"
	n, err := node.Start(context.Background(), node.Config{Home: t.TempDir(), Runtime: rc, Token: token})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return n
}

func client(t *testing.T, n *node.Node, opts ...httptransport.ClientOption) *httptransport.Client {
	t.Helper()
	c, err := httptransport.NewClient("http://"+n.Addr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestLocalNodeRunsTasks(t *testing.T) {
	n := start(t, config.Defaults(), "")
	c := client(t, n)
	task, err := c.Submit(context.Background(), coderclaw.SubmitRequest{AgentID: "shell", Input: "echo up"})
	if err != nil {
		t.Fatal(err)
	}
	var last coderclaw.Event
	for ev, err := range c.Stream(context.Background(), task.ID, 0) {
		if err != nil {
			t.Fatal(err)
		}
		last = ev
	}
	if last.Status != coderclaw.StatusCompleted {
		t.Errorf("last event %+v", last)
	}
}

func TestRemoteModeRequiresToken(t *testing.T) {
	rc := config.Defaults()
	rc.Mode, rc.Deployment.Mode = config.ModeRemoteEnabled, config.ModeRemoteEnabled
	n := start(t, rc, "let-me-in")
	ctx := context.Background()
	if _, err := client(t, n).Status(ctx); coderclaw.ErrorCode(err) != coderclaw.CodeUnauthenticated {
		t.Errorf("no token: %v", err)
	}
	if _, err := client(t, n, httptransport.WithToken("guess")).Tasks(ctx, coderclaw.Filter{}); coderclaw.ErrorCode(err) != coderclaw.CodeUnauthenticated {
		t.Errorf("wrong token: %v", err)
	}
	for _, err := range client(t, n).Stream(ctx, "0190a0f8-0000-7000-8000-000000000000", 0) {
		if coderclaw.ErrorCode(err) != coderclaw.CodeUnauthenticated {
			t.Errorf("stream without a token: %v", err)
		}
	}
	st, err := client(t, n, httptransport.WithToken("let-me-in")).Status(ctx)
	if err != nil || st.Mode != "remote-enabled" {
		t.Errorf("right token: %+v %v", st, err)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "coderclaw test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	home := t.TempDir()
	_, keyFile, pool := selfSigned(t, home)
	rc := config.Defaults()
	rc.Mode, rc.Deployment.Mode = config.ModeRemoteEnabled, config.ModeRemoteEnabled
	rc.TLS = config.TLS{Cert: "node.crt", Key: keyFile} // relative to home, and absolute
	rc.Transport.Addr = "127.0.0.1:0"
	n, err := node.Start(context.Background(), node.Config{Home: home, Runtime: rc, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(context.Background()) })
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := httptransport.NewClient("https://"+n.Addr(), httptransport.WithHTTPClient(&http.Client{Transport: tr}), httptransport.WithToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatalf("status over TLS: %v", err)
	}
	plain, err := httptransport.NewClient("http://" + n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.CloseIdleConnections()
	if _, err := plain.Status(context.Background()); err == nil {
		t.Errorf("plain HTTP to a TLS node succeeded")
	}

	rc.TLS.Key = "missing.key"
	if _, err := node.Start(context.Background(), node.Config{Home: home, Runtime: rc, Token: "tok"}); err == nil || !strings.Contains(err.Error(), "missing.key") {
		t.Errorf("missing key: %v", err)
	}
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestNodeEndpoints(t *testing.T) {
	n := start(t, config.Defaults(), "")
	c := client(t, n)
	task, err := c.Submit(context.Background(), coderclaw.SubmitRequest{AgentID: "noop", Input: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for range c.Stream(context.Background(), task.ID, 0) {
	}
	base := "http://" + n.Addr()
	code, body := get(t, base+"/metrics", "")
	if code != 200 || !strings.Contains(body, `coderclaw_tasks{status="completed"} 1`) || !strings.Contains(body, "coderclaw_store_commit_batch_size_count") {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
	if code, body := get(t, base+"/openapi.json", ""); code != 200 || !strings.Contains(body, `"openapi"`) {
		t.Errorf("/openapi.json: %d", code)
	}
	if code, body := get(t, base+"/docs", ""); code != 200 || !strings.Contains(body, "openapi.json") {
		t.Errorf("/docs: %d %.200s", code, body)
	}

	rc := config.Defaults()
	rc.Mode, rc.Deployment.Mode = config.ModeRemoteEnabled, config.ModeRemoteEnabled
	remote := "http://" + start(t, rc, "tok").Addr()
	if code, body := get(t, remote+"/metrics", ""); code != 401 || !strings.Contains(body, `"unauthenticated"`) {
		t.Errorf("/metrics without a token: %d %s", code, body)
	}
	if code, _ := get(t, remote+"/metrics", "tok"); code != 200 {
		t.Errorf("/metrics with the token: %d", code)
	}
}

// TestTransportsShareOneListener: REST and gRPC reach the same runtime on
// the node's one port, and gRPC passes the same access guard.
func TestTransportsShareOneListener(t *testing.T) {
	rc := config.Defaults()
	rc.Mode, rc.Deployment.Mode = config.ModeRemoteEnabled, config.ModeRemoteEnabled
	n := start(t, rc, "tok")
	ctx := context.Background()
	viaHTTP, err := client(t, n, httptransport.WithToken("tok")).Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, proto := range []grpctransport.Protocol{grpctransport.ProtocolGRPC, grpctransport.ProtocolConnect, grpctransport.ProtocolGRPCWeb} {
		g, err := grpctransport.NewClient("http://"+n.Addr(), grpctransport.WithProtocol(proto), grpctransport.WithToken("tok"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := g.Task(ctx, viaHTTP.ID)
		if err != nil || got.ID != viaHTTP.ID {
			t.Errorf("%s: task %+v, %v", proto, got, err)
		}
		anon, err := grpctransport.NewClient("http://"+n.Addr(), grpctransport.WithProtocol(proto))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := anon.Status(ctx); coderclaw.ErrorCode(err) != coderclaw.CodeUnauthenticated {
			t.Errorf("%s without a token: %v", proto, err)
		}
		g.CloseIdleConnections()
		anon.CloseIdleConnections()
	}
	ws, err := wstransport.Dial(ctx, "ws://"+n.Addr()+wstransport.DefaultPath, wstransport.WithHeader(http.Header{"Authorization": {"Bearer tok"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if got, err := ws.Task(ctx, viaHTTP.ID); err != nil || got.ID != viaHTTP.ID {
		t.Errorf("ws: task %+v, %v", got, err)
	}
	anon, err := wstransport.Dial(ctx, "ws://"+n.Addr()+wstransport.DefaultPath)
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if _, err := anon.Status(ctx); coderclaw.ErrorCode(err) != coderclaw.CodeUnauthenticated {
		t.Errorf("ws without a token: %v", err)
	}
}

// TestSecurityPolicyFiles: the node loads security.yaml and team-policy.yaml
// from its config directory; a bad one stops the start with file:line.
func TestSecurityPolicyFiles(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, ".coderClaw")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	bad := "roles:\n  ops:\n    inherits: developer\n    additionalPermissions: [config:delete]\n"
	if err := os.WriteFile(filepath.Join(dir, "security.yaml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	rc := config.Defaults()
	rc.Transport.Addr = "127.0.0.1:0"
	_, err := node.Start(context.Background(), node.Config{Home: home, Runtime: rc})
	if err == nil || !strings.Contains(err.Error(), "security.yaml:4") || !strings.Contains(err.Error(), "config:delete") {
		t.Fatalf("bad security.yaml: %v", err)
	}
}

// TestGitHubSignInMounted: with a GitHub client id the node offers the
// device flow at /api/auth/github/..., answered from GitHub's endpoints
// (a local fake here) without any credentials.
func TestGitHubSignInMounted(t *testing.T) {
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/login/device/code":
			_, _ = io.WriteString(w, `{"device_code":"dc","user_code":"WDJB-MJHT","verification_uri":"https://github.com/login/device","expires_in":900,"interval":5}`)
		case "/login/oauth/access_token":
			_, _ = io.WriteString(w, `{"error":"access_denied","error_description":"The user has denied your application access."}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer gh.Close()
	rc := config.Defaults()
	rc.Transport.Addr = "127.0.0.1:0"
	n, err := node.Start(context.Background(), node.Config{Home: t.TempDir(), Runtime: rc,
		GitHub: login.GitHubConfig{ClientID: "Iv1.test", BaseURL: gh.URL, APIURL: gh.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(context.Background()) })
	resp, err := http.Post("http://"+n.Addr()+"/api/auth/github/device", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var start struct {
		DeviceID string `json:"device_id"`
		UserCode string `json:"user_code"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&start); err != nil || resp.StatusCode != 200 || start.UserCode != "WDJB-MJHT" {
		t.Fatalf("device start: %d %+v %v", resp.StatusCode, start, err)
	}
}
