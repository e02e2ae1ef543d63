package ilink

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
)

// deliver reports one received message: each of its items as a message of its own (a text,
// or a media with its bytes from the CDN). The sender's context_token is kept first: a reply
// needs it. The bot's own messages (message_type 2) are not received.
func (d *Driver) deliver(ctx context.Context, sink wxdriver.Sink, m Message) {
	if m.MessageType == MessageBot || m.FromUserID == "" {
		return
	}
	if m.GroupID != "" {
		d.log.Info("ilink: a group message skipped (iLink's bot has no groups)", "group", m.GroupID)
		return
	}
	d.mu.Lock()
	newFriend := m.FromUserID != d.st.OwnerID && d.st.ContextTokens[m.FromUserID] == ""
	if d.st.OwnerID == "" {
		d.st.OwnerID = m.FromUserID
	}
	if m.ContextToken != "" {
		d.st.ContextTokens[m.FromUserID] = m.ContextToken
	}
	d.mu.Unlock()
	if newFriend {
		if err := sink.Change(ctx, wxdriver.Change{Kind: events.EventNewFriend, Friend: d.friend(m.FromUserID)}); err != nil && !errors.Is(err, wxdriver.ErrNoChange) {
			d.log.Warn("ilink: new_friend not reported", "from", m.FromUserID, "err", err)
		}
	}
	at := time.Now()
	if m.CreateTimeMS > 0 {
		at = time.UnixMilli(m.CreateTimeMS)
	}
	base := m.ClientID
	if m.MessageID != 0 {
		base = strconv.FormatInt(m.MessageID, 10)
	}
	for i, it := range m.ItemList {
		body, ok := d.body(ctx, it, base)
		if !ok {
			continue
		}
		id := base
		if i > 0 && id != "" {
			id += "-" + strconv.Itoa(i)
		}
		in := wxdriver.Incoming{Type: wx.FriendMessage, MsgID: id, SenderID: contactID(m.FromUserID), Time: at, Body: body}
		if _, err := sink.Receive(ctx, in); err != nil && ctx.Err() == nil {
			d.log.Warn("ilink: a message not received", "from", m.FromUserID, "id", id, "err", err)
		}
	}
}

// body is what an item says; false: nothing to report (an unknown type, a media whose bytes
// cannot be had, which is logged).
func (d *Driver) body(ctx context.Context, it MessageItem, msgID string) (wxdriver.Body, bool) {
	var (
		ref             *CDNMedia
		hexKey          string
		typ, name, mtyp string
	)
	switch {
	case it.Type == ItemText && it.TextItem != nil:
		return wxdriver.Body{Format: wx.FormatText, Content: it.TextItem.Text}, true
	case it.Type == ItemImage && it.ImageItem != nil:
		ref, hexKey, typ, name = it.ImageItem.Media, it.ImageItem.AESKey, wx.MediaImage, "image"
	case it.Type == ItemVoice && it.VoiceItem != nil:
		ref, typ, name, mtyp = it.VoiceItem.Media, wx.MediaVoice, "voice.silk", "audio/silk"
	case it.Type == ItemFile && it.FileItem != nil:
		ref, typ, name = it.FileItem.Media, wx.MediaFile, it.FileItem.FileName
	case it.Type == ItemVideo && it.VideoItem != nil:
		ref, typ, name, mtyp = it.VideoItem.Media, wx.MediaVideo, "video.mp4", "video/mp4"
	default:
		d.log.Warn("ilink: an item of an unknown type skipped", "type", it.Type, "msg", msgID)
		return wxdriver.Body{}, false
	}
	data, err := d.fetchMedia(ctx, ref, hexKey)
	if err != nil {
		d.log.Warn("ilink: a media not downloaded", "type", typ, "msg", msgID, "err", err)
		return wxdriver.Body{}, false
	}
	if mtyp == "" {
		mtyp = mime.TypeByExtension(path.Ext(name))
	}
	if mtyp == "" {
		mtyp = http.DetectContentType(data)
		if i := strings.IndexByte(mtyp, ';'); i >= 0 {
			mtyp = mtyp[:i]
		}
	}
	if path.Ext(name) == "" {
		if exts, _ := mime.ExtensionsByType(mtyp); len(exts) > 0 {
			name += exts[0]
		}
	}
	return wxdriver.Body{Format: wx.FormatMedia, Media: &wxdriver.IncomingMedia{Type: typ, Name: name, Mime: mtyp, Data: data}}, true
}

