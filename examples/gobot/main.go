// Command gobot answers every message the account receives, in its conversation, straight
// from NATS: go run ./examples/gobot (NATS_URL names the server, nats://127.0.0.1:4222 if unset).
package main

import (
	"context"
	"log"
	"os"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
)

func main() {
	nc, err := nats.Connect(os.Getenv("NATS_URL")) // "" is nats://127.0.0.1:4222
	if err != nil {
		log.Fatal(err)
	}
	qq := client.New(nc)
	log.Fatal(qq.Follow(context.Background(), func(ctx context.Context, it *client.Item) error {
		if m := it.Message; m != nil && m.PostType == events.PostReceiveMessage {
			_, err := qq.Reply(ctx, m, m.Sender.Name+"，你说的是："+m.Content)
			return err
		}
		return nil
	}))
}
