package gateway

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

// FuzzReadParams: whatever the method, Content-Type, query and body, readParams does not
// panic, and what it accepts is UTF-8 throughout.
func FuzzReadParams(f *testing.F) {
	const (
		form = "application/x-www-form-urlencoded"
		js   = "application/json"
	)
	mpCT, mpBody := multipartBody(f, part{name: "id", value: "2"}, part{name: "content", value: "你好"},
		part{name: "f", value: "\xff\x00", file: true})
	mpGBKCT, mpGBKBody := multipartBody(f, part{name: "name", value: "\xc4\xe3\xba\xc3"})
	mpKeyCT, mpKeyBody := multipartBody(f, part{name: "\xc4\xe3", value: "1"})
	seeds := []struct {
		method, ct, query string
		body              []byte
	}{
		{"GET", "", "id=1&uid=2", nil},
		{"GET", "", "", nil},
		{"HEAD", "", "id=1", nil},
		{"GET", js, "id=1", []byte(`{"id":2}`)},
		{"GET", "", "a=1&a=2&b", nil},
		{"GET", "", "name=%E4%BD%A0%E5%A5%BD", nil},
		{"GET", "", "name=%C4%E3%BA%C3", nil},
		{"GET", "", "%C4%E3=1", nil},
		{"GET", "", "id=%zz", nil},
		{"GET", "", "a=1;b=2", nil},
		{"POST", form, "id=1&q=x", []byte("id=2&b=y")},
		{"POST", form + "; charset=UTF-8", "", []byte("name=%E4%BD%A0%E5%A5%BD")},
		{"POST", form, "", []byte("name=%C4%E3%BA%C3")},
		{"POST", form, "", []byte("name=%zz")},
		{"POST", form, "", []byte("access_token=x&name=%E4%BD%")},
		{"POST", js, "id=1", []byte(`{"id":"2","b":"y"}`)},
		{"POST", js, "", []byte(`{"id":123,"uid":1e3,"f":1.5,"async":true,"no":false,"member_id":[1,"2",3.0],"n":null}`)},
		{"POST", js, "", []byte(`{"id":`)},
		{"POST", js, "", []byte(`[1]`)},
		{"POST", js, "", []byte(`null`)},
		{"POST", js, "", []byte(`{"a":{"b":1}}`)},
		{"POST", js, "", []byte(`{"a":1}{"b":2}`)},
		{"POST", js, "", []byte("{\"name\":\"\xc4\xe3\xba\xc3\"}")},
		{"POST", js, "", []byte(`{"esc":"\ud800\u4f60"}`)},
		{"POST", js + "; charset=utf-8", "", []byte("  ")},
		{"POST", "text/json", "", []byte(`{"id":1}`)},
		{"POST", "application/vnd.x+json", "", []byte(`{"id":1}`)},
		{"POST", "", "q=1", []byte(" {\"id\":5}")},
		{"POST", "", "", []byte("id=1")},
		{"POST", "", "id=1", nil},
		{"POST", "text/plain", "", []byte("id=1")},
		{"POST", "application/json; =x", "", []byte(`{"id":1}`)},
		{"POST", mpCT, "id=1", mpBody},
		{"POST", mpGBKCT, "", mpGBKBody},
		{"POST", mpKeyCT, "", mpKeyBody},
		{"POST", "multipart/form-data", "", []byte("--x\r\n")},
		{"POST", "multipart/form-data; boundary=xyz", "", []byte("--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--xyz--\r\n")},
		{"POST", form, "", bytes.Repeat([]byte("x"), 5000)},
		{"PUT", js, "id=1", []byte(`{"id":2}`)},
	}
	for _, s := range seeds {
		f.Add(s.method, s.ct, s.query, s.body)
	}

	g, err := New(nil, Config{SubjectPrefix: "qq", APITimeout: time.Second, MaxBodyBytes: 4096}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, ct, rawQuery string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/openqq/get_user_info", bytes.NewReader(body))
		// Set after NewRequest, which panics on a method or target it cannot parse; readParams
		// sees whatever the server would have parsed.
		req.Method = method
		req.URL.RawQuery = rawQuery
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		} else {
			req.Header.Del("Content-Type")
		}
		p, err := g.readParams(httptest.NewRecorder(), req)
		if err != nil {
			if p != nil {
				t.Errorf("readParams returned parameters %q with error %v", p, err)
			}
			if errors.Is(err, errTooLarge) && int64(len(body)) <= 4096 {
				t.Errorf("a body of %d bytes is too large for 4096", len(body))
			}
			return
		}
		if p == nil {
			t.Fatal("readParams returned nil parameters and no error")
		}
		for k, v := range p {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Errorf("accepted a parameter that is not UTF-8: %q=%q", k, v)
			}
		}
		if method != http.MethodPost && rawQuery == "" && len(p) > 0 {
			t.Errorf("%s without a query got parameters %q: only POST reads a body", method, p)
		}
	})
}

