package gateway

import (
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/openqq/openqq/pkg/events"
)

// Errors of addrLimits.acquire.
var (
	errLimitTotal  = errors.New("limit reached")
	errLimitFromIP = errors.New("limit per address reached")
)

// addrLimits counts what the client addresses hold (connections, stream clients), in total
// and per address, and refuses more than its limits (0: no limit).
type addrLimits struct {
	mu    sync.Mutex
	max   int
	perIP int
	total int
	byIP  map[string]int
}

func newAddrLimits(max, perIP int) *addrLimits {
	return &addrLimits{max: max, perIP: perIP, byIP: map[string]int{}}
}

// acquire takes one for ip; release gives it back (once).
func (l *addrLimits) acquire(ip string) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.total >= l.max {
		return nil, errLimitTotal
	}
	if l.perIP > 0 && l.byIP[ip] >= l.perIP {
		return nil, errLimitFromIP
	}
	l.total++
	l.byIP[ip]++
	return sync.OnceFunc(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.total--
		if l.byIP[ip]--; l.byIP[ip] <= 0 {
			delete(l.byIP, ip)
		}
	}), nil
}

// clientIP is the address part of a RemoteAddr.
func clientIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

// limitedListener refuses connections beyond the per-address limit: each gets a 503 JSON
// answer and is closed, so that one address cannot hold every descriptor of the process.
type limitedListener struct {
	net.Listener
	limits *addrLimits
	log    *slog.Logger
}

func (ln *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := clientIP(c.RemoteAddr().String())
		release, err := ln.limits.acquire(ip)
		if err != nil {
			ln.log.Debug("connection refused: HTTP_CONNS_PER_IP reached", "remote", ip, "limit", ln.limits.perIP)
			go refuseConn(c)
			continue
		}
		return &limitedConn{Conn: c, release: release}, nil
	}
}

// refusedAnswer is what a connection over the limit gets before it is closed.
var refusedAnswer = func() []byte {
	body := events.MustMarshal(events.NewStatus(events.CodeUnavailable, "too many connections from your address (HTTP_CONNS_PER_IP)"))
	head := "HTTP/1.1 503 Service Unavailable\r\nContent-Type: " + contentType + "\r\nConnection: close\r\nContent-Length: "
	return append([]byte(head+strconv.Itoa(len(body))+"\r\n\r\n"), body...)
}()

func refuseConn(c net.Conn) {
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(refusedAnswer)
	_ = c.Close()
}

// limitedConn gives its place back when closed (by the server, or by a hijacker such as the
// WebSocket).
type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	c.release()
	return c.Conn.Close()
}
