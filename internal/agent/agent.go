// Package agent defines what runs a task: the Executor interface, the Run
// an executor reports through, and the Registry behind Runtime.Agents and
// Runtime.Skills.
//
// An executor is given a Run and returns the task's output, or an error
// that fails the task. It must return promptly once its context ends (the
// task was cancelled, its lease was lost, or the node is stopping); what it
// returns then is discarded. Run methods are safe for concurrent use.
package agent

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/coderclaw/coderclaw"
)

// Executor runs tasks for one agent.
type Executor interface {
	Execute(ctx context.Context, run Run) (output string, err error)
}

// ExecutorFunc adapts a function to Executor.
type ExecutorFunc func(ctx context.Context, run Run) (string, error)

// Execute calls f.
func (f ExecutorFunc) Execute(ctx context.Context, run Run) (string, error) { return f(ctx, run) }

// Run is one execution of a task, as its executor sees it. Everything an
// executor reports becomes events in the task's log.
type Run interface {
	// Task is the task as claimed.
	Task() coderclaw.Task
	// Dir is the working directory of the execution; the executor creates
	// it if it does not exist.
	Dir() string
	// Log records a line of output; stream names where it came from
	// ("stdout", "stderr", or an agent-specific name).
	Log(stream, line string)
	// Progress records the task's progress, 0 to 100; values are clamped.
	Progress(percent int)
	// Ask puts the task in waiting with a question for a human and blocks
	// until Respond answers it or ctx ends. Answers given before a restart
	// are replayed in order, so a re-run execution gets the same answers.
	Ask(ctx context.Context, question string) (string, error)
	// Record queues an event of another type (tool calls, usage, the
	// diff, checkpoints) with a message and a payload marshalled to JSON.
	// Types the engine owns (status, progress, output, question, input)
	// are refused with a log line saying so.
	Record(typ coderclaw.EventType, message string, data any)
	// History returns the task's events so far, of every attempt, oldest
	// first, including what this execution queued; an executor resuming a
	// task reads its last checkpoint from it.
	History(ctx context.Context) ([]coderclaw.Event, error)
}

// Registry holds the agents a node offers and the skills they may call.
// It is safe for concurrent use; the zero value is not usable, use
// NewRegistry.
type Registry struct {
	mu     sync.RWMutex
	agents map[string]entry
	skills map[string]coderclaw.Skill
}

type entry struct {
	info coderclaw.Agent
	ex   Executor
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{agents: map[string]entry{}, skills: map[string]coderclaw.Skill{}}
}

// Register adds or replaces an agent. An available agent needs an
// executor; an unavailable one needs a reason.
func (r *Registry) Register(info coderclaw.Agent, ex Executor) error {
	switch {
	case strings.TrimSpace(info.ID) == "":
		return fmt.Errorf("register agent: empty id")
	case info.Available && ex == nil:
		return fmt.Errorf("register agent %s: available but no executor", info.ID)
	case !info.Available && info.Reason == "":
		return fmt.Errorf("register agent %s: unavailable without a reason", info.ID)
	}
	if info.Name == "" {
		info.Name = info.ID
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.agents[info.ID] = entry{info: info, ex: ex}
	return nil
}

// RegisterSkill adds or replaces a skill.
func (r *Registry) RegisterSkill(s coderclaw.Skill) error {
	if strings.TrimSpace(s.ID) == "" {
		return fmt.Errorf("register skill: empty id")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.skills[s.ID] = s
	return nil
}

// Lookup returns the executor of an available agent. The error is an
// *coderclaw.Error with code invalid naming the agent and, for an unknown
// agent, the known ones, or, for an unavailable one, why.
func (r *Registry) Lookup(id string) (Executor, coderclaw.Agent, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.agents[id]
	if !ok {
		known := make([]string, 0, len(r.agents))
		for k := range r.agents {
			known = append(known, k)
		}
		sort.Strings(known)
		return nil, coderclaw.Agent{}, coderclaw.Errorf(coderclaw.CodeInvalid,
			"agent_id: unknown agent %q (known: %s)", id, strings.Join(known, ", "))
	}
	if !e.info.Available {
		return nil, e.info, coderclaw.Errorf(coderclaw.CodeInvalid,
			"agent_id: agent %q is unavailable: %s", id, e.info.Reason)
	}
	return e.ex, e.info, nil
}

// Agents lists every agent, available or not, sorted by id.
func (r *Registry) Agents() []coderclaw.Agent {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]coderclaw.Agent, 0, len(r.agents))
	for _, e := range r.agents {
		a := e.info
		a.Capabilities = slices.Clone(a.Capabilities)
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Skills lists every skill, sorted by id.
func (r *Registry) Skills() []coderclaw.Skill {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]coderclaw.Skill, 0, len(r.skills))
	for _, s := range r.skills {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Noop is an executor that completes at once with empty output; benchmarks
// use it to measure the engine alone.
type Noop struct{}

// Execute returns at once.
func (Noop) Execute(context.Context, Run) (string, error) { return "", nil }

// NoopAgent describes the noop agent.
func NoopAgent() coderclaw.Agent {
	return coderclaw.Agent{
		ID: "noop", Name: "No-op", Kind: "builtin", Available: true,
		Description: "Completes at once with empty output; for benchmarks and tests.",
	}
}
