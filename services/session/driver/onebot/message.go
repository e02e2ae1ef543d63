package onebot

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/openqq/openqq/services/session/driver/face"
)

// segment is one part of a OneBot message. Data values are strings in the spec; some
// implementations send numbers, hence RawMessage.
type segment struct {
	Type string                     `json:"type"`
	Data map[string]json.RawMessage `json:"data"`
}

func (s segment) str(key string) string {
	raw, ok := s.Data[key]
	if !ok {
		return ""
	}
	var v string
	if json.Unmarshal(raw, &v) == nil {
		return v
	}
	return strings.Trim(string(raw), `"`)
}

// textSegment is user text as one text segment: text that contains "[CQ:" is never read as
// a CQ code, whatever the implementation's escaping rules.
func textSegment(text string) segment {
	raw, _ := json.Marshal(text)
	return segment{Type: "text", Data: map[string]json.RawMessage{"text": raw}}
}

// contentMessage is content as OneBot segments: text segments, and face segments for the face
// names the table knows ([微笑] → {"type":"face","data":{"id":"14"}}); never a CQ string.
func contentMessage(content string) []segment {
	var segs []segment
	for _, p := range face.Parse(content) {
		if !p.Face {
			segs = append(segs, textSegment(p.Text))
			continue
		}
		id, _ := json.Marshal(strconv.Itoa(p.ID))
		segs = append(segs, segment{Type: "face", Data: map[string]json.RawMessage{"id": id}})
	}
	return segs
}

// imageSegment is a picture to send: file is base64://<bytes>, or a URL the implementation
// fetches itself.
func imageSegment(file string) segment {
	raw, _ := json.Marshal(file)
	return segment{Type: "image", Data: map[string]json.RawMessage{"file": raw}}
}

// segments reads an event's message in either format: an array of segments (NapCat,
// Lagrange, LLOneBot) or a CQ-code string (go-cqhttp's default); a lone segment object is
// taken too. raw_message, always a string, is the fallback.
func segments(message json.RawMessage, rawMessage string) []segment {
	if m := strings.TrimSpace(string(message)); m == "" || m == "null" {
		return parseCQ(rawMessage)
	}
	var segs []segment
	if json.Unmarshal(message, &segs) == nil && segs != nil {
		return segs
	}
	var one segment
	if json.Unmarshal(message, &one) == nil && one.Type != "" {
		return []segment{one}
	}
	var s string
	if json.Unmarshal(message, &s) == nil {
		return parseCQ(s)
	}
	return parseCQ(rawMessage)
}

// parseCQ splits a CQ-code string into segments (SPEC message/string.md): the code's name
// runs to the first ',' or ']', parameters split on ',' and at their first '='.
func parseCQ(s string) []segment {
	var segs []segment
	text := func(t string) {
		if t == "" {
			return
		}
		raw, _ := json.Marshal(unescapeCQ(t, false))
		segs = append(segs, segment{Type: "text", Data: map[string]json.RawMessage{"text": raw}})
	}
	for {
		i := strings.Index(s, "[CQ:")
		if i < 0 {
			text(s)
			return segs
		}
		j := strings.IndexByte(s[i:], ']')
		if j < 0 {
			text(s)
			return segs
		}
		text(s[:i])
		code := s[i+4 : i+j]
		s = s[i+j+1:]
		parts := strings.Split(code, ",")
		seg := segment{Type: parts[0], Data: map[string]json.RawMessage{}}
		for _, p := range parts[1:] {
			k, v, _ := strings.Cut(p, "=")
			raw, _ := json.Marshal(unescapeCQ(v, true))
			seg.Data[k] = raw
		}
		segs = append(segs, seg)
	}
}

// unescapeCQ undoes CQ escaping; &amp; goes last, or "&amp;#91;" would become "[".
func unescapeCQ(s string, param bool) string {
	s = strings.ReplaceAll(s, "&#91;", "[")
	s = strings.ReplaceAll(s, "&#93;", "]")
	if param {
		s = strings.ReplaceAll(s, "&#44;", ",")
	}
	return strings.ReplaceAll(s, "&amp;", "&")
}

// placeholders are what Mojo-Webqq's content showed for what is not text ([图片] was its
// own); the rest follow the same style.
var placeholders = map[string]string{
	"image": "[图片]", "record": "[语音]", "video": "[视频]", "file": "[文件]", "onlinefile": "[文件]",
	"json": "[卡片]", "xml": "[卡片]", "miniapp": "[卡片]", "share": "[分享]", "forward": "[合并转发]",
	"node": "[合并转发]", "location": "[位置]", "music": "[音乐]", "poke": "[戳一戳]", "shake": "[窗口抖动]",
	"dice": "[骰子]", "rps": "[猜拳]", "contact": "[名片]", "markdown": "[markdown]", "redbag": "[红包]",
	"flashtransfer": "[文件]",
}

// render turns segments into Mojo's content: text as is, faces as [name], the rest as a
// placeholder; a quote (reply) adds nothing. name finds an @'s name when the segment has none.
func render(segs []segment, name func(qq string) string) string {
	var b strings.Builder
	for _, s := range segs {
		switch s.Type {
		case "text":
			b.WriteString(s.str("text"))
		case "face":
			b.WriteString(faceText(s.str("id")))
		case "mface", "bface", "sface":
			if sum := s.str("summary"); strings.HasPrefix(sum, "[") {
				b.WriteString(sum)
			} else {
				b.WriteString("[表情]")
			}
		case "at":
			qq := s.str("qq")
			switch n := s.str("name"); {
			case qq == "all":
				b.WriteString("@全体成员")
			case n != "":
				b.WriteString("@" + strings.TrimPrefix(n, "@"))
			default:
				b.WriteString("@" + name(qq))
			}
		case "reply":
		default:
			if p, ok := placeholders[s.Type]; ok {
				b.WriteString(p)
			} else {
				b.WriteString("[" + s.Type + "]")
			}
		}
	}
	return b.String()
}

// faceText is a QQ system face as Mojo-Webqq wrote it: [微笑]; an unknown one is [表情].
func faceText(id string) string {
	n, err := strconv.Atoi(id)
	if err != nil {
		return face.Unknown
	}
	return face.Text(n)
}
