package workspace

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestLockErrorRecognisesGitLocks runs git against locks another process
// holds and checks that the failures are recognised as retryable, and
// that other failures are not.
func TestLockErrorRecognisesGitLocks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := git(ctx, dir, "add", "a.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := git(ctx, dir, "commit", "-q", "-m", "a"); err != nil {
		t.Fatal(err)
	}

	index := filepath.Join(dir, ".git", "index.lock")
	if err := os.WriteFile(index, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := gitRetry(ctx, dir, "add", "--all")
	if !lockError(err) {
		t.Errorf("git add with index.lock held: %v, not recognised as a lock error", err)
	}
	if err := os.Remove(index); err != nil {
		t.Fatal(err)
	}

	ref := filepath.Join(dir, ".git", "refs", "heads", "b.lock")
	if err := os.WriteFile(ref, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := git(ctx, dir, "branch", "b"); !lockError(err) {
		t.Errorf("git branch with its ref lock held: %v, not recognised as a lock error", err)
	}

	if _, err := git(ctx, dir, "rev-parse", "--verify", "no-such-ref"); err == nil || lockError(err) {
		t.Errorf("a missing ref: %v, want an error that is not a lock error", err)
	}
}
