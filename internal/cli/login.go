package cli

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coderclaw/coderclaw/internal/login"
)

func (a *app) loginCommand() *cobra.Command {
	var oidc bool
	return &cobra.Command{
		Use:   "login",
		Short: "Sign in to a node with GitHub (device flow) or OIDC and get a session token",
		Long: "Sign in to the node named by --node. By default with GitHub's device flow: open the printed\n" +
			"address, enter the code, and the node answers with a session token (use it as CODERCLAW_TOKEN).\n" +
			"With --oidc, print the address that starts the node's OIDC sign-in in a browser; the page it ends\n" +
			"on shows the session token once.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if oidc {
				fmt.Fprintf(a.env.Stdout, "%s/api/auth/oidc/start\n", strings.TrimRight(a.node, "/"))
				return nil
			}
			hc := http.DefaultClient
			if a.caFile != "" {
				var err error
				if hc, err = httpClientWithCA(a.caFile); err != nil {
					return err
				}
			}
			res, err := login.DeviceClient{Node: a.node, HTTPClient: hc}.Login(cmd.Context(), func(d login.DeviceStart) {
				fmt.Fprintf(a.env.Stderr, "Open %s and enter the code %s\n", d.VerificationURI, d.UserCode)
			})
			if err != nil {
				return err
			}
			if a.json() {
				a.printJSON(res)
				return nil
			}
			fmt.Fprintf(a.env.Stderr, "signed in as %s; session %s\n", res.User.Name, res.SessionID)
			fmt.Fprintf(a.env.Stdout, "export CODERCLAW_TOKEN=%s\n", res.Token)
			return nil
		},
	}
}