// FuzzOpenwxParams: whatever the body of an Openwx media call (multipart, form, JSON, query),
// reading it does not panic; what it accepts is UTF-8 and carries no media bytes, only a
// media_id the store can read back; what it refuses leaves nothing in the store.
func FuzzOpenwxParams(f *testing.F) {
	const (
		form = "application/x-www-form-urlencoded"
		js   = "application/json"
	)
	mpCT, mpBody := multipartBody(f, part{name: "id", value: "@a"}, part{name: "media", value: "\x89PNG\r\n", file: true})
	mpDataCT, mpDataBody := multipartBody(f, part{name: "media_data", value: "aGVsbG8="}, part{name: "media_name", value: "a.txt"})
	mpTwoCT, mpTwoBody := multipartBody(f, part{name: "media", value: "a", file: true}, part{name: "media_path", value: "b", file: true})
	mpBadCT, mpBadBody := multipartBody(f, part{name: "other", value: "x", file: true})
	long := bytes.Repeat([]byte("QUFB"), 1500) // 6000 bytes of base64, over MAX_BODY_BYTES
	seeds := []struct {
		method, ct, query string
		body              []byte
	}{
		{"GET", "", "media_data=aGk%3D&id=@a", nil},
		{"GET", "", "media_data=%%%", nil},
		{"POST", form, "", []byte("id=%40a&media_data=aGk%3D")},
		{"POST", form, "", append([]byte("id=%40a&media_data="), long...)},
		{"POST", form, "", append(append([]byte("media_data="), long...), "&content=%E4%BD%A0"...)},
		{"POST", form, "", append(append([]byte("a=1&&=2&media_name=%C4&media_data="), long...), "%zz"...)},
		{"POST", form, "", append(append([]byte("media_data="), long...), "&media_data=aGk="...)},
		{"POST", form, "", append([]byte("media_data=-_-_"), long...)},
		{"POST", form, "", append([]byte("content="), bytes.Repeat([]byte("x"), 5000)...)},
		{"POST", js, "", []byte(`{"media_data":"aGk=","id":"@a"}`)},
		{"POST", js, "", []byte(`{"media_data":"!!"}`)},
		{"POST", mpCT, "", mpBody},
		{"POST", mpDataCT, "", mpDataBody},
		{"POST", mpTwoCT, "", mpTwoBody},
		{"POST", mpBadCT, "", mpBadBody},
		{"POST", "multipart/form-data; boundary=z", "", []byte("--z\r\nContent-Disposition: form-data; name=\"media\"; filename=\"f\"\r\n\r\nabc\r\n--z--\r\n")},
		{"POST", "multipart/form-data; boundary=z", "", []byte("--z\r\nContent-Disposition: form-data; name=\"media\"; filename=\"f\"\r\n\r\nabc")},
		{"POST", "multipart/form-data", "", []byte("--x\r\n")},
	}
	for _, s := range seeds {
		f.Add(s.method, s.ct, s.query, s.body)
	}
	srv := natstest.Start(f)
	cfg := Config{SubjectPrefix: "qq", APITimeout: 5 * time.Second, MaxBodyBytes: 4096}
	cfg.Config.MaxBytes = 8192
	g, err := New(natstest.Connect(f, srv), cfg, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, ct, rawQuery string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/openwx/send_friend_message", bytes.NewReader(body))
		req.Method = method
		req.URL.RawQuery = rawQuery
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		} else {
			req.Header.Del("Content-Type")
		}
		p, err := g.readCall(httptest.NewRecorder(), req, g.wx, "send_friend_message")
		if err != nil {
			if p != nil {
				t.Errorf("readCall returned parameters %q with error %v", p, err)
			}
			if st := paramsStatus(err); st.Code == events.CodeOK {
				t.Errorf("error %v answers code 0", err)
			}
			return
		}
		for k, v := range p {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Errorf("accepted a parameter that is not UTF-8: %q=%q", k, v)
			}
		}
		if _, ok := p["media_data"]; ok {
			t.Errorf("media_data crosses NATS: %q", p)
		}
		if id, ok := p["media_id"]; ok && id != "" {
			st, err := g.store(context.Background(), g.wx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Info(context.Background(), id); err != nil && !strings.Contains(rawQuery+string(body), "media_id") {
				t.Errorf("media_id %q not in the store: %v", id, err)
			}
		}
	})
}
