// Package config loads a node's runtime configuration, runtime.yaml, which
// lives at RuntimePath(DefaultHome()), i.e. ~/.coderclaw/.coderClaw/runtime.yaml.
//
// # Contract
//
// Defaults returns the configuration of a node without a file: local-only
// mode, listening on 127.0.0.1:7420, SQLite under the home directory. Load
// (and LoadFile, Parse) starts from Defaults and applies the file on top:
//
//   - A missing file is not an error; LoadFile reports it as found == false
//     and Load returns Defaults(). An empty file, or one holding only
//     comments, also means Defaults().
//   - A key with an empty (null) value counts as not set.
//   - Parsing is strict. An unknown key, a duplicate key, a value of the
//     wrong type and a value out of range are errors, and so is a
//     configuration whose parts contradict each other (see Runtime.Validate).
//     Every problem found is reported, not only the first.
//   - When deployment.mode is absent it takes the value of mode, and the
//     other way round, so a loaded Runtime always has both.
//
// A Runtime returned without error always passes Validate. Environment
// variables (CODERCLAW_ADDR, CODERCLAW_MODE, CODERCLAW_MAX_CONCURRENT_TASKS,
// CODERCLAW_LOG_LEVEL) override the file when the caller applies them with
// Runtime.ApplyEnv after loading.
//
// # Errors
//
// Every problem with a file or a variable is an *Error naming where it was
// found and the field, in the form
//
//	runtime.yaml:7: deployment.maxConcurrentTasks: must be between 1 and 10000, got 0
//	runtime.yaml:3: transport: unknown field "enable" (did you mean "enabled"?)
//	CODERCLAW_MODE: mode: must be local-only, remote-enabled or distributed-cluster, got "cloud"
//
// When several problems are found the returned error joins them (errors.Join,
// one per line, in file order); errors.As finds the first *Error and the
// Unwrap() []error method yields them all. A file that cannot be read is
// reported with its *fs.PathError wrapped.
//
// # Concurrency and zero value
//
// The package has no state: every function is safe for concurrent use.
// A Runtime is a plain value; copies share the DefaultRoles slice and the
// RequireAuth pointer, which the package never modifies in place. The zero
// Runtime is not valid; start from Defaults.
package config
