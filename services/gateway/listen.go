package gateway

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// ParseAddrs reads HTTP_ADDR: one address or a comma-separated list (Mojo's listen took a
// list), each host:port; blanks around commas are ignored, an empty item or a repeated
// address is an error.
func ParseAddrs(list string) ([]string, error) {
	var addrs []string
	seen := map[string]bool{}
	for a := range strings.SplitSeq(list, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			return nil, fmt.Errorf("HTTP_ADDR %q: an empty address", list)
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("HTTP_ADDR %q: %w", a, err)
		}
		if seen[a] {
			return nil, fmt.Errorf("HTTP_ADDR %q: listed twice", a)
		}
		seen[a] = true
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// Listen opens a listener on every address of HTTP_ADDR, for Serve. An address that is bad or
// busy fails the whole start with an error that names it; the listeners already open are
// closed then.
func (g *Gateway) Listen() ([]net.Listener, error) {
	addrs, err := ParseAddrs(g.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	lns := make([]net.Listener, 0, len(addrs))
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			return nil, fmt.Errorf("gateway: listen on %s (HTTP_ADDR): %w", a, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// errNoListener is Serve without a listener.
var errNoListener = errors.New("gateway: no listener")
