package reporter

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
)

// A post_api that answers with a redirect has failed that attempt: the reporter never
// follows it (a 307 would re-POST the item and its signature to another host, a 302 would
// turn into a GET whose 200 acked an item nobody got), retries, and dead-letters the item
// with the Location in the error.
func TestRedirectIsAFailure(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusFound} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			s := startSystem(t)
			elsewhere := newReceiver(t, nil)
			long := elsewhere.url() + "?" + strings.Repeat("x", 5000)
			rc := newReceiver(t, func(post) answer { return answer{status: status, header: http.Header{"Location": {long}}} })
			cfg := fastConfig(rc.url())
			cfg.PostEvent = false // the message alone
			cfg.PostMaxDeliver = 3
			cfg.PostSecret = "sig"
			runReporter(t, s.srv, cfg)
			s.mustInject(t, events.Injection{Type: events.GroupMessage, GroupID: adminGroupID, SenderID: plainMemberID, Content: "hello"})
			var dl []*jetstream.RawStreamMsg
			waitUntilf(t, 15*time.Second, func() string { return fmt.Sprintf("one dead letter, got %d", len(dl)) }, func() bool {
				dl = s.deadLetters(t)
				return len(dl) == 1
			})
			if n := len(rc.all()); n != 3 {
				t.Errorf("%d attempts, want POST_MAX_DELIVER=3", n)
			}
			if got := elsewhere.all(); len(got) != 0 {
				t.Errorf("the redirect was followed: %d requests elsewhere (first %s)", len(got), got[0].Header)
			}
			e := dl[0].Header.Get(HeaderDLError)
			if !strings.Contains(e, fmt.Sprint(status)) || !strings.Contains(e, elsewhere.url()) {
				t.Errorf("dead letter error %q: want the status and the Location", e)
			}
			if len(e) > 400 {
				t.Errorf("dead letter error of %d bytes: the Location is not cut", len(e))
			}
		})
	}
}