// fetchMedia downloads a media from the CDN and decrypts it.
func (d *Driver) fetchMedia(ctx context.Context, ref *CDNMedia, hexKey string) ([]byte, error) {
	if ref == nil || (ref.FullURL == "" && ref.EncryptQueryParam == "") {
		return nil, fmt.Errorf("ilink: a media without a CDN reference")
	}
	key, err := ParseAESKey(hexKey, ref.AESKey)
	if err != nil {
		return nil, err
	}
	u := ref.FullURL
	if u == "" {
		u = cdnDownloadURL(d.cfg.CDNURL, ref.EncryptQueryParam)
	}
	enc, err := d.c.download(ctx, u, PaddedSize(d.cfg.MaxMedia), d.cfg.APITimeout)
	if err != nil {
		return nil, err
	}
	return DecryptECB(key, enc)
}

// Send sends a text, a media, or both (the text first) to the one friend, with the friend's
// last context_token: iLink refuses a message without one, so a peer who never wrote gets
// none. The returned id is the message's client_id.
func (d *Driver) Send(ctx context.Context, m wxdriver.Outgoing) (string, error) {
	if m.Type != wx.FriendMessage {
		return "", &wxdriver.SendError{Ret: wxdriver.RetNoSuchUser, ErrMsg: "ilink: no groups (iLink carries one 1:1 chat)"}
	}
	to, ok := ilinkID(m.TargetID)
	d.mu.Lock()
	online := d.online
	known := ok && d.knownPeer(m.TargetID)
	ctxToken := d.st.ContextTokens[to]
	d.mu.Unlock()
	switch {
	case !online:
		return "", errNotLoggedIn
	case !known:
		return "", &wxdriver.SendError{Ret: wxdriver.RetNoSuchUser, ErrMsg: "ilink: no such contact: " + m.TargetID}
	case m.Content == "" && m.Media == nil:
		return "", &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: "ilink: empty message"}
	case ctxToken == "":
		return "", &wxdriver.SendError{Ret: RetNoContextToken, ErrMsg: "ilink: no context_token for " + m.TargetID + ": iLink lets the bot answer only after the peer wrote"}
	}
	var id string
	if m.Content != "" {
		var err error
		if id, err = d.sendItem(ctx, to, ctxToken, MessageItem{Type: ItemText, TextItem: &TextItem{Text: m.Content}}); err != nil {
			return "", err
		}
	}
	if m.Media != nil {
		it, err := d.uploadMedia(ctx, to, m.Media)
		if err != nil {
			return "", err
		}
		if id, err = d.sendItem(ctx, to, ctxToken, it); err != nil {
			return "", err
		}
	}
	return id, nil
}

// RetNoContextToken is the Ret of a send to a peer whose context_token is unknown.
const RetNoContextToken = 1102

// sendItem sends one item and returns its client_id.
func (d *Driver) sendItem(ctx context.Context, to, ctxToken string, it MessageItem) (string, error) {
	d.mu.Lock()
	d.nextID++
	id := "openqq" + strconv.FormatUint(d.nextID, 10)
	d.mu.Unlock()
	req := SendMessageReq{Msg: Message{ToUserID: to, ClientID: id, MessageType: MessageBot, MessageState: MessageFinish,
		ContextToken: ctxToken, ItemList: []MessageItem{it}}}
	b, err := d.c.post(ctx, d.base(), "ilink/bot/sendmessage", d.token(), req, d.cfg.APITimeout)
	if err != nil {
		return "", &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: err.Error()}
	}
	if err := checkResult(b, "sendmessage"); err != nil {
		return "", err
	}
	return id, nil
}

