package ilink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/openqq/openqq/services/session/wxdriver"
)

// FuzzDecodeUpdates: any getupdates answer decodes or fails cleanly, and delivering what
// decodes (texts, and media whose CDN cannot be reached) never panics.
func FuzzDecodeUpdates(f *testing.F) {
	// The spec's examples (README.md "getUpdates" and "sendMessage", types.ts).
	f.Add([]byte(`{"ret":0,"msgs":[],"get_updates_buf":"<new cursor>","longpolling_timeout_ms":35000}`))
	f.Add([]byte(`{"ret":0,"errcode":-14,"errmsg":"session timeout"}`))
	f.Add([]byte(`{"ret":0,"msgs":[{"seq":1,"message_id":7000000000000000001,"from_user_id":"o9cq80_owner@im.wechat","to_user_id":"b0f1@im.bot","create_time_ms":1764640000000,"session_id":"s","message_type":1,"message_state":2,"item_list":[{"type":1,"text_item":{"text":"Hello"}}],"context_token":"ctx"}],"get_updates_buf":"YnVm"}`))
	f.Add([]byte(`{"msgs":[{"from_user_id":"u@im.wechat","item_list":[{"type":2,"image_item":{"media":{"encrypt_query_param":"p","aes_key":"MDAxMTIyMzM0NDU1NjY3Nzg4OTlhYWJiY2NkZGVlZmY="},"aeskey":"00112233445566778899aabbccddeeff","mid_size":32}}]}]}`))
	f.Add([]byte(`{"msgs":[{"from_user_id":"u","item_list":[{"type":4,"file_item":{"media":{"encrypt_query_param":"p","aes_key":"AAECAwQFBgcICQoLDA0ODw=="},"file_name":"a.txt","len":"3"}},{"type":3,"voice_item":{"encode_type":6}},{"type":5,"video_item":{}},{"type":9}]}]}`))
	f.Add([]byte(`{"msgs":[{"from_user_id":"u","group_id":"g","item_list":[{"type":1}]}]}`))
	f.Add([]byte(`{"msgs":[null],"get_updates_buf":7}`))
	f.Add([]byte(`{"ret":0,"msgs":[{"item_list":`))
	d := &Driver{cfg: Config{CDNURL: "http://127.0.0.1:1", APITimeout: 1, MaxMedia: 1 << 10}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		st: state{ContextTokens: map[string]string{}}}
	d.c.http = &http.Client{} // APITimeout 1ns: every CDN download fails at once
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := DecodeUpdates(b)
		if err != nil {
			if resp != nil {
				t.Fatal("an error with a result")
			}
			return
		}
		if !json.Valid(b) {
			t.Fatal("decoded bytes that are not JSON")
		}
		s := &nopSink{}
		for _, m := range resp.Msgs {
			d.deliver(context.Background(), s, m)
		}
	})
}

// FuzzAES: what EncryptECB makes DecryptECB reads back; any key text and ciphertext are
// refused cleanly, never a panic.
func FuzzAES(f *testing.F) {
	f.Add("00112233445566778899aabbccddeeff", "", []byte("hello"), []byte{})
	f.Add("", "MDAxMTIyMzM0NDU1NjY3Nzg4OTlhYWJiY2NkZGVlZmY=", []byte{}, bytes.Repeat([]byte{16}, 16))
	f.Add("", "AAECAwQFBgcICQoLDA0ODw==", bytes.Repeat([]byte("x"), 33), []byte("garbage"))
	f.Fuzz(func(t *testing.T, hexKey, b64 string, plain, junk []byte) {
		key, err := ParseAESKey(hexKey, b64)
		if err != nil {
			return
		}
		enc, err := EncryptECB(key, plain)
		if err != nil || int64(len(enc)) != PaddedSize(int64(len(plain))) {
			t.Fatalf("encrypt: %d bytes, %v", len(enc), err)
		}
		back, err := DecryptECB(key, enc)
		if err != nil || !bytes.Equal(back, plain) {
			t.Fatalf("decrypt: %v", err)
		}
		_, _ = DecryptECB(key, junk)
	})
}

// FuzzCheckResult: any answer of a call that answers {} on success (sendmessage) is a success
// or a *wxdriver.SendError with a non-zero Ret and a text, never a panic; a non-zero ret or
// errcode is never a success. Seeds: the spec's answers (README.md, types.ts BaseResponse).
func FuzzCheckResult(f *testing.F) {
	for _, s := range []string{
		`{}`, ``, `{"ret":0}`, `{"ret":-2,"errmsg":"invalid context_token"}`, `{"ret":-1,"errcode":-14,"errmsg":"session timeout"}`,
		`{"errcode":40001}`, `{"ret":"x"}`, `[1,2]`, `null`, `{"ret":0,"errcode":0,"errmsg":""}`, `<html>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := checkResult(b, "sendmessage")
		var r Result
		refused := json.Unmarshal(b, &r) == nil && r.Code() != 0
		if err == nil {
			if refused {
				t.Fatalf("%q: ret %d errcode %d taken as a success", b, r.Ret, r.ErrCode)
			}
			return
		}
		var se *wxdriver.SendError
		if !errors.As(err, &se) || se.Ret == 0 || se.ErrMsg == "" {
			t.Fatalf("%q: %v, want a SendError with a Ret and a text", b, err)
		}
	})
}
