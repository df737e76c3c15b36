package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coderclaw/coderclaw"
)

func (a *app) agentsCommand() *cobra.Command {
	return &cobra.Command{
		Use: "agents", Short: "List the node's agents and their availability", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rt, err := a.client()
			if err != nil {
				return err
			}
			agents, err := rt.Agents(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				a.printJSON(agents)
				return nil
			}
			w := tabwriter.NewWriter(a.env.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tKIND\tAVAILABLE\tDESCRIPTION")
			for _, ag := range agents {
				avail := "yes"
				if !ag.Available {
					avail = "no: " + ag.Reason
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", ag.ID, ag.Kind, avail, ag.Description)
			}
			return w.Flush()
		},
	}
}

func (a *app) skillsCommand() *cobra.Command {
	return &cobra.Command{
		Use: "skills", Short: "List the skills agents may call", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rt, err := a.client()
			if err != nil {
				return err
			}
			skills, err := rt.Skills(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				a.printJSON(skills)
				return nil
			}
			if len(skills) == 0 {
				fmt.Fprintln(a.env.Stdout, "no skills registered")
				return nil
			}
			w := tabwriter.NewWriter(a.env.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tPERMISSION\tDANGEROUS\tDESCRIPTION")
			for _, s := range skills {
				fmt.Fprintf(w, "%s\t%s\t%v\t%s\n", s.ID, s.RequiredPermission, s.Dangerous, s.Description)
			}
			return w.Flush()
		},
	}
}

func (a *app) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use: "status", Short: "Show the node's health", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rt, err := a.client()
			if err != nil {
				return err
			}
			st, err := rt.Status(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				a.printJSON(st)
				return nil
			}
			w := tabwriter.NewWriter(a.env.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(w, "node:\t%s (%s)\n", st.NodeID, a.node)
			fmt.Fprintf(w, "mode:\t%s\n", st.Mode)
			fmt.Fprintf(w, "version:\t%s\n", st.Version)
			fmt.Fprintf(w, "uptime:\t%s\n", time.Duration(st.Uptime))
			fmt.Fprintf(w, "workers:\t%d running of %d\n", st.Running, st.Workers)
			fmt.Fprintf(w, "queue:\t%d pending\n", st.QueueDepth)
			storeState := "ok"
			if !st.Store.OK {
				storeState = "unhealthy: " + st.Store.Error
			}
			fmt.Fprintf(w, "store:\t%s, %s\n", st.Store.Backend, storeState)
			for _, s := range coderclaw.Statuses() {
				if n := st.Tasks[s]; n > 0 {
					fmt.Fprintf(w, "tasks %s:\t%d\n", s, n)
				}
			}
			return w.Flush()
		},
	}
}
