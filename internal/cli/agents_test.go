package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw/internal/cli"
	"github.com/coderclaw/coderclaw/internal/config"
	"github.com/coderclaw/coderclaw/internal/llmfake"
	coderclawnode "github.com/coderclaw/coderclaw/internal/node"
)

// TestSubmitInRepoAndDiff: `submit` from inside a git repository gives a
// coding agent that repository; `task diff` prints what the agent changed.
func TestSubmitInRepoAndDiff(t *testing.T) {
	input, _ := json.Marshal(map[string]string{"path": "README.md", "content": "# calc\n\nAdds numbers.\n"})
	fake := llmfake.NewAnthropic(t,
		llmfake.Turn{ToolCalls: []llmfake.ToolCall{{Name: "file-write", Input: input}}},
		llmfake.Turn{Text: "Wrote the README."},
	)
	rc := config.Defaults()
	rc.Transport.Addr = "127.0.0.1:0"
	rc.Providers.Anthropic = config.Provider{APIKey: "k", BaseURL: fake.URL()}
	n, err := coderclawnode.Start(context.Background(), coderclawnode.Config{Home: t.TempDir(), Runtime: rc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.Stop(ctx)
	})
	url := "http://" + n.Addr()

	repo := t.TempDir()
	gitc := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-c", "user.name=T", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "calc.go"), []byte("package calc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitc("init", "-q", "-b", "main")
	gitc("add", "-A")
	gitc("commit", "-q", "-m", "init")
	sub := filepath.Join(repo, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}

	runIn := func(dir string, args ...string) result {
		var out, errb bytes.Buffer
		code := cli.Main(context.Background(), args, cli.Env{
			Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Dir: dir,
			Getenv: func(k string) string {
				if k == "CODERCLAW_NODE" {
					return url
				}
				return ""
			},
		})
		return result{code, out.String(), errb.String()}
	}
	r := runIn(sub, "submit", "--agent", "code-creator", "-o", "json", "--wait", "write a README")
	if r.code != cli.ExitOK {
		t.Fatalf("submit: %+v", r)
	}
	shown := runIn(sub, "-o", "json", "tasks")
	var tasks []struct {
		ID   string `json:"id"`
		Repo string `json:"repo"`
	}
	if err := json.Unmarshal([]byte(shown.stdout), &tasks); err != nil || len(tasks) != 1 {
		t.Fatalf("tasks: %v %s", err, shown.stdout)
	}
	if real, _ := filepath.EvalSymlinks(repo); tasks[0].Repo != real && tasks[0].Repo != repo {
		t.Errorf("task repo %q, want %q (the working directory's repository)", tasks[0].Repo, repo)
	}
	diff := runIn(sub, "task", "diff", tasks[0].ID)
	if diff.code != cli.ExitOK || !strings.Contains(diff.stdout, "+++ b/README.md") || !strings.Contains(diff.stdout, "+Adds numbers.") {
		t.Errorf("task diff: %+v", diff)
	}
	show := runIn(sub, "task", "show", tasks[0].ID)
	if !strings.Contains(show.stdout, "usage: 2 steps") {
		t.Errorf("task show lacks the usage: %s", show.stdout)
	}
	// shell tasks get no repository unless asked.
	r = runIn(sub, "-o", "json", "submit", "--agent", "shell", "true")
	if r.code != cli.ExitOK || strings.Contains(r.stdout, `"repo"`) {
		t.Errorf("shell submit: %+v", r)
	}
}
