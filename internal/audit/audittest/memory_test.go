package audittest_test

import (
	"testing"

	"github.com/coderclaw/coderclaw/internal/audit/audittest"
)

func TestExerciseMemory(t *testing.T) {
	audittest.Exercise(t, func(*testing.T) audittest.Harness { return audittest.Harness{Store: &audittest.Memory{}} })
}
