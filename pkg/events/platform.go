package events

import (
	"fmt"
	"strings"
)

// The platforms the bus serves: Mojo-Webqq's Openqq and Mojo-Weixin's Openwx. A platform's
// name is also the subject prefix of its default account (qq.events.<name>, wx.events.<name>);
// pkg/events/wx.Prefix is PlatformWX. What differs in their reports is defined once per
// platform: here for QQ (MessageTypes, DefaultPostEventList), in pkg/events/wx for WeChat.
const (
	PlatformQQ = DefaultPrefix
	PlatformWX = "wx"
)

// IsPlatform reports whether name is a platform's.
func IsPlatform(name string) bool { return name == PlatformQQ || name == PlatformWX }

// PlatformOf is the platform an account's subject prefix names: its first token, when that is
// a platform's name ("wx", "wx.alice"); ok is false for any other (custom) prefix.
func PlatformOf(prefix string) (string, bool) {
	first, _, _ := strings.Cut(prefix, ".")
	return first, IsPlatform(first)
}

// ResolvePlatform chooses the platform of a service: explicit (the PLATFORM setting) when set,
// else the one the subject prefix names, else QQ's, which every prefix was before there were
// two platforms.
func ResolvePlatform(explicit, prefix string) (string, error) {
	if explicit = strings.TrimSpace(strings.ToLower(explicit)); explicit != "" {
		if !IsPlatform(explicit) {
			return "", fmt.Errorf("PLATFORM %q: want %s or %s", explicit, PlatformQQ, PlatformWX)
		}
		return explicit, nil
	}
	if p, ok := PlatformOf(prefix); ok {
		return p, nil
	}
	return PlatformQQ, nil
}
