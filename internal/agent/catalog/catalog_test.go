package catalog_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/agent/catalog"
	"github.com/coderclaw/coderclaw/internal/audit"
	"github.com/coderclaw/coderclaw/internal/config"
	"github.com/coderclaw/coderclaw/internal/llmfake"
	"github.com/coderclaw/coderclaw/internal/nodetest"
	"github.com/coderclaw/coderclaw/internal/security"
	"github.com/coderclaw/coderclaw/internal/workspace"
)

func TestMain(m *testing.M) {
	if workspace.SandboxMain() {
		return
	}
	os.Exit(m.Run())
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// auditLog collects the audit entries of skill calls.
type auditLog struct {
	mu      sync.Mutex
	entries []audit.Entry
}

func (a *auditLog) Post(_ context.Context, e audit.Entry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e)
	return nil
}

func (a *auditLog) results(skill string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, e := range a.entries {
		if e.ResourceID == skill {
			out = append(out, e.Result)
		}
	}
	return out
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// goRepo makes a git repository holding a small Go module whose test
// fails until Add adds.
func goRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":       "module example.com/calc\n\ngo 1.22\n",
		"calc.go":      "package calc\n\n// Add returns the sum of a and b.\nfunc Add(a, b int) int {\n\treturn a - b\n}\n",
		"calc_test.go": "package calc\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif got := Add(2, 3); got != 5 {\n\t\tt.Fatalf(\"Add(2, 3) = %d, want 5\", got)\n\t}\n}\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "calc")
	return dir
}

type node struct {
	*nodetest.Node
	cat   *catalog.Catalog
	audit *auditLog
}

// start builds a catalog whose default provider is the fake and runs a
// node on it.
func start(t *testing.T, fake *llmfake.Server, change func(*catalog.Config)) *node {
	t.Helper()
	home := t.TempDir()
	rc := config.Defaults()
	rc.Providers.Anthropic = config.Provider{APIKey: "test-key", BaseURL: fake.URL(), Model: "claude-sonnet-4-5"}
	al := &auditLog{}
	cfg := catalog.Config{Runtime: rc, Home: home, Policy: security.Default(), Audit: al}
	if change != nil {
		change(&cfg)
	}
	cat, err := catalog.Build(ctx(t), cfg)
	if err != nil {
		t.Fatalf("build catalog: %v", err)
	}
	t.Cleanup(func() { _ = cat.Close() })
	n := nodetest.Start(t, nodetest.Options{Agents: cat.Registry, Dir: home})
	return &node{Node: n, cat: cat, audit: al}
}

func call(name string, input any) llmfake.ToolCall {
	b, _ := json.Marshal(input)
	return llmfake.ToolCall{Name: name, Input: b}
}

