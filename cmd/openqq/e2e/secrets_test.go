package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/pkg/infra/proctest"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/poller"
	"github.com/openqq/openqq/services/reporter"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/driver/sim"
)

// leaks lists the secrets that text shows.
func leaks(text string, secrets ...string) []string {
	var out []string
	for _, s := range secrets {
		if strings.Contains(text, s) {
			out = append(out, s)
		}
	}
	return out
}

// natsAuthServer is a NATS server with JetStream on a free port that requires opts' credentials.
func natsAuthServer(t *testing.T, opts *server.Options) string {
	t.Helper()
	opts.Host, opts.Port, opts.NoSigs, opts.NoLog = "127.0.0.1", -1, true, true
	opts.JetStream, opts.StoreDir = true, filepath.Join(t.TempDir(), "js")
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(5 * time.Second) {
		s.Shutdown()
		t.Fatal("nats-server not ready after 5s")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Addr().(*net.TCPAddr).Port))
}

// A run of every service, connected as the binaries connect (natsconn.Connect), with every
// kind of secret configured: NATS user and password (in NATS_URL and in NATS_PASSWORD), a NATS
// token, ACCESS_TOKEN, a POST_API URL with a password and a token in its query, POST_SECRET and
// a POLL_API URL with a key in its query. Calls pass the access token every way (header, query,
// form, JSON) and wrongly; a delivery fails before it succeeds; a connection is refused for a
// wrong password. No secret shows in any log line, at any level.
func TestNoSecretsInLogs(t *testing.T) {
	const (
		natsUser     = "openqq"
		natsPassword = "natsPW-s3cret-a1"
		natsToken    = "natsTOKEN-s3cret-b2"
		wrongPW      = "wrongPW-s3cret-c3"
		accessToken  = "access-s3cret-d4"
		postPassword = "postPW-s3cret-e5"
		postToken    = "postTOKEN-s3cret-f6"
		postSecret   = "hmac-s3cret-g7"
		pollKey      = "pollKEY-s3cret-h8"
	)
	secrets := []string{natsPassword, natsToken, wrongPW, accessToken, postPassword, postToken, postSecret, pollKey}
	var logs proctest.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	addr := natsAuthServer(t, &server.Options{Username: natsUser, Password: natsPassword})
	dial := func(cfg natsconn.Config, name string) *nats.Conn {
		t.Helper()
		nc, err := natsconn.Connect(cfg, name, log)
		if err != nil {
			t.Fatalf("connect %s: %v", name, err)
		}
		t.Cleanup(func() { _ = natsconn.Close(nc, 5*time.Second) })
		return nc
	}
	inURL := natsconn.Config{URL: "nats://" + natsUser + ":" + natsPassword + "@" + addr}
	inFields := natsconn.Config{URL: "nats://" + addr, User: natsUser, Password: natsPassword}
	ncS, ncG := dial(inURL, "openqq-session"), dial(inFields, "openqq-gateway")
	ncR, ncP := dial(inURL, "openqq-reporter"), dial(inFields, "openqq-poller")
	// Refused credentials are logged (as refused) on every attempt.
	wrong := dial(natsconn.Config{URL: "nats://" + natsUser + ":" + wrongPW + "@" + addr}, "openqq-wrong-url")
	wrong2 := dial(natsconn.Config{URL: "nats://" + addr, User: natsUser, Password: wrongPW}, "openqq-wrong-fields")
	// A token server, rightly and wrongly.
	tokAddr := natsAuthServer(t, &server.Options{Authorization: natsToken})
	dial(natsconn.Config{URL: "nats://" + tokAddr, Token: natsToken}, "openqq-token")
	dial(natsconn.Config{URL: "nats://" + natsToken + "@" + tokAddr}, "openqq-token-url")
	dial(natsconn.Config{URL: "nats://" + tokAddr, Token: wrongPW}, "openqq-token-wrong")

	// post_api: the first try of each item fails, then it is delivered; the message is answered.
	var (
		mu    sync.Mutex
		tries = map[string]int{}
	)
	post := proctest.StartReceiver(t, proctest.ReceiverOptions{Respond: func(r *proctest.Request) proctest.Answer {
		b := string(r.Body)
		mu.Lock()
		defer mu.Unlock()
		tries[b]++
		if tries[b] == 1 {
			return proctest.Answer{Status: http.StatusBadGateway}
		}
		if strings.Contains(b, "secret test") && strings.Contains(b, `"receive_message"`) {
			return proctest.Answer{ContentType: "application/json", Body: `{"reply":"ok"}`}
		}
		return proctest.Answer{}
	}})
	postURL := strings.Replace(post.URL, "http://", "http://hook:"+postPassword+"@", 1) + "?token=" + postToken
	poll := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", "/openqq/get_client_info?access_token="+accessToken)
		w.WriteHeader(http.StatusFound)
	}))
	t.Cleanup(poll.Close)

	sess, err := session.New(ncS, session.Config{DriverConfig: &sim.Config{QRCodeDir: t.TempDir()}, ControlDelay: 100 * time.Millisecond}, log)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(ncG, gateway.Config{AccessToken: accessToken, APITimeout: 5 * time.Second}, log)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := reporter.New(ncR, reporter.Config{
		PostAPI: []string{postURL}, PostEvent: true, PostSecret: postSecret,
		PostRetryMin: 20 * time.Millisecond, PostRetryMax: 100 * time.Millisecond, PostTimeout: 2 * time.Second,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := poller.New(ncP, poller.Config{PollAPI: poll.URL + "/poll?key=" + pollKey, PollInterval: 50 * time.Millisecond}, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String() + "/openqq/"
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = sess.Run(ctx) })
	wg.Go(func() { _ = gw.Serve(ctx, ln) })
	wg.Go(func() { _ = rep.Run(ctx) })
	wg.Go(func() { _ = pol.Run(ctx) })
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			wg.Wait()
		}
	}
	t.Cleanup(stop)

	metricsWait(t, "the client running", func() bool { return sess.Ready() == nil })
	client := &http.Client{Timeout: 10 * time.Second}
	call := func(method, u string, body io.Reader, header ...string) int {
		t.Helper()
		req, err := http.NewRequest(method, u, body)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		status int
		method string
		u      string
		body   string
		header []string
	}{
		{200, http.MethodGet, base + "get_user_info", "", []string{"Authorization", "Bearer " + accessToken}},
		{200, http.MethodGet, base + "get_user_info?access_token=" + accessToken, "", nil},
		{200, http.MethodGet, base + "get_client_info", "", []string{"X-Auth-Token", accessToken}},
		{200, http.MethodPost, base + "search_friend", "access_token=" + accessToken + "&uid=456789", []string{"Content-Type", "application/x-www-form-urlencoded"}},
		{200, http.MethodPost, base + "search_group", `{"access_token":"` + accessToken + `","uid":67890}`, []string{"Content-Type", "application/json"}},
		{400, http.MethodGet, base + "get_user_info?access_token=" + accessToken + "&x=%zz", "", nil},
		{400, http.MethodGet, base + "get_user_info?datatype=jsonp&callback=alert(1)&access_token=" + accessToken, "", nil},
		{403, http.MethodGet, base + "no_such_route?access_token=" + accessToken, "", nil},
		{403, http.MethodGet, base + "get_user_info?access_token=" + wrongPW, "", nil},
		{403, http.MethodGet, base + "get_user_info", "", []string{"Authorization", "Bearer " + wrongPW}},
		{200, http.MethodGet, base + "send_friend_message?access_token=" + accessToken + "&uid=456789&content=" + url.QueryEscape("secret test out"), "", nil},
	} {
		if got := call(c.method, c.u, strings.NewReader(c.body), c.header...); got != c.status {
			t.Errorf("%s %s: HTTP %d, want %d", c.method, c.u, got, c.status)
		}
	}
	if _, err := ncP.Request(events.Subjects{}.SimInject(),
		[]byte(`{"type":"group_message","group_id":2617047292,"sender_id":2372835507,"content":"secret test in"}`), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	metricsWait(t, "the message, its answer's report and a few polls", func() bool {
		in, answer := false, false
		for _, r := range post.Requests() {
			if r.Status != http.StatusOK {
				continue // a first try, refused
			}
			b := string(r.Body)
			in = in || strings.Contains(b, "secret test in")
			answer = answer || strings.Contains(b, `"content":"ok"`)
		}
		return in && answer && pol.Cycles() >= 3
	})
	if wrong.IsConnected() || wrong2.IsConnected() {
		t.Error("a wrong password was accepted")
	}
	stop()

	text := logs.String()
	for _, want := range []string{"delivered", "delivery failed, will retry", "nats refused our credentials", "auth failure", "poll command", "answer applied"} {
		if !strings.Contains(text, want) {
			t.Errorf("the run did not log %q: the test does not cover what it should", want)
		}
	}
	if l := leaks(text, secrets...); len(l) > 0 {
		var lines []string
		for _, line := range strings.Split(text, "\n") {
			if len(leaks(line, secrets...)) > 0 {
				lines = append(lines, line)
			}
		}
		t.Errorf("the logs show %q:\n%s", l, strings.Join(lines, "\n"))
	}
}

