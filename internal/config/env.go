package config

import (
	"strconv"
	"strings"
)

// Environment variables read by DefaultHome and Runtime.ApplyEnv.
const (
	// EnvHome overrides the node's home directory (DefaultHome).
	EnvHome = "CODERCLAW_HOME"
	// EnvAddr overrides transport.addr.
	EnvAddr = "CODERCLAW_ADDR"
	// EnvMode overrides mode and deployment.mode together.
	EnvMode = "CODERCLAW_MODE"
	// EnvMaxConcurrentTasks overrides deployment.maxConcurrentTasks.
	EnvMaxConcurrentTasks = "CODERCLAW_MAX_CONCURRENT_TASKS"
	// EnvLogLevel overrides log.level.
	EnvLogLevel = "CODERCLAW_LOG_LEVEL"

	// The providers' own variables, which the official SDKs also read.
	EnvAnthropicAPIKey  = "ANTHROPIC_API_KEY"
	EnvAnthropicBaseURL = "ANTHROPIC_BASE_URL"
	EnvOpenAIAPIKey     = "OPENAI_API_KEY"
	EnvOpenAIBaseURL    = "OPENAI_BASE_URL"
	EnvOllamaBaseURL    = "OLLAMA_BASE_URL"
)

// ApplyEnv overrides settings of r with the environment variables that
// getenv returns non-empty (pass os.Getenv in production):
//
//	CODERCLAW_ADDR                  transport.addr
//	CODERCLAW_MODE                  mode and deployment.mode
//	CODERCLAW_MAX_CONCURRENT_TASKS  deployment.maxConcurrentTasks
//	CODERCLAW_LOG_LEVEL             log.level
//	ANTHROPIC_API_KEY               providers.anthropic.apiKey   (when the file sets none)
//	ANTHROPIC_BASE_URL              providers.anthropic.baseURL  (when the file sets none)
//	OPENAI_API_KEY                  providers.openai.apiKey      (when the file sets none)
//	OPENAI_BASE_URL                 providers.openai.baseURL     (when the file sets none)
//	OLLAMA_BASE_URL                 providers.ollama.baseURL     (when the file sets none)
//
// It then validates the result. A malformed variable, or one that makes
// the configuration invalid (CODERCLAW_ADDR=0.0.0.0:7420 in local-only
// mode), is an *Error naming the variable and the field; all problems are
// reported, joined. r is changed only when ApplyEnv returns nil.
func (r *Runtime) ApplyEnv(getenv func(string) string) error {
	next := *r
	var errs []*Error
	fromEnv := map[string]string{} // field path → variable that set it
	bad := func(env, field, msg string) {
		errs = append(errs, &Error{Env: env, Field: field, Msg: msg})
	}

	if v := getenv(EnvAddr); v != "" {
		if _, err := checkAddr(v); err != nil {
			bad(EnvAddr, "transport.addr", err.Error())
		} else {
			next.Transport.Addr = v
			fromEnv["transport.addr"] = EnvAddr
		}
	}
	if v := getenv(EnvMode); v != "" {
		if m := Mode(v); !m.Valid() {
			bad(EnvMode, "mode", oneOf(v, modeNames()...))
		} else {
			next.Mode, next.Deployment.Mode = m, m
			fromEnv["mode"] = EnvMode
			fromEnv["deployment.mode"] = EnvMode
		}
	}
	if v := getenv(EnvMaxConcurrentTasks); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		switch {
		case err != nil:
			errs = append(errs, &Error{Env: EnvMaxConcurrentTasks, Field: "deployment.maxConcurrentTasks",
				Msg: "must be an integer, got " + strconv.Quote(clip(v)), Err: err})
		case n < MaxConcurrentTasksMin || n > MaxConcurrentTasksMax:
			bad(EnvMaxConcurrentTasks, "deployment.maxConcurrentTasks",
				"must be between "+strconv.Itoa(MaxConcurrentTasksMin)+" and "+
					strconv.Itoa(MaxConcurrentTasksMax)+", got "+strconv.Itoa(n))
		default:
			next.Deployment.MaxConcurrentTasks = n
			fromEnv["deployment.maxConcurrentTasks"] = EnvMaxConcurrentTasks
		}
	}
	if v := getenv(EnvLogLevel); v != "" {
		if !in(v, levelNames()...) {
			bad(EnvLogLevel, "log.level", oneOf(v, levelNames()...))
		} else {
			next.Log.Level = v
			fromEnv["log.level"] = EnvLogLevel
		}
	}
	for _, v := range []struct {
		env, field string
		dst        *string
	}{
		{EnvAnthropicAPIKey, "providers.anthropic.apiKey", &next.Providers.Anthropic.APIKey},
		{EnvAnthropicBaseURL, "providers.anthropic.baseURL", &next.Providers.Anthropic.BaseURL},
		{EnvOpenAIAPIKey, "providers.openai.apiKey", &next.Providers.OpenAI.APIKey},
		{EnvOpenAIBaseURL, "providers.openai.baseURL", &next.Providers.OpenAI.BaseURL},
		{EnvOllamaBaseURL, "providers.ollama.baseURL", &next.Providers.Ollama.BaseURL},
	} {
		// The file wins over the environment for providers: a node's
		// runtime.yaml is more specific than a variable set for every tool.
		if x := getenv(v.env); x != "" && *v.dst == "" {
			*v.dst = x
			fromEnv[v.field] = v.env
		}
	}
	if len(errs) > 0 {
		return join(errs)
	}

	// Name the variable behind each problem the overrides cause.
	for _, e := range next.validate() {
		for _, f := range e.fields() {
			if env, ok := fromEnv[f]; ok {
				e.Env = env
				break
			}
		}
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return join(errs)
	}
	*r = next
	return nil
}
