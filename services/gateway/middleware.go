package gateway

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"io"
	"net/http"
	"strings"

	"github.com/openqq/openqq/pkg/events"
)

// Mojo-Webqq's CORS answers, kept as they were.
const (
	allowMethods = "OPTIONS, HEAD, GET, POST"
	allowHeaders = "X-Requested-With, X-Auth-Token, Content-Type, Content-Length, Authorization"
)

// cors lets any origin read every reply, as Mojo did.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		next.ServeHTTP(w, r)
	})
}

func preflight(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Access-Control-Allow-Methods", allowMethods)
	w.Header().Set("Access-Control-Allow-Headers", allowHeaders)
	w.WriteHeader(http.StatusOK)
}

// auth requires the access token when one is configured. Preflights pass: a browser sends
// them without credentials, and they reach nothing; so do the console's static files. A call
// without the right token gets its platform's auth failure (Openwx: HTTP 200).
func (g *Gateway) auth(next http.Handler) http.Handler {
	if g.cfg.AccessToken == "" {
		return next
	}
	want := []byte(g.cfg.AccessToken)
	session := []byte(g.consoleSession())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions || publicFiles[r.URL.Path] && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			next.ServeHTTP(w, r)
			return
		}
		pf := g.platformOf(r.URL.Path)
		// Header and query first: a caller who sends the token there is checked before any
		// body is read. A token in the body is read under the server's read time-out, and
		// MaxBodyBytes at most.
		got := bearer(r.Header.Get("Authorization"))
		if got == "" {
			got = r.Header.Get("X-Auth-Token") // listed in Mojo's CORS headers
		}
		if got == "" && r.Method == http.MethodGet && cookieRoutes[r.URL.Path] {
			// The console's event stream (an EventSource sends no header): its session cookie.
			if c, err := r.Cookie(consoleCookie); err == nil && subtle.ConstantTimeCompare([]byte(c.Value), session) == 1 {
				next.ServeHTTP(w, r)
				return
			}
		}
		if got == "" {
			// The parameter may be in the query or in a form body; reading the form here
			// leaves the body for the handler (ParseForm keeps what it read).
			got = r.URL.Query().Get("access_token")
		}
		// An upload that streams into the media store (a multipart body, a form body over
		// MAX_BODY_BYTES) is not read for a token: it goes in the header or the query, and
		// nothing is stored without it.
		route, _ := strings.CutPrefix(r.URL.Path, pf.path)
		streamed := g.streamsUpload(pf, route, r)
		if got == "" && isForm(r) && !streamed {
			r.Body = http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes)
			if err := r.ParseForm(); err != nil {
				// The body is spent: answer its fault here, as the handler would.
				writeStatus(w, paramsStatus(bodyErr("form body", err)))
				return
			}
			got = r.PostForm.Get("access_token")
		}
		if got == "" && isJSON(r) {
			// Read the body for the token, then hand it on unread to the handler.
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes))
			if err != nil {
				writeStatus(w, paramsStatus(bodyErr("body", err)))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if p, err := events.DecodeParams(body); err == nil {
				got = p["access_token"]
			}
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			g.log.Info("auth failure", "path", r.URL.Path, "remote", r.RemoteAddr, "upload", streamed)
			pf.authFailure(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// consoleCookie is the console's session cookie: HttpOnly, SameSite=Strict, good for the
// read-only streams (cookieRoutes) only, so that a page of another site can neither read it
// nor act with it.
const consoleCookie = "openqq_console"

// publicFiles are the console's static files: they hold no data, and the page must load to
// ask for the token.
var publicFiles = map[string]bool{"/": true, "/console/app.js": true, "/console/app.css": true}

// cookieRoutes are the GET routes the console's cookie opens.
var cookieRoutes = map[string]bool{pathEvents: true, pathWS: true, pathReporters: true,
	pathWxEvents: true, pathWxWS: true}

// consoleSession is the cookie's value: derived from the token, so that every gateway with
// the same token takes it and none keeps state, and changing the token ends the sessions.
func (g *Gateway) consoleSession() string {
	m := hmac.New(sha256.New, []byte(g.cfg.AccessToken))
	m.Write([]byte("openqq console session"))
	return hex.EncodeToString(m.Sum(nil))
}

// openConsoleSession answers POST /console/session, which auth let through with the token:
// it sets the cookie the console's event stream authenticates with. The console itself keeps
// the token in memory only.
func (g *Gateway) openConsoleSession(w http.ResponseWriter, r *http.Request) {
	if g.cfg.AccessToken != "" {
		http.SetCookie(w, &http.Cookie{
			Name: consoleCookie, Value: g.consoleSession(), Path: "/",
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
		})
	}
	w.Header().Set("Cache-Control", "no-store")
	writeStatus(w, events.StatusSuccess)
}

// bearer reads "Bearer <token>" (or OneBot's "Token <token>").
func bearer(h string) string {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !(strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Token")) {
		return ""
	}
	return strings.TrimSpace(token)
}

// recoverer turns a panic into a JSON 500 instead of a dropped connection.
func (g *Gateway) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				g.log.Error("handler panicked", "path", r.URL.Path, "panic", v)
				writeStatus(w, events.ErrInternal)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func isJSON(r *http.Request) bool {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	ct = strings.ToLower(strings.TrimSpace(ct))
	return r.Method == http.MethodPost && (ct == "application/json" || ct == "text/json" || strings.HasSuffix(ct, "+json"))
}

func isForm(r *http.Request) bool {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return r.Method == http.MethodPost && strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded")
}
