// Package ilinktest is a fake iLink bot server written from Tencent/openclaw-weixin's
// README.md and src/api/types.ts: the QR login through its states, getupdates with a cursor,
// sendmessage checking the context_token, getuploadurl and a CDN storing and serving
// AES-128-ECB encrypted bytes. It can drop connections, stall, answer garbage, expire a
// session (errcode -14) and refuse a token. It serves on loopback (httptest), for the driver's
// tests and the end-to-end tests.
package ilinktest

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/services/session/wxdriver/ilink"
)

// The ids of the fake's account: the owner who scans, and the bot.
const (
	OwnerID = "o9cq80_owner@im.wechat"
	BotID   = "b0f1a2c3d4e5@im.bot"
)

// Sent is a message the bot sent, as the fake understood it: media decrypted.
type Sent struct {
	ClientID     string
	To           string
	ContextToken string
	ItemType     int
	Text         string
	FileName     string
	Data         []byte
}

type upload struct {
	filekey string
	key     []byte
	md5     string
	size    int64
}

// Server is the fake.
type Server struct {
	// URL is the API's base URL, CDN the CDN's.
	URL, CDN string
	// QRSteps are the statuses get_qrcode_status answers for each QR code, one per poll, the
	// last repeated (default wait, scaned, confirmed).
	QRSteps []string
	// LongPoll is how long getupdates holds a request with nothing to say.
	LongPoll time.Duration

	srv *httptest.Server

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced at every change
	seq       int
	tokens    map[string]string // token → "ok", "expired", "refused"
	qrPolls   map[string]int
	qrIssued  int
	msgs      []ilink.Message
	ctxTokens map[string]map[string]bool // user → the context_tokens given
	sent      []Sent
	blobs     map[string][]byte
	uploads   map[string]upload
	drop      int
	garbage   int
	stall     chan struct{}
	polls     int
	cursors   []string
	rejected  []string // why requests were refused, for tests
}

// New starts a fake on loopback, closed with t's cleanup.
func New(t testing.TB) *Server {
	s := &Server{QRSteps: []string{ilink.QRWait, ilink.QRScanned, ilink.QRConfirmed}, LongPoll: 500 * time.Millisecond,
		changed: make(chan struct{}), tokens: map[string]string{}, qrPolls: map[string]int{}, ctxTokens: map[string]map[string]bool{},
		blobs: map[string][]byte{}, uploads: map[string]upload{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ilink/bot/get_bot_qrcode", s.getBotQRCode)
	mux.HandleFunc("GET /ilink/bot/get_qrcode_status", s.getQRCodeStatus)
	mux.HandleFunc("POST /ilink/bot/getupdates", s.auth(s.getUpdates))
	mux.HandleFunc("POST /ilink/bot/sendmessage", s.auth(s.sendMessage))
	mux.HandleFunc("POST /ilink/bot/getuploadurl", s.auth(s.getUploadURL))
	mux.HandleFunc("POST /c2c/upload", s.cdnUpload)
	mux.HandleFunc("GET /c2c/download", s.cdnDownload)
	s.srv = httptest.NewServer(mux)
	s.URL, s.CDN = s.srv.URL, s.srv.URL+"/c2c"
	t.Cleanup(func() {
		s.mu.Lock()
		if s.stall != nil {
			close(s.stall)
			s.stall = nil
		}
		s.mu.Unlock()
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
	return s
}

// notify wakes the waiters. Callers hold mu.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Wait waits until cond holds, checking it at every change of the fake (cond may call the
// fake's methods).
func (s *Server) Wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("ilinktest: timed out waiting for %s", what)
		}
	}
}

// Token issues a valid bot token, as a QR login would have (for ILINK_TOKEN).
func (s *Server) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	tok := "tok-given-" + strconv.Itoa(s.seq)
	s.tokens[tok] = "ok"
	return tok
}

// Refuse makes the fake refuse tok (HTTP 401), as a revoked token.
func (s *Server) Refuse(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = "refused"
}

// Expire ends every valid token's session: their next call answers errcode -14.
func (s *Server) Expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.tokens {
		if v == "ok" {
			s.tokens[k] = "expired"
		}
	}
	s.notify()
}

// Drop makes the next n getupdates calls lose their connection.
func (s *Server) Drop(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop += n
	s.notify()
}

// Dropping is how many of the connections Drop asked to cut are not cut yet.
func (s *Server) Dropping() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.drop
}

// Garbage makes the next n getupdates calls answer bytes that are not JSON.
func (s *Server) Garbage(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.garbage += n
	s.notify()
}

