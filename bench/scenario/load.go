package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
)

// NewClient is an HTTP client that keeps up to conns connections open to one host.
func NewClient(conns int) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * conns,
		MaxIdleConnsPerHost: 2 * conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}
}

// Check accepts or refuses a reply.
type Check func(status int, body []byte) bool

// status200 accepts any 200.
func status200(status int, _ []byte) bool { return status == http.StatusOK }

// sameLength accepts a 200 of n bytes: the reply of a fixed route.
func sameLength(n int) Check {
	return func(status int, body []byte) bool { return status == http.StatusOK && len(body) == n }
}

// codeOK accepts a 200 whose JSON starts with code 0 (a send's reply).
func codeOK(status int, body []byte) bool {
	return status == http.StatusOK && bytes.HasPrefix(body, []byte(`{"code":0,`))
}

// A Target is one kind of call a load loop makes: an HTTP GET, an HTTP POST of a body made
// once, or a NATS request. Call makes one and reads the whole reply into buf; its status is
// HTTP's (a NATS reply is 200 unless it carries a service error code).
type Target interface {
	Call(ctx context.Context, buf *bytes.Buffer) (int, error)
}

// Get is a GET of URL.
type Get struct {
	Client *http.Client
	URL    string
}

// Call makes one GET.
func (g Get) Call(ctx context.Context, buf *bytes.Buffer) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.URL, nil)
	if err != nil {
		return 0, err
	}
	return readReply(g.Client, req, buf)
}

// Post is a POST of Body (the same bytes every time, e.g. a multipart upload) to URL.
type Post struct {
	Client      *http.Client
	URL         string
	ContentType string
	Body        []byte
}

// Call makes one POST.
func (p Post) Call(ctx context.Context, buf *bytes.Buffer) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(p.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", p.ContentType)
	return readReply(p.Client, req, buf)
}

func readReply(c *http.Client, req *http.Request, buf *bytes.Buffer) (int, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	return resp.StatusCode, err
}

// Request is a NATS request of Data on Subject, as the gateway makes one.
type Request struct {
	Conn    *nats.Conn
	Subject string
	Data    []byte
}

// Call makes one request.
func (r Request) Call(ctx context.Context, buf *bytes.Buffer) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := r.Conn.RequestWithContext(ctx, r.Subject, r.Data)
	if err != nil {
		return 0, err
	}
	buf.Reset()
	buf.Write(m.Data)
	if code := m.Header.Get(events.HeaderServiceErrorCode); code != "" {
		st, _ := strconv.Atoi(code)
		return max(st, http.StatusInternalServerError), nil
	}
	return http.StatusOK, nil
}

// gets are GETs of urls by c.
func gets(c *http.Client, urls []string) []Target {
	out := make([]Target, len(urls))
	for i, u := range urls {
		out[i] = Get{Client: c, URL: u}
	}
	return out
}

// Fetch GETs url and returns the status, the body and the reply headers.
func Fetch(ctx context.Context, c *http.Client, url string) (int, []byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header, err
}

// Throughput is a closed-loop measurement.
type Throughput struct {
	Conns    int     `json:"conns"`
	Seconds  float64 `json:"seconds"`
	Requests int64   `json:"requests"` // accepted replies within the window
	Errors   int64   `json:"errors"`   // failed or refused replies within the window, or just after it
	PerSec   float64 `json:"req_per_sec"`
	// FirstError says what went wrong first, if anything did.
	FirstError string `json:"first_error,omitempty"`
	// Rounds are the rates of the interleaved rounds this one sums up.
	Rounds []float64 `json:"rounds_req_per_sec,omitempty"`
}

// ClosedLoop runs conns workers, each sending its next GET of url as soon as its last one is
// answered, for warmup (not counted) and then dur. It counts what completes inside the window.
func ClosedLoop(ctx context.Context, c *http.Client, url string, conns int, warmup, dur time.Duration, check Check) Throughput {
	return ClosedLoopOf(ctx, Get{Client: c, URL: url}, conns, warmup, dur, check)
}

