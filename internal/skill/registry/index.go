package registry

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/coderclaw/coderclaw/internal/config"
)

// IndexFile is the name of a registry's index at its root.
const IndexFile = "index.yaml"

// Index is a registry's index.yaml: the skills it offers.
type Index struct {
	Skills []Entry `yaml:"skills"`
}

// Entry is one skill of an index.
type Entry struct {
	// Name is the skill's id; the manifest's id must be the same.
	Name string `yaml:"name"`
	// Version is the skill's version; the manifest's must be the same.
	Version string `yaml:"version"`
	// Path is the skill's directory, relative to the registry's root.
	Path string `yaml:"path"`
	// SHA256 is the hex SHA-256 of the skill's skill.yaml.
	SHA256 string `yaml:"sha256"`
}

// Validate checks what decoding cannot; each problem names its field.
func (x *Index) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &config.Error{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	seen := map[string]int{}
	for i, e := range x.Skills {
		field := "skills[" + strconv.Itoa(i) + "]"
		if msg := checkID(e.Name); msg != "" {
			bad(field+".name", "%s", msg)
		} else if j, dup := seen[e.Name]; dup {
			bad(field+".name", "duplicate skill %q (also skills[%d])", e.Name, j)
		} else {
			seen[e.Name] = i
		}
		if msg := checkVersion(e.Version); msg != "" {
			bad(field+".version", "%s", msg)
		}
		if msg := checkPath(e.Path); msg != "" {
			bad(field+".path", "%s", msg)
		}
		if msg := checkSum(e.SHA256); msg != "" {
			bad(field+".sha256", "%s", msg)
		}
	}
	return errors.Join(errs...)
}

// ParseIndex parses the content of an index.yaml. file names the source
// in errors. The error is one *config.Error or several joined, each naming
// file, line and field.
func ParseIndex(file string, data []byte) (Index, error) {
	if len(data) > MaxIndexSize {
		return Index{}, &config.Error{File: file, Msg: fmt.Sprintf("is %d bytes long; an index may have at most %d", len(data), MaxIndexSize)}
	}
	var x Index
	if err := config.DecodeStrict(file, data, &x); err != nil {
		return Index{}, err
	}
	return x, nil
}

// Lookup returns the entry of the skill called name.
func (x Index) Lookup(name string) (Entry, bool) {
	for _, e := range x.Skills {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}
