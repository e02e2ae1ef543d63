package reporter

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// Answer is what a post_api receiver asked for in its reply to a message report.
type Answer struct {
	// Reply is sent in the message's conversation when it is not empty.
	Reply string
	// Shutup mutes the sender of a group message for ShutupTime.
	Shutup bool
	// ShutupTime is in seconds (post_api's unit, unlike the API's minutes); 60 by default.
	ShutupTime int
	// Format "" or "text" lets a reply to a send_message report go out (Mojo's rule).
	Format string
	// Media is Openwx's media answer: an http(s) URL, or a media_id of the media store, sent
	// in the message's conversation after Reply. Openqq's media answer was commented out;
	// openqq takes it for QQ too, as an extension (a picture).
	Media string
}

// DefaultShutupTime is post_api's default mute, in seconds.
const DefaultShutupTime = 60

// jsonType is Mojo's test of an answer's Content-Type: a substring match, so a charset or a
// vendor type still counts.
var jsonType = regexp.MustCompile(`(?i)text/json|application/json`)

// ParseAnswer reads a receiver's answer. Only a JSON object with a JSON content type counts
// (Mojo's rule); anything else, or anything unexpected inside, is no answer, never an error:
// receivers answer "ok", "{}", HTML and worse, and that must do no harm.
func ParseAnswer(contentType string, body []byte) (Answer, bool) {
	if !jsonType.MatchString(contentType) {
		return Answer{}, false
	}
	body = bytes.TrimSpace(body)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return Answer{}, false
	}
	a := Answer{ShutupTime: DefaultShutupTime}
	if v, ok := scalar(raw["reply"]); ok {
		a.Reply = v
	}
	if v, ok := scalar(raw["shutup"]); ok {
		if n, err := strconv.ParseFloat(v, 64); err == nil && n == 1 {
			a.Shutup = true
		}
	}
	if v, ok := scalar(raw["shutup_time"]); ok {
		if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 1 && n <= 30*24*3600 {
			a.ShutupTime = int(n)
		}
	}
	if v, ok := scalar(raw["format"]); ok {
		a.Format = v
	}
	if v, ok := scalar(raw["media"]); ok {
		a.Media = strings.TrimSpace(v)
	}
	return a, a.Reply != "" || a.Shutup || a.Format != "" || a.Media != ""
}

// scalar reads a JSON string or number as text, the way Perl saw either; true reads as 1 and
// false as 0, as JSON::PP's booleans compare in Perl.
func scalar(v json.RawMessage) (string, bool) {
	switch string(v) {
	case "":
		return "", false
	case "true":
		return "1", true
	case "false":
		return "0", true
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return strings.TrimSpace(n.String()), true
	}
	return "", false
}
