package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coderclaw/coderclaw/internal/config"
	"github.com/coderclaw/coderclaw/internal/identity"
	"github.com/coderclaw/coderclaw/internal/security"
	"github.com/coderclaw/coderclaw/internal/store/sqlite"
)

// The identity commands (user, token, device, session) administer a node's
// database directly, like the node's own operator at its machine: they open
// the store under --home (it is safe beside a running node), so the first
// admin can be made before any token exists.

// withIdentity runs fn with the identity service of the node under home.
func (a *app) withIdentity(ctx context.Context, home string, fn func(*identity.Service) error) error {
	if home == "" {
		home = a.env.Getenv(config.EnvHome)
	}
	if home == "" {
		home = config.DefaultHome()
	}
	rc, err := config.Load(config.RuntimePath(home))
	if err != nil {
		return err
	}
	confDir := filepath.Dir(config.RuntimePath(home))
	pol, err := security.Load(security.Paths{Node: filepath.Join(confDir, "security.yaml"), Team: filepath.Join(confDir, "team-policy.yaml")})
	if err != nil {
		return fmt.Errorf("security policy: %w", err)
	}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: rc.Store.DBPath(home), Synchronous: rc.Store.Synchronous})
	if err != nil {
		return err
	}
	defer st.Close()
	roles := map[string]bool{}
	for _, r := range pol.Roles() {
		roles[r.Name] = true
	}
	ids, err := identity.New(identity.Config{Store: st.Identities(), ValidRole: func(r string) bool { return roles[r] }, AutoTrustLocal: pol.AutoTrustLocal()})
	if err != nil {
		return err
	}
	return fn(ids)
}

func homeFlag(cmd *cobra.Command, home *string) {
	cmd.PersistentFlags().StringVar(home, "home", "", "node home directory (default $CODERCLAW_HOME or ~/.coderclaw)")
}

func (a *app) userCommand() *cobra.Command {
	var home string
	cmd := &cobra.Command{Use: "user", Short: "Manage the node's users"}
	homeFlag(cmd, &home)
	var roles []string
	add := &cobra.Command{
		Use: "add NAME", Short: "Add a user with roles", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withIdentity(cmd.Context(), home, func(ids *identity.Service) error {
				u, err := ids.AddUser(cmd.Context(), args[0], roles)
				if err != nil {
					return err
				}
				if a.json() {
					a.printJSON(u)
				} else {
					fmt.Fprintf(a.env.Stdout, "user %s (%s) with roles %s\n", u.Name, u.ID, strings.Join(u.Roles, ", "))
				}
				return nil
			})
		},
	}
	add.Flags().StringArrayVar(&roles, "role", nil, "role (repeatable): admin, developer, readonly, ci or a custom role")
	list := &cobra.Command{
		Use: "list", Short: "List users", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withIdentity(cmd.Context(), home, func(ids *identity.Service) error {
				us, err := ids.Users(cmd.Context())
				if err != nil {
					return err
				}
				if a.json() {
					a.printJSON(us)
					return nil
				}
				w := tabwriter.NewWriter(a.env.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "NAME\tID\tROLES\tDISABLED")
				for _, u := range us {
					fmt.Fprintf(w, "%s\t%s\t%s\t%v\n", u.Name, u.ID, strings.Join(u.Roles, ","), u.Disabled)
				}
				return w.Flush()
			})
		},
	}
	cmd.AddCommand(add, list)
	return cmd
}

