package engine

import "sync"

// hub wakes stream readers when their task's log grows. A notification
// closes a channel, so the writer never blocks and never waits for a
// reader; readers then read the store at their own pace.
type hub struct {
	mu      sync.Mutex
	tasks   map[string]*watchers
	closed  chan struct{}
	closing sync.Once
}

type watchers struct {
	refs int
	ch   chan struct{}
}

// watcher is one reader's registration.
type watcher struct {
	h  *hub
	id string
}

func newHub() *hub {
	return &hub{tasks: map[string]*watchers{}, closed: make(chan struct{})}
}

func (h *hub) watch(id string) watcher {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.tasks[id]
	if w == nil {
		w = &watchers{ch: make(chan struct{})}
		h.tasks[id] = w
	}
	w.refs++
	return watcher{h: h, id: id}
}

func (h *hub) unwatch(id string, _ watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w := h.tasks[id]; w != nil {
		if w.refs--; w.refs == 0 {
			delete(h.tasks, id)
		}
	}
}

// changed returns a channel closed at the task's next notification.
func (w watcher) changed() <-chan struct{} {
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	return w.h.tasks[w.id].ch
}

func (h *hub) notify(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w := h.tasks[id]; w != nil {
		close(w.ch)
		w.ch = make(chan struct{})
	}
}

// closeAll ends every stream: the engine stopped.
func (h *hub) closeAll() {
	h.closing.Do(func() { close(h.closed) })
}
