package events

import (
	"fmt"
	"strings"
)

// The platforms the bus serves: Mojo-Webqq's Openqq and Mojo-Weixin's Openwx. A platform's
// name is also the subject prefix of its default account (qq.events.<name>, wx.events.<name>);
// pkg/events/wx.Prefix is PlatformWX.
const (
	PlatformQQ = DefaultPrefix
	PlatformWX = "wx"
)

// GroupNotice is the WeChat platform's third message type: a group's system notice
// (someone joined, the name changed), received only, never answered.
const GroupNotice = "group_notice"

// platformDefaults is the one table of what differs by platform in what is reported.
var platformDefaults = map[string]struct {
	messageTypes  []string
	postEventList []string
}{
	PlatformQQ: {MessageTypes, DefaultPostEventList},
	// Openwx.pm's post_event_list default adds friend_request (MOJO-OPENWX.md §2.1); it has
	// no discuss or sess messages, and a group_notice message type of its own.
	PlatformWX: {
		[]string{FriendMessage, GroupMessage, GroupNotice},
		append(append([]string(nil), DefaultPostEventList...), EventFriendRequest),
	},
}

// PlatformOf is the platform an account's subject prefix names: its first token, when that is
// a platform's name ("wx", "wx.alice"); ok is false for any other (custom) prefix.
func PlatformOf(prefix string) (string, bool) {
	first, _, _ := strings.Cut(prefix, ".")
	_, ok := platformDefaults[first]
	return first, ok
}

// ResolvePlatform chooses the platform of a service: explicit (the PLATFORM setting) when set,
// else the one the subject prefix names, else QQ's, which every prefix was before there were
// two platforms.
func ResolvePlatform(explicit, prefix string) (string, error) {
	if explicit = strings.TrimSpace(strings.ToLower(explicit)); explicit != "" {
		if _, ok := platformDefaults[explicit]; !ok {
			return "", fmt.Errorf("PLATFORM %q: want %s or %s", explicit, PlatformQQ, PlatformWX)
		}
		return explicit, nil
	}
	if p, ok := PlatformOf(prefix); ok {
		return p, nil
	}
	return PlatformQQ, nil
}

// MessageTypesOf are a platform's message types, each a subject of its own (QQ's for an
// unknown platform).
func MessageTypesOf(platform string) []string {
	d, ok := platformDefaults[platform]
	if !ok {
		d = platformDefaults[PlatformQQ]
	}
	return append([]string(nil), d.messageTypes...)
}

// DefaultPostEventListOf is a platform's default post_event_list (QQ's for an unknown
// platform).
func DefaultPostEventListOf(platform string) []string {
	d, ok := platformDefaults[platform]
	if !ok {
		d = platformDefaults[PlatformQQ]
	}
	return append([]string(nil), d.postEventList...)
}
