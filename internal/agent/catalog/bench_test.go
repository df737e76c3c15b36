package catalog_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/agent/anthropic"
	"github.com/coderclaw/coderclaw/internal/agent/catalog"
	"github.com/coderclaw/coderclaw/internal/agent/llm"
	"github.com/coderclaw/coderclaw/internal/config"
	"github.com/coderclaw/coderclaw/internal/llmfake"
	"github.com/coderclaw/coderclaw/internal/nodetest"
)

// TestHundredConcurrentAgentTasks: 100 agent tasks run at once on one
// node against the fake provider, each calling a skill; none is lost.
func TestHundredConcurrentAgentTasks(t *testing.T) {
	runConcurrent(t, 100)
}

// BenchmarkHundredConcurrentAgentTasks reports how long 100 concurrent
// two-step agent tasks take end to end on one node.
func BenchmarkHundredConcurrentAgentTasks(b *testing.B) {
	for b.Loop() {
		runConcurrent(b, 100)
	}
}

func runConcurrent(tb testing.TB, n int) {
	// Requests take turns in arrival order, whatever their task: with a
	// tool call and a final answer per task, every task ends after one or
	// more steps, and the n final answers end all n tasks.
	var turns []llmfake.Turn
	for i := range n {
		turns = append(turns,
			llmfake.Turn{ToolCalls: []llmfake.ToolCall{call("list", map[string]any{})}, Usage: llmfake.Usage{InputTokens: 100, OutputTokens: 10}},
			llmfake.Turn{Text: fmt.Sprintf("done %d", i), Usage: llmfake.Usage{InputTokens: 120, OutputTokens: 5}})
	}
	fake := llmfake.NewAnthropic(tb, turns...)
	home := tb.TempDir()
	rc := config.Defaults()
	rc.Providers.Anthropic = config.Provider{APIKey: "k", BaseURL: fake.URL()}
	cat, err := catalog.Build(context.Background(), catalog.Config{Runtime: rc, Home: home})
	if err != nil {
		tb.Fatal(err)
	}
	defer cat.Close()
	node := nodetest.Start(tb, nodetest.Options{Agents: cat.Registry, Dir: home, MaxConcurrentTasks: n})
	defer node.Stop(tb)
	c := context.Background()
	ids := make([]string, n)
	for i := range n {
		task, err := node.Submit(c, coderclaw.SubmitRequest{AgentID: "code-reviewer", Input: fmt.Sprintf("task %d", i)})
		if err != nil {
			tb.Fatal(err)
		}
		ids[i] = task.ID
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, id := range ids {
		wg.Go(func() {
			for _, err := range node.Stream(c, id, 0) {
				if err != nil {
					errs <- err
					return
				}
			}
			task, err := node.Task(c, id)
			if err == nil && (task.Status != coderclaw.StatusCompleted || task.Output == "") {
				err = fmt.Errorf("task %s: %s %q %s", id, task.Status, task.Output, task.Error)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Error(err)
	}
	if left := fake.Remaining(); left != 0 {
		tb.Errorf("%d scripted turns left", left)
	}
}

// timedModel measures the time spent in the model.
type timedModel struct {
	llm.Model
	in time.Duration
}

func (m *timedModel) Complete(ctx context.Context, req llm.Request, onText func(string)) (llm.Response, error) {
	start := time.Now()
	defer func() { m.in += time.Since(start) }()
	return m.Model.Complete(ctx, req, onText)
}

// memRun is an agent.Run that keeps what an execution reports in memory.
type memRun struct {
	task coderclaw.Task
	dir  string
	mu   sync.Mutex
	evs  int
}

func (r *memRun) Task() coderclaw.Task { return r.task }
func (r *memRun) Dir() string          { return r.dir }
func (r *memRun) Log(string, string)   { r.count() }
func (r *memRun) Progress(int)         {}
func (r *memRun) Record(coderclaw.EventType, string, any) {
	r.count()
}
func (r *memRun) Ask(context.Context, string) (string, error) { return "", fmt.Errorf("no human here") }
func (r *memRun) History(context.Context) ([]coderclaw.Event, error) {
	return nil, nil
}
func (r *memRun) count() {
	r.mu.Lock()
	r.evs++
	r.mu.Unlock()
}

// BenchmarkAgentLoopStep measures the agent loop's own cost per step,
// outside the model call: building the request, recording events, and a
// file-read skill call with its policy check. Each iteration is a task of
// 10 steps (9 tool calls and an answer).
func BenchmarkAgentLoopStep(b *testing.B) {
	const steps = 10
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	var turns []llmfake.Turn
	for range b.N {
		for range steps - 1 {
			turns = append(turns, llmfake.Turn{ToolCalls: []llmfake.ToolCall{call("file-read", map[string]any{"path": "main.go"})}})
		}
		turns = append(turns, llmfake.Turn{Text: "done"})
	}
	fake := llmfake.NewAnthropic(b, turns...)
	home := b.TempDir()
	cat, err := catalog.Build(context.Background(), catalog.Config{Runtime: config.Defaults(), Home: home})
	if err != nil {
		b.Fatal(err)
	}
	defer cat.Close()
	prov, err := anthropic.New(anthropic.Config{APIKey: "k", BaseURL: fake.URL()})
	if err != nil {
		b.Fatal(err)
	}
	model := &timedModel{Model: prov}
	ag := &llm.Agent{ID: "bench", Prompt: "bench", Model: model, Tools: cat.Tools(nil), MaxSteps: steps}
	c := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		run := &memRun{task: coderclaw.Task{ID: fmt.Sprintf("t%d", i), AgentID: "bench", Input: "read"}, dir: dir}
		if out, err := ag.Execute(c, run); err != nil || out != "done" {
			b.Fatalf("execute: %q %v", out, err)
		}
	}
	total := time.Since(start)
	b.StopTimer()
	n := float64(b.N * steps)
	b.ReportMetric(float64((total-model.in).Microseconds())/n, "overhead-µs/step")
	b.ReportMetric(float64(model.in.Microseconds())/n, "model-µs/step")
}
