package gateway

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/openqq/openqq/pkg/events"
)

// multipartMemory is how much of a multipart body is held in memory; MaxBodyBytes bounds the
// whole body anyway, and file parts are not parameters.
const multipartMemory = 1 << 20

// errTooLarge is a body over MaxBodyBytes.
var errTooLarge = errors.New("request body too large")

// readParams merges the query string and the body into one set of parameters, the body's
// values winning: query first, then an x-www-form-urlencoded, multipart or JSON body. Every
// key and value must be UTF-8 (what the seeds ask clients to percent-encode), since a lookup
// on mangled text would silently find nothing.
func (g *Gateway) readParams(w http.ResponseWriter, r *http.Request) (events.Params, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("query string: %w", err)
	}
	p := events.Params{}
	if err := events.MergeValues(p, q); err != nil {
		return nil, fmt.Errorf("query string: %w", err)
	}
	if r.Method != http.MethodPost {
		return p, nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes)
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil && r.Header.Get("Content-Type") != "" {
		return nil, fmt.Errorf("Content-Type: %w", err)
	}
	switch {
	case ct == "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, bodyErr("form body", err)
		}
		if err := events.MergeValues(p, r.PostForm); err != nil {
			return nil, fmt.Errorf("form body: %w", err)
		}
	case ct == "multipart/form-data":
		if err := r.ParseMultipartForm(multipartMemory); err != nil {
			return nil, bodyErr("multipart body", err)
		}
		defer func() { _ = r.MultipartForm.RemoveAll() }()
		if err := events.MergeValues(p, r.MultipartForm.Value); err != nil {
			return nil, fmt.Errorf("multipart body: %w", err)
		}
	default:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, bodyErr("body", err)
		}
		if len(strings.TrimSpace(string(body))) == 0 {
			return p, nil
		}
		// JSON is what a modern bot sends; a body without a Content-Type that looks like a
		// JSON object is read as one too.
		isJSON := ct == "application/json" || ct == "text/json" || strings.HasSuffix(ct, "+json") ||
			ct == "" && strings.HasPrefix(strings.TrimSpace(string(body)), "{")
		if !isJSON {
			return nil, fmt.Errorf("unsupported Content-Type %q: send a query string, a form or a JSON object", ct)
		}
		jp, err := events.DecodeParams(body)
		if err != nil {
			return nil, err
		}
		for k, v := range jp {
			p[k] = v
		}
	}
	return p, nil
}

func bodyErr(what string, err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge
	}
	return fmt.Errorf("%s: %w", what, err)
}
