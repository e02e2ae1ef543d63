package wx

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// consult sends a message and holds the call until the friend answers or `timeout` seconds
// have passed. The session bounds the wait with ConsultTimeout, and the gateway must wait as
// long (plus its API_TIMEOUT) before it gives the call up: both read the same param here.
const (
	// ConsultDefaultTimeout is Mojo's `$p->{timeout} || 30`.
	ConsultDefaultTimeout = 30 * time.Second
	// ConsultMaxTimeout is the longest consult openqq holds a call: an HTTP call held for
	// longer is cut by proxies and clients anyway, and each held call keeps a waiter.
	ConsultMaxTimeout = 300 * time.Second
)

// ConsultTimeout reads consult's `timeout` (seconds, decimals allowed): absent or empty is
// the default, anything else must be a number in (0, ConsultMaxTimeout]. Mojo took any value
// (`|| 30`), so `timeout=abc` waited 30 s and `timeout=-1` answered at once; openqq refuses
// both with a clear error.
func ConsultTimeout(raw string, given bool) (time.Duration, error) {
	raw = strings.TrimSpace(raw)
	if !given || raw == "" {
		return ConsultDefaultTimeout, nil
	}
	secs, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
		return 0, fmt.Errorf("timeout %q is not a number of seconds", raw)
	}
	if secs <= 0 || secs > ConsultMaxTimeout.Seconds() {
		return 0, fmt.Errorf("timeout %s out of range: more than 0 and at most %d seconds", raw, int(ConsultMaxTimeout.Seconds()))
	}
	return time.Duration(secs * float64(time.Second)), nil
}
