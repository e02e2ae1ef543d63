package reporter

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/logging"
)

// target is somewhere items go: a post_api URL of the reporter's (every account without one of
// its own), one of an account's own, or standard output.
type target interface {
	// consumer names the target: its durable consumer, shared by every replica, or the
	// prefix of its partitions' (consumerNames); metrics, answers and dead letters use it.
	consumer() string
	// String names the target in logs, without secrets.
	String() string
	// filter is what its consumer reads of the stream.
	filter() []string
	// accepts reports whether the item stored on subject is the target's to deliver; the
	// others its consumer reads are acked unposted.
	accepts(subject string) bool
	// post delivers one item, stored on subject; a nil error means delivered.
	post(ctx context.Context, subject string, item []byte, seq uint64, attempt int) (Answer, bool, error)
}

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 1 << 20

// userAgents name openqq to receivers, by platform.
var userAgents = map[string]string{
	events.PlatformQQ: "openqq-reporter/0.1 (Mojo-Webqq Openqq compatible)",
	events.PlatformWX: "openqq-reporter/0.1 (Mojo-Weixin Openwx compatible)",
}

type httpTarget struct {
	r    *Reporter
	url  string
	name string
	// client is the account whose own POST_API url is; "" for a URL of the reporter's, which
	// every account without one of its own shares.
	client string
	// since is when the account's spec was stored: where a new consumer of its starts.
	since time.Time
}

func newHTTPTarget(r *Reporter, u string) *httpTarget {
	sum := sha256.Sum256([]byte(u))
	return &httpTarget{r: r, url: u, name: events.ReporterConsumer(hex.EncodeToString(sum[:6]))}
}

// newAccountTarget is a target of an account's own POST_API: its consumer reads only that
// account's items, named after the account and the URL.
func newAccountTarget(r *Reporter, client, u string, since time.Time) *httpTarget {
	sum := sha256.Sum256([]byte(u))
	return &httpTarget{r: r, url: u, client: client, since: since,
		name: events.ReporterConsumer("c_" + client + "_" + hex.EncodeToString(sum[:6]))}
}

func (t *httpTarget) consumer() string { return t.name }

func (t *httpTarget) String() string {
	if t.client != "" {
		return config.MaskURL(t.url) + " (client " + t.client + ")"
	}
	return config.MaskURL(t.url)
}

func (t *httpTarget) filter() []string {
	if t.client != "" {
		return []string{t.r.subj.ForClient(t.client).ClientEvents()}
	}
	return []string{t.r.subj.Events()}
}

func (t *httpTarget) accepts(subject string) bool {
	if t.client == "" {
		return t.r.sharedAccepts(subject)
	}
	client, ok := t.r.subj.ClientOf(subject)
	return ok && client == t.client && t.r.accountOf(client).wants(t.r.plat, nameOf(subject))
}

// clientOf is the account an item delivered by t is of.
func (t *httpTarget) clientOf(subject string) string {
	if t.client != "" {
		return t.client
	}
	if c, ok := t.r.subj.ClientOf(subject); ok {
		return c
	}
	return events.DefaultClient
}

