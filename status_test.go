package coderclaw_test

import (
	"errors"
	"testing"

	"github.com/coderclaw/coderclaw"
)

// TestValidateTransition checks every (from, to, cause) triple against the
// lifecycle written out as a table, so a change to either shows up here.
func TestValidateTransition(t *testing.T) {
	const (
		P  = coderclaw.StatusPending
		PL = coderclaw.StatusPlanning
		R  = coderclaw.StatusRunning
		W  = coderclaw.StatusWaiting
		C  = coderclaw.StatusCompleted
		F  = coderclaw.StatusFailed
		X  = coderclaw.StatusCancelled
	)
	type pair struct{ from, to coderclaw.Status }
	byRequest := map[pair]bool{
		{P, PL}: true, {P, F}: true, {P, X}: true,
		{PL, R}: true, {PL, F}: true, {PL, X}: true,
		{R, W}: true, {R, C}: true, {R, F}: true, {R, X}: true,
		{W, R}: true, {W, F}: true, {W, X}: true,
	}
	byRecovery := map[pair]bool{{PL, P}: true, {R, P}: true}
	for k := range byRequest {
		byRecovery[k] = true
	}
	all := append(coderclaw.Statuses(), "", "bogus")
	for _, cause := range []coderclaw.Cause{coderclaw.ByRequest, coderclaw.ByRecovery} {
		want := byRequest
		if cause == coderclaw.ByRecovery {
			want = byRecovery
		}
		for _, from := range all {
			for _, to := range all {
				err := coderclaw.ValidateTransition(from, to, cause)
				if ok := want[pair{from, to}]; ok != (err == nil) {
					t.Errorf("cause %d: %q -> %q: got err=%v, want allowed=%v", cause, from, to, err, ok)
				}
				if err == nil {
					continue
				}
				var te *coderclaw.InvalidTransitionError
				if !errors.As(err, &te) || te.From != from || te.To != to {
					t.Errorf("%q -> %q: error %v does not name both states", from, to, err)
				}
				if coderclaw.ErrorCode(err) != coderclaw.CodeConflict {
					t.Errorf("%q -> %q: code %q, want conflict", from, to, coderclaw.ErrorCode(err))
				}
			}
		}
	}
}

func TestTerminalNeverChanges(t *testing.T) {
	for _, from := range coderclaw.Statuses() {
		if !from.Terminal() {
			continue
		}
		for _, to := range coderclaw.Statuses() {
			if coderclaw.ValidateTransition(from, to, coderclaw.ByRecovery) == nil {
				t.Errorf("terminal %s -> %s allowed", from, to)
			}
		}
	}
}

func TestParseStatus(t *testing.T) {
	for _, s := range coderclaw.Statuses() {
		got, err := coderclaw.ParseStatus(string(s))
		if err != nil || got != s {
			t.Errorf("ParseStatus(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := coderclaw.ParseStatus("RUNNING"); coderclaw.ErrorCode(err) != coderclaw.CodeInvalid {
		t.Errorf("ParseStatus(RUNNING): err %v, want invalid", err)
	}
}

func TestSubmitRequestValidate(t *testing.T) {
	ok := coderclaw.SubmitRequest{Input: "echo hi", AgentID: "shell"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid request: %v", err)
	}
	cases := map[string]coderclaw.SubmitRequest{
		"input":    {Input: "  ", AgentID: "shell"},
		"agent_id": {Input: "x"},
		"priority": {Input: "x", AgentID: "shell", Priority: 5000},
		"labels":   {Input: "x", AgentID: "shell", Labels: map[string]string{"": "v"}},
		"metadata": {Input: "x", AgentID: "shell", Metadata: map[string]string{"k": "\xff"}},
	}
	for field, req := range cases {
		err := req.Validate()
		var e *coderclaw.Error
		if !errors.As(err, &e) || e.Code != coderclaw.CodeInvalid {
			t.Errorf("%s: got %v, want invalid error", field, err)
			continue
		}
		if len(e.Message) < len(field) || e.Message[:len(field)] != field {
			t.Errorf("%s: message %q does not name the field", field, e.Message)
		}
	}
}
