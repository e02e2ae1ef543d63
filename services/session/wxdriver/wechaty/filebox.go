package wechaty

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"mime"
	"net/http"
	"path"

	"github.com/skip2/go-qrcode"

	pb "github.com/openqq/openqq/services/session/wxdriver/wechaty/puppetpb"
)

// FileBox types (file-box's FileBoxType): how a FileBox's JSON carries its bytes.
const (
	boxBase64 = 1
	boxURL    = 2
	boxQRCode = 3
	boxUUID   = 7
)

// fileBox is the JSON of a FileBox (file-box's toJSON), the way the puppet service passes
// files: inline (base64), by URL, as a QR code's text, or by a UUID to Download.
type fileBox struct {
	Type      int               `json:"type"`
	Name      string            `json:"name"`
	MediaType string            `json:"mediaType,omitempty"`
	Size      int64             `json:"size,omitempty"`
	Metadata  map[string]string `json:"metadata"`
	Base64    string            `json:"base64,omitempty"`
	URL       string            `json:"url,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	QRCode    string            `json:"qrCode,omitempty"`
	UUID      string            `json:"uuid,omitempty"`
}

// base64Box is the FileBox JSON of bytes sent inline.
func base64Box(name, mediaType string, data []byte) string {
	b, _ := json.Marshal(fileBox{Type: boxBase64, Name: name, MediaType: mediaType, Size: int64(len(data)),
		Metadata: map[string]string{}, Base64: base64.StdEncoding.EncodeToString(data)})
	return string(b)
}

var errFileBox = errors.New("unusable FileBox")

// maxBox bounds what a FileBox may bring: a puppet sending more is refused, not buffered.
const maxBox = 100 << 20

// openBox reads a FileBox's bytes and tells its name and MIME type.
func openBox(ctx context.Context, c pb.PuppetClient, js string) (name, mimeType string, data []byte, err error) {
	var b fileBox
	if err := json.Unmarshal([]byte(js), &b); err != nil {
		return "", "", nil, fmt.Errorf("%w: %w", errFileBox, err)
	}
	switch b.Type {
	case boxBase64:
		data, err = base64.StdEncoding.DecodeString(b.Base64)
	case boxQRCode:
		var q *qrcode.QRCode
		if q, err = qrcode.New(b.QRCode, qrcode.Medium); err == nil {
			var buf bytes.Buffer
			err = png.Encode(&buf, q.Image(256))
			data, b.MediaType = buf.Bytes(), "image/png"
		}
	case boxURL:
		data, err = fetchURL(ctx, b.URL, b.Headers)
	case boxUUID:
		data, err = download(ctx, c, b.UUID)
	default:
		err = fmt.Errorf("%w: type %d", errFileBox, b.Type)
	}
	if err != nil {
		return "", "", nil, err
	}
	mimeType = b.MediaType
	if mimeType == "" {
		mimeType = mime.TypeByExtension(path.Ext(b.Name))
	}
	if mimeType == "" {
		mimeType = http.DetectContentType(data)
	}
	return b.Name, mimeType, data, nil
}

func fetchURL(ctx context.Context, url string, headers map[string]string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errFileBox, err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s: %s", errFileBox, url, resp.Status)
	}
	return readMax(resp.Body)
}

func download(ctx context.Context, c pb.PuppetClient, uuid string) ([]byte, error) {
	if c == nil || uuid == "" {
		return nil, fmt.Errorf("%w: a UUID box with nowhere to download it from", errFileBox)
	}
	s, err := c.Download(ctx, &pb.DownloadRequest{Id: uuid})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for {
		r, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
		if buf.Len()+len(r.GetChunk()) > maxBox {
			return nil, fmt.Errorf("%w: larger than %d bytes", errFileBox, maxBox)
		}
		buf.Write(r.GetChunk())
	}
}

func readMax(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxBox+1))
	if err == nil && len(data) > maxBox {
		err = fmt.Errorf("%w: larger than %d bytes", errFileBox, maxBox)
	}
	return data, err
}
