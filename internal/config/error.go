package config

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem with a configuration: where it was found, the field
// and what is wrong. It prints as
//
//	file:line: field: message
//	VARIABLE: field: message
//
// leaving out the parts that are unknown.
type Error struct {
	// File is the file's path as given to Load or Parse; empty when the
	// problem is not in a file.
	File string
	// Line is the 1-based line in File; 0 when unknown.
	Line int
	// Env is the environment variable the value came from, if any.
	Env string
	// Field is the dotted camelCase path of the setting, such as
	// "deployment.maxConcurrentTasks" or "security.defaultRoles[1]". For an
	// unknown key it is the mapping holding the key ("" at the top level).
	Field string
	// Msg says what is wrong, safe to show a user.
	Msg string
	// Err is the underlying cause, if any.
	Err error

	// related lists other fields the problem involves, used to place a
	// problem whose own field is not in the file.
	related []string
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		b.WriteString(e.File + ":" + strconv.Itoa(e.Line) + ": ")
	case e.File != "":
		b.WriteString(e.File + ": ")
	}
	if e.Env != "" {
		b.WriteString(e.Env + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// fields returns the field of e followed by its related fields.
func (e *Error) fields() []string {
	return append([]string{e.Field}, e.related...)
}

// MaxErrors is how many problems an error reports at most; a last one
// then says how many more there were.
const MaxErrors = 25

// join returns nil for no errors, the *Error itself for one, and their
// errors.Join, sorted by line (stable), for several.
func join(errs []*Error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	slices.SortStableFunc(errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	if n := len(errs) - MaxErrors; n > 0 {
		errs = append(errs[:MaxErrors:MaxErrors], &Error{
			File: errs[0].File,
			Msg:  "too many errors; " + strconv.Itoa(n) + " more not shown",
		})
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}
