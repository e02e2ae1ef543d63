package ilink

import (
	"bytes"
	"crypto/aes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// The wire shapes of the iLink bot API, as Tencent/openclaw-weixin's src/api/types.ts gives
// them (JSON over HTTP POST; bytes fields are base64 strings). They are exported for the fake
// server of the tests (package ilinktest), which speaks the same protocol.

// Message item types (MessageItemType).
const (
	ItemText  = 1
	ItemImage = 2
	ItemVoice = 3
	ItemFile  = 4
	ItemVideo = 5
)

// Message types (MessageType) and the state of a finished message (MessageState.FINISH).
const (
	MessageUser   = 1
	MessageBot    = 2
	MessageFinish = 2
)

// Upload media types (UploadMediaType).
const (
	UploadImage = 1
	UploadVideo = 2
	UploadFile  = 3
	UploadVoice = 4
)

// ErrSessionExpired is the errcode iLink answers when the bot token's session timed out: the
// account must log in again.
const ErrSessionExpired = -14

// BaseInfo is the metadata every request carries.
type BaseInfo struct {
	ChannelVersion string `json:"channel_version,omitempty"`
	BotAgent       string `json:"bot_agent,omitempty"`
}

// CDNMedia names an encrypted file on the CDN.
type CDNMedia struct {
	EncryptQueryParam string `json:"encrypt_query_param,omitempty"`
	AESKey            string `json:"aes_key,omitempty"` // base64 of 16 raw bytes or of 32 hex chars
	EncryptType       int    `json:"encrypt_type,omitempty"`
	FullURL           string `json:"full_url,omitempty"`
}

// TextItem is a text.
type TextItem struct {
	Text string `json:"text"`
}

// ImageItem is an image.
type ImageItem struct {
	Media      *CDNMedia `json:"media,omitempty"`
	ThumbMedia *CDNMedia `json:"thumb_media,omitempty"`
	AESKey     string    `json:"aeskey,omitempty"` // hex, preferred over media.aes_key inbound
	URL        string    `json:"url,omitempty"`
	MidSize    int64     `json:"mid_size,omitempty"`
}

// VoiceItem is a voice message (SILK by default).
type VoiceItem struct {
	Media      *CDNMedia `json:"media,omitempty"`
	EncodeType int       `json:"encode_type,omitempty"`
	Playtime   int64     `json:"playtime,omitempty"`
	Text       string    `json:"text,omitempty"`
}

// FileItem is a file.
type FileItem struct {
	Media    *CDNMedia `json:"media,omitempty"`
	FileName string    `json:"file_name,omitempty"`
	MD5      string    `json:"md5,omitempty"`
	Len      string    `json:"len,omitempty"`
}

// VideoItem is a video.
type VideoItem struct {
	Media      *CDNMedia `json:"media,omitempty"`
	VideoSize  int64     `json:"video_size,omitempty"`
	PlayLength int64     `json:"play_length,omitempty"`
	VideoMD5   string    `json:"video_md5,omitempty"`
	ThumbMedia *CDNMedia `json:"thumb_media,omitempty"`
}

// MessageItem is one part of a message.
type MessageItem struct {
	Type      int        `json:"type"`
	MsgID     string     `json:"msg_id,omitempty"`
	TextItem  *TextItem  `json:"text_item,omitempty"`
	ImageItem *ImageItem `json:"image_item,omitempty"`
	VoiceItem *VoiceItem `json:"voice_item,omitempty"`
	FileItem  *FileItem  `json:"file_item,omitempty"`
	VideoItem *VideoItem `json:"video_item,omitempty"`
}

// Message is a WeixinMessage.
type Message struct {
	Seq          int64         `json:"seq,omitempty"`
	MessageID    int64         `json:"message_id,omitempty"`
	FromUserID   string        `json:"from_user_id"`
	ToUserID     string        `json:"to_user_id"`
	ClientID     string        `json:"client_id,omitempty"`
	CreateTimeMS int64         `json:"create_time_ms,omitempty"`
	SessionID    string        `json:"session_id,omitempty"`
	GroupID      string        `json:"group_id,omitempty"`
	MessageType  int           `json:"message_type,omitempty"`
	MessageState int           `json:"message_state,omitempty"`
	ItemList     []MessageItem `json:"item_list,omitempty"`
	ContextToken string        `json:"context_token,omitempty"`
}

// GetUpdatesReq is the long poll's request: the cursor of the previous answer.
type GetUpdatesReq struct {
	GetUpdatesBuf string    `json:"get_updates_buf"`
	BaseInfo      *BaseInfo `json:"base_info,omitempty"`
}

// GetUpdatesResp is the long poll's answer.
type GetUpdatesResp struct {
	Ret                  int       `json:"ret"`
	ErrCode              int       `json:"errcode,omitempty"`
	ErrMsg               string    `json:"errmsg,omitempty"`
	Msgs                 []Message `json:"msgs"`
	GetUpdatesBuf        string    `json:"get_updates_buf"`
	LongPollingTimeoutMS int64     `json:"longpolling_timeout_ms,omitempty"`
}

// SendMessageReq wraps one message to send.
type SendMessageReq struct {
	Msg      Message   `json:"msg"`
	BaseInfo *BaseInfo `json:"base_info,omitempty"`
}

// Result is the ret/errcode/errmsg every answer may carry (sendmessage's is otherwise empty).
type Result struct {
	Ret     int    `json:"ret"`
	ErrCode int    `json:"errcode,omitempty"`
	ErrMsg  string `json:"errmsg,omitempty"`
}

// Code is the answer's error code: errcode, else ret (0: success).
func (r Result) Code() int {
	if r.ErrCode != 0 {
		return r.ErrCode
	}
	return r.Ret
}

// GetUploadURLReq asks where to upload an encrypted file.
type GetUploadURLReq struct {
	FileKey     string    `json:"filekey"`
	MediaType   int       `json:"media_type"`
	ToUserID    string    `json:"to_user_id"`
	RawSize     int64     `json:"rawsize"`
	RawFileMD5  string    `json:"rawfilemd5"`
	FileSize    int64     `json:"filesize"`
	NoNeedThumb bool      `json:"no_need_thumb,omitempty"`
	AESKey      string    `json:"aeskey,omitempty"` // hex
	BaseInfo    *BaseInfo `json:"base_info,omitempty"`
}

// GetUploadURLResp is where: a full URL, or the parameter of the CDN's upload URL.
type GetUploadURLResp struct {
	Result
	UploadParam      string `json:"upload_param,omitempty"`
	ThumbUploadParam string `json:"thumb_upload_param,omitempty"`
	UploadFullURL    string `json:"upload_full_url,omitempty"`
}

// QRCodeResp is get_bot_qrcode's answer: the code to poll with and the text of the QR code
// (a URL to open in WeChat).
type QRCodeResp struct {
	QRCode           string `json:"qrcode"`
	QRCodeImgContent string `json:"qrcode_img_content"`
}

// QR login states of get_qrcode_status.
const (
	QRWait      = "wait"
	QRScanned   = "scaned"
	QRConfirmed = "confirmed"
	QRExpired   = "expired"
)

// QRStatusResp is get_qrcode_status's answer; a confirmed login carries the bot token.
type QRStatusResp struct {
	Status      string `json:"status"`
	BotToken    string `json:"bot_token,omitempty"`
	ILinkBotID  string `json:"ilink_bot_id,omitempty"`
	BaseURL     string `json:"baseurl,omitempty"`
	ILinkUserID string `json:"ilink_user_id,omitempty"`
}

// DecodeUpdates decodes a getupdates answer. It never panics; bad input is an error.
func DecodeUpdates(b []byte) (*GetUpdatesResp, error) {
	var r GetUpdatesResp
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("ilink: getupdates: %w", err)
	}
	return &r, nil
}