// Stall makes getupdates calls hang until the returned function is called.
func (s *Server) Stall() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	s.stall = ch
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.stall == ch {
			close(ch)
			s.stall = nil
			s.notify()
		}
	}
}

// Polls is how many getupdates calls were answered or cut.
func (s *Server) Polls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls
}

// Cursors are the get_updates_buf values the getupdates calls carried, in order.
func (s *Server) Cursors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cursors)
}

// Sent returns what the bot sent.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// Rejected returns why requests were refused.
func (s *Server) Rejected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rejected)
}

// Text makes the owner write a text to the bot, and returns its message_id.
func (s *Server) Text(text string) int64 {
	return s.Deliver(ilink.MessageItem{Type: ilink.ItemText, TextItem: &ilink.TextItem{Text: text}})
}

// Media makes the owner send a media (ilink.ItemImage, ItemVoice, ItemFile or ItemVideo):
// the bytes are encrypted with a new key and put on the CDN, and the item refers to them as
// iLink's do (an image's key as hex in aeskey, the others' as base64 in media.aes_key).
func (s *Server) Media(itemType int, name string, data []byte) int64 {
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	enc, err := ilink.EncryptECB(key, data)
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	s.seq++
	param := "dl-in-" + strconv.Itoa(s.seq)
	s.blobs[param] = enc
	s.mu.Unlock()
	ref := &ilink.CDNMedia{EncryptQueryParam: param, AESKey: base64.StdEncoding.EncodeToString(key), EncryptType: 1}
	it := ilink.MessageItem{Type: itemType}
	switch itemType {
	case ilink.ItemImage:
		it.ImageItem = &ilink.ImageItem{Media: &ilink.CDNMedia{EncryptQueryParam: param}, AESKey: hex.EncodeToString(key), MidSize: int64(len(enc))}
	case ilink.ItemVoice:
		it.VoiceItem = &ilink.VoiceItem{Media: ref, EncodeType: 6, Playtime: 1200}
	case ilink.ItemFile:
		sum := md5.Sum(data)
		it.FileItem = &ilink.FileItem{Media: ref, FileName: name, MD5: hex.EncodeToString(sum[:]), Len: strconv.Itoa(len(data))}
	case ilink.ItemVideo:
		it.VideoItem = &ilink.VideoItem{Media: ref, VideoSize: int64(len(enc))}
	}
	return s.Deliver(it)
}

// Deliver queues a message from the owner with these items and a new context_token.
func (s *Server) Deliver(items ...ilink.MessageItem) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := int64(7000000000000000000) + int64(s.seq)
	tok := "ctx-" + strconv.Itoa(s.seq)
	if s.ctxTokens[OwnerID] == nil {
		s.ctxTokens[OwnerID] = map[string]bool{}
	}
	s.ctxTokens[OwnerID][tok] = true
	s.msgs = append(s.msgs, ilink.Message{Seq: int64(len(s.msgs) + 1), MessageID: id, FromUserID: OwnerID, ToUserID: BotID,
		CreateTimeMS: time.Now().UnixMilli(), SessionID: "sess-1", MessageType: ilink.MessageUser, MessageState: ilink.MessageFinish,
		ItemList: items, ContextToken: tok})
	s.notify()
	return id
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// reject answers a bad request and remembers why.
func (s *Server) reject(w http.ResponseWriter, status int, why string) {
	s.mu.Lock()
	s.rejected = append(s.rejected, why)
	s.notify()
	s.mu.Unlock()
	http.Error(w, why, status)
}