// wait follows a task to its end.
func wait(t *testing.T, rt coderclaw.Runtime, id string) coderclaw.Task {
	t.Helper()
	for _, err := range rt.Stream(ctx(t), id, 0) {
		if err != nil {
			t.Fatalf("stream %s: %v", id, err)
		}
	}
	task, err := rt.Task(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func events(t *testing.T, rt coderclaw.Runtime, id string, typ coderclaw.EventType) []coderclaw.Event {
	t.Helper()
	evs, err := rt.Events(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []coderclaw.Event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// developer submits as a developer from this machine.
func developer(c context.Context) context.Context {
	return coderclaw.WithPrincipal(c, coderclaw.Principal{UserID: "dev-1", Roles: []string{"developer"}, Method: "local"})
}

// TestCodeCreatorEndToEnd: a scripted model reads a file, fixes it, runs
// the tests in a real repository, and the task completes with the diff on
// its branch; every call is recorded and audited.
func TestCodeCreatorEndToEnd(t *testing.T) {
	fake := llmfake.NewAnthropic(t,
		llmfake.Turn{Text: "Let me look at the code.", ToolCalls: []llmfake.ToolCall{call("file-read", map[string]any{"path": "calc.go"})},
			Usage: llmfake.Usage{InputTokens: 1000, OutputTokens: 50}},
		llmfake.Turn{ToolCalls: []llmfake.ToolCall{call("file-edit", map[string]any{"path": "calc.go", "old_string": "return a - b", "new_string": "return a + b"})},
			Usage: llmfake.Usage{InputTokens: 1200, OutputTokens: 60}},
		llmfake.Turn{ToolCalls: []llmfake.ToolCall{call("run-tests", map[string]any{})},
			Usage: llmfake.Usage{InputTokens: 1300, OutputTokens: 20}},
		llmfake.Turn{Text: "Fixed Add: it subtracted. The tests pass.", Usage: llmfake.Usage{InputTokens: 1500, OutputTokens: 30}},
	)
	n := start(t, fake, nil)
	repo := goRepo(t)
	task, err := n.Submit(developer(ctx(t)), coderclaw.SubmitRequest{AgentID: "code-creator", Input: "make TestAdd pass", Repo: repo})
	if err != nil {
		t.Fatal(err)
	}
	final := wait(t, n, task.ID)
	if final.Status != coderclaw.StatusCompleted || final.Output != "Fixed Add: it subtracted. The tests pass." {
		t.Fatalf("task %s, output %q, error %q", final.Status, final.Output, final.Error)
	}

	// The tool calls, in order, each recorded with its result.
	var skills []string
	for _, ev := range events(t, n, task.ID, coderclaw.EventTool) {
		var c coderclaw.ToolCall
		if err := json.Unmarshal(ev.Data, &c); err != nil {
			t.Fatal(err)
		}
		skills = append(skills, c.Skill)
		if c.Error != "" {
			t.Errorf("%s failed: %s", c.Skill, c.Error)
		}
		if c.Skill == "run-tests" && !strings.Contains(c.Output, "ok") {
			t.Errorf("run-tests output %q, want go test passing", c.Output)
		}
	}
	if want := []string{"file-read", "file-edit", "run-tests"}; !slices.Equal(skills, want) {
		t.Errorf("tool events %v, want %v", skills, want)
	}

	// The model saw each tool's result, and the project's test output.
	reqs := fake.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d model calls, want 4", len(reqs))
	}
	last := reqs[3].Messages
	var results []llmfake.Block
	for _, m := range last {
		for _, b := range m.Blocks() {
			if b.Type == "tool_result" {
				results = append(results, b)
			}
		}
	}
	if len(results) != 3 || !strings.Contains(string(results[0].Content), "return a - b") {
		t.Errorf("tool results sent back: %+v", results)
	}
	if !strings.Contains(reqs[0].System, "Code creator") {
		t.Errorf("system prompt lacks the role: %q", reqs[0].System)
	}

	// Usage adds up over the steps.
	us := events(t, n, task.ID, coderclaw.EventUsage)
	var u coderclaw.Usage
	if len(us) != 4 || json.Unmarshal(us[len(us)-1].Data, &u) != nil || u.Steps != 4 || u.InputTokens != 5000 || u.OutputTokens != 160 || u.CostUSD <= 0 {
		t.Errorf("usage %+v from %d events", u, len(us))
	}

	// The diff is an event and a commit on the task's branch.
	diffs := events(t, n, task.ID, coderclaw.EventDiff)
	if len(diffs) != 1 {
		t.Fatalf("%d diff events", len(diffs))
	}
	var sum coderclaw.DiffSummary
	if err := json.Unmarshal(diffs[0].Data, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Files != 1 || sum.Additions != 1 || sum.Deletions != 1 || !strings.HasPrefix(sum.Branch, "task/") ||
		!strings.Contains(diffs[0].Message, "-\treturn a - b\n+\treturn a + b") {
		t.Errorf("diff %+v:\n%s", sum, diffs[0].Message)
	}
	if got := git(t, repo, "show", sum.Branch+":calc.go"); !strings.Contains(got, "return a + b") {
		t.Errorf("branch %s holds:\n%s", sum.Branch, got)
	}
	if got := git(t, repo, "show", "main:calc.go"); !strings.Contains(got, "return a - b") {
		t.Errorf("the task changed main:\n%s", got)
	}
	if st := git(t, repo, "status", "--porcelain"); st != "" {
		t.Errorf("the repository's own work tree changed: %q", st)
	}

	// Every call was checked and audited.
	for _, s := range []string{"file-read", "file-edit", "run-tests"} {
		if got := n.audit.results(s); !slices.Equal(got, []string{audit.ResultAllowed}) {
			t.Errorf("audit of %s: %v", s, got)
		}
	}
}

// TestDeniedSkillGoesBackToTheModel: a repository policy that denies a
// skill makes its call a tool error the model sees; the denial is audited
// and the task goes on.
func TestDeniedSkillGoesBackToTheModel(t *testing.T) {
	fake := llmfake.NewAnthropic(t,
		llmfake.Turn{ToolCalls: []llmfake.ToolCall{call("shell-exec", map[string]any{"command": "touch pwned"})}},
		llmfake.Turn{Text: "I may not run commands here."},
	)
	n := start(t, fake, nil)
	repo := goRepo(t)
	if err := os.MkdirAll(filepath.Join(repo, ".coderClaw"), 0o755); err != nil {
		t.Fatal(err)
	}
	policy := "skillPolicies:\n  - skillId: shell-exec\n    allowedRoles: [admin]\n"
	if err := os.WriteFile(filepath.Join(repo, ".coderClaw", "security.yaml"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-q", "-m", "policy")

	task, err := n.Submit(developer(ctx(t)), coderclaw.SubmitRequest{AgentID: "code-creator", Input: "run something", Repo: repo})
	if err != nil {
		t.Fatal(err)
	}
	final := wait(t, n, task.ID)
	if final.Status != coderclaw.StatusCompleted {
		t.Fatalf("task %s: %s", final.Status, final.Error)
	}
	tools := events(t, n, task.ID, coderclaw.EventTool)
	var c coderclaw.ToolCall
	if len(tools) != 1 || json.Unmarshal(tools[0].Data, &c) != nil || !c.Denied || !strings.Contains(c.Error, "admin") {
		t.Fatalf("tool events %+v", tools)
	}
	var sent llmfake.Block
	for _, m := range fake.Requests()[1].Messages {
		for _, b := range m.Blocks() {
			if b.Type == "tool_result" {
				sent = b
			}
		}
	}
	if !sent.IsError || !strings.Contains(string(sent.Content), "denied") {
		t.Errorf("tool result sent to the model: %+v", sent)
	}
	if got := n.audit.results("shell-exec"); !slices.Equal(got, []string{audit.ResultDenied}) {
		t.Errorf("audit of shell-exec: %v", got)
	}
	if sum := diffSummary(t, n, task.ID); sum.Files != 0 {
		t.Errorf("a denied command changed files: %+v", sum)
	}
}

func diffSummary(t *testing.T, rt coderclaw.Runtime, id string) coderclaw.DiffSummary {
	t.Helper()
	var sum coderclaw.DiffSummary
	diffs := events(t, rt, id, coderclaw.EventDiff)
	if len(diffs) != 1 || json.Unmarshal(diffs[0].Data, &sum) != nil {
		t.Fatalf("diff events %+v", diffs)
	}
	return sum
}

// TestLoopingModelEndsAtItsBudget: a model that never stops calling tools
// fails the task when its step budget runs out.
func TestLoopingModelEndsAtItsBudget(t *testing.T) {
	var turns []llmfake.Turn
	for range 3 {
		turns = append(turns, llmfake.Turn{ToolCalls: []llmfake.ToolCall{call("list", map[string]any{})}})
	}
	fake := llmfake.NewAnthropic(t, turns...)
	n := start(t, fake, func(c *catalog.Config) { c.Runtime.Agents.MaxSteps = 3 })
	task, err := n.Submit(developer(ctx(t)), coderclaw.SubmitRequest{AgentID: "code-reviewer", Input: "loop", Repo: goRepo(t)})
	if err != nil {
		t.Fatal(err)
	}
	final := wait(t, n, task.ID)
	if final.Status != coderclaw.StatusFailed || !strings.Contains(final.Error, "step budget of 3 exhausted") {
		t.Fatalf("task %s: %q", final.Status, final.Error)
	}
}

// TestMalformedToolInput: arguments that are not JSON come back to the
// model as a tool error naming the problem.
func TestMalformedToolInput(t *testing.T) {
	fake := llmfake.NewAnthropic(t,
		llmfake.Turn{ToolCalls: []llmfake.ToolCall{{Name: "file-read", Input: json.RawMessage(`{"path": 7}`)}}},
		llmfake.Turn{ToolCalls: []llmfake.ToolCall{{Name: "no-such-tool", Input: json.RawMessage(`{}`)}}},
		llmfake.Turn{Text: "giving up"},
	)
	n := start(t, fake, nil)
	task, err := n.Submit(developer(ctx(t)), coderclaw.SubmitRequest{AgentID: "code-reviewer", Input: "read", Repo: goRepo(t)})
	if err != nil {
		t.Fatal(err)
	}
	if final := wait(t, n, task.ID); final.Status != coderclaw.StatusCompleted {
		t.Fatalf("task %s: %s", final.Status, final.Error)
	}
	var errs []string
	for _, ev := range events(t, n, task.ID, coderclaw.EventTool) {
		var c coderclaw.ToolCall
		_ = json.Unmarshal(ev.Data, &c)
		errs = append(errs, c.Error)
	}
	if len(errs) != 2 || !strings.Contains(errs[0], `"path"`) || !strings.Contains(errs[1], `unknown tool "no-such-tool"`) {
		t.Errorf("tool errors %q", errs)
	}
}

// TestNotAGitRepository: a task naming a directory that is not a git
// repository fails saying so, before the model is called.
func TestNotAGitRepository(t *testing.T) {
	fake := llmfake.NewAnthropic(t)
	n := start(t, fake, nil)
	task, err := n.Submit(developer(ctx(t)), coderclaw.SubmitRequest{AgentID: "code-creator", Input: "x", Repo: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	final := wait(t, n, task.ID)
	if final.Status != coderclaw.StatusFailed || !strings.Contains(final.Error, "not a git repository") {
		t.Fatalf("task %s: %q", final.Status, final.Error)
	}
	if len(fake.Requests()) != 0 {
		t.Errorf("the model was called %d times", len(fake.Requests()))
	}
}

// TestAgentsShowAvailability: every role is listed; without a provider
// each says why it cannot run, and CLI agents that are not installed say
// so.
func TestAgentsShowAvailability(t *testing.T) {
	home := t.TempDir()
	cat, err := catalog.Build(ctx(t), catalog.Config{Runtime: config.Defaults(), Home: home})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	byID := map[string]coderclaw.Agent{}
	for _, a := range cat.Registry.Agents() {
		byID[a.ID] = a
	}
	for _, id := range []string{"code-creator", "code-reviewer", "test-generator", "bug-analyzer", "refactor-agent", "documentation-agent", "architecture-advisor"} {
		a, ok := byID[id]
		if !ok || a.Available || !strings.Contains(a.Reason, "no LLM provider is configured") {
			t.Errorf("%s: %+v", id, a)
		}
	}
	for _, id := range []string{"shell", "noop"} {
		if !byID[id].Available {
			t.Errorf("%s unavailable: %+v", id, byID[id])
		}
	}
	for _, id := range []string{"claude-code", "codex", "opencode", "goose", "aider"} {
		a, ok := byID[id]
		if !ok || (!a.Available && a.Reason == "") {
			t.Errorf("%s: %+v", id, a)
		}
	}
	if len(cat.Registry.Skills()) < 10 {
		t.Errorf("skills: %+v", cat.Registry.Skills())
	}
}

// TestAskSurvivesRestart: a model that asks the human puts the task in
// waiting; the node restarts; the answer resumes the same conversation
// from its checkpoint instead of starting over.
func TestAskSurvivesRestart(t *testing.T) {
	fake := llmfake.NewAnthropic(t,
		llmfake.Turn{ToolCalls: []llmfake.ToolCall{
			call("file-read", map[string]any{"path": "calc.go"}),
			call("ask_human", map[string]any{"question": "Fix Add, or only explain?"}),
		}, Usage: llmfake.Usage{InputTokens: 100, OutputTokens: 10}},
		llmfake.Turn{Text: "Explained: Add subtracts.", Usage: llmfake.Usage{InputTokens: 200, OutputTokens: 10}},
	)
	home := t.TempDir()
	build := func() *catalog.Catalog {
		rc := config.Defaults()
		rc.Providers.Anthropic = config.Provider{APIKey: "k", BaseURL: fake.URL()}
		cat, err := catalog.Build(ctx(t), catalog.Config{Runtime: rc, Home: home})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cat.Close() })
		return cat
	}
	first := nodetest.Start(t, nodetest.Options{Agents: build().Registry, Dir: home, NodeID: "n"})
	task, err := first.Submit(developer(ctx(t)), coderclaw.SubmitRequest{AgentID: "code-reviewer", Input: "look at Add", Repo: goRepo(t)})
	if err != nil {
		t.Fatal(err)
	}
	for ev, err := range first.Stream(ctx(t), task.ID, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == coderclaw.EventStatus && ev.Status == coderclaw.StatusWaiting {
			break
		}
		if ev.Terminal() {
			t.Fatalf("task ended before asking: %+v", ev)
		}
	}
	first.Stop(t)

	second := nodetest.Start(t, nodetest.Options{Agents: build().Registry, Dir: home, NodeID: "n"})
	if _, err := second.Respond(ctx(t), task.ID, "only explain"); err != nil {
		t.Fatal(err)
	}
	final := wait(t, second, task.ID)
	if final.Status != coderclaw.StatusCompleted || final.Output != "Explained: Add subtracts." {
		t.Fatalf("task %s, output %q, error %q", final.Status, final.Output, final.Error)
	}
	reqs := fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d model calls, want 2: the resumed execution must not start over", len(reqs))
	}
	var results []llmfake.Block
	for _, m := range reqs[1].Messages {
		for _, b := range m.Blocks() {
			if b.Type == "tool_result" {
				results = append(results, b)
			}
		}
	}
	if len(results) != 2 || !strings.Contains(string(results[0].Content), "func Add") || !strings.Contains(string(results[1].Content), "only explain") {
		t.Errorf("tool results after the restart: %+v", results)
	}
	us := events(t, second, task.ID, coderclaw.EventUsage)
	var u coderclaw.Usage
	if len(us) == 0 || json.Unmarshal(us[len(us)-1].Data, &u) != nil || u.Steps != 2 || u.InputTokens != 300 {
		t.Errorf("usage across the restart: %+v", u)
	}
}

// TestCancelDuringToolCall: cancelling a task while a command runs kills
// the command and leaves the repository consistent, with the task's
// branch holding what was done. (A cancelled task's stream ends at the
// cancellation, so its diff is on the branch, not in an event.)
func TestCancelDuringToolCall(t *testing.T) {
	fake := llmfake.NewAnthropic(t,
		llmfake.Turn{ToolCalls: []llmfake.ToolCall{call("file-write", map[string]any{"path": "notes.txt", "content": "started\n"})}},
		llmfake.Turn{ToolCalls: []llmfake.ToolCall{call("shell-exec", map[string]any{"command": "sleep 300"})}},
	)
	n := start(t, fake, nil)
	repo := goRepo(t)
	task, err := n.Submit(developer(ctx(t)), coderclaw.SubmitRequest{AgentID: "code-creator", Input: "take your time", Repo: repo})
	if err != nil {
		t.Fatal(err)
	}
	for ev, err := range n.Stream(ctx(t), task.ID, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == coderclaw.EventUsage && strings.HasPrefix(ev.Message, "step 2") {
			break
		}
	}
	// The command is running (or about to): cancel.
	if _, err := n.Cancel(ctx(t), task.ID); err != nil {
		t.Fatal(err)
	}
	final := wait(t, n, task.ID)
	if final.Status != coderclaw.StatusCancelled {
		t.Fatalf("task %s: %s", final.Status, final.Error)
	}
	branch := workspace.BranchPrefix + workspace.ShortID(task.ID)
	waitForBranchCommit(t, repo, branch)
	if got := git(t, repo, "show", branch+":notes.txt"); got != "started" {
		t.Errorf("branch holds %q", got)
	}
	if out := git(t, repo, "worktree", "list", "--porcelain"); strings.Count(out, "worktree ") != 1 {
		t.Errorf("worktree left behind:\n%s", out)
	}
	if fsck := git(t, repo, "fsck", "--no-progress"); strings.Contains(fsck, "error") {
		t.Errorf("git fsck: %s", fsck)
	}
}

// waitForBranchCommit waits until the task's branch moves past main: the
// workspace is saved after the executor has returned, which may be just
// after the task's cancellation was stored.
func waitForBranchCommit(t *testing.T, repo, branch string) {
	t.Helper()
	main := git(t, repo, "rev-parse", "main")
	for range 500 {
		out, err := exec.Command("git", "-C", repo, "rev-parse", "--verify", "-q", branch).Output()
		if err == nil && strings.TrimSpace(string(out)) != main {
			if wt := git(t, repo, "worktree", "list", "--porcelain"); strings.Count(wt, "worktree ") == 1 {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("branch %s never got the task's commit", branch)
}
