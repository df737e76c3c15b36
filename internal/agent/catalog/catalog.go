// Package catalog assembles a node's agents and skills from its
// configuration: the roles (built-in and team-agents.yaml) played by the
// configured LLM providers, the external coding CLIs, shell and noop; the
// built-in, installed and MCP skills; and the workspace every task that
// names a repository works in.
//
// An agent whose provider, binary or skills are missing is registered as
// unavailable with the reason, never left out.
package catalog

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/agent"
	"github.com/coderclaw/coderclaw/internal/agent/anthropic"
	"github.com/coderclaw/coderclaw/internal/agent/cli"
	"github.com/coderclaw/coderclaw/internal/agent/llm"
	"github.com/coderclaw/coderclaw/internal/agent/openai"
	"github.com/coderclaw/coderclaw/internal/agent/role"
	"github.com/coderclaw/coderclaw/internal/agent/shell"
	"github.com/coderclaw/coderclaw/internal/config"
	"github.com/coderclaw/coderclaw/internal/security"
	"github.com/coderclaw/coderclaw/internal/skill"
	"github.com/coderclaw/coderclaw/internal/skill/mcp"
	"github.com/coderclaw/coderclaw/internal/skill/registry"
	"github.com/coderclaw/coderclaw/internal/workspace"
)

// Config is what Build needs.
type Config struct {
	Runtime config.Runtime
	// Home is the node's home directory: team-agents.yaml, installed
	// skills (skills/) and worktrees are found relative to it.
	Home string
	// Policy is the node's security policy; every skill call is checked
	// against it narrowed by the task's repository.
	Policy *security.Policy
	// Subject turns the submitter of a task into the subject of its
	// checks (the node's authorizer, which knows device trust).
	Subject func(ctx context.Context, p coderclaw.Principal) (security.Subject, error)
	// Audit receives every skill decision.
	Audit  skill.Auditor
	Logger *slog.Logger
}

// Catalog is a node's agents and skills.
type Catalog struct {
	Registry *agent.Registry
	// Workspaces opens the worktrees of tasks.
	Workspaces *workspace.Manager

	skills  *skill.Set
	cfg     Config
	log     *slog.Logger
	closers []func() error
}

// CLIAgentID is the agent id of an external coding CLI kind.
func CLIAgentID(kind string) string {
	if kind == "claude" {
		return "claude-code"
	}
	return kind
}

