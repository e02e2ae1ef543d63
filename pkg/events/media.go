package events

// Media is a media message's file, with Openwx's media_* fields: one definition for both
// platforms' reports (an Openwx media message, a QQ picture). Data (media_data, the bytes in
// base64) is never stored in the event stream: the reporter adds it to what it posts, unless
// POST_MEDIA_DATA=0.
type Media struct {
	Code  int    `json:"media_code"`
	Data  []byte `json:"media_data,omitempty"`
	Ext   string `json:"media_ext"`
	ID    string `json:"media_id"`
	Mime  string `json:"media_mime"`
	Mtime int64  `json:"media_mtime"`
	Name  string `json:"media_name"`
	Path  string `json:"media_path"`
	Size  int64  `json:"media_size"`
	Type  string `json:"media_type"`
}

// The formats of a QQ message report that has media (Message.Format); a plain text report
// has no format field, as in Mojo-Webqq, so that a client of 2017 sees it byte for byte.
const (
	FormatText  = "text"
	FormatMedia = "media"
)

// PictureContent is the content of a QQ picture, as Mojo-Webqq wrote it.
const PictureContent = "[图片]"
