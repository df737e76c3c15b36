package coderclaw_test

import (
	"errors"
	"fmt"

	"github.com/coderclaw/coderclaw"
)

func ExampleValidateTransition() {
	fmt.Println(coderclaw.ValidateTransition(coderclaw.StatusRunning, coderclaw.StatusWaiting, coderclaw.ByRequest))
	err := coderclaw.ValidateTransition(coderclaw.StatusCompleted, coderclaw.StatusRunning, coderclaw.ByRequest)
	var te *coderclaw.InvalidTransitionError
	fmt.Println(errors.As(err, &te), te.From, te.To)
	fmt.Println(coderclaw.ErrorCode(err))
	// Output:
	// <nil>
	// true completed running
	// conflict
}

func ExampleSubmitRequest_Validate() {
	err := coderclaw.SubmitRequest{AgentID: "shell"}.Validate()
	fmt.Println(coderclaw.ErrorCode(err), coderclaw.ErrorMessage(err))
	// Output:
	// invalid input: must not be empty
}
