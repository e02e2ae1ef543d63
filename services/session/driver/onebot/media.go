package onebot

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	"github.com/openqq/openqq/pkg/infra/media"
)

// errTooLarge is a received picture over ONEBOT_MEDIA_MAX.
var errTooLarge = errors.New("picture over ONEBOT_MEDIA_MAX")

// picture is the first image segment's picture with its bytes: from base64:// in file, else
// fetched from its url (or a file that is a URL). nil when the message has none; an error when
// its bytes could not be had (the message is reported anyway, [图片] without them).
func (d *Driver) picture(ctx context.Context, segs []segment) (*media.Incoming, error) {
	for _, s := range segs {
		if s.Type != "image" {
			continue
		}
		file, u := s.str("file"), s.str("url")
		m := &media.Incoming{Type: media.TypeImage}
		if b64, ok := strings.CutPrefix(file, "base64://"); ok {
			data, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return nil, fmt.Errorf("image base64: %w", err)
			}
			if int64(len(data)) > d.cfg.MediaMax {
				return nil, errTooLarge
			}
			m.Data = data
		} else {
			if u == "" && (strings.HasPrefix(file, "http://") || strings.HasPrefix(file, "https://")) {
				u = file
			}
			if u == "" {
				return nil, errors.New("image segment with neither base64 nor url")
			}
			data, mime, err := d.fetch(ctx, u)
			if err != nil {
				return nil, err
			}
			m.Data, m.Mime = data, mime
			if file != "" && !strings.Contains(file, "://") {
				m.Name = path.Base(file)
			}
		}
		if m.Mime == "" || m.Mime == "application/octet-stream" {
			m.Mime = http.DetectContentType(m.Data)
		}
		return m, nil
	}
	return nil, nil
}

// fetch reads a picture's url, bounded by CALL_TIMEOUT and MEDIA_MAX.
func (d *Driver) fetch(ctx context.Context, u string) ([]byte, string, error) {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return nil, "", fmt.Errorf("image url %q: not http(s)", u)
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", fmt.Errorf("image url: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("image url: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("image url: %s", res.Status)
	}
	if res.ContentLength > d.cfg.MediaMax {
		return nil, "", errTooLarge
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, d.cfg.MediaMax+1))
	if err != nil {
		return nil, "", fmt.Errorf("image url: %w", err)
	}
	if int64(len(data)) > d.cfg.MediaMax {
		return nil, "", errTooLarge
	}
	mime, _, _ := strings.Cut(res.Header.Get("Content-Type"), ";")
	return data, strings.TrimSpace(mime), nil
}