// ClosedLoopOf is ClosedLoop with any target.
func ClosedLoopOf(ctx context.Context, t Target, conns int, warmup, dur time.Duration, check Check) Throughput {
	var (
		ok, bad   atomic.Int64
		measuring atomic.Bool
		firstErr  atomic.Value
		wg        sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	for range conns {
		wg.Go(func() {
			var buf bytes.Buffer
			for {
				select {
				case <-stop:
					return
				default:
				}
				status, err := t.Call(ctx, &buf)
				good := err == nil && check(status, buf.Bytes())
				if !measuring.Load() {
					continue
				}
				select {
				case <-stop:
					// Finished after the window: not counted, unless it failed (a reply that
					// took until a time-out must not go unseen).
					if !good && ctx.Err() == nil {
						bad.Add(1)
						if err == nil {
							err = fmt.Errorf("HTTP %d, %d bytes: %.200s", status, buf.Len(), buf.String())
						}
						firstErr.CompareAndSwap(nil, err.Error())
					}
					return
				default:
				}
				if good {
					ok.Add(1)
				} else {
					bad.Add(1)
					if err == nil {
						err = fmt.Errorf("HTTP %d, %d bytes: %.200s", status, buf.Len(), buf.String())
					}
					firstErr.CompareAndSwap(nil, err.Error())
					if ctx.Err() == nil {
						time.Sleep(time.Millisecond) // a dead server should not spin the loop
					}
				}
			}
		})
	}
	sleepCtx(ctx, warmup)
	measuring.Store(true)
	start := time.Now()
	sleepCtx(ctx, dur)
	close(stop)
	elapsed := time.Since(start)
	n := ok.Load()
	// Requests still in flight finish (a failure among them counts), within a bound.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cancel()
		<-done
	}
	e := bad.Load()
	res := Throughput{Conns: conns, Seconds: elapsed.Seconds(), Requests: n, Errors: e, PerSec: float64(n) / elapsed.Seconds()}
	if v, ok := firstErr.Load().(string); ok {
		res.FirstError = v
	}
	return res
}

