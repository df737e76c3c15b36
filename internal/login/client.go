package login

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coderclaw/coderclaw"
)

// DeviceClient drives a node's GitHub device-flow routes for a terminal
// (coderclaw login --github). Its zero value is not usable: set Node.
type DeviceClient struct {
	// Node is the node's base URL, http://127.0.0.1:7420 say. Required.
	Node string
	// Provider is the GitHub provider's name; zero means "github".
	Provider string
	// HTTPClient calls the node; nil means http.DefaultClient.
	HTTPClient *http.Client
	// After waits between polls; nil means time.After. Tests inject one
	// that returns at once.
	After func(time.Duration) <-chan time.Time
}

// Login starts a device flow, hands its user code to show (print it and
// the verification URI), and polls until the person answers at GitHub,
// the code expires or ctx ends. It returns the new session. A refusal is a
// *coderclaw.Error with the node's code and message.
func (c DeviceClient) Login(ctx context.Context, show func(DeviceStart)) (Result, error) {
	if c.Provider == "" {
		c.Provider = DefaultGitHubName
	}
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	if c.After == nil {
		c.After = time.After
	}
	base := strings.TrimSuffix(c.Node, "/") + "/api/auth/" + c.Provider + "/"
	var ds DeviceStart
	if _, err := c.post(ctx, base+"device", struct{}{}, &ds); err != nil {
		return Result{}, fmt.Errorf("start GitHub sign-in: %w", err)
	}
	show(ds)
	interval := time.Duration(ds.Interval) * time.Second
	for {
		select {
		case <-ctx.Done():
			return Result{}, fmt.Errorf("GitHub sign-in: %w", ctx.Err())
		case <-c.After(interval):
		}
		var raw json.RawMessage
		status, err := c.post(ctx, base+"poll", DevicePoll{DeviceID: ds.DeviceID}, &raw)
		if err != nil {
			return Result{}, fmt.Errorf("GitHub sign-in: %w", err)
		}
		if status == http.StatusOK {
			var res Result
			if err := json.Unmarshal(raw, &res); err != nil {
				return Result{}, fmt.Errorf("GitHub sign-in: decode answer: %w", err)
			}
			return res, nil
		}
		var p DevicePending
		if err := json.Unmarshal(raw, &p); err != nil {
			return Result{}, fmt.Errorf("GitHub sign-in: decode answer: %w", err)
		}
		if p.Interval > 0 {
			interval = time.Duration(p.Interval) * time.Second
		}
	}
}

// post sends v as JSON and decodes a 200 or 202 answer into out; other
// statuses become the node's *coderclaw.Error.
func (c DeviceClient) post(ctx context.Context, url string, v, out any) (int, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := readLimited(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		var e struct {
			Error *coderclaw.Error `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != nil && e.Error.Code.Valid() {
			return resp.StatusCode, e.Error
		}
		return resp.StatusCode, coderclaw.Errorf(coderclaw.CodeUnavailable, "the node answered %s", resp.Status)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return resp.StatusCode, fmt.Errorf("decode answer: %w", err)
	}
	return resp.StatusCode, nil
}
