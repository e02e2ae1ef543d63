package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
)

// The Openwx rows: the QQ rows' loads (measure) on a WeChat account, against the same kinds of
// baseline, and what the QQ rows have no counterpart of: a 1 MB image sent, and the memory a
// stream of such sends takes.

const (
	pathWxSmall   = "Openwx, small reply"
	pathWxDurable = "Openwx, durable send"
	pathWxNATS    = "Openwx, NATS request-reply"
	pathWxMedia   = "Openwx, image send"
	pathWxMemory  = "Openwx, memory"
)

// wxSessionEnv makes openqq-session a WeChat account (the simulated one).
func (h *Harness) wxSessionEnv() map[string]string {
	return map[string]string{"PLATFORM": wx.Prefix, "SUBJECT_PREFIX": wx.Prefix, "WX_SIM_QRCODE_DIR": h.Dir("wx-qrcode")}
}

// wxSystems starts the all-in-one (whose second account is WeChat's) and the multi-process
// system with a WeChat session, and waits until both answer /openwx/get_user_info.
func (h *Harness) wxSystems(ctx context.Context) (aio, multi *System, err error) {
	if aio, err = h.AllInOne(ctx, map[string]string{"WX_ENABLED": "true", "WX_SIM_QRCODE_DIR": h.Dir("wx-qrcode")}); err != nil {
		return nil, nil, err
	}
	aio.Ready = wx.APIPath(wx.RouteGetUserInfo)
	if err := waitAPI(ctx, aio, 30*time.Second); err != nil {
		aio.Stop()
		return nil, nil, fmt.Errorf("the all-in-one's WeChat account: %w", err)
	}
	if multi, err = h.Cluster(ctx, true, h.wxSessionEnv()); err != nil {
		aio.Stop()
		return nil, nil, err
	}
	return aio, multi, nil
}

// wxFriend is a friend of a system's WeChat account to send to: a person (not 小冰, who
// answers every message, nor an official or system account). Its id is the system's own: ids
// are made again at every QR login.
func wxFriend(ctx context.Context, s *System) (string, error) {
	status, body, _, err := Fetch(ctx, NewClient(1), s.API+wx.APIPath(wx.RouteGetFriendInfo))
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("get_friend_info: HTTP %d: %.300s", status, body)
	}
	var friends []wx.Friend
	if err := json.Unmarshal(body, &friends); err != nil {
		return "", fmt.Errorf("get_friend_info: %w: %.300s", err, body)
	}
	for _, f := range friends {
		if f.Category == wx.CategoryFriend && f.Account != "ms-xiaoice" && strings.HasPrefix(f.ID, "@") {
			return f.ID, nil
		}
	}
	return "", fmt.Errorf("get_friend_info: no friend to send to among %d", len(friends))
}

// sendTextQuery is a text send to friend id.
func sendTextQuery(id string) string {
	return wx.APIPath(wx.RouteSendFriendMessage) + "?id=" + url.QueryEscape(id) + "&content=bench"
}

// WxAPI: /openwx/get_friend_info and /openwx/send_friend_message (text) through the gateway of
// the all-in-one and of the multi-process system, as the QQ rows measure get_user_info and
// send_friend_message: against a bare handler serving the same bytes, the send also against the
// durable-send handler; and get_friend_info asked of the session over NATS against a bare NATS
// responder answering the same bytes on the same server.
func (h *Harness) WxAPI(ctx context.Context) []Row {
	rows, err := h.wxAPI(ctx)
	if err != nil {
		rows = append(rows, errorRow(pathWxSmall, "/openwx/get_friend_info, /openwx/send_friend_message", err))
	}
	return rows
}