// auth checks the headers every call carries and the token: a refused or unknown token is
// HTTP 401; an expired session answers errcode -14.
func (s *Server) auth(h func(http.ResponseWriter, *http.Request, []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("AuthorizationType") != "ilink_bot_token" || r.Header.Get("Content-Type") != "application/json" {
			s.reject(w, http.StatusBadRequest, "missing AuthorizationType or Content-Type")
			return
		}
		uin, err := base64.StdEncoding.DecodeString(r.Header.Get("X-WECHAT-UIN"))
		if _, perr := strconv.ParseUint(string(uin), 10, 32); err != nil || perr != nil {
			s.reject(w, http.StatusBadRequest, "bad X-WECHAT-UIN")
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		st := s.tokens[tok]
		s.mu.Unlock()
		switch {
		case !ok || st == "" || st == "refused":
			s.reject(w, http.StatusUnauthorized, "token refused")
			return
		case st == "expired":
			writeJSON(w, ilink.Result{Ret: -1, ErrCode: ilink.ErrSessionExpired, ErrMsg: "session timeout"})
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || !json.Valid(body) {
			s.reject(w, http.StatusBadRequest, "body not JSON")
			return
		}
		h(w, r, body)
	}
}

func (s *Server) getBotQRCode(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("bot_type") != "3" {
		s.reject(w, http.StatusBadRequest, "bot_type is not 3")
		return
	}
	s.mu.Lock()
	s.qrIssued++
	code := fmt.Sprintf("qr-%d", s.qrIssued)
	s.notify()
	s.mu.Unlock()
	writeJSON(w, ilink.QRCodeResp{QRCode: code, QRCodeImgContent: "https://liteapp.weixin.qq.com/q/7GiQu1?qrcode=" + code + "&bot_type=3"})
}

// QRCodesIssued is how many QR codes were asked for.
func (s *Server) QRCodesIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.qrIssued
}

func (s *Server) getQRCodeStatus(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("qrcode")
	if !strings.HasPrefix(code, "qr-") {
		s.reject(w, http.StatusBadRequest, "unknown qrcode")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.qrPolls[code]
	s.qrPolls[code] = n + 1
	st := s.QRSteps[min(n, len(s.QRSteps)-1)]
	resp := ilink.QRStatusResp{Status: st}
	if st == ilink.QRConfirmed {
		s.seq++
		tok := "tok-qr-" + strconv.Itoa(s.seq)
		s.tokens[tok] = "ok"
		resp.BotToken, resp.ILinkBotID, resp.ILinkUserID = tok, BotID, OwnerID
	}
	s.notify()
	writeJSON(w, resp)
}

// Cursor is the get_updates_buf the fake gives after its first i messages (opaque to the
// client, as iLink's).
func Cursor(i int) string { return cursor(i) }

func cursor(i int) string { return base64.StdEncoding.EncodeToString([]byte("pos:" + strconv.Itoa(i))) }

func position(c string) int {
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "pos:"))
	if err != nil {
		return 0
	}
	return n
}

