package wx

import (
	"context"
	"sync"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
)

// answers hands the messages friends send to the consult calls waiting on them. Mojo's consult
// subscribed to every received message and removed its timer on the first one, whoever sent
// it (Openwx.pm line 479), so another friend speaking first left the call waiting forever;
// here a call waits for its own friend only, and its own deadline always ends it.
type answers struct {
	mu      sync.Mutex
	waiting map[string]map[*answer]struct{} // friend id → the calls waiting on it
}

// answer is one consult call's wait: the first message of its friend, once.
type answer struct {
	friend string
	ch     chan string   // buffered 1: the first answer
	ended  chan struct{} // closed when the login ends: the friend's id names nobody any more
}

func newAnswers() *answers { return &answers{waiting: map[string]map[*answer]struct{}{}} }

// wait registers a call waiting for friend's next message; it is registered before the send,
// so that an answer that comes while the send is still returning is not missed. The caller
// must call done.
func (a *answers) wait(friend string) *answer {
	w := &answer{friend: friend, ch: make(chan string, 1), ended: make(chan struct{})}
	a.mu.Lock()
	defer a.mu.Unlock()
	set := a.waiting[friend]
	if set == nil {
		set = map[*answer]struct{}{}
		a.waiting[friend] = set
	}
	set[w] = struct{}{}
	return w
}

// done forgets a call.
func (a *answers) done(w *answer) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if set := a.waiting[w.friend]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(a.waiting, w.friend)
		}
	}
}

// received gives a message of friend to every call waiting on that friend; each call takes
// the first one only.
func (a *answers) received(friend, content string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	set := a.waiting[friend]
	for w := range set {
		select {
		case w.ch <- content:
		default:
		}
	}
	delete(a.waiting, friend)
}

// endAll ends every wait: the login ended, and with a QR login the ids change, so no answer
// can come under the ids the calls wait on.
func (a *answers) endAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, set := range a.waiting {
		for w := range set {
			close(w.ended)
		}
	}
	clear(a.waiting)
}

// pending counts the calls waiting (tests).
func (a *answers) pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, set := range a.waiting {
		n += len(set)
	}
	return n
}

// consult sends a message to a friend and holds the call until that friend answers (the
// answer's text is the reply) or `timeout` seconds have passed (reply null, reply_status
// "reply timeout"). The send is bounded by DRIVER_TIMEOUT like any send; the wait by the
// timeout alone (at most wx.ConsultMaxTimeout), which the gateway adds to its API_TIMEOUT for
// this route. A send that fails answers at once, with its failure and reply null.
func (w *Platform) consult(ctx context.Context, p events.Params) (any, error) {
	raw, given := p["timeout"]
	timeout, err := wx.ConsultTimeout(raw, given)
	if err != nil {
		return nil, events.ErrBadRequest("%v", err)
	}
	t, m, err := w.resolve(ctx, p, friendTarget)
	if err != nil {
		return asReply(err)
	}
	select {
	case w.consults <- struct{}{}:
		defer func() { <-w.consults }()
	default:
		return nil, events.NewStatus(events.CodeUnavailable, "too many consult calls waiting (CONSULT_MAX %d)", cap(w.consults))
	}
	a := w.answers.wait(t.id)
	defer w.answers.done(a)
	r := w.deliver(ctx, t, m)
	if r.Code != events.CodeOK {
		return &wx.ConsultReply{SendReply: *r}, nil
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case answer := <-a.ch:
		return &wx.ConsultReply{SendReply: *r, Reply: &answer}, nil
	case <-timer.C:
	case <-a.ended:
	case <-w.ctx.Done():
	}
	return &wx.ConsultReply{SendReply: *r, ReplyStatus: wx.ReplyTimeout}, nil
}