// Latency is an open-loop measurement: requests at a fixed rate, each timed from the moment it
// was due (so a stall counts against every request it delays).
type Latency struct {
	Rate     float64 `json:"rate"`
	Seconds  float64 `json:"seconds"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	P50ms    float64 `json:"p50_ms"`
	P90ms    float64 `json:"p90_ms"`
	P99ms    float64 `json:"p99_ms"`
	P999ms   float64 `json:"p999_ms"`
	MaxMs    float64 `json:"max_ms"`
	// LagMs is how late the generator sent its latest request (its own delay).
	LagMs      float64 `json:"generator_max_lag_ms"`
	FirstError string  `json:"first_error,omitempty"`
	// RoundsP99ms are the p99 of each interleaved round.
	RoundsP99ms []float64 `json:"rounds_p99_ms,omitempty"`
}

// OpenLoop sends rate requests per second for warmup (not recorded) and then dur, each on its
// own goroutine at its due time, and computes the percentiles exactly from every latency.
func OpenLoop(ctx context.Context, c *http.Client, url string, rate float64, warmup, dur time.Duration, check Check) Latency {
	var o openRun
	o.run(ctx, Get{Client: c, URL: url}, rate, warmup, dur, check)
	return o.summary(rate)
}

// openRun collects the latencies of one or more open-loop runs.
type openRun struct {
	samples  []time.Duration
	requests int
	errors   int
	seconds  float64
	lag      time.Duration
	firstErr string
	rounds   []float64 // p99 of each run, ms
}

func (o *openRun) run(ctx context.Context, t Target, rate float64, warmup, dur time.Duration, check Check) {
	interval := time.Duration(float64(time.Second) / rate)
	nWarm := int(warmup / interval)
	n := int(dur / interval)
	total := nWarm + n
	lat := make([]time.Duration, total)
	good := make([]bool, total)
	var (
		wg       sync.WaitGroup
		firstErr atomic.Value
	)
	bufs := sync.Pool{New: func() any { return new(bytes.Buffer) }}
	start := time.Now().Add(10 * time.Millisecond)
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		} else {
			o.lag = max(o.lag, -d)
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			buf := bufs.Get().(*bytes.Buffer)
			defer bufs.Put(buf)
			status, err := t.Call(ctx, buf)
			lat[i] = time.Since(due)
			good[i] = err == nil && check(status, buf.Bytes())
			if !good[i] {
				if err == nil {
					err = fmt.Errorf("HTTP %d, %d bytes: %.200s", status, buf.Len(), buf.String())
				}
				firstErr.CompareAndSwap(nil, err.Error())
			}
		})
	}
	wg.Wait()
	var mine []time.Duration
	for i := nWarm; i < total; i++ {
		if good[i] {
			mine = append(mine, lat[i])
		} else {
			o.errors++
		}
	}
	slices.Sort(mine)
	o.rounds = append(o.rounds, ms(Percentile(mine, 0.99)))
	o.samples = append(o.samples, mine...)
	o.requests += n
	o.seconds += dur.Seconds()
	if v, ok := firstErr.Load().(string); ok && o.firstErr == "" {
		o.firstErr = v
	}
}

func (o *openRun) summary(rate float64) Latency {
	l := Latency{Rate: rate, Seconds: o.seconds, Requests: o.requests, Errors: o.errors, LagMs: ms(o.lag), FirstError: o.firstErr}
	if len(o.rounds) > 1 {
		l.RoundsP99ms = o.rounds
	}
	if s := o.samples; len(s) > 0 {
		slices.Sort(s)
		l.P50ms, l.P90ms = ms(Percentile(s, 0.50)), ms(Percentile(s, 0.90))
		l.P99ms, l.P999ms = ms(Percentile(s, 0.99)), ms(Percentile(s, 0.999))
		l.MaxMs = ms(s[len(s)-1])
	}
	return l
}

// Interleaved measures several targets in turns, rounds times each, so that a disturbance of the
// machine (another process, a GC of the load generator) falls on all of them alike. Each round
// warms up for warmup/rounds, then measures for dur/rounds.
type Interleaved struct {
	Client *http.Client
	Rounds int
	Warmup time.Duration
	Dur    time.Duration
}

// Closed runs ClosedLoop on each url in turns and sums the rounds of each.
func (iv Interleaved) Closed(ctx context.Context, urls []string, conns int, check Check) []Throughput {
	return iv.ClosedOf(ctx, gets(iv.Client, urls), conns, check)
}

// ClosedOf is Closed with any targets.
func (iv Interleaved) ClosedOf(ctx context.Context, targets []Target, conns int, check Check) []Throughput {
	rounds := max(iv.Rounds, 1)
	out := make([]Throughput, len(targets))
	for range rounds {
		for i, u := range targets {
			t := ClosedLoopOf(ctx, u, conns, iv.Warmup/time.Duration(rounds), iv.Dur/time.Duration(rounds), check)
			o := &out[i]
			o.Conns = conns
			o.Seconds += t.Seconds
			o.Requests += t.Requests
			o.Errors += t.Errors
			o.Rounds = append(o.Rounds, t.PerSec)
			if o.FirstError == "" {
				o.FirstError = t.FirstError
			}
		}
	}
	for i := range out {
		if out[i].Seconds > 0 {
			out[i].PerSec = float64(out[i].Requests) / out[i].Seconds
		}
		if rounds == 1 {
			out[i].Rounds = nil
		}
	}
	return out
}

// Open runs the open loop on each url in turns and computes each one's percentiles from all of
// its rounds.
func (iv Interleaved) Open(ctx context.Context, urls []string, rate float64, check Check) []Latency {
	return iv.OpenOf(ctx, gets(iv.Client, urls), rate, check)
}

// OpenOf is Open with any targets.
func (iv Interleaved) OpenOf(ctx context.Context, targets []Target, rate float64, check Check) []Latency {
	rounds := max(iv.Rounds, 1)
	runs := make([]openRun, len(targets))
	for range rounds {
		for i, u := range targets {
			runs[i].run(ctx, u, rate, iv.Warmup/time.Duration(rounds), iv.Dur/time.Duration(rounds), check)
		}
	}
	out := make([]Latency, len(targets))
	for i := range runs {
		out[i] = runs[i].summary(rate)
	}
	return out
}

// Percentile is the q-quantile of sorted samples: the smallest sample with at least q of the
// samples at or below it.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// ---- readiness ----

// pollHTTP GETs url until check accepts the reply, p ends, or timeout passes.
func pollHTTP(ctx context.Context, url string, timeout time.Duration, p *Proc, check Check) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		status, body, _, err := Fetch(ctx, c, url)
		if err == nil && check(status, body) {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("HTTP %d: %.200s", status, body)
		}
		if p != nil {
			if ended, perr := p.Exited(); ended {
				return fmt.Errorf("%s ended (%v) before %s answered; log:\n%s", p.Name, perr, url, p.Tail(3000))
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			msg := ""
			if p != nil {
				msg = "; log:\n" + p.Tail(3000)
			}
			return fmt.Errorf("%s not ready after %s: %s%s", url, timeout, last, msg)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// userInfoReady accepts get_user_info's reply once the client is running: the user object.
func userInfoReady(status int, body []byte) bool {
	return status == http.StatusOK && bytes.Contains(body, []byte(`"account"`))
}

func waitAPI(ctx context.Context, s *System, timeout time.Duration) error {
	var main *Proc
	for _, p := range s.procs() {
		if ended, _ := p.Exited(); ended {
			return fmt.Errorf("%s ended; log:\n%s", p.Name, p.Tail(3000))
		}
		main = p
	}
	ready := s.Ready
	if ready == "" {
		ready = events.APIPath(events.RouteGetUserInfo)
	}
	return pollHTTP(ctx, s.API+ready, timeout, main, userInfoReady)
}

// waitSessionNATS asks get_user_info over NATS until the session answers with the user.
func waitSessionNATS(ctx context.Context, s *System, timeout time.Duration) error {
	nc, err := nats.Connect(s.NATS, nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	defer nc.Close()
	qq := client.New(nc, client.WithTimeout(time.Second))
	deadline := time.Now().Add(timeout)
	for {
		_, err := qq.GetUserInfo(ctx)
		if err == nil {
			return nil
		}
		if ended, perr := s.Main.Exited(); ended {
			return fmt.Errorf("%s ended (%v); log:\n%s", s.Main.Name, perr, s.Main.Tail(3000))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.Join(errors.New("session not ready over NATS"), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
