package kafka

import (
	"sync"
	"sync/atomic"
)

// inFlight keeps a librdkafka handle alive while calls use it. confluent-
// kafka-go's Close destroys the handle at once, under any call still
// running on it, and some calls outlive their caller: Admin.Topics leaves
// GetMetadata running when its ctx ends, until the request's own timeout.
// Every call into the handle is bracketed by enter and leave; shut refuses
// new calls and waits for those in flight, so that the handle is destroyed
// only after the last of them returned.
type inFlight struct {
	mu     sync.Mutex // guards closed, and orders calls.Add before calls.Wait
	closed bool
	calls  sync.WaitGroup
	n      atomic.Int32 // calls in flight, for tests
	once   sync.Once    // the handle's destruction
	// atDestroy is n when destroy ran (0 unless a call outlived shut's
	// wait), for tests.
	atDestroy atomic.Int32
}

// enter reports whether the handle may be used, and if so counts a call
// in flight until leave.
func (f *inFlight) enter() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.calls.Add(1)
	f.n.Add(1)
	return true
}

// leave ends a call entered with enter.
func (f *inFlight) leave() {
	f.n.Add(-1)
	f.calls.Done()
}

// shut refuses new calls, waits for the calls in flight and then runs
// destroy, once: a second shut, concurrent or later, waits for the first.
func (f *inFlight) shut(destroy func()) {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.once.Do(func() {
		f.calls.Wait()
		f.atDestroy.Store(f.n.Load())
		destroy()
	})
}
