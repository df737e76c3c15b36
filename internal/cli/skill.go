package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/coderclaw/coderclaw/internal/config"
	"github.com/coderclaw/coderclaw/internal/security"
	"github.com/coderclaw/coderclaw/internal/skill/registry"
)

// The skill commands manage the skills installed from team registries in
// <home>/skills, like the identity commands: on this machine, without a
// running node (which loads them when it starts).

// skillView is how the skill commands show an installed skill.
type skillView struct {
	ID                 string   `json:"id"`
	Version            string   `json:"version"`
	Description        string   `json:"description"`
	RequiredPermission string   `json:"required_permission"`
	Dangerous          bool     `json:"dangerous"`
	Command            []string `json:"command"`
	Timeout            string   `json:"timeout,omitempty"`
	Dir                string   `json:"dir"`
}

func viewOf(m registry.Manifest, dir string) skillView {
	v := skillView{
		ID: m.ID, Version: m.Version, Description: m.Description,
		RequiredPermission: m.RequiredPermission, Dangerous: m.Dangerous,
		Command: m.Command, Dir: dir,
	}
	if v.RequiredPermission == "" {
		v.RequiredPermission = string(security.SkillExecute)
	}
	if m.Timeout > 0 {
		v.Timeout = m.Timeout.String()
	}
	return v
}

// skillHome is where the skill commands work: the node's home, its
// skills directory and its policy (node and organisation levels).
type skillHome struct {
	skills string
	policy *security.Policy
}

func (a *app) skillHome(home string) (skillHome, error) {
	if home == "" {
		home = a.env.Getenv(config.EnvHome)
	}
	if home == "" {
		home = config.DefaultHome()
	}
	confDir := filepath.Dir(config.RuntimePath(home))
	pol, err := security.Load(security.Paths{Node: filepath.Join(confDir, "security.yaml"), Team: filepath.Join(confDir, "team-policy.yaml")})
	if err != nil {
		return skillHome{}, fmt.Errorf("security policy: %w", err)
	}
	return skillHome{skills: filepath.Join(home, "skills"), policy: pol}, nil
}

// newSkillCmd is `coderclaw skill`: install skills from a team registry
// and list the installed ones.
func (a *app) newSkillCmd() *cobra.Command {
	var home string
	cmd := &cobra.Command{
		Use:   "skill",
		Short: "Install skills from a team registry and list the installed ones",
		Long: "Skills from a team registry (a directory or git repository holding index.yaml) are installed in <home>/skills;\n" +
			"the node loads them when it starts. Checksums are verified and skills the organisation denies are refused.",
	}
	homeFlag(cmd, &home)

	var (
		reg      string
		required bool
	)
	install := &cobra.Command{
		Use:   "install NAME... --registry REG | install --required --registry REG",
		Short: "Install skills, or every skill the organisation requires, from a registry",
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case reg == "":
				return usagef("--registry: name the registry (a directory or a git repository)")
			case required && len(args) > 0:
				return usagef("give skill names or --required, not both")
			case !required && len(args) == 0:
				return usagef("name the skills to install, or use --required")
			}
			h, err := a.skillHome(home)
			if err != nil {
				return err
			}
			names := args
			if required {
				names = h.policy.RequiredSkills()
			}
			views := []skillView{}
			if len(names) > 0 {
				r, err := registry.Open(cmd.Context(), reg)
				if err != nil {
					return err
				}
				defer r.Close()
				var errs []error
				for _, name := range names {
					m, err := r.Install(cmd.Context(), name, h.skills, h.policy)
					if err != nil {
						errs = append(errs, err)
						continue
					}
					views = append(views, viewOf(m, filepath.Join(h.skills, m.ID)))
				}
				if err := errors.Join(errs...); err != nil {
					// JSON output holds one document: the error.
					if !a.json() {
						a.printInstalled(views, required)
					}
					return err
				}
			}
			a.printInstalled(views, required)
			return nil
		},
	}
	install.Flags().StringVar(&reg, "registry", "", "the team registry: a directory holding index.yaml, or a git repository URL or path")
	install.Flags().BoolVar(&required, "required", false, "install every skill the organisation policy requires (organizationPolicy.requiredSkills)")

	list := &cobra.Command{
		Use: "list", Short: "List the installed skills and the required ones that are missing", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := a.skillHome(home)
			if err != nil {
				return err
			}
			installed, listErr := registry.List(h.skills)
			views := make([]skillView, 0, len(installed))
			ids := make([]string, 0, len(installed))
			for _, in := range installed {
				views = append(views, viewOf(in.Manifest, in.Dir))
				ids = append(ids, in.ID)
			}
			missing := registry.Missing(ids, h.policy)
			if missing == nil {
				missing = []string{}
			}
			if a.json() {
				a.printJSON(struct {
					Skills          []skillView `json:"skills"`
					MissingRequired []string    `json:"missing_required"`
				}{views, missing})
				return listErr
			}
			if len(views) == 0 {
				fmt.Fprintf(a.env.Stdout, "no skills installed in %s\n", h.skills)
			} else {
				w := tabwriter.NewWriter(a.env.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tVERSION\tPERMISSION\tDANGEROUS\tDESCRIPTION")
				for _, v := range views {
					fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\n", v.ID, v.Version, v.RequiredPermission, v.Dangerous, v.Description)
				}
				if err := w.Flush(); err != nil {
					return err
				}
			}
			if len(missing) > 0 {
				fmt.Fprintf(a.env.Stdout, "required by the organisation but not installed: %s\n", strings.Join(missing, ", "))
			}
			return listErr
		},
	}
	cmd.AddCommand(install, list)
	return cmd
}

// printInstalled reports the skills an install put in place.
func (a *app) printInstalled(views []skillView, required bool) {
	if a.json() {
		a.printJSON(views)
		return
	}
	if len(views) == 0 && required {
		fmt.Fprintln(a.env.Stdout, "the organisation requires no skills")
	}
	for _, v := range views {
		fmt.Fprintf(a.env.Stdout, "%s %s installed in %s\n", v.ID, v.Version, v.Dir)
	}
}
