// Package registry distributes skills: a team registry is a directory, or
// a git repository, holding index.yaml, which lists each skill's version,
// directory and manifest checksum; each skill directory holds skill.yaml,
// its manifest, which lists the skill's files with their checksums, its
// command and its input schema.
//
// Install copies one skill from a registry into a node's skills directory
// (<home>/skills/<id>), after checking every checksum, that no path leaves
// the skill's directory (symbolic links included) and that the
// organisation does not deny the skill. Load reads the installed skills
// back as command skills, which run their command in the task's workspace
// through its sandbox, with the call's input on stdin.
//
// The functions hold no state; installing the same skill from two
// processes at once is not supported (the last rename wins).
package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/coderclaw/coderclaw/internal/skill"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/coderclaw/coderclaw/internal/security"
)

// Limits of the files a skill may hold.
const (
	// MaxFileSize bounds one file of a skill.
	MaxFileSize = 64 << 20
	// MaxSkillSize bounds the files of a skill together.
	MaxSkillSize = 256 << 20
)

// Registry is an opened registry. Close removes the clone of a git
// registry.
type Registry struct {
	ref   string
	root  string // the directory holding index.yaml
	clone string // the temporary directory holding the clone, if any
	index Index
}

// Open opens the registry ref: a directory holding index.yaml is read in
// place; anything else (a git URL, the path of a bare repository or of a
// repository without index.yaml at the top of its work tree) is cloned
// with `git clone --depth 1` into a temporary directory, which Close
// removes.
func Open(ctx context.Context, ref string) (*Registry, error) {
	if ref == "" {
		return nil, errors.New("open registry: no registry given")
	}
	r := &Registry{ref: ref}
	if fi, err := os.Stat(filepath.Join(ref, IndexFile)); err == nil && fi.Mode().IsRegular() {
		abs, err := filepath.Abs(ref)
		if err != nil {
			return nil, fmt.Errorf("open registry %s: %w", ref, err)
		}
		r.root = abs
	} else {
		if err := r.cloneGit(ctx); err != nil {
			return nil, err
		}
	}
	root, err := os.OpenRoot(r.root)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("open registry %s: %w", ref, err)
	}
	defer root.Close()
	data, err := readRegular(root, IndexFile, MaxIndexSize)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("open registry %s: %w", ref, err)
	}
	if r.index, err = ParseIndex(strings.TrimSuffix(ref, "/")+"/"+IndexFile, data); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// cloneGit clones the registry into a temporary directory.
func (r *Registry) cloneGit(ctx context.Context) error {
	tmp, err := os.MkdirTemp("", "coderclaw-registry-*")
	if err != nil {
		return fmt.Errorf("open registry %s: %w", r.ref, err)
	}
	r.clone = tmp
	r.root = filepath.Join(tmp, "repo")
	cmd := exec.CommandContext(ctx, "git", "clone", "--depth", "1", "--quiet", "--", r.ref, r.root)
	// Never wait for a password prompt nobody will answer.
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=true", "SSH_ASKPASS=true")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		r.Close()
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return fmt.Errorf("open registry %s: it is not a directory with %s, and git clone failed: %w", r.ref, IndexFile, err)
		}
		return fmt.Errorf("open registry %s: it is not a directory with %s, and git clone failed: %w: %s", r.ref, IndexFile, err, clipLong(msg))
	}
	return nil
}

// Close removes the clone of a git registry. It is idempotent.
func (r *Registry) Close() error {
	if r.clone == "" {
		return nil
	}
	err := os.RemoveAll(r.clone)
	r.clone = ""
	if err != nil {
		return fmt.Errorf("remove registry clone: %w", err)
	}
	return nil
}

// Index returns the registry's index.
func (r *Registry) Index() Index {
	return Index{Skills: slices.Clone(r.index.Skills)}
}

// Install opens the registry reg, installs the skill name from it into dst
// (Registry.Install) and closes the registry.
func Install(ctx context.Context, reg, name, dst string, policy *security.Policy) (Manifest, error) {
	r, err := Open(ctx, reg)
	if err != nil {
		return Manifest{}, err
	}
	defer r.Close()
	return r.Install(ctx, name, dst, policy)
}

