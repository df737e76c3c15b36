package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coderclaw/coderclaw"
)

func (a *app) submitCommand() *cobra.Command {
	var (
		req    coderclaw.SubmitRequest
		labels []string
		meta   []string
		wait   bool
	)
	cmd := &cobra.Command{
		Use:   "submit [flags] INPUT...",
		Short: "Submit a task to an agent",
		Long: "Submit a task. The arguments, joined by spaces, are the task's input (for the shell agent, the command).\n" +
			"With --wait, follow the task until it ends; the exit code is 0 if it completed, 1 if it failed, 3 if it was cancelled.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Input = strings.Join(args, " ")
			repo, err := a.submitRepo(cmd.Context(), req.Repo, cmd.Flags().Changed("repo"), req.AgentID)
			if err != nil {
				return err
			}
			req.Repo = repo
			if req.Labels, err = parsePairs("--label", labels); err != nil {
				return err
			}
			if req.Metadata, err = parsePairs("--meta", meta); err != nil {
				return err
			}
			rt, err := a.client()
			if err != nil {
				return err
			}
			t, err := rt.Submit(cmd.Context(), req)
			if err != nil {
				return err
			}
			if !wait {
				a.printTask(t)
				return nil
			}
			if !a.json() {
				fmt.Fprintf(a.env.Stderr, "submitted %s to %s\n", t.ID, t.AgentID)
			}
			return a.watch(cmd, rt, t.ID)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.AgentID, "agent", "shell", "agent id")
	f.StringVar(&req.Description, "description", "", "short description")
	f.StringVar(&req.ParentID, "parent", "", "parent task id")
	f.StringVar(&req.Project, "project", "", "project name")
	f.StringVar(&req.Repo, "repo", "", "repository to work in, on the node (default: for agents other than shell and noop,\n"+
		"the git repository of the current directory; --repo '' for none)")
	f.StringVar(&req.SessionID, "session", "", "session id")
	f.IntVar(&req.Priority, "priority", 0, "priority (higher runs first)")
	f.IntVar(&req.MaxAttempts, "max-attempts", 0, "executions before a lost task fails (default: the node's)")
	f.StringArrayVar(&labels, "label", nil, "label k=v (repeatable)")
	f.StringArrayVar(&meta, "meta", nil, "metadata k=v (repeatable)")
	f.BoolVar(&wait, "wait", false, "follow the task until it ends")
	return cmd
}

func parsePairs(flag string, pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usagef("%s %q: want KEY=VALUE", flag, p)
		}
		m[k] = v
	}
	return m, nil
}

func (a *app) tasksCommand() *cobra.Command {
	var (
		f        coderclaw.Filter
		statuses []string
		all      bool
	)
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "List tasks, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, s := range statuses {
				for _, part := range strings.Split(s, ",") {
					st, err := coderclaw.ParseStatus(strings.TrimSpace(part))
					if err != nil {
						return usageError{fmt.Errorf("--status: %w", err)}
					}
					f.Status = append(f.Status, st)
				}
			}
			rt, err := a.client()
			if err != nil {
				return err
			}
			tasks := []coderclaw.Task{}
			for {
				page, err := rt.Tasks(cmd.Context(), f)
				if err != nil {
					return err
				}
				tasks = append(tasks, page.Tasks...)
				if !all || page.NextCursor == "" {
					break
				}
				f.Cursor = page.NextCursor
			}
			if a.json() {
				a.printJSON(tasks)
				return nil
			}
			w := tabwriter.NewWriter(a.env.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tAGENT\tSTATUS\tPROGRESS\tCREATED\tINPUT")
			for _, t := range tasks {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d%%\t%s\t%s\n", t.ID, t.AgentID, t.Status, t.Progress,
					t.CreatedAt.Local().Format(time.DateTime), clip(t.Input, 48))
			}
			return w.Flush()
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&statuses, "status", nil, "only tasks in this status (repeatable, or comma-separated)")
	fl.StringVar(&f.AgentID, "agent", "", "only tasks of this agent")
	fl.StringVar(&f.Project, "project", "", "only tasks of this project")
	fl.StringVar(&f.SessionID, "session", "", "only tasks of this session")
	fl.StringVar(&f.ParentID, "parent", "", "only children of this task")
	fl.IntVar(&f.Limit, "limit", 50, "page size (at most 1000)")
	fl.StringVar(&f.Cursor, "cursor", "", "continue after a previous page")
	fl.BoolVar(&all, "all", false, "fetch every page")
	return cmd
}

