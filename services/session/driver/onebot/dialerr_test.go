package onebot

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/infra/proctest"
)

// A dial that fails quotes the URL it asked for, which the WebSocket client turns into
// http://: the token in ONEBOT_URL's query must not be in the error (it reaches the logs).
func TestDialErrorHidesToken(t *testing.T) {
	url := fmt.Sprintf("ws://127.0.0.1:%d/?access_token=t0k3n", proctest.MustFreePort(t)) // nothing listens there
	d, err := New(Config{URL: url, AccessToken: "t0k3n", CallTimeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.dial(t.Context())
	if err == nil {
		t.Fatal("dialing a closed port worked")
	}
	if strings.Contains(err.Error(), "t0k3n") || !strings.Contains(err.Error(), "access_token=***") {
		t.Errorf("dial error %q", err)
	}
}