func (h *Harness) wxAPI(ctx context.Context) ([]Row, error) {
	cfg := h.Cfg
	h.logf("Openwx API: starting the all-in-one and the multi-process system")
	aio, multi, err := h.wxSystems(ctx)
	if err != nil {
		return nil, err
	}
	defer aio.Stop()
	defer multi.Stop()
	aioFriend, err := wxFriend(ctx, aio)
	if err != nil {
		return nil, err
	}
	multiFriend, err := wxFriend(ctx, multi)
	if err != nil {
		return nil, err
	}
	infoQ := wx.APIPath(wx.RouteGetFriendInfo)
	info, err := capture(ctx, aio.API, infoQ)
	if err != nil {
		return nil, err
	}
	sendPath := wx.APIPath(wx.RouteSendFriendMessage)
	sent, err := capture(ctx, aio.API, sendTextQuery(aioFriend))
	if err != nil {
		return nil, err
	}
	bare, bareURL, err := h.Bare(ctx, map[string]Reply{infoQ: info, sendPath: sent})
	if err != nil {
		return nil, err
	}
	defer bare.Stop()
	dur, durURL, err := h.DurableBare(ctx, sendPath, sent)
	if err != nil {
		return nil, err
	}
	defer dur.Stop()

	client := NewClient(cfg.Conns)
	iv := Interleaved{Client: client, Rounds: cfg.Rounds, Warmup: cfg.Warmup, Dur: cfg.ThroughputDur}
	get := func(base, q string) Target { return Get{Client: client, URL: base + q} }
	var rows []Row
	rows = append(rows, h.measure(ctx, iv, load{
		path: pathWxSmall, what: infoQ, check: sameLength(len(info.Body)),
		bases: []baseline{{get(bareURL, infoQ), "bare handler"}},
		systems: []measured{
			{"all-in-one", get(aio.API, infoQ), []float64{0.5}},
			{"multi-process", get(multi.API, infoQ), []float64{0.35}},
		},
		latency: true, maxP99ms: 5,
	})...)
	sendQ := sendPath + "?content=bench"
	rows = append(rows, h.measure(ctx, iv, load{
		path: pathWxSmall, what: sendPath + " (text)", check: codeOK,
		bases: []baseline{{get(bareURL, sendQ), "bare handler"}},
		systems: []measured{
			{"all-in-one", get(aio.API, sendTextQuery(aioFriend)), []float64{0.5}},
			{"multi-process", get(multi.API, sendTextQuery(multiFriend)), []float64{0.35}},
		},
		latency: true, maxP99ms: 5,
	})...)
	rows = append(rows, h.measure(ctx, iv, load{
		path: pathWxDurable, what: sendPath + " (text)", check: codeOK,
		bases: []baseline{{get(durURL, sendQ), "durable-send handler"}},
		systems: []measured{
			{"all-in-one", get(aio.API, sendTextQuery(aioFriend)), []float64{0.7}},
			{"multi-process", get(multi.API, sendTextQuery(multiFriend)), []float64{0.7}},
		},
		latency: true,
	})...)

	// Over NATS: the session's micro service against a bare responder, both asked on the
	// multi-process system's nats-server, each over TCP from a process of its own.
	nc, err := nats.Connect(multi.NATS, nats.Name("bench-requester"))
	if err != nil {
		return rows, err
	}
	defer nc.Close()
	subj := events.Subjects{Prefix: wx.Prefix}.API(wx.RouteGetFriendInfo)
	ask := Request{Conn: nc, Subject: subj, Data: []byte(`{}`)}
	var buf bytes.Buffer
	if st, err := ask.Call(ctx, &buf); err != nil || st != http.StatusOK {
		return rows, fmt.Errorf("%s over NATS: %d %v: %.300s", subj, st, err, buf.Bytes())
	}
	natsInfo := bytes.Clone(buf.Bytes())
	respSubj := events.Subjects{Prefix: "bench"}.API(wx.RouteGetFriendInfo)
	resp, err := h.NATSReply(ctx, multi.NATS, respSubj, natsInfo)
	if err != nil {
		return rows, err
	}
	defer resp.Stop()
	rows = append(rows, h.measure(ctx, iv, load{
		path: pathWxNATS, what: subj, check: sameLength(len(natsInfo)),
		bases: []baseline{{Request{Conn: nc, Subject: respSubj, Data: ask.Data}, "bare NATS responder"}},
		systems: []measured{
			{"openqq-session (multi-process)", ask, []float64{0.5}},
		},
		latency: true,
	})...)

	if err := aio.Crashed(); err != nil {
		return rows, err
	}
	if err := multi.Crashed(); err != nil {
		return rows, err
	}
	h.noteProblems(rows, aio, multi)
	return rows, nil
}

