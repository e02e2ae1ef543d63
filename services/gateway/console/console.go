// Package console is openqq's web console: static files embedded in the binary, no build step.
// It shows the account and the client state live, the QR code while the client waits for a
// scan, the live event stream, the roster with search, a form to send a message, and how
// post_api delivery is doing, and the WeChat account (state, user, counts) when /openwx answers;
// and, when a Controller answers, the accounts of both platforms (their state and host, each
// one's QR code while it waits for a scan) with a form to start one and a button to stop each.
// It talks only to the public API: /openqq/*, /openwx/* and the event stream.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var files embed.FS

// Handler serves the console: / is the page, /console/<file> its assets.
func Handler() http.Handler {
	static, _ := fs.Sub(files, "static")
	assets := http.StripPrefix("/console/", http.FileServer(http.FS(static)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		if r.URL.Path == "/" {
			http.ServeFileFS(w, r, static, "index.html")
			return
		}
		assets.ServeHTTP(w, r)
	})
}
