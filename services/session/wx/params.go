package wx

import (
	"strings"

	"github.com/openqq/openqq/pkg/events"
)

// Openwx's params as the routes read them. Mojo read them with Perl's `defined` and split
// lists with `split /,/`; openqq reads them the same way but refuses what Mojo silently did
// wrong with (a list too long, an op that is neither 1 nor 0).

// idList reads a comma-separated id list from the first of keys that is given: Mojo-Weixin
// HEAD's `friends`/`members` and the seed's `friend`/`member`. Blank entries and repeats go
// (each id is one call to WeChat); more than max distinct ids is a bad request before anything
// is looked up.
func idList(p events.Params, max int, keys ...string) ([]string, error) {
	var raw, key string
	for _, k := range keys {
		if v, ok := p[k]; ok {
			raw, key = v, k
			break
		}
	}
	var ids []string
	seen := map[string]bool{}
	for _, x := range strings.Split(raw, ",") {
		x = strings.TrimSpace(x)
		if x == "" || seen[x] {
			continue
		}
		seen[x] = true
		ids = append(ids, x)
		if len(ids) > max {
			return nil, events.ErrBadRequest("%s: more than %d distinct ids", key, max)
		}
	}
	return ids, nil
}

// stickOp reads stick's `op`: 1 sticks (also when absent, Mojo's `$op // 1`), 0 unsticks.
func stickOp(p events.Params) (bool, error) {
	v, ok := p["op"]
	if !ok {
		return true, nil
	}
	switch strings.TrimSpace(v) {
	case "1":
		return true, nil
	case "0":
		return false, nil
	}
	return false, events.ErrBadRequest("op %q: want 1 (stick) or 0 (unstick)", v)
}

// hasMedia reports whether a call names media to send: media_id, media_data or media_path,
// as Mojo's `defined $p->{media_...}`, but an empty value (a blank form field) counts as
// absent, as the media store reads it.
func hasMedia(p events.Params) bool {
	return p["media_id"] != "" || p["media_data"] != "" || strings.TrimSpace(p["media_path"]) != ""
}

// selector keeps the params a lookup reads, so that content, media_* and the transport's own
// params never take part in it.
func selector(p events.Params, keys ...string) events.Params {
	s := make(events.Params, len(keys))
	for _, k := range keys {
		if v, ok := p[k]; ok {
			s[k] = v
		}
	}
	return s
}