// checkResult turns a non-zero ret/errcode into a *wxdriver.SendError; an empty or
// malformed answer of a call that answers {} is taken as success only when it is JSON.
func checkResult(b []byte, call string) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: fmt.Sprintf("ilink: %s: a malformed answer: %v", call, err)}
	}
	if c := r.Code(); c != 0 {
		msg := r.ErrMsg
		if msg == "" {
			msg = "refused"
		}
		if c == ErrSessionExpired {
			return &wxdriver.SendError{Ret: wxdriver.RetNotLoggedIn, ErrMsg: "ilink: session expired (errcode -14): " + msg}
		}
		return &wxdriver.SendError{Ret: c, ErrMsg: "ilink: " + call + ": " + msg}
	}
	return nil
}

// uploadMedia encrypts a media with a new AES-128 key, uploads it to the CDN (getuploadurl
// first) and returns the item that sends it.
func (d *Driver) uploadMedia(ctx context.Context, to string, m *wxdriver.Media) (MessageItem, error) {
	if m.Open == nil {
		return MessageItem{}, &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: "ilink: media without bytes"}
	}
	rc, err := m.Open(ctx)
	if err != nil {
		return MessageItem{}, fmt.Errorf("ilink: read media %s: %w", m.Meta.ID, err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return MessageItem{}, fmt.Errorf("ilink: read media %s: %w", m.Meta.ID, err)
	}
	key := make([]byte, 16)
	fk := make([]byte, 16)
	_, _ = rand.Read(key)
	_, _ = rand.Read(fk)
	filekey := hex.EncodeToString(fk)
	enc, err := EncryptECB(key, data)
	if err != nil {
		return MessageItem{}, err
	}
	sum := md5.Sum(data)
	mt := uploadType(m.Meta.Type, m.Meta.Mime)
	b, err := d.c.post(ctx, d.base(), "ilink/bot/getuploadurl", d.token(), GetUploadURLReq{FileKey: filekey, MediaType: mt, ToUserID: to,
		RawSize: int64(len(data)), RawFileMD5: hex.EncodeToString(sum[:]), FileSize: int64(len(enc)), NoNeedThumb: true, AESKey: hex.EncodeToString(key)}, d.cfg.APITimeout)
	if err != nil {
		return MessageItem{}, &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: err.Error()}
	}
	var up GetUploadURLResp
	if err := json.Unmarshal(b, &up); err != nil {
		return MessageItem{}, &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: "ilink: getuploadurl: a malformed answer"}
	}
	if c := up.Code(); c != 0 {
		return MessageItem{}, &wxdriver.SendError{Ret: c, ErrMsg: "ilink: getuploadurl: " + up.ErrMsg}
	}
	u := up.UploadFullURL
	if u == "" {
		if up.UploadParam == "" {
			return MessageItem{}, &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: "ilink: getuploadurl: no upload URL"}
		}
		u = cdnUploadURL(d.cfg.CDNURL, up.UploadParam, filekey)
	}
	dl, err := d.c.upload(ctx, u, enc, d.cfg.APITimeout)
	if err != nil {
		return MessageItem{}, &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: err.Error()}
	}
	// As the plugin: aes_key is base64 of the key's hex text.
	ref := &CDNMedia{EncryptQueryParam: dl, AESKey: base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(key))), EncryptType: 1}
	switch mt {
	case UploadImage:
		return MessageItem{Type: ItemImage, ImageItem: &ImageItem{Media: ref, MidSize: int64(len(enc))}}, nil
	case UploadVideo:
		return MessageItem{Type: ItemVideo, VideoItem: &VideoItem{Media: ref, VideoSize: int64(len(enc))}}, nil
	}
	name := m.Meta.Name
	if name == "" {
		name = "file"
	}
	return MessageItem{Type: ItemFile, FileItem: &FileItem{Media: ref, FileName: name, Len: strconv.Itoa(len(data))}}, nil
}

// uploadType is the upload media type of a stored media: images and videos as such, the
// rest (voice included: iLink's bot sends no voice) as files.
func uploadType(typ, mimeType string) int {
	switch {
	case typ == wx.MediaImage || (typ == "" && strings.HasPrefix(mimeType, "image/")):
		return UploadImage
	case typ == wx.MediaVideo || (typ == "" && strings.HasPrefix(mimeType, "video/")):
		return UploadVideo
	}
	return UploadFile
}