func (a *app) tokenCommand() *cobra.Command {
	var home string
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens"}
	homeFlag(cmd, &home)
	var (
		user, name string
		expires    time.Duration
	)
	create := &cobra.Command{
		Use: "create", Short: "Create an API token (shown once)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" {
				return usagef("--user is required")
			}
			return a.withIdentity(cmd.Context(), home, func(ids *identity.Service) error {
				secret, tok, err := ids.CreateToken(cmd.Context(), user, name, expires)
				if err != nil {
					return err
				}
				if a.json() {
					a.printJSON(struct {
						Secret string `json:"token"`
						identity.Token
					}{secret, tok})
					return nil
				}
				fmt.Fprintf(a.env.Stdout, "%s\n", secret)
				fmt.Fprintf(a.env.Stderr, "token %s for %s; it is shown only now\n", tok.ID, user)
				return nil
			})
		},
	}
	create.Flags().StringVar(&user, "user", "", "user name or id")
	create.Flags().StringVar(&name, "name", "cli", "a name for the token")
	create.Flags().DurationVar(&expires, "expires", 0, "lifetime such as 720h (default: never expires)")
	var listUser string
	list := &cobra.Command{
		Use: "list", Short: "List tokens (never their secrets)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withIdentity(cmd.Context(), home, func(ids *identity.Service) error {
				ts, err := ids.ListTokens(cmd.Context(), listUser)
				if err != nil {
					return err
				}
				if a.json() {
					a.printJSON(ts)
					return nil
				}
				w := tabwriter.NewWriter(a.env.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tUSER\tNAME\tPREFIX\tEXPIRES\tREVOKED")
				for _, t := range ts {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.UserID, t.Name, t.Prefix, when(t.ExpiresAt), when(t.RevokedAt))
				}
				return w.Flush()
			})
		},
	}
	list.Flags().StringVar(&listUser, "user", "", "only this user's tokens")
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke a token", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withIdentity(cmd.Context(), home, func(ids *identity.Service) error {
				t, err := ids.RevokeToken(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if a.json() {
					a.printJSON(t)
				} else {
					fmt.Fprintf(a.env.Stdout, "token %s revoked\n", t.ID)
				}
				return nil
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func (a *app) deviceCommand() *cobra.Command {
	var home, user string
	cmd := &cobra.Command{Use: "device", Short: "Manage devices and their trust"}
	homeFlag(cmd, &home)
	list := &cobra.Command{
		Use: "list", Short: "List devices", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withIdentity(cmd.Context(), home, func(ids *identity.Service) error {
				ds, err := ids.Devices(cmd.Context(), user)
				if err != nil {
					return err
				}
				if a.json() {
					a.printJSON(ds)
					return nil
				}
				w := tabwriter.NewWriter(a.env.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tUSER\tNAME\tTRUST")
				for _, d := range ds {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", d.ID, d.UserID, d.Name, d.Trust)
				}
				return w.Flush()
			})
		},
	}
	list.Flags().StringVar(&user, "user", "", "only this user's devices")
	var (
		devUser string
		local   bool
	)
	register := &cobra.Command{
		Use: "register NAME", Short: "Register a device for a user", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if devUser == "" {
				return usagef("--user is required")
			}
			return a.withIdentity(cmd.Context(), home, func(ids *identity.Service) error {
				d, err := ids.RegisterDevice(cmd.Context(), devUser, args[0], local)
				if err != nil {
					return err
				}
				a.printDevice(d)
				return nil
			})
		},
	}
	register.Flags().StringVar(&devUser, "user", "", "user name or id")
	register.Flags().BoolVar(&local, "local", false, "the device is this machine (autoTrustLocal applies)")
	trust := &cobra.Command{
		Use: "trust ID LEVEL", Short: "Set a device's trust: trusted, verified or untrusted", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withIdentity(cmd.Context(), home, func(ids *identity.Service) error {
				d, err := ids.SetDeviceTrust(cmd.Context(), args[0], identity.Trust(args[1]))
				if err != nil {
					return err
				}
				a.printDevice(d)
				return nil
			})
		},
	}
	cmd.AddCommand(list, register, trust)
	return cmd
}

func (a *app) printDevice(d identity.Device) {
	if a.json() {
		a.printJSON(d)
		return
	}
	fmt.Fprintf(a.env.Stdout, "device %s (%s) of %s: %s\n", d.Name, d.ID, d.UserID, d.Trust)
}

func (a *app) sessionCommand() *cobra.Command {
	var home string
	cmd := &cobra.Command{Use: "session", Short: "Manage sessions (user + device + roles)"}
	homeFlag(cmd, &home)
	var (
		user, device string
		roles        []string
	)
	create := &cobra.Command{
		Use: "create", Short: "Create a session; its token is shown once", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" {
				return usagef("--user is required")
			}
			return a.withIdentity(cmd.Context(), home, func(ids *identity.Service) error {
				secret, s, err := ids.CreateSession(cmd.Context(), user, device, roles)
				if err != nil {
					return err
				}
				if a.json() {
					a.printJSON(struct {
						Secret string `json:"token"`
						identity.Session
					}{secret, s})
					return nil
				}
				fmt.Fprintf(a.env.Stdout, "%s\n", secret)
				fmt.Fprintf(a.env.Stderr, "session %s for %s with roles %s until %s; the token is shown only now\n",
					s.ID, user, strings.Join(s.Roles, ","), s.ExpiresAt.Local().Format(time.DateTime))
				return nil
			})
		},
	}
	create.Flags().StringVar(&user, "user", "", "user name or id")
	create.Flags().StringVar(&device, "device", "", "device id or name")
	create.Flags().StringArrayVar(&roles, "role", nil, "role (repeatable; default: the user's roles)")
	var listUser string
	list := &cobra.Command{
		Use: "list", Short: "List sessions", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withIdentity(cmd.Context(), home, func(ids *identity.Service) error {
				ss, err := ids.Sessions(cmd.Context(), listUser)
				if err != nil {
					return err
				}
				if a.json() {
					a.printJSON(ss)
					return nil
				}
				w := tabwriter.NewWriter(a.env.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tUSER\tDEVICE\tROLES\tEXPIRES\tREVOKED")
				for _, s := range ss {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.UserID, s.DeviceID, strings.Join(s.Roles, ","), s.ExpiresAt.Local().Format(time.DateTime), when(s.RevokedAt))
				}
				return w.Flush()
			})
		},
	}
	list.Flags().StringVar(&listUser, "user", "", "only this user's sessions")
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke a session", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withIdentity(cmd.Context(), home, func(ids *identity.Service) error {
				s, err := ids.RevokeSession(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if a.json() {
					a.printJSON(s)
				} else {
					fmt.Fprintf(a.env.Stdout, "session %s revoked\n", s.ID)
				}
				return nil
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}