// image is size bytes that the media store takes for a JPEG image (its magic, then noise that
// no layer can compress).
func image(size int) []byte {
	b := make([]byte, size)
	r := rand.NewChaCha8([32]byte{'o', 'p', 'e', 'n', 'w', 'x'})
	_, _ = r.Read(b)
	copy(b, []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00})
	return b
}

// multipartSend is a multipart body of fields and the file part "media" (bench.jpg), as a bot
// uploads a media with its call; and its Content-Type.
func multipartSend(fields map[string]string, img []byte) ([]byte, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	hdr := textproto.MIMEHeader{}
	hdr.Set("Content-Disposition", `form-data; name="media"; filename="bench.jpg"`)
	hdr.Set("Content-Type", "image/jpeg")
	p, _ := w.CreatePart(hdr)
	_, _ = p.Write(img)
	_ = w.Close()
	return b.Bytes(), w.FormDataContentType()
}

// post POSTs a body once and keeps its reply.
func post(ctx context.Context, p Post) (Reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(p.Body))
	if err != nil {
		return Reply{}, err
	}
	req.Header.Set("Content-Type", p.ContentType)
	resp, err := p.Client.Do(req)
	if err != nil {
		return Reply{}, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return Reply{}, err
	}
	if resp.StatusCode != http.StatusOK || !codeOK(resp.StatusCode, buf.Bytes()) {
		return Reply{}, fmt.Errorf("POST %s: HTTP %d: %.300s", p.URL, resp.StatusCode, buf.Bytes())
	}
	return Reply{Header: resp.Header, Body: buf.Bytes()}, nil
}

// uploadImage stores img through a system's upload_media and returns its media_id.
func uploadImage(ctx context.Context, c *http.Client, s *System, img []byte) (string, error) {
	body, ct := multipartSend(nil, img)
	rep, err := post(ctx, Post{Client: c, URL: s.API + wx.APIPath(wx.RouteUploadMedia), ContentType: ct, Body: body})
	if err != nil {
		return "", err
	}
	var up wx.UploadReply
	if err := json.Unmarshal(rep.Body, &up); err != nil || up.ID == "" {
		return "", fmt.Errorf("upload_media: no media_id (%v): %.300s", err, rep.Body)
	}
	return up.ID, nil
}

// sizeText says a media size: "1 MB", "64 KB".
func sizeText(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d KB", n>>10)
}

// WxMedia: an image of MediaBytes sent to a friend through /openwx/send_friend_message, as a
// multipart upload with each send, and by the media_id of an image uploaded before; against a
// bare handler that reads the same upload and answers the same bytes, and a handler that
// streams the upload into a JetStream object store (the least a media store costs).
func (h *Harness) WxMedia(ctx context.Context) []Row {
	rows, err := h.wxMedia(ctx)
	if err != nil {
		rows = append(rows, errorRow(pathWxMedia, "send_friend_message with a "+sizeText(h.Cfg.MediaBytes)+" image", err))
	}
	return rows
}