// Build assembles the catalog. A broken team-agents.yaml or an unusable
// workspace directory is an error; a provider, CLI or MCP server that
// cannot be used makes its agents or skills unavailable, with a logged
// reason.
func Build(ctx context.Context, cfg Config) (*Catalog, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Policy == nil {
		cfg.Policy = security.Default()
	}
	rc := cfg.Runtime
	c := &Catalog{Registry: agent.NewRegistry(), cfg: cfg, log: log}
	var err error
	c.Workspaces, err = workspace.New(workspace.Config{
		Dir: rc.Workspace.WorktreesDir(cfg.Home), Logger: log,
		Sandbox: workspace.SandboxConfig{Mode: rc.Workspace.Sandbox, Writable: rc.Workspace.Writable, Network: rc.Workspace.Network},
	})
	if err != nil {
		return nil, err
	}
	if err := c.buildSkills(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.buildAgents(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close ends the MCP sessions.
func (c *Catalog) Close() error {
	var errs []error
	for _, f := range slices.Backward(c.closers) {
		errs = append(errs, f())
	}
	c.closers = nil
	return errors.Join(errs...)
}

// Skills returns every skill of the node.
func (c *Catalog) Skills() *skill.Set { return c.skills }

func (c *Catalog) buildSkills(ctx context.Context) error {
	all := skill.Builtins()
	installed, err := registry.Load(filepath.Join(c.cfg.Home, "skills"))
	if err != nil {
		return fmt.Errorf("installed skills: %w", err)
	}
	all = append(all, installed...)
	for _, sc := range c.cfg.Runtime.MCP.Servers {
		srv, err := mcp.Connect(ctx, mcp.ServerConfig{
			Name: sc.Name, Command: sc.Command, Args: sc.Args, Env: sc.Env, URL: sc.URL,
			Dangerous: sc.Dangerous, Timeout: sc.Timeout,
		}, c.log.With("mcp_server", sc.Name))
		if err != nil {
			// A server that is down must not stop the node: its tools are
			// missing, and roles that need them say so.
			c.log.Error("mcp server unavailable; its tools are not offered", "server", sc.Name, "err", err)
			continue
		}
		c.closers = append(c.closers, srv.Close)
		all = append(all, srv.Skills()...)
	}
	set, err := skill.NewSet(all...)
	if err != nil {
		return err
	}
	c.skills = set
	var ids []string
	for _, info := range set.Infos() {
		ids = append(ids, info.ID)
		if err := c.Registry.RegisterSkill(info); err != nil {
			return err
		}
	}
	if missing := registry.Missing(ids, c.cfg.Policy); len(missing) > 0 {
		c.log.Error("the organisation requires skills this node does not offer; install them with `coderclaw skill install --required --registry REG`",
			"missing", strings.Join(missing, ", "))
	}
	return nil
}

func (c *Catalog) buildAgents() error {
	rc := c.cfg.Runtime
	team, err := role.Load(rc.Agents.TeamAgentsPath(c.cfg.Home))
	if err != nil {
		return err
	}
	models := c.models()
	cliCfg := map[string]config.CLIAgent{}
	for _, a := range rc.Agents.CLI {
		cliCfg[a.Kind] = a
	}
	var errs []error
	register := func(info coderclaw.Agent, ex agent.Executor) {
		if ex != nil {
			ex = workspace.Wrap(c.Workspaces, ex)
		}
		errs = append(errs, c.Registry.Register(info, ex))
	}

	register(shell.Agent(), &shell.Executor{})
	errs = append(errs, c.Registry.Register(agent.NoopAgent(), agent.Noop{}))

	for _, kind := range config.CLIKinds() {
		a := cliCfg[kind]
		ex, info, err := cli.New(cli.Config{Kind: kind, Path: a.Path, Model: a.Model, Args: a.Args, Env: envMap(a.Env), Timeout: a.Timeout})
		if err != nil {
			errs = append(errs, fmt.Errorf("agent %s: %w", kind, err))
			continue
		}
		info.ID = CLIAgentID(kind)
		if !info.Available {
			ex = nil
		}
		register(info, ex)
	}

	for _, r := range role.Merge(role.Builtins(), team) {
		info, ex := c.roleAgent(r, models, cliCfg)
		register(info, ex)
	}
	return errors.Join(errs...)
}

// roleAgent makes the executor of a role, or says why it cannot run.
func (c *Catalog) roleAgent(r role.Role, models map[string]llm.Model, cliCfg map[string]config.CLIAgent) (coderclaw.Agent, agent.Executor) {
	info := coderclaw.Agent{ID: r.ID, Name: r.Name, Description: r.Description, Capabilities: r.Capabilities, Kind: "llm"}
	rc := c.cfg.Runtime
	provider := r.Provider
	if provider == "" {
		provider = rc.Providers.DefaultProvider()
	}
	unavailable := func(format string, args ...any) (coderclaw.Agent, agent.Executor) {
		info.Reason = fmt.Sprintf(format, args...)
		return info, nil
	}
	if provider == "" {
		return unavailable("no LLM provider is configured: set ANTHROPIC_API_KEY, OPENAI_API_KEY or OLLAMA_BASE_URL, or providers in runtime.yaml")
	}
	if slices.Contains(config.CLIKinds(), provider) {
		a := cliCfg[provider]
		model := cmp.Or(r.Model, a.Model)
		ex, cinfo, err := cli.New(cli.Config{Kind: provider, Path: a.Path, Model: model, Args: a.Args, Env: envMap(a.Env), Timeout: a.Timeout, Prompt: r.Prompt})
		info.Kind = "cli"
		if err != nil {
			return unavailable("%v", err)
		}
		if !cinfo.Available {
			return unavailable("%s", cinfo.Reason)
		}
		info.Available = true
		return info, ex
	}
	m, ok := models[provider]
	if !ok {
		return unavailable("provider %s is not configured: %s", provider, providerHint(provider))
	}
	for _, id := range r.Skills {
		if _, ok := c.skills.Get(id); !ok {
			return unavailable("skill %s is not offered by this node (install it, or configure its MCP server)", id)
		}
	}
	model := r.Model
	if model == "" {
		model = providerModel(rc.Providers, provider)
	}
	info.Available = true
	info.Description = fmt.Sprintf("%s (%s)", info.Description, strings.TrimSpace(provider+" "+model))
	return info, &llm.Agent{
		ID: r.ID, Prompt: r.Prompt, Model: m, ModelName: model,
		MaxSteps: cmp.Or(r.MaxSteps, rc.Agents.MaxSteps), MaxTokens: int64(cmp.Or(r.MaxTokens, rc.Agents.MaxTokens)),
		Tools: c.Tools(r.Skills), Logger: c.log.With("agent", r.ID),
	}
}

// models builds a client for each configured provider.
func (c *Catalog) models() map[string]llm.Model {
	p := c.cfg.Runtime.Providers
	out := map[string]llm.Model{}
	add := func(name string, m llm.Model, err error) {
		if err != nil {
			c.log.Error("provider unusable; its agents are unavailable", "provider", name, "err", err)
			return
		}
		out[name] = m
	}
	if p.Anthropic.APIKey != "" {
		m, err := anthropic.New(anthropic.Config{APIKey: p.Anthropic.APIKey, BaseURL: p.Anthropic.BaseURL, Model: p.Anthropic.Model, MaxRetries: p.Anthropic.MaxRetries})
		add(config.ProviderAnthropic, m, err)
	}
	if p.OpenAI.APIKey != "" || p.OpenAI.BaseURL != "" {
		m, err := openai.New(openai.Config{Name: config.ProviderOpenAI, APIKey: p.OpenAI.APIKey, BaseURL: p.OpenAI.BaseURL, Model: p.OpenAI.Model, MaxRetries: p.OpenAI.MaxRetries})
		add(config.ProviderOpenAI, m, err)
	}
	if p.Ollama.BaseURL != "" {
		m, err := openai.New(openai.Config{Name: config.ProviderOllama, APIKey: p.Ollama.APIKey, BaseURL: p.Ollama.BaseURL, Model: p.Ollama.Model, MaxRetries: p.Ollama.MaxRetries})
		add(config.ProviderOllama, m, err)
	}
	for _, cp := range p.Compatible {
		m, err := openai.New(openai.Config{Name: cp.Name, APIKey: cp.APIKey, BaseURL: cp.BaseURL, Model: cp.Model, MaxRetries: cp.MaxRetries})
		add(cp.Name, m, err)
	}
	return out
}

// Tools builds, per execution, the toolset of the skills ids (every skill
// when ids is empty), each call checked against the policy for the task's
// submitter and repository.
func (c *Catalog) Tools(ids []string) llm.ToolsFunc {
	return func(ctx context.Context, run agent.Run) (llm.Toolset, error) {
		set := c.skills
		if len(ids) > 0 {
			var err error
			if set, err = c.skills.Select(ids); err != nil {
				return nil, err
			}
		}
		t := run.Task()
		// The repository's policy is read from the repository itself, not
		// from the worktree the agent edits, so an agent cannot loosen it.
		pol, err := c.cfg.Policy.ForRepo(t.Repo)
		if err != nil {
			return nil, err
		}
		sub, err := c.subject(ctx, t.Submitter)
		if err != nil {
			return nil, err
		}
		p := t.Submitter
		g := &skill.Guard{Policy: pol, Subject: sub, Audit: c.cfg.Audit, TaskID: t.ID, AgentID: t.AgentID,
			UserID: cmp.Or(p.UserID, "node"), SessionID: p.SessionID, DeviceID: p.DeviceID}
		env := skill.Env{Dir: run.Dir(), Log: run.Log, Sandbox: c.Workspaces.Sandbox()}
		return &toolset{set: set, guard: g, env: env}, nil
	}
}

// subject returns the subject of a task's checks. A task submitted in
// process without a principal was submitted by the node itself.
func (c *Catalog) subject(ctx context.Context, p coderclaw.Principal) (security.Subject, error) {
	if p.UserID == "" && p.Method == "" {
		return security.Subject{UserID: "node", Roles: []string{"admin"}, Local: true}, nil
	}
	if c.cfg.Subject == nil {
		return security.Subject{UserID: p.UserID, Roles: p.Roles, Local: p.Method == security.MethodLocal}, nil
	}
	return c.cfg.Subject(ctx, p)
}

// toolset is the llm.Toolset of one execution.
type toolset struct {
	set   *skill.Set
	guard *skill.Guard
	env   skill.Env
}

func (t *toolset) Tools() []llm.Tool {
	infos := t.set.Infos()
	out := make([]llm.Tool, 0, len(infos))
	for _, info := range infos {
		s, _ := t.set.Get(info.ID)
		out = append(out, llm.Tool{Name: info.ID, Description: info.Description, Schema: s.Schema()})
	}
	return out
}

func (t *toolset) Call(ctx context.Context, name string, input json.RawMessage) (string, error) {
	s, ok := t.set.Get(name)
	if !ok {
		var names []string
		for _, info := range t.set.Infos() {
			names = append(names, info.ID)
		}
		return "", fmt.Errorf("unknown tool %q; the tools are: %s, %s", name, strings.Join(names, ", "), llm.AskTool)
	}
	// A *skill.DeniedError has the Denied method the loop looks for.
	return skill.Call(ctx, t.guard, s, t.env, input)
}

func providerHint(name string) string {
	switch name {
	case config.ProviderAnthropic:
		return "set ANTHROPIC_API_KEY or providers.anthropic.apiKey in runtime.yaml"
	case config.ProviderOpenAI:
		return "set OPENAI_API_KEY or providers.openai in runtime.yaml"
	case config.ProviderOllama:
		return "set OLLAMA_BASE_URL or providers.ollama.baseURL in runtime.yaml"
	}
	return "add it to providers.compatible in runtime.yaml"
}

func providerModel(p config.Providers, name string) string {
	switch name {
	case config.ProviderAnthropic:
		return p.Anthropic.Model
	case config.ProviderOpenAI:
		return p.OpenAI.Model
	case config.ProviderOllama:
		return p.Ollama.Model
	}
	for _, c := range p.Compatible {
		if c.Name == name {
			return c.Model
		}
	}
	return ""
}

func envMap(kvs []string) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}