// ErrBadKey is an AES key that is neither 16 raw bytes nor 32 hex characters.
var ErrBadKey = errors.New("ilink: bad AES key")

// ParseAESKey reads a CDNMedia.aes_key (base64 of 16 raw bytes, or of 32 hex characters) or,
// hexKey set, an ImageItem.aeskey (hex), which is preferred.
func ParseAESKey(hexKey, b64 string) ([]byte, error) {
	if hexKey != "" {
		k, err := hex.DecodeString(hexKey)
		if err != nil || len(k) != aes.BlockSize {
			return nil, fmt.Errorf("%w: aeskey %q", ErrBadKey, hexKey)
		}
		return k, nil
	}
	d, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	switch {
	case len(d) == aes.BlockSize:
		return d, nil
	case len(d) == 2*aes.BlockSize:
		if k, err := hex.DecodeString(string(d)); err == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: %d bytes", ErrBadKey, len(d))
}

// EncryptECB encrypts with AES-128-ECB and PKCS#7 padding, as the CDN wants.
func EncryptECB(key, plain []byte) ([]byte, error) {
	c, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	buf := append(bytes.Clone(plain), bytes.Repeat([]byte{byte(pad)}, pad)...)
	for i := 0; i < len(buf); i += aes.BlockSize {
		c.Encrypt(buf[i:i+aes.BlockSize], buf[i:i+aes.BlockSize])
	}
	return buf, nil
}

// ErrBadCipher is ciphertext that does not decrypt to PKCS#7-padded bytes.
var ErrBadCipher = errors.New("ilink: bad AES-128-ECB ciphertext")

// DecryptECB decrypts AES-128-ECB with PKCS#7 padding.
func DecryptECB(key, enc []byte) ([]byte, error) {
	c, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	if len(enc) == 0 || len(enc)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadCipher, len(enc))
	}
	out := make([]byte, len(enc))
	for i := 0; i < len(enc); i += aes.BlockSize {
		c.Decrypt(out[i:i+aes.BlockSize], enc[i:i+aes.BlockSize])
	}
	pad := int(out[len(out)-1])
	if pad == 0 || pad > aes.BlockSize || !bytes.Equal(out[len(out)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, fmt.Errorf("%w: padding", ErrBadCipher)
	}
	return out[:len(out)-pad], nil
}

// PaddedSize is the ciphertext size of n plaintext bytes.
func PaddedSize(n int64) int64 { return (n/aes.BlockSize + 1) * aes.BlockSize }