// Install installs the skill name into dst/<name>, dst being a node's
// skills directory (<home>/skills), and returns its manifest.
//
// It refuses a skill the policy's organisation denies (policy may be nil:
// no policy), a manifest whose SHA-256 is not the index's, whose id or
// version is not the index entry's, a listed file whose SHA-256 is not
// the manifest's, and any path that leaves the skill's directory, also
// through a symbolic link. The skill is assembled in a temporary directory
// under dst and renamed into place: a failed install leaves the installed
// version as it was. Installing the version already installed, with the
// same manifest, changes nothing; another version (or the same version
// with another manifest) replaces it.
func (r *Registry) Install(ctx context.Context, name, dst string, policy *security.Policy) (Manifest, error) {
	e, ok := r.index.Lookup(name)
	if !ok {
		names := make([]string, len(r.index.Skills))
		for i, s := range r.index.Skills {
			names[i] = s.Name
		}
		return Manifest{}, fmt.Errorf("install skill %s: not in registry %s (it offers: %s)", name, r.ref, listOrNone(names))
	}
	if err := checkDenied(policy, e.Name); err != nil {
		return Manifest{}, fmt.Errorf("install skill %s: %w", e.Name, err)
	}
	for _, b := range skill.Builtins() {
		if b.Info().ID == e.Name {
			return Manifest{}, fmt.Errorf("install skill %s: a built-in skill has that id; rename it in the registry", e.Name)
		}
	}
	fail := func(err error) (Manifest, error) {
		return Manifest{}, fmt.Errorf("install skill %s %s from %s: %w", e.Name, e.Version, r.ref, err)
	}
	regRoot, err := os.OpenRoot(r.root)
	if err != nil {
		return fail(err)
	}
	defer regRoot.Close()
	src, err := regRoot.OpenRoot(filepath.FromSlash(e.Path))
	if err != nil {
		return fail(fmt.Errorf("skill directory %s: %w", e.Path, err))
	}
	defer src.Close()
	data, err := readRegular(src, ManifestFile, MaxManifestSize)
	if err != nil {
		return fail(err)
	}
	if got := sum(data); !sameSum(got, e.SHA256) {
		return fail(fmt.Errorf("%s/%s has SHA-256 %s, the index says %s", e.Path, ManifestFile, got, strings.ToLower(e.SHA256)))
	}
	m, err := ParseManifest(e.Path+"/"+ManifestFile, data)
	if err != nil {
		return fail(err)
	}
	if m.ID != e.Name || m.Version != e.Version {
		return fail(fmt.Errorf("the manifest is %s %s, the index says %s %s", m.ID, m.Version, e.Name, e.Version))
	}

	final := filepath.Join(dst, m.ID)
	if old, err := os.ReadFile(filepath.Join(final, ManifestFile)); err == nil && bytes.Equal(old, data) {
		return m, nil
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fail(err)
	}
	tmp, err := os.MkdirTemp(dst, ".install-"+m.ID+"-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed into place
	if err := copyFiles(ctx, src, tmp, m.Files); err != nil {
		return fail(err)
	}
	// The manifest goes last: a directory with a manifest is complete.
	if err := os.WriteFile(filepath.Join(tmp, ManifestFile), data, 0o644); err != nil {
		return fail(err)
	}
	if err := replaceDir(tmp, final); err != nil {
		return fail(err)
	}
	return m, nil
}

// checkDenied refuses a skill the organisation denies.
func checkDenied(policy *security.Policy, id string) error {
	if policy == nil {
		return nil
	}
	// The security package has no accessor for the denied skills, but
	// CheckSkillAccess reports the organisation's denial before anything
	// about the subject; other denials (of this made-up subject) are not
	// about installing.
	d := policy.CheckSkillAccess(security.Subject{Roles: []string{"admin"}, Local: true}, id)
	if !d.Allowed && strings.HasSuffix(d.Rule, "organizationPolicy.deniedSkills") {
		return d.Err()
	}
	return nil
}

// copyFiles copies the listed files from src into dir, checking each
// file's checksum and the limits.
func copyFiles(ctx context.Context, src *os.Root, dir string, files []File) error {
	var total int64
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := copyFile(src, dir, f, MaxSkillSize-total)
		if err != nil {
			return err
		}
		total += n
	}
	return nil
}

func copyFile(src *os.Root, dir string, f File, budget int64) (int64, error) {
	name := filepath.FromSlash(f.Path)
	in, err := src.Open(name)
	if err != nil {
		return 0, fmt.Errorf("file %s: %w", f.Path, err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return 0, fmt.Errorf("file %s: %w", f.Path, err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("file %s: not a regular file (%s)", f.Path, fi.Mode().Type())
	}
	limit := min(int64(MaxFileSize), budget)
	if fi.Size() > limit {
		return 0, fmt.Errorf("file %s: %d bytes is more than the %d allowed", f.Path, fi.Size(), limit)
	}
	mode := fs.FileMode(0o644)
	if fi.Mode().Perm()&0o111 != 0 {
		mode = 0o755
	}
	dstPath := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(dstPath), 0o755); err != nil {
		return 0, err
	}
	out, err := os.OpenFile(dstPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(in, limit+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return 0, fmt.Errorf("file %s: %w", f.Path, err)
	case n > limit:
		return 0, fmt.Errorf("file %s: more than the %d bytes allowed", f.Path, limit)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !sameSum(got, f.SHA256) {
		return 0, fmt.Errorf("file %s has SHA-256 %s, the manifest says %s", f.Path, got, strings.ToLower(f.SHA256))
	}
	return n, nil
}

// replaceDir puts the directory tmp in the place of final, keeping final
// as it was if that fails.
func replaceDir(tmp, final string) error {
	if _, err := os.Lstat(final); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(tmp, final)
	}
	old, err := os.MkdirTemp(filepath.Dir(final), ".old-"+filepath.Base(final)+"-")
	if err != nil {
		return err
	}
	aside := filepath.Join(old, "skill")
	if err := os.Rename(final, aside); err != nil {
		os.Remove(old)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		if rerr := os.Rename(aside, final); rerr != nil {
			return fmt.Errorf("%w (and restoring the old version failed: %v; it is in %s)", err, rerr, aside)
		}
		os.RemoveAll(old)
		return err
	}
	return os.RemoveAll(old)
}

// readRegular reads the regular file name of root, refusing more than
// limit bytes.
func readRegular(root *os.Root, name string, limit int64) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", name, fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: more than the %d bytes allowed", name, limit)
	}
	return data, nil
}

// Missing returns the skills the organisation requires
// (policy.RequiredSkills) that are not among installed, in the policy's
// order. A nil policy requires nothing.
func Missing(installed []string, policy *security.Policy) []string {
	if policy == nil {
		return nil
	}
	var out []string
	for _, id := range policy.RequiredSkills() {
		if !slices.Contains(installed, id) {
			out = append(out, id)
		}
	}
	return out
}

func sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// sameSum compares hex checksums, ignoring case.
func sameSum(got, want string) bool { return strings.EqualFold(got, want) }

func listOrNone(list []string) string {
	if len(list) == 0 {
		return "nothing"
	}
	return strings.Join(list, ", ")
}

// clipLong shortens a tool's message for an error.
func clipLong(s string) string {
	const limit = 500
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit], "") + "…"
}
