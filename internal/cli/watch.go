package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coderclaw/coderclaw"
)

// watch follows a task until it ends and sets the exit code from its final
// status. On a terminal it shows a progress line under the log; otherwise
// it prints plain event lines.
func (a *app) watch(cmd *cobra.Command, rt coderclaw.Runtime, id string) error {
	ctx := cmd.Context()
	var view eventView = plainView{w: a.env.Stdout}
	switch {
	case a.json():
		view = nil
	case a.env.IsTerminal() && a.env.Getenv("CI") == "" && a.env.Getenv("NO_COLOR") == "":
		view = &barView{w: a.env.Stdout}
	}
	for ev, err := range rt.Stream(ctx, id, 0) {
		if err != nil {
			if view != nil {
				view.done()
			}
			return err
		}
		if view != nil {
			view.event(ev)
		}
	}
	if view != nil {
		view.done()
	}
	t, err := rt.Task(ctx, id)
	if err != nil {
		return err
	}
	if a.json() {
		a.printJSON(t)
	} else {
		if t.Output != "" && view != nil {
			if _, ok := view.(plainView); !ok {
				fmt.Fprintln(a.env.Stdout, t.Output)
			}
		}
		line := fmt.Sprintf("task %s %s", t.ID, t.Status)
		if t.Error != "" {
			line += ": " + t.Error
		}
		fmt.Fprintln(a.env.Stderr, line)
	}
	switch t.Status {
	case coderclaw.StatusCompleted:
		return nil
	case coderclaw.StatusCancelled:
		return exitError{ExitCancelled}
	default:
		return exitError{ExitFailure}
	}
}

type eventView interface {
	event(coderclaw.Event)
	done()
}

// plainView prints every event as a line.
type plainView struct{ w io.Writer }

func (v plainView) event(ev coderclaw.Event) { writeEvent(v.w, ev) }
func (v plainView) done()                    {}

// barView prints log lines and questions, with a progress line kept at the
// bottom of the terminal.
type barView struct {
	w        io.Writer
	status   coderclaw.Status
	progress int
	drawn    bool
}

const barWidth = 30

func (v *barView) event(ev coderclaw.Event) {
	v.clear()
	switch ev.Type {
	case coderclaw.EventStatus:
		v.status = ev.Status
	case coderclaw.EventProgress:
		v.progress = ev.Progress
	case coderclaw.EventLog:
		fmt.Fprintln(v.w, ev.Message)
	case coderclaw.EventQuestion:
		fmt.Fprintf(v.w, "? %s  (answer with: coderclaw task respond %s ANSWER)\n", ev.Message, ev.TaskID)
	}
	if ev.Terminal() {
		v.progress = max(v.progress, ev.Progress)
		return
	}
	v.draw()
}

func (v *barView) clear() {
	if v.drawn {
		fmt.Fprint(v.w, "\r\033[K")
		v.drawn = false
	}
}

func (v *barView) draw() {
	filled := v.progress * barWidth / 100
	fmt.Fprintf(v.w, "[%s%s] %3d%% %s", strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled), v.progress, v.status)
	v.drawn = true
}

func (v *barView) done() { v.clear() }
