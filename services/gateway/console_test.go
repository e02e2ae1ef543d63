package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The console is served from the binary: the page at /, its script and style under /console/.
func TestConsoleServed(t *testing.T) {
	g := newBare(t, Config{})
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/", "text/html", "openqq 控制台"},
		{"/console/app.js", "javascript", "EventSource"},
		{"/console/app.css", "text/css", "--accent"},
	} {
		rec := httptest.NewRecorder()
		g.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Type"), tc.ctype) || !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s: %d %q %.60q", tc.path, rec.Code, rec.Header().Get("Content-Type"), body)
		}
	}
	// Anything else under /console/ that is not the console's is still the API's JSON 403.
	rec := httptest.NewRecorder()
	g.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/console/../../etc/passwd", nil))
	if rec.Code != http.StatusForbidden || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Errorf("GET /console/../../etc/passwd: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}