func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request, body []byte) {
	var req ilink.GetUpdatesReq
	if err := json.Unmarshal(body, &req); err != nil {
		s.reject(w, http.StatusBadRequest, "bad getupdates body")
		return
	}
	s.mu.Lock()
	s.cursors = append(s.cursors, req.GetUpdatesBuf)
	stall := s.stall
	switch {
	case s.drop > 0:
		s.drop--
		s.polls++
		s.notify()
		s.mu.Unlock()
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
		return
	case s.garbage > 0:
		s.garbage--
		s.polls++
		s.notify()
		s.mu.Unlock()
		_, _ = io.WriteString(w, `{"ret":0,"msgs":[{"item_list":`)
		return
	}
	s.polls++
	s.notify()
	s.mu.Unlock()
	if stall != nil {
		select {
		case <-stall:
		case <-r.Context().Done():
			return
		}
	}
	pos := position(req.GetUpdatesBuf)
	timeout := time.After(s.LongPoll)
	for {
		s.mu.Lock()
		if pos > len(s.msgs) {
			pos = len(s.msgs)
		}
		msgs, next, ch := slices.Clone(s.msgs[pos:]), len(s.msgs), s.changed
		expired := false
		if tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); s.tokens[tok] == "expired" {
			expired = true
		}
		s.mu.Unlock()
		if expired {
			writeJSON(w, ilink.Result{Ret: -1, ErrCode: ilink.ErrSessionExpired, ErrMsg: "session timeout"})
			return
		}
		if len(msgs) > 0 {
			writeJSON(w, ilink.GetUpdatesResp{Msgs: msgs, GetUpdatesBuf: cursor(next), LongPollingTimeoutMS: s.LongPoll.Milliseconds()})
			return
		}
		select {
		case <-ch:
		case <-timeout:
			writeJSON(w, ilink.GetUpdatesResp{Msgs: []ilink.Message{}, GetUpdatesBuf: cursor(next), LongPollingTimeoutMS: s.LongPoll.Milliseconds()})
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) sendMessage(w http.ResponseWriter, _ *http.Request, body []byte) {
	var req ilink.SendMessageReq
	if err := json.Unmarshal(body, &req); err != nil {
		s.reject(w, http.StatusBadRequest, "bad sendmessage body")
		return
	}
	m := req.Msg
	s.mu.Lock()
	given := s.ctxTokens[m.ToUserID][m.ContextToken]
	s.mu.Unlock()
	// Any context_token given to the peer is taken: a reply may cross a newer message (the
	// plugin sends with the last one it saw).
	switch {
	case m.ToUserID != OwnerID:
		writeJSON(w, ilink.Result{Ret: -2, ErrMsg: "no such user"})
		return
	case m.ContextToken == "" || !given:
		writeJSON(w, ilink.Result{Ret: -2, ErrMsg: "invalid context_token"})
		return
	case len(m.ItemList) != 1 || m.ClientID == "" || m.MessageType != ilink.MessageBot:
		writeJSON(w, ilink.Result{Ret: -2, ErrMsg: "bad message"})
		return
	}
	it := m.ItemList[0]
	rec := Sent{ClientID: m.ClientID, To: m.ToUserID, ContextToken: m.ContextToken, ItemType: it.Type}
	var ref *ilink.CDNMedia
	switch {
	case it.Type == ilink.ItemText && it.TextItem != nil:
		rec.Text = it.TextItem.Text
	case it.Type == ilink.ItemImage && it.ImageItem != nil:
		ref = it.ImageItem.Media
	case it.Type == ilink.ItemVideo && it.VideoItem != nil:
		ref = it.VideoItem.Media
	case it.Type == ilink.ItemFile && it.FileItem != nil:
		ref, rec.FileName = it.FileItem.Media, it.FileItem.FileName
	default:
		writeJSON(w, ilink.Result{Ret: -2, ErrMsg: "bad item"})
		return
	}
	if ref != nil {
		s.mu.Lock()
		enc, ok := s.blobs[ref.EncryptQueryParam]
		s.mu.Unlock()
		key, err := ilink.ParseAESKey("", ref.AESKey)
		if !ok || err != nil {
			writeJSON(w, ilink.Result{Ret: -2, ErrMsg: "bad media reference"})
			return
		}
		if rec.Data, err = ilink.DecryptECB(key, enc); err != nil {
			writeJSON(w, ilink.Result{Ret: -2, ErrMsg: "media does not decrypt"})
			return
		}
	}
	s.mu.Lock()
	s.sent = append(s.sent, rec)
	s.notify()
	s.mu.Unlock()
	writeJSON(w, struct{}{})
}

func (s *Server) getUploadURL(w http.ResponseWriter, _ *http.Request, body []byte) {
	var req ilink.GetUploadURLReq
	if err := json.Unmarshal(body, &req); err != nil {
		s.reject(w, http.StatusBadRequest, "bad getuploadurl body")
		return
	}
	key, err := hex.DecodeString(req.AESKey)
	switch {
	case req.FileKey == "" || req.MediaType < ilink.UploadImage || req.MediaType > ilink.UploadVoice:
		writeJSON(w, ilink.Result{Ret: -2, ErrMsg: "bad filekey or media_type"})
		return
	case err != nil || len(key) != 16:
		writeJSON(w, ilink.Result{Ret: -2, ErrMsg: "bad aeskey"})
		return
	case req.FileSize != ilink.PaddedSize(req.RawSize) || req.ToUserID != OwnerID:
		writeJSON(w, ilink.Result{Ret: -2, ErrMsg: "bad sizes or to_user_id"})
		return
	}
	s.mu.Lock()
	s.seq++
	param := "up-" + strconv.Itoa(s.seq)
	s.uploads[param] = upload{filekey: req.FileKey, key: key, md5: req.RawFileMD5, size: req.FileSize}
	s.mu.Unlock()
	writeJSON(w, ilink.GetUploadURLResp{UploadParam: param})
}

func (s *Server) cdnUpload(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	up, ok := s.uploads[q.Get("encrypted_query_param")]
	s.mu.Unlock()
	if !ok || up.filekey != q.Get("filekey") {
		w.Header().Set("x-error-message", "unknown upload")
		s.reject(w, http.StatusBadRequest, "unknown upload")
		return
	}
	enc, err := io.ReadAll(io.LimitReader(r.Body, up.size+1))
	if err != nil || int64(len(enc)) != up.size {
		w.Header().Set("x-error-message", "size mismatch")
		s.reject(w, http.StatusBadRequest, "upload size mismatch")
		return
	}
	plain, err := ilink.DecryptECB(up.key, enc)
	sum := md5.Sum(plain)
	if err != nil || hex.EncodeToString(sum[:]) != up.md5 {
		w.Header().Set("x-error-message", "md5 mismatch")
		s.reject(w, http.StatusBadRequest, "upload md5 mismatch")
		return
	}
	s.mu.Lock()
	s.seq++
	param := "dl-out-" + strconv.Itoa(s.seq)
	s.blobs[param] = enc
	delete(s.uploads, q.Get("encrypted_query_param"))
	s.mu.Unlock()
	w.Header().Set("x-encrypted-param", param)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) cdnDownload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b, ok := s.blobs[r.URL.Query().Get("encrypted_query_param")]
	s.mu.Unlock()
	if !ok {
		http.Error(w, "no such file", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(b)
}
