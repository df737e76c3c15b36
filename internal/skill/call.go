package skill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Call runs one skill call the way an agent loop must: g checks it against
// the policy and audits the decision, the input is checked to be a JSON
// object (empty input counts as {}), then s runs in env. A denial is a
// *DeniedError; input that is not JSON is an error naming the offset of
// the problem; every other error is the skill's, meant for the model.
func Call(ctx context.Context, g *Guard, s Skill, env Env, input json.RawMessage) (string, error) {
	if s == nil {
		return "", errors.New("no skill to call")
	}
	if err := g.Check(ctx, s.Info()); err != nil {
		return "", err
	}
	in, err := objectInput(input)
	if err != nil {
		return "", err
	}
	return s.Call(ctx, env, in)
}

// objectInput checks that input is one JSON object, turning empty input
// into {}.
func objectInput(input json.RawMessage) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(input)
	if len(trimmed) == 0 {
		return json.RawMessage("{}"), nil
	}
	if !json.Valid(trimmed) {
		var v any
		err := json.Unmarshal(trimmed, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("input is not valid JSON: %s at offset %d", se.Error(), se.Offset)
		}
		return nil, fmt.Errorf("input is not valid JSON: %v", err)
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("input must be a JSON object, not %s", jsonKind(trimmed[0]))
	}
	return trimmed, nil
}

func jsonKind(first byte) string {
	switch first {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// decodeInput decodes a skill's JSON object input into v strictly: unknown
// fields and wrong types are errors that name the field, for the model to
// correct.
func decodeInput(input json.RawMessage, v any) error {
	in, err := objectInput(input)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "input"
			}
			return fmt.Errorf("input: field %q must be %s, not a JSON %s", field, typeName(te.Type.Kind().String()), te.Value)
		}
		if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("input: unknown field %s", msg)
		}
		return fmt.Errorf("input: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("input: unexpected data after the JSON object")
	}
	return nil
}

func typeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64":
		return "an integer"
	case "float64":
		return "a number"
	case "struct", "map":
		return "an object"
	}
	return "a " + kind
}
