package poller

import (
	"context"
	"net"
	"time"
)

// netDialer bounds connecting, not the poll: the server is meant to hold the request.
type netDialer struct{ timeout time.Duration }

func (d *netDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return (&net.Dialer{Timeout: d.timeout, KeepAlive: 30 * time.Second}).DialContext(ctx, network, addr)
}