// A POST_API or POLL_API that cannot be reached: the error of net/http quotes the URL, whose
// query may hold a token.
func TestNoSecretsInLogsUnreachableURLs(t *testing.T) {
	const (
		postToken = "postTOKEN-s3cret-u1"
		pollKey   = "pollKEY-s3cret-u2"
	)
	closed := fmt.Sprintf("127.0.0.1:%d", proctest.MustFreePort(t)) // nothing listens there
	var logs proctest.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := start(t)
	rep, err := reporter.New(e.nc, reporter.Config{
		PostAPI: []string{"http://" + closed + "/post_api?token=" + postToken}, PostEvent: true,
		PostRetryMin: 20 * time.Millisecond, PostRetryMax: 50 * time.Millisecond, PostMaxDeliver: 2,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := poller.New(e.nc, poller.Config{PollAPI: "http://" + closed + "/poll?key=" + pollKey, PollInterval: 20 * time.Millisecond}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = rep.Run(ctx) })
	wg.Go(func() { _ = pol.Run(ctx) })
	metricsWait(t, "failed deliveries and polls", func() bool {
		text := logs.String()
		return strings.Contains(text, "dead-lettered") && strings.Contains(text, "poll failed")
	})
	cancel()
	wg.Wait()
	if l := leaks(logs.String(), postToken, pollKey); len(l) > 0 {
		t.Fatalf("the logs show %q of an unreachable POST_API/POLL_API URL's query", l)
	}
}
