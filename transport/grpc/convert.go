package grpc

import (
	"encoding/json"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/coderclaw/coderclaw"
	pb "github.com/coderclaw/coderclaw/gen/coderclaw/v1"
)

// Conversions between the root types and their protobuf messages. Both
// directions are total: protobuf strings must be valid UTF-8, so text is
// repaired (utf8Safe) on the way out, and ints are clamped to int32.

// utf8Safe returns s with each byte that is not part of a valid UTF-8
// sequence replaced by U+FFFD, as encoding/json does.
func utf8Safe(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// utf8SafeMap returns a copy of m with keys and values made UTF-8 safe.
// Two keys that differ only in invalid bytes collapse into one, as they do
// through encoding/json.
func utf8SafeMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[utf8Safe(k)] = utf8Safe(v)
	}
	return out
}

// copyMap returns m, or nil when it is empty, so that an empty map reads
// back as the JSON transport's omitted one.
func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// clamp32 converts n to int32, saturating at the int32 range.
func clamp32(n int) int32 {
	switch {
	case n > math.MaxInt32:
		return math.MaxInt32
	case n < math.MinInt32:
		return math.MinInt32
	}
	return int32(n)
}

// timeToProto converts t; the zero time is absent.
func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// timeFromProto converts ts; an absent timestamp is the zero time.
func timeFromProto(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func timePtrToProto(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

func timePtrFromProto(ts *timestamppb.Timestamp) *time.Time {
	if ts == nil {
		return nil
	}
	t := ts.AsTime()
	return &t
}

// taskToProto converts a task for the wire.
func taskToProto(t coderclaw.Task) *pb.Task {
	out := &pb.Task{
		Id:          utf8Safe(t.ID),
		Description: utf8Safe(t.Description),
		Input:       utf8Safe(t.Input),
		AgentId:     utf8Safe(t.AgentID),
		Status:      utf8Safe(string(t.Status)),
		Progress:    clamp32(t.Progress),
		Output:      utf8Safe(t.Output),
		Error:       utf8Safe(t.Error),
		ParentId:    utf8Safe(t.ParentID),
		SessionId:   utf8Safe(t.SessionID),
		Project:     utf8Safe(t.Project),
		Repo:        utf8Safe(t.Repo),
		Labels:      utf8SafeMap(t.Labels),
		Metadata:    utf8SafeMap(t.Metadata),
		Priority:    clamp32(t.Priority),
		Attempt:     clamp32(t.Attempt),
		MaxAttempts: clamp32(t.MaxAttempts),
		LastSeq:     t.LastSeq,
		CreatedAt:   timeToProto(t.CreatedAt),
		UpdatedAt:   timeToProto(t.UpdatedAt),
		StartedAt:   timePtrToProto(t.StartedAt),
		FinishedAt:  timePtrToProto(t.FinishedAt),
	}
	for _, c := range t.Children {
		out.Children = append(out.Children, &pb.ChildTask{
			Id:        utf8Safe(c.ID),
			AgentId:   utf8Safe(c.AgentID),
			Status:    utf8Safe(string(c.Status)),
			Progress:  clamp32(c.Progress),
			SessionId: utf8Safe(c.SessionID),
		})
	}
	return out
}

// taskFromProto converts a task from the wire.
func taskFromProto(t *pb.Task) coderclaw.Task {
	out := coderclaw.Task{
		ID:          t.GetId(),
		Description: t.GetDescription(),
		Input:       t.GetInput(),
		AgentID:     t.GetAgentId(),
		Status:      coderclaw.Status(t.GetStatus()),
		Progress:    int(t.GetProgress()),
		Output:      t.GetOutput(),
		Error:       t.GetError(),
		ParentID:    t.GetParentId(),
		SessionID:   t.GetSessionId(),
		Project:     t.GetProject(),
		Repo:        t.GetRepo(),
		Labels:      copyMap(t.GetLabels()),
		Metadata:    copyMap(t.GetMetadata()),
		Priority:    int(t.GetPriority()),
		Attempt:     int(t.GetAttempt()),
		MaxAttempts: int(t.GetMaxAttempts()),
		LastSeq:     t.GetLastSeq(),
		CreatedAt:   timeFromProto(t.GetCreatedAt()),
		UpdatedAt:   timeFromProto(t.GetUpdatedAt()),
		StartedAt:   timePtrFromProto(t.GetStartedAt()),
		FinishedAt:  timePtrFromProto(t.GetFinishedAt()),
	}
	for _, c := range t.GetChildren() {
		out.Children = append(out.Children, coderclaw.ChildTask{
			ID:        c.GetId(),
			AgentID:   c.GetAgentId(),
			Status:    coderclaw.Status(c.GetStatus()),
			Progress:  int(c.GetProgress()),
			SessionID: c.GetSessionId(),
		})
	}
	return out
}

// eventToProto converts an event for the wire; Data travels as JSON text.
func eventToProto(e coderclaw.Event) *pb.Event {
	return &pb.Event{
		TaskId:   utf8Safe(e.TaskID),
		Seq:      e.Seq,
		Position: e.Position,
		Time:     timeToProto(e.Time),
		Type:     utf8Safe(string(e.Type)),
		Status:   utf8Safe(string(e.Status)),
		Progress: clamp32(e.Progress),
		Actor:    utf8Safe(e.Actor),
		Message:  utf8Safe(e.Message),
		Data:     utf8Safe(string(e.Data)),
	}
}

// eventFromProto converts an event from the wire. Data that is not JSON
// is refused: a caller may marshal the event again and must not fail.
func eventFromProto(e *pb.Event) (coderclaw.Event, error) {
	out := coderclaw.Event{
		TaskID:   e.GetTaskId(),
		Seq:      e.GetSeq(),
		Position: e.GetPosition(),
		Time:     timeFromProto(e.GetTime()),
		Type:     coderclaw.EventType(e.GetType()),
		Status:   coderclaw.Status(e.GetStatus()),
		Progress: int(e.GetProgress()),
		Actor:    e.GetActor(),
		Message:  e.GetMessage(),
	}
	if d := e.GetData(); d != "" {
		if !json.Valid([]byte(d)) {
			return out, coderclaw.Errorf(coderclaw.CodeInternal, "event %d of task %s: data is not JSON", out.Seq, out.TaskID)
		}
		out.Data = json.RawMessage(d)
	}
	return out, nil
}

// submitToProto converts a request for the wire.
func submitToProto(r coderclaw.SubmitRequest) *pb.SubmitRequest {
	return &pb.SubmitRequest{
		Description: utf8Safe(r.Description),
		Input:       utf8Safe(r.Input),
		AgentId:     utf8Safe(r.AgentID),
		ParentId:    utf8Safe(r.ParentID),
		SessionId:   utf8Safe(r.SessionID),
		Project:     utf8Safe(r.Project),
		Repo:        utf8Safe(r.Repo),
		Labels:      utf8SafeMap(r.Labels),
		Metadata:    utf8SafeMap(r.Metadata),
		Priority:    clamp32(r.Priority),
		MaxAttempts: clamp32(r.MaxAttempts),
	}
}

// submitFromProto converts a request from the wire. It does not validate:
// the runtime does, so every transport refuses the same requests with the
// same messages.
func submitFromProto(r *pb.SubmitRequest) coderclaw.SubmitRequest {
	return coderclaw.SubmitRequest{
		Description: r.GetDescription(),
		Input:       r.GetInput(),
		AgentID:     r.GetAgentId(),
		ParentID:    r.GetParentId(),
		SessionID:   r.GetSessionId(),
		Project:     r.GetProject(),
		Repo:        r.GetRepo(),
		Labels:      copyMap(r.GetLabels()),
		Metadata:    copyMap(r.GetMetadata()),
		Priority:    int(r.GetPriority()),
		MaxAttempts: int(r.GetMaxAttempts()),
	}
}

// filterToProto converts a filter for the wire.
func filterToProto(f coderclaw.Filter) *pb.ListTasksRequest {
	out := &pb.ListTasksRequest{
		AgentId:       utf8Safe(f.AgentID),
		SessionId:     utf8Safe(f.SessionID),
		Project:       utf8Safe(f.Project),
		ParentId:      utf8Safe(f.ParentID),
		CreatedAfter:  timeToProto(f.CreatedAfter),
		CreatedBefore: timeToProto(f.CreatedBefore),
		Limit:         clamp32(f.Limit),
		Cursor:        utf8Safe(f.Cursor),
	}
	for _, s := range f.Status {
		out.Status = append(out.Status, utf8Safe(string(s)))
	}
	return out
}

// filterFromProto converts a filter from the wire. A timestamp outside the
// range protobuf allows is refused with an error naming the field.
func filterFromProto(r *pb.ListTasksRequest) (coderclaw.Filter, error) {
	for _, ts := range []struct {
		name string
		v    *timestamppb.Timestamp
	}{{"created_after", r.GetCreatedAfter()}, {"created_before", r.GetCreatedBefore()}} {
		if ts.v != nil {
			if err := ts.v.CheckValid(); err != nil {
				return coderclaw.Filter{}, coderclaw.Errorf(coderclaw.CodeInvalid, "%s: %v", ts.name, err)
			}
		}
	}
	f := coderclaw.Filter{
		AgentID:       r.GetAgentId(),
		SessionID:     r.GetSessionId(),
		Project:       r.GetProject(),
		ParentID:      r.GetParentId(),
		CreatedAfter:  timeFromProto(r.GetCreatedAfter()),
		CreatedBefore: timeFromProto(r.GetCreatedBefore()),
		Limit:         int(r.GetLimit()),
		Cursor:        r.GetCursor(),
	}
	for _, s := range r.GetStatus() {
		f.Status = append(f.Status, coderclaw.Status(s))
	}
	return f, nil
}

func agentToProto(a coderclaw.Agent) *pb.Agent {
	out := &pb.Agent{
		Id:          utf8Safe(a.ID),
		Name:        utf8Safe(a.Name),
		Description: utf8Safe(a.Description),
		Kind:        utf8Safe(a.Kind),
		Available:   a.Available,
		Reason:      utf8Safe(a.Reason),
	}
	for _, c := range a.Capabilities {
		out.Capabilities = append(out.Capabilities, utf8Safe(c))
	}
	return out
}

func agentFromProto(a *pb.Agent) coderclaw.Agent {
	return coderclaw.Agent{
		ID:           a.GetId(),
		Name:         a.GetName(),
		Description:  a.GetDescription(),
		Kind:         a.GetKind(),
		Capabilities: append([]string(nil), a.GetCapabilities()...),
		Available:    a.GetAvailable(),
		Reason:       a.GetReason(),
	}
}

func skillToProto(s coderclaw.Skill) *pb.Skill {
	return &pb.Skill{
		Id:                 utf8Safe(s.ID),
		Description:        utf8Safe(s.Description),
		RequiredPermission: utf8Safe(s.RequiredPermission),
		Dangerous:          s.Dangerous,
		Source:             utf8Safe(s.Source),
	}
}

func skillFromProto(s *pb.Skill) coderclaw.Skill {
	return coderclaw.Skill{
		ID:                 s.GetId(),
		Description:        s.GetDescription(),
		RequiredPermission: s.GetRequiredPermission(),
		Dangerous:          s.GetDangerous(),
		Source:             s.GetSource(),
	}
}

func statusToProto(s coderclaw.NodeStatus) *pb.NodeStatus {
	out := &pb.NodeStatus{
		NodeId:     utf8Safe(s.NodeID),
		Mode:       utf8Safe(s.Mode),
		Version:    utf8Safe(s.Version),
		StartedAt:  timeToProto(s.StartedAt),
		Uptime:     durationpb.New(time.Duration(s.Uptime)),
		QueueDepth: clamp32(s.QueueDepth),
		Running:    clamp32(s.Running),
		Workers:    clamp32(s.Workers),
		Store: &pb.StoreHealth{
			Backend: utf8Safe(s.Store.Backend),
			Ok:      s.Store.OK,
			Error:   utf8Safe(s.Store.Error),
		},
	}
	if len(s.Tasks) > 0 {
		out.Tasks = make(map[string]int32, len(s.Tasks))
		for st, n := range s.Tasks {
			out.Tasks[utf8Safe(string(st))] = clamp32(n)
		}
	}
	return out
}

func statusFromProto(s *pb.NodeStatus) coderclaw.NodeStatus {
	out := coderclaw.NodeStatus{
		NodeID:     s.GetNodeId(),
		Mode:       s.GetMode(),
		Version:    s.GetVersion(),
		StartedAt:  timeFromProto(s.GetStartedAt()),
		Uptime:     coderclaw.Duration(s.GetUptime().AsDuration()),
		QueueDepth: int(s.GetQueueDepth()),
		Running:    int(s.GetRunning()),
		Workers:    int(s.GetWorkers()),
		Store: coderclaw.StoreHealth{
			Backend: s.GetStore().GetBackend(),
			OK:      s.GetStore().GetOk(),
			Error:   s.GetStore().GetError(),
		},
	}
	if len(s.GetTasks()) > 0 {
		out.Tasks = make(map[coderclaw.Status]int, len(s.GetTasks()))
		for st, n := range s.GetTasks() {
			out.Tasks[coderclaw.Status(st)] = int(n)
		}
	}
	return out
}