func (t *httpTarget) post(ctx context.Context, subject string, item []byte, seq uint64, attempt int) (Answer, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, t.r.cfg.PostTimeout)
	defer cancel()
	client := t.clientOf(subject)
	u, err := events.ClientURL(t.url, client)
	if err != nil {
		return Answer{}, false, fmt.Errorf("client %q: %w", client, err)
	}
	b, err := t.r.bodyOf(ctx, item, attempt, t.r.accountOf(client).mediaData)
	if err != nil {
		return Answer{}, false, err
	}
	var signature string
	if s := t.r.cfg.PostSecret; s != "" {
		if signature, err = signBody(ctx, s, b); err != nil {
			return Answer{}, false, err
		}
	}
	rc, err := b.open(ctx)
	if err != nil {
		return Answer{}, false, err
	}
	defer rc.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, rc)
	if err != nil {
		return Answer{}, false, err
	}
	// A known length gives the request a Content-Length, media and all: some receivers read
	// exactly that many bytes and break on chunked bodies.
	req.ContentLength = b.len()
	req.GetBody = func() (io.ReadCloser, error) { return b.open(ctx) }
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgents[t.r.cfg.platform()])
	req.Header.Set(events.HTTPHeaderDelivery, strconv.FormatUint(seq, 10))
	req.Header.Set(events.HTTPHeaderAttempt, strconv.Itoa(attempt))
	req.Header.Set(events.HTTPHeaderReporter, t.r.name)
	req.Header.Set(events.HTTPHeaderClient, client)
	if signature != "" {
		req.Header.Set(events.HTTPHeaderSignature, signature)
	}
	resp, err := t.r.client.Do(req)
	if err != nil {
		return Answer{}, false, config.MaskURLError(err, u)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil && resp.StatusCode/100 == 2 {
		// Delivered: the receiver said 2xx. Only its answer is unreadable.
		return Answer{}, false, nil
	}
	if resp.StatusCode/100 == 3 {
		// Never followed (newHTTPClient): a redirect would carry the item and its signature
		// to another host, or turn into a body-less GET whose 200 would ack an item no
		// receiver got.
		return Answer{}, false, fmt.Errorf("HTTP %d: redirects are not followed (Location %q)",
			resp.StatusCode, logging.Clip(resp.Header.Get("Location"), logging.MaxValue))
	}
	if resp.StatusCode/100 != 2 {
		return Answer{}, false, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	a, ok := ParseAnswer(resp.Header.Get("Content-Type"), body)
	return a, ok, nil
}

// Sign is the X-Signature of a body, as OneBot signs its reports: sha1=<hex HMAC-SHA1>.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

// signBody is Sign of a body that may stream a media: read once to sign, once to post.
func signBody(ctx context.Context, secret string, b *body) (string, error) {
	if b.mediaID == "" {
		return Sign(secret, b.item), nil
	}
	rc, err := b.open(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	m := hmac.New(sha1.New, []byte(secret))
	if _, err := io.Copy(m, rc); err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return "sha1=" + hex.EncodeToString(m.Sum(nil)), nil
}

func newHTTPClient(cfg Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.PostConcurrency
	tr.MaxConnsPerHost = cfg.PostConcurrency * 2
	return &http.Client{
		Transport: tr,
		Timeout:   cfg.PostTimeout,
		// A redirect is the answer itself, and a failed attempt (httpTarget.post).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func checkURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		// url.Parse's error repeats the URL, password and token included: say less.
		return fmt.Errorf("%q: not a valid URL", config.MaskURL(u))
	}
	if p.Scheme != "http" && p.Scheme != "https" || p.Host == "" {
		return fmt.Errorf("%q: want an http:// or https:// URL", config.MaskURL(u))
	}
	return nil
}

// stdoutTarget prints each item as one JSON line (POST_STDOUT).
type stdoutTarget struct {
	r  *Reporter // for media_data
	mu sync.Mutex
	w  io.Writer
}

func newStdoutTarget(w io.Writer) *stdoutTarget {
	if w == nil {
		w = os.Stdout
	}
	return &stdoutTarget{w: w}
}

func (t *stdoutTarget) consumer() string { return events.ReporterConsumer("stdout") }

func (t *stdoutTarget) String() string { return "stdout" }

func (t *stdoutTarget) filter() []string { return []string{t.r.subj.Events()} }

func (t *stdoutTarget) accepts(subject string) bool { return t.r.sharedAccepts(subject) }

func (t *stdoutTarget) post(ctx context.Context, subject string, item []byte, _ uint64, attempt int) (Answer, bool, error) {
	var mediaData bool
	if t.r != nil {
		if c, ok := t.r.subj.ClientOf(subject); ok {
			mediaData = t.r.accountOf(c).mediaData
		}
	}
	b, err := t.r.bodyOf(ctx, item, attempt, mediaData)
	if err != nil {
		return Answer{}, false, err
	}
	if b.mediaID == "" {
		t.mu.Lock()
		defer t.mu.Unlock()
		line := append(bytes.TrimRight(item, "\r\n"), '\n')
		_, err := t.w.Write(line)
		return Answer{}, false, err
	}
	rc, err := b.open(ctx)
	if err != nil {
		return Answer{}, false, err
	}
	defer rc.Close()
	// Whole lines only: a media read that fails half-way must not leave half a line.
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, rc); err != nil {
		return Answer{}, false, err
	}
	buf.WriteByte('\n')
	t.mu.Lock()
	defer t.mu.Unlock()
	_, err = t.w.Write(buf.Bytes())
	return Answer{}, false, err
}
