package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/audit"
)

// The audit commands read the node's audit log over its HTTP API
// (/api/audit/...): admins see everything, others their own activity.

func (a *app) auditCommand() *cobra.Command {
	var (
		q     audit.Query
		since string
		until string
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Query the node's audit log, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := url.Values{}
			for k, s := range map[string]string{"user_id": q.UserID, "session_id": q.SessionID, "action": q.Action,
				"resource_type": q.ResourceType, "resource_id": q.ResourceID, "result": q.Result, "since": since, "until": until, "cursor": q.Cursor} {
				if s != "" {
					v.Set(k, s)
				}
			}
			if q.Limit != 0 {
				v.Set("limit", strconv.Itoa(q.Limit))
			}
			var page audit.RecordPage
			if err := a.getJSON(cmd, "/api/audit/events", v, &page); err != nil {
				return err
			}
			if a.json() {
				if page.Records == nil {
					page.Records = []audit.Record{}
				}
				a.printJSON(page)
				return nil
			}
			w := tabwriter.NewWriter(a.env.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "SEQ\tTIME\tACTION\tRESULT\tUSER\tRESOURCE\tREASON")
			for _, r := range page.Records {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s %s\t%s\n", r.Seq, r.Time.Local().Format(time.DateTime), r.Action, r.Result,
					r.UserID, r.ResourceType, r.ResourceID, clip(r.Reason, 60))
			}
			if page.NextCursor != "" {
				fmt.Fprintf(w, "more: --cursor %s\n", page.NextCursor)
			}
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.UserID, "user", "", "only this user id")
	f.StringVar(&q.SessionID, "session", "", "only this session id")
	f.StringVar(&q.Action, "action", "", "only this action, such as task.submit")
	f.StringVar(&q.ResourceType, "resource-type", "", "only this resource type")
	f.StringVar(&q.ResourceID, "resource", "", "only this resource id")
	f.StringVar(&q.Result, "result", "", "only allowed, denied, ok or error")
	f.StringVar(&since, "since", "", "only at or after this RFC 3339 time")
	f.StringVar(&until, "until", "", "only before this RFC 3339 time")
	f.IntVar(&q.Limit, "limit", 0, "page size (default 100, at most 1000)")
	f.StringVar(&q.Cursor, "cursor", "", "continue after a previous page")
	cmd.AddCommand(&cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's hash chain; exits 1 when it was tampered with",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep audit.VerifyReport
			if err := a.getJSON(cmd, "/api/audit/verify", nil, &rep); err != nil {
				return err
			}
			if a.json() {
				a.printJSON(rep)
			} else if rep.Break == nil {
				fmt.Fprintf(a.env.Stdout, "intact: %d records, head %d %s\n", rep.Records, rep.Head.Seq, rep.Head.Hash)
			}
			if rep.Break != nil {
				if !a.json() {
					fmt.Fprintf(a.env.Stderr, "tampered: %s\n", rep.Break.Message)
				}
				return exitError{ExitFailure}
			}
			return nil
		},
	})
	return cmd
}

// getJSON GETs a path of the node's HTTP API and decodes the answer.
func (a *app) getJSON(cmd *cobra.Command, path string, q url.Values, out any) error {
	hc := http.DefaultClient
	if a.caFile != "" {
		var err error
		if hc, err = httpClientWithCA(a.caFile); err != nil {
			return err
		}
	}
	u := strings.TrimRight(a.node, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, u, nil)
	if err != nil {
		return usagef("--node: %v", err)
	}
	if tok := a.env.Getenv("CODERCLAW_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return coderclaw.Errorf(coderclaw.CodeUnavailable, "no CoderClaw node answers at %s: %v", a.node, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var body struct {
			Error *coderclaw.Error `json:"error"`
		}
		if json.Unmarshal(b, &body) == nil && body.Error != nil {
			return body.Error
		}
		return coderclaw.Errorf(coderclaw.CodeInternal, "node answered %s", resp.Status)
	}
	return json.Unmarshal(b, out)
}
