package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Providers configures the LLM providers that play agent roles. A
// provider is configured when it has what it needs to be called: an API
// key for anthropic and openai (or a base URL for an OpenAI-compatible
// openai), a base URL for ollama and the compatible servers.
type Providers struct {
	// Default plays the roles that name no provider: anthropic, openai,
	// ollama or the name of a compatible server. Empty means the first
	// configured of anthropic, openai, ollama and the compatible servers.
	Default   string   `yaml:"default"`
	Anthropic Provider `yaml:"anthropic"`
	OpenAI    Provider `yaml:"openai"`
	Ollama    Provider `yaml:"ollama"`
	// Compatible lists other OpenAI-compatible servers (vLLM, LM Studio,
	// llama.cpp ...), each with a name and a base URL.
	Compatible []Provider `yaml:"compatible,omitempty"`
}

// Provider is one LLM provider's settings.
type Provider struct {
	// Name identifies a compatible server; the three named providers
	// ignore it.
	Name string `yaml:"name"`
	// APIKey authenticates; prefer the environment (ANTHROPIC_API_KEY,
	// OPENAI_API_KEY) to writing keys in a file.
	APIKey  string `yaml:"apiKey"`
	BaseURL string `yaml:"baseURL"`
	// Model is the default model of the roles this provider plays.
	Model string `yaml:"model"`
	// MaxRetries bounds the retries of a rate-limited or failed call,
	// with backoff. Zero means the provider's default (4).
	MaxRetries int `yaml:"maxRetries"`
}

// Agents configures the node's agents.
type Agents struct {
	// File is the team's agent definitions, team-agents.yaml. Empty means
	// .coderClaw/team-agents.yaml in the home directory; a relative path
	// is relative to the home directory.
	File string `yaml:"file"`
	// MaxSteps bounds the model calls of an LLM task. Default 50.
	MaxSteps int `yaml:"maxSteps"`
	// MaxTokens bounds the tokens (input and output) of an LLM task.
	// Default 2000000.
	MaxTokens int `yaml:"maxTokens"`
	// CLI configures the external coding CLIs (claude, codex, opencode,
	// goose, aider). Each kind is offered as an agent whether or not it is
	// listed here (unavailable, with the reason, when not installed); an
	// entry sets its binary, model, arguments or environment.
	CLI []CLIAgent `yaml:"cli,omitempty"`
}

// CLIAgent is one external coding CLI's settings.
type CLIAgent struct {
	// Kind is claude, codex, opencode, goose or aider.
	Kind string `yaml:"kind"`
	// Path is the binary; empty means the kind's command on PATH.
	Path  string   `yaml:"path"`
	Model string   `yaml:"model"`
	Args  []string `yaml:"args,omitempty"`
	// Env adds KEY=VALUE variables to the CLI's environment (its base URL
	// or API key, for instance).
	Env []string `yaml:"env,omitempty"`
	// Timeout bounds one run. Default 30m.
	Timeout time.Duration `yaml:"timeout"`
}

// Workspace configures where tasks work and how their commands are
// confined.
type Workspace struct {
	// Dir holds the git worktrees of tasks that name a repository. Empty
	// means worktrees in the home directory; a relative path is relative
	// to the home directory.
	Dir string `yaml:"dir"`
	// Sandbox confines shell commands of skills: auto (the default: bwrap
	// when installed, else Landlock when the kernel has it, else none with
	// a warning), bwrap, landlock or none.
	Sandbox string `yaml:"sandbox"`
	// Writable lists directories sandboxed commands may write besides the
	// workspace (caches, for instance).
	Writable []string `yaml:"writable,omitempty"`
	// Network lets sandboxed commands use the network. Default false.
	Network bool `yaml:"network"`
}

// MCP lists the MCP servers whose tools become skills.
type MCP struct {
	Servers []MCPServer `yaml:"servers,omitempty"`
}

// MCPServer is one MCP server: a command speaking MCP on stdio, or the URL
// of a streamable HTTP endpoint.
type MCPServer struct {
	Name    string   `yaml:"name"`
	Command string   `yaml:"command"`
	Args    []string `yaml:"args,omitempty"`
	// Env adds KEY=VALUE variables to the command's environment.
	Env []string `yaml:"env,omitempty"`
	URL string   `yaml:"url"`
	// Dangerous marks the server's tools dangerous (they then need a
	// trusted device). Default true: an MCP tool can do anything.
	Dangerous *bool `yaml:"dangerous,omitempty"`
	// Timeout bounds one tool call. Default 60s.
	Timeout time.Duration `yaml:"timeout"`
}

// Provider names.
const (
	ProviderAnthropic = "anthropic"
	ProviderOpenAI    = "openai"
	ProviderOllama    = "ollama"
)

// CLIKinds returns the external coding CLIs a node knows.
func CLIKinds() []string { return []string{"aider", "claude", "codex", "goose", "opencode"} }

func sandboxNames() []string { return []string{"auto", "bwrap", "landlock", "none"} }

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Configured reports which providers have what they need, in the order
// the default is chosen from.
func (p Providers) Configured() []string {
	var out []string
	if p.Anthropic.APIKey != "" {
		out = append(out, ProviderAnthropic)
	}
	if p.OpenAI.APIKey != "" || p.OpenAI.BaseURL != "" {
		out = append(out, ProviderOpenAI)
	}
	if p.Ollama.BaseURL != "" {
		out = append(out, ProviderOllama)
	}
	for _, c := range p.Compatible {
		if c.BaseURL != "" {
			out = append(out, c.Name)
		}
	}
	return out
}

// DefaultProvider returns the provider of roles that name none, "" when
// no provider is configured.
func (p Providers) DefaultProvider() string {
	if p.Default != "" {
		return p.Default
	}
	if c := p.Configured(); len(c) > 0 {
		return c[0]
	}
	return ""
}