func (h *Harness) wxMedia(ctx context.Context) ([]Row, error) {
	cfg := h.Cfg
	h.logf("Openwx media: starting the all-in-one and the multi-process system")
	aio, multi, err := h.wxSystems(ctx)
	if err != nil {
		return nil, err
	}
	defer aio.Stop()
	defer multi.Stop()
	client := NewClient(cfg.MediaConns)
	img := image(cfg.MediaBytes)
	sendPath := wx.APIPath(wx.RouteSendFriendMessage)
	multipartTo := func(s *System) (Post, error) {
		id, err := wxFriend(ctx, s)
		if err != nil {
			return Post{}, err
		}
		body, ct := multipartSend(map[string]string{"id": id}, img)
		return Post{Client: client, URL: s.API + sendPath, ContentType: ct, Body: body}, nil
	}
	byIDTo := func(s *System) (Target, error) {
		id, err := wxFriend(ctx, s)
		if err != nil {
			return nil, err
		}
		mid, err := uploadImage(ctx, client, s, img)
		if err != nil {
			return nil, err
		}
		return Get{Client: client, URL: s.API + sendPath + "?id=" + url.QueryEscape(id) + "&media_id=" + url.QueryEscape(mid)}, nil
	}
	aioPost, err := multipartTo(aio)
	if err != nil {
		return nil, err
	}
	multiPost, err := multipartTo(multi)
	if err != nil {
		return nil, err
	}
	aioByID, err := byIDTo(aio)
	if err != nil {
		return nil, err
	}
	multiByID, err := byIDTo(multi)
	if err != nil {
		return nil, err
	}
	sent, err := post(ctx, aioPost)
	if err != nil {
		return nil, err
	}
	bare, bareURL, err := h.Bare(ctx, map[string]Reply{sendPath: sent})
	if err != nil {
		return nil, err
	}
	defer bare.Stop()
	obj, objURL, err := h.ObjectBare(ctx, sendPath, sent)
	if err != nil {
		return nil, err
	}
	defer obj.Stop()
	onto := func(base string) Target { p := aioPost; p.URL = base + sendPath; return p }
	bases := []baseline{{onto(bareURL), "bare handler reading the upload"}, {onto(objURL), "object store put of the upload"}}

	iv := Interleaved{Client: client, Rounds: cfg.Rounds, Warmup: min(cfg.Warmup, time.Second), Dur: cfg.MediaDur}
	size := sizeText(cfg.MediaBytes)
	perReq := float64(cfg.MediaBytes) / (1 << 20)
	var rows []Row
	// The multipart send does what the object store baseline does (the gateway streams the
	// upload into the store), then the send: the session finds the media, the driver reads it
	// back, the report is stored. Expected: half the baseline's sends.
	rows = append(rows, h.measure(ctx, iv, load{
		path: pathWxMedia, what: sendPath + ", " + size + " image as a multipart upload", check: codeOK,
		bases: bases, conns: cfg.MediaConns, perReq: perReq, perReqUnit: "MB/s",
		systems: []measured{
			{"all-in-one", aioPost, []float64{0, 0.5}},
			{"multi-process", multiPost, []float64{0, 0.5}},
		},
	})...)
	// By media_id the image does not cross HTTP: the driver reads it from the store, which
	// should cost no more than the baseline's put.
	rows = append(rows, h.measure(ctx, iv, load{
		path: pathWxMedia, what: sendPath + ", " + size + " image by media_id", check: codeOK,
		bases: bases[1:], conns: cfg.MediaConns, perReq: perReq, perReqUnit: "MB/s",
		systems: []measured{
			{"all-in-one", aioByID, []float64{0.8}},
			{"multi-process", multiByID, []float64{0.8}},
		},
	})...)
	if err := aio.Crashed(); err != nil {
		return rows, err
	}
	if err := multi.Crashed(); err != nil {
		return rows, err
	}
	h.noteProblems(rows, aio, multi)
	return rows, nil
}

// sendAll makes n calls of t over conns connections; it returns how many failed and the first
// failure.
func sendAll(ctx context.Context, t Target, n, conns int, check Check) (int64, string) {
	var (
		next, bad atomic.Int64
		first     atomic.Value
		wg        sync.WaitGroup
	)
	for range conns {
		wg.Go(func() {
			var buf bytes.Buffer
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				st, err := t.Call(ctx, &buf)
				if err == nil && check(st, buf.Bytes()) {
					continue
				}
				bad.Add(1)
				if err == nil {
					err = fmt.Errorf("HTTP %d: %.200s", st, buf.Bytes())
				}
				first.CompareAndSwap(nil, err.Error())
			}
		})
	}
	wg.Wait()
	s, _ := first.Load().(string)
	return bad.Load(), s
}

// WxMemory: MediaSends images of MediaBytes (100 MB in the full pass) sent as multipart
// uploads over MediaConns connections to each system, and the peak RSS of the process holding
// the WeChat session (openqq-session, and the all-in-one), and of the gateway, against the same
// process idle just before. The growth, in media sizes per send in flight, is how many times a
// media is held whole: it must stay a small number, whatever the total sent.
func (h *Harness) WxMemory(ctx context.Context) []Row {
	rows, err := h.wxMemory(ctx)
	if err != nil {
		rows = append(rows, errorRow(pathWxMemory, "RSS while media is sent", err))
	}
	return rows
}

