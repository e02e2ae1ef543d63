package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/cmd/openqq/allinone"
	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/services/session/driver/sim"
)

// The README's promise: this program, run beside the all-in-one, answers a group message in
// the group.
func TestGoBotAnswersInTheGroup(t *testing.T) {
	cfg := allinone.Config{}
	cfg.NATS.Host, cfg.NATS.Port, cfg.NATS.StoreDir = "127.0.0.1", -1, t.TempDir()
	cfg.Gateway.Addr, cfg.Gateway.SubjectPrefix = "127.0.0.1:0", "qq"
	cfg.Gateway.APITimeout, cfg.Gateway.MaxBodyBytes = 5*time.Second, 1<<20
	cfg.Session.SubjectPrefix, cfg.Session.Driver = "qq", "sim"
	cfg.Session.DriverConfig = sim.Config{QRCodeDir: t.TempDir()}
	ready := make(chan allinone.Addrs, 1)
	cfg.Ready = func(a allinone.Addrs) { ready <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- allinone.Run(ctx, cfg, natstest.Logger(t)) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	addrs := <-ready

	nc, err := nats.Connect(addrs.NATS)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	qq := client.New(nc)
	sent := make(chan *events.Message, 16)
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		_ = qq.Consume(fctx, client.ConsumeOptions{Names: []string{events.GroupMessage}}, func(_ context.Context, it *client.Item) error {
			sent <- it.Message
			return nil
		})
	}()
	// The bot is the program itself, in this process: it runs until the test binary ends.
	t.Setenv("NATS_URL", addrs.NATS)
	go main()

	// Until the bot and the consumer above listen, an injected message may go unanswered or
	// unseen: inject again until the answer comes.
	in, _ := json.Marshal(events.Injection{Type: events.GroupMessage, GroupID: 2617047292, SenderID: 2372835507, Content: "你好"})
	deadline := time.After(20 * time.Second)
	for {
		if r, err := nc.Request(qq.Subjects().SimInject(), in, time.Second); err != nil {
			t.Logf("inject: %v", err)
		} else if rep := r.Data; !strings.Contains(string(rep), `"code":0`) {
			t.Logf("inject: %s", rep)
		}
		wait := time.After(time.Second)
	await:
		for {
			select {
			case m := <-sent:
				if m.PostType != events.PostSendMessage {
					continue
				}
				if m.Content != "后端-夏梓轩，你说的是：你好" || m.GroupRef == nil || m.GroupRef.ID != 2617047292 {
					t.Fatalf("reply %+v", m)
				}
				return
			case <-wait:
				break await
			case <-deadline:
				t.Fatal("no reply within 20s")
			}
		}
	}
}

// The README shows this program as it is, and it is pkg/client's Example, line for line.
func TestREADMEShowsThisProgram(t *testing.T) {
	src := read(t, "main.go")
	body := src[strings.Index(src, "package main"):]
	if readme := read(t, "../../README.md"); !strings.Contains(readme, "```go\n"+body+"```") {
		t.Errorf("README.md does not show examples/gobot/main.go (from `package main` on) in a go block")
	}
	mainBody := funcBody(t, src, "func main() {")
	if ex := funcBody(t, read(t, "../../pkg/client/example_test.go"), "func Example() {"); ex != mainBody {
		t.Errorf("pkg/client's Example differs from main:\n%s\nvs\n%s", ex, mainBody)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// funcBody is the text between a top-level function's opening line and its closing brace.
func funcBody(t *testing.T, src, opening string) string {
	t.Helper()
	i := strings.Index(src, "\n"+opening+"\n")
	if i < 0 {
		t.Fatalf("%q not found", opening)
	}
	rest := src[i+len(opening)+2:]
	j := strings.Index(rest, "\n}\n")
	if j < 0 {
		t.Fatalf("%q not closed", opening)
	}
	return rest[:j]
}