func (a *app) taskCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "task",
		Short: "Show, follow, cancel or answer one task",
	}
	cmd.AddCommand(
		&cobra.Command{
			Use: "show ID", Short: "Show a task", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				rt, err := a.client()
				if err != nil {
					return err
				}
				t, err := rt.Task(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if a.json() {
					a.printTask(t)
					return nil
				}
				evs, err := rt.Events(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				a.printTask(t)
				printUsage(a.env.Stdout, evs)
				return nil
			},
		},
		&cobra.Command{
			Use: "events ID", Short: "Print a task's event history", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				rt, err := a.client()
				if err != nil {
					return err
				}
				evs, err := rt.Events(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if a.json() {
					a.printJSON(evs)
					return nil
				}
				for _, ev := range evs {
					writeEvent(a.env.Stdout, ev)
				}
				return nil
			},
		},
		&cobra.Command{
			Use: "watch ID", Short: "Follow a task until it ends", Args: cobra.ExactArgs(1),
			Long: "Follow a task's events until it ends; the exit code is 0 if it completed, 1 if it failed, 3 if it was cancelled.",
			RunE: func(cmd *cobra.Command, args []string) error {
				rt, err := a.client()
				if err != nil {
					return err
				}
				return a.watch(cmd, rt, args[0])
			},
		},
		&cobra.Command{
			Use: "cancel ID", Short: "Cancel a task", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				rt, err := a.client()
				if err != nil {
					return err
				}
				t, err := rt.Cancel(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				a.printTask(t)
				return nil
			},
		},
		&cobra.Command{
			Use: "diff ID", Short: "Print the changes a task made to its repository", Args: cobra.ExactArgs(1),
			Long: "Print the unified diff a task made in its worktree (its branch task/<short-id> holds it as a commit).\n" +
				"With --output json, print the diff's summary with the diff.",
			RunE: func(cmd *cobra.Command, args []string) error {
				rt, err := a.client()
				if err != nil {
					return err
				}
				evs, err := rt.Events(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				var diff *coderclaw.Event
				for i := range evs {
					if evs[i].Type == coderclaw.EventDiff {
						diff = &evs[i]
					}
				}
				if diff == nil {
					return fmt.Errorf("task %s has no diff: it names no repository, or has not finished", args[0])
				}
				if a.json() {
					var sum coderclaw.DiffSummary
					_ = json.Unmarshal(diff.Data, &sum)
					a.printJSON(struct {
						coderclaw.DiffSummary
						Diff string `json:"diff"`
					}{sum, diff.Message})
					return nil
				}
				fmt.Fprint(a.env.Stdout, diff.Message)
				return nil
			},
		},
		&cobra.Command{
			Use: "respond ID ANSWER...", Short: "Answer a waiting task's question", Args: cobra.MinimumNArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				rt, err := a.client()
				if err != nil {
					return err
				}
				t, err := rt.Respond(cmd.Context(), args[0], strings.Join(args[1:], " "))
				if err != nil {
					return err
				}
				a.printTask(t)
				return nil
			},
		},
	)
	return cmd
}

func (a *app) printTask(t coderclaw.Task) {
	if a.json() {
		a.printJSON(t)
		return
	}
	w := tabwriter.NewWriter(a.env.Stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%s:\t%s\n", k, v)
		}
	}
	row("id", t.ID)
	row("agent", t.AgentID)
	row("status", string(t.Status))
	row("progress", fmt.Sprintf("%d%%", t.Progress))
	row("attempt", fmt.Sprintf("%d of %d", t.Attempt, t.MaxAttempts))
	row("description", t.Description)
	row("input", clip(t.Input, 200))
	row("parent", t.ParentID)
	row("project", t.Project)
	row("repo", t.Repo)
	row("session", t.SessionID)
	for k, v := range t.Labels {
		row("label", k+"="+v)
	}
	row("created", t.CreatedAt.Local().Format(time.DateTime))
	if t.FinishedAt != nil && t.StartedAt != nil {
		row("took", t.FinishedAt.Sub(*t.StartedAt).Round(time.Millisecond).String())
	}
	row("error", t.Error)
	for _, c := range t.Children {
		row("child", fmt.Sprintf("%s %s %s %d%%", c.ID, c.AgentID, c.Status, c.Progress))
	}
	_ = w.Flush()
	if t.Output != "" {
		fmt.Fprintf(a.env.Stdout, "output:\n%s\n", t.Output)
	}
}

// writeEvent prints one event as a plain line.
func writeEvent(w io.Writer, ev coderclaw.Event) {
	ts := ev.Time.Local().Format("15:04:05.000")
	switch ev.Type {
	case coderclaw.EventStatus:
		msg := ""
		if ev.Message != "" {
			msg = " (" + ev.Message + ")"
		}
		fmt.Fprintf(w, "%s #%d status %s%s\n", ts, ev.Seq, ev.Status, msg)
	case coderclaw.EventProgress:
		fmt.Fprintf(w, "%s #%d progress %d%%\n", ts, ev.Seq, ev.Progress)
	case coderclaw.EventDiff:
		var sum coderclaw.DiffSummary
		_ = json.Unmarshal(ev.Data, &sum)
		fmt.Fprintf(w, "%s #%d diff %d files, +%d -%d on %s (coderclaw task diff %s)\n",
			ts, ev.Seq, sum.Files, sum.Additions, sum.Deletions, sum.Branch, ev.TaskID)
	case coderclaw.EventCheckpoint:
		fmt.Fprintf(w, "%s #%d checkpoint saved\n", ts, ev.Seq)
	default:
		fmt.Fprintf(w, "%s #%d %s %s\n", ts, ev.Seq, ev.Type, ev.Message)
	}
}

// printUsage prints the model usage of a task: its latest usage event.
func printUsage(w io.Writer, evs []coderclaw.Event) {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type != coderclaw.EventUsage {
			continue
		}
		var u coderclaw.Usage
		if json.Unmarshal(evs[i].Data, &u) == nil {
			fmt.Fprintf(w, "usage: %d steps, %d input and %d output tokens, $%.4f (%s)\n",
				u.Steps, u.InputTokens, u.OutputTokens, u.CostUSD, u.Model)
		}
		return
	}
}

// submitRepo returns the repository a submission names: --repo made
// absolute, or, when --repo is not given and the agent is a coding agent
// (not shell or noop), the git repository of the working directory.
func (a *app) submitRepo(ctx context.Context, repo string, given bool, agentID string) (string, error) {
	dir := a.env.Dir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return "", err
		}
	}
	if given {
		if repo == "" || filepath.IsAbs(repo) {
			return repo, nil
		}
		return filepath.Join(dir, repo), nil
	}
	if agentID == "shell" || agentID == "noop" {
		return "", nil
	}
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", nil // not in a git repository: the task names none
	}
	return strings.TrimSpace(string(out)), nil
}

func clip(s string, n int) string {
	r := []rune(strings.ReplaceAll(s, "\n", " "))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}