func (h *Harness) wxMemory(ctx context.Context) ([]Row, error) {
	cfg := h.Cfg
	h.logf("Openwx memory: starting the all-in-one and the multi-process system")
	aio, multi, err := h.wxSystems(ctx)
	if err != nil {
		return nil, err
	}
	defer aio.Stop()
	defer multi.Stop()
	client := NewClient(cfg.MediaConns)
	img := image(cfg.MediaBytes)
	var gw *Proc
	for _, p := range multi.procs() {
		if p.Name == "openqq-gateway" {
			gw = p
		}
	}
	if gw == nil {
		return nil, errors.New("the multi-process system has no gateway")
	}
	total := fmt.Sprintf("%d × %s (%s MB)", cfg.MediaSends, sizeText(cfg.MediaBytes), num(float64(cfg.MediaSends)*float64(cfg.MediaBytes)/(1<<20)))
	inFlight := float64(cfg.MediaBytes) * float64(cfg.MediaConns)

	type watched struct {
		what   string
		p      *Proc
		target float64 // most media sizes per send in flight; 0: none
	}
	var rows []Row
	for _, run := range []struct {
		sys   *System
		procs []watched
	}{
		{multi, []watched{{"openqq-session (multi-process)", multi.Main, 4}, {"openqq-gateway (multi-process)", gw, 4}}},
		{aio, []watched{{"all-in-one (NATS with its object store, both sessions, gateway)", aio.Main, 0}}},
	} {
		id, err := wxFriend(ctx, run.sys)
		if err != nil {
			return rows, err
		}
		body, ct := multipartSend(map[string]string{"id": id}, img)
		t := Post{Client: client, URL: run.sys.API + wx.APIPath(wx.RouteSendFriendMessage), ContentType: ct, Body: body}
		// One send first, so that what is made once (the bucket, buffers) is in the idle figure.
		if _, err := post(ctx, t); err != nil {
			return rows, err
		}
		time.Sleep(cfg.IdleSettle)
		idle := make([]int64, len(run.procs))
		peaks := make([]func() int64, len(run.procs))
		for i, w := range run.procs {
			if idle[i], err = RSS(w.p); err != nil {
				return rows, err
			}
		}
		for i, w := range run.procs {
			peaks[i] = PeakRSS(w.p)
		}
		h.logf("Openwx memory: %s sent to %s", total, run.procs[0].what)
		start := time.Now()
		bad, first := sendAll(ctx, t, cfg.MediaSends, cfg.MediaConns, codeOK)
		took := time.Since(start)
		for i, w := range run.procs {
			top := peaks[i]()
			growth := top - idle[i]
			copies := float64(growth) / inFlight
			row := Row{
				Path: pathWxMemory, What: fmt.Sprintf("%s: peak RSS while %s images are sent over %d connections", w.what, total, cfg.MediaConns),
				Metric: "RSS MB", Unit: "MB", Value: mb(top), Baseline: f64(mb(idle[i])), Ratio: ratio(float64(top), float64(idle[i])),
				Measured: fmt.Sprintf("peak %s MB: +%s MB, %.1f media sizes per send in flight (%s s, %d failed)",
					num(mb(top)), num(mb(growth)), copies, num(took.Seconds()), bad),
				BaselineText: fmt.Sprintf("%s MB idle, the same process just before", num(mb(idle[i]))),
				Target:       "–",
				Raw: map[string]any{"idle_bytes": idle[i], "peak_bytes": top, "growth_bytes": growth, "copies_per_send_in_flight": copies,
					"sends": cfg.MediaSends, "media_bytes": cfg.MediaBytes, "conns": cfg.MediaConns, "failed": bad, "first_error": first, "seconds": took.Seconds()},
			}
			if w.target > 0 {
				row.Target = fmt.Sprintf("≤ %g media sizes per send in flight, no failed send", w.target)
				row.Met = boolp(copies <= w.target && bad == 0)
			}
			if bad > 0 {
				row.Measured += "; first failure: " + first
			}
			rows = append(rows, row)
		}
	}
	if err := aio.Crashed(); err != nil {
		return rows, err
	}
	if err := multi.Crashed(); err != nil {
		return rows, err
	}
	h.noteProblems(rows, aio, multi)
	return rows, nil
}