// validateAgents checks the providers, agents, workspace and mcp
// sections.
func (r Runtime) validateAgents(add func(field string, related []string, format string, args ...any)) {
	names := map[string]string{ProviderAnthropic: "providers.anthropic", ProviderOpenAI: "providers.openai", ProviderOllama: "providers.ollama"}
	checkURL := func(field, s string) {
		if s == "" {
			return
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(field, nil, "must be an http or https URL such as \"http://127.0.0.1:11434/v1\", got %q", clip(s))
		}
	}
	checkRetries := func(field string, n int) {
		if n < 0 || n > 20 {
			add(field, nil, "must be between 0 and 20, got %d", n)
		}
	}
	for _, x := range []struct {
		field string
		p     Provider
	}{{"providers.anthropic", r.Providers.Anthropic}, {"providers.openai", r.Providers.OpenAI}, {"providers.ollama", r.Providers.Ollama}} {
		checkURL(x.field+".baseURL", x.p.BaseURL)
		checkRetries(x.field+".maxRetries", x.p.MaxRetries)
	}
	for i, c := range r.Providers.Compatible {
		field := fmt.Sprintf("providers.compatible[%d]", i)
		switch prev, dup := names[c.Name]; {
		case !namePattern.MatchString(c.Name):
			add(field+".name", nil, "must be lower-case letters, digits, '_' or '-' (at most 32), got %q", clip(c.Name))
		case dup:
			add(field+".name", nil, "%q is already the name of %s", c.Name, prev)
		default:
			names[c.Name] = field
		}
		if c.BaseURL == "" {
			add(field+".baseURL", nil, "must be set: a compatible server is reached by its base URL")
		}
		checkURL(field+".baseURL", c.BaseURL)
		checkRetries(field+".maxRetries", c.MaxRetries)
	}
	if d := r.Providers.Default; d != "" {
		if _, ok := names[d]; !ok {
			known := []string{ProviderAnthropic, ProviderOpenAI, ProviderOllama}
			for _, c := range r.Providers.Compatible {
				known = append(known, c.Name)
			}
			add("providers.default", nil, "%s", oneOf(d, known...))
		}
	}

	if n := r.Agents.MaxSteps; n < 1 || n > 10000 {
		add("agents.maxSteps", nil, "must be between 1 and 10000, got %d", n)
	}
	if n := r.Agents.MaxTokens; n < 1000 {
		add("agents.maxTokens", nil, "must be at least 1000, got %d", n)
	}
	kinds := map[string]int{}
	for i, c := range r.Agents.CLI {
		field := fmt.Sprintf("agents.cli[%d]", i)
		switch j, dup := kinds[c.Kind]; {
		case !in(c.Kind, CLIKinds()...):
			add(field+".kind", nil, "%s", oneOf(c.Kind, CLIKinds()...))
		case dup:
			add(field+".kind", nil, "duplicate kind %q (also at index %d)", c.Kind, j)
		default:
			kinds[c.Kind] = i
		}
		checkEnv(add, field+".env", c.Env)
		if c.Timeout < 0 {
			add(field+".timeout", nil, "must not be negative, got %s", c.Timeout)
		}
	}

	if !in(r.Workspace.Sandbox, sandboxNames()...) {
		add("workspace.sandbox", nil, "%s", oneOf(r.Workspace.Sandbox, sandboxNames()...))
	}
	if strings.HasPrefix(r.Workspace.Dir, "~") {
		add("workspace.dir", nil, "%q: \"~\" is not expanded; give an absolute path or one relative to the home directory", r.Workspace.Dir)
	}
	for i, w := range r.Workspace.Writable {
		if !strings.HasPrefix(w, "/") {
			add(fmt.Sprintf("workspace.writable[%d]", i), nil, "must be an absolute path, got %q", clip(w))
		}
	}

	servers := map[string]int{}
	for i, s := range r.MCP.Servers {
		field := fmt.Sprintf("mcp.servers[%d]", i)
		switch j, dup := servers[s.Name]; {
		case !namePattern.MatchString(s.Name):
			add(field+".name", nil, "must be lower-case letters, digits, '_' or '-' (at most 32), got %q", clip(s.Name))
		case dup:
			add(field+".name", nil, "duplicate server %q (also at index %d)", s.Name, j)
		default:
			servers[s.Name] = i
		}
		switch {
		case s.Command == "" && s.URL == "":
			add(field, nil, "needs command (an MCP server on stdio) or url (streamable HTTP)")
		case s.Command != "" && s.URL != "":
			add(field+".url", []string{field + ".command"}, "command and url are exclusive")
		}
		checkURL(field+".url", s.URL)
		checkEnv(add, field+".env", s.Env)
		if s.Timeout < 0 {
			add(field+".timeout", nil, "must not be negative, got %s", s.Timeout)
		}
	}
}

func checkEnv(add func(string, []string, string, ...any), field string, env []string) {
	for i, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			add(fmt.Sprintf("%s[%d]", field, i), nil, "must be KEY=VALUE, got %q", clip(kv))
		}
	}
}

// TeamAgentsPath resolves agents.file against the home directory.
func (a Agents) TeamAgentsPath(home string) string {
	return resolveHome(home, a.File, ".coderClaw/team-agents.yaml")
}

// WorktreesDir resolves workspace.dir against the home directory.
func (w Workspace) WorktreesDir(home string) string {
	return resolveHome(home, w.Dir, "worktrees")
}

func resolveHome(home, p, def string) string {
	switch {
	case p == "":
		p = def
	case strings.HasPrefix(p, "/"):
		return p
	}
	return strings.TrimSuffix(home, "/") + "/" + p
}
