package ilink

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// client makes the iLink HTTP calls.
type client struct {
	http *http.Client
}

// ErrRefused is a token iLink refused (HTTP 401 or 403).
var ErrRefused = errors.New("ilink: the bot token was refused")

// HTTPError is an HTTP answer other than 200.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("ilink: HTTP %d: %s", e.Status, e.Body) }

// wechatUIN is X-WECHAT-UIN: base64 of the decimal text of a random uint32, as the plugin
// makes it.
func wechatUIN() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString([]byte(strconv.FormatUint(uint64(binary.BigEndian.Uint32(b[:])), 10)))
}

// endpoint joins the base URL and an endpoint path (with its query).
func endpoint(base, path string) string { return strings.TrimRight(base, "/") + "/" + path }

// post calls an endpoint with a JSON body and returns the answer's bytes. token empty: the
// call needs none (get_bot_qrcode).
func (c *client) post(ctx context.Context, base, path, token string, body any, timeout time.Duration) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("ilink: %s: %w", path, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint(base, path), bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("ilink: %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("AuthorizationType", "ilink_bot_token")
	req.Header.Set("X-WECHAT-UIN", wechatUIN())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return c.do(req, path)
}

// get calls an endpoint with GET (get_qrcode_status).
func (c *client) get(ctx context.Context, base, path string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint(base, path), nil)
	if err != nil {
		return nil, fmt.Errorf("ilink: %s: %w", path, err)
	}
	return c.do(req, path)
}

// maxAnswer bounds what is read of an API answer (media go through the CDN, not here).
const maxAnswer = 16 << 20

func (c *client) do(req *http.Request, path string) ([]byte, error) {
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ilink: %s: %w", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("ilink: %s: %w", path, err)
	}
	switch {
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("%w (%s: HTTP %d: %s)", ErrRefused, path, res.StatusCode, trim(b))
	case res.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("ilink: %s: %w", path, &HTTPError{Status: res.StatusCode, Body: trim(b)})
	}
	return b, nil
}

func trim(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return strings.TrimSpace(string(b))
}

// upload posts ciphertext to the CDN and returns the download parameter it answers with
// (header x-encrypted-param).
func (c *client) upload(ctx context.Context, u string, enc []byte, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(enc))
	if err != nil {
		return "", fmt.Errorf("ilink: cdn upload: %w", err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("ilink: cdn upload: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	if res.StatusCode != http.StatusOK {
		msg := res.Header.Get("x-error-message")
		return "", fmt.Errorf("ilink: cdn upload: %w", &HTTPError{Status: res.StatusCode, Body: msg})
	}
	p := res.Header.Get("x-encrypted-param")
	if p == "" {
		return "", errors.New("ilink: cdn upload: the answer has no x-encrypted-param")
	}
	return p, nil
}

// download fetches ciphertext from the CDN, at most limit bytes.
func (c *client) download(ctx context.Context, u string, limit int64, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("ilink: cdn download: %w", err)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ilink: cdn download: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return nil, fmt.Errorf("ilink: cdn download: %w", &HTTPError{Status: res.StatusCode, Body: trim(b)})
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("ilink: cdn download: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("ilink: cdn download: more than %d bytes", limit)
	}
	return b, nil
}

// cdnDownloadURL and cdnUploadURL are the CDN's URLs when iLink gives no full URL.
func cdnDownloadURL(cdn, param string) string {
	return strings.TrimRight(cdn, "/") + "/download?encrypted_query_param=" + url.QueryEscape(param)
}

func cdnUploadURL(cdn, param, filekey string) string {
	return strings.TrimRight(cdn, "/") + "/upload?encrypted_query_param=" + url.QueryEscape(param) + "&filekey=" + url.QueryEscape(filekey)
}
