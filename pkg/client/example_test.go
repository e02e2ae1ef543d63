package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
)

// A service that answers every message the account receives, in its conversation. It is the
// README's "Use it from Go" and examples/gobot, line for line.
func Example() {
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

// Every error of a call is the API's *events.Status: test its code as a bot tests `code`.
func ExampleClient_SendGroupMessage() {
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	qq := client.New(nc)
	ctx := context.Background()
	reply, err := qq.SendGroupMessage(ctx, 2617047292, "大家好")
	var st *events.Status
	switch {
	case err == nil:
		fmt.Println("sent as message", *reply.ID)
	case errors.As(err, &st) && st.Code == events.CodeGroupMissing:
		fmt.Println("no such group")
	case client.Temporary(err):
		fmt.Println("no session, or not logged in yet: try again later:", err)
	default:
		fmt.Println("refused:", err)
	}
}

// A durable consumer of the stream: a restarted service resumes after the last item its
// handler returned nil for, and an item whose handler failed comes again.
func ExampleClient_Consume() {
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	qq := client.New(nc)
	opts := client.ConsumeOptions{Durable: "newcomers", Names: []string{events.EventNewGroupMember}}
	err = qq.Consume(context.Background(), opts, func(ctx context.Context, it *client.Item) error {
		var member events.GroupMember
		var group events.Group
		if err := it.Params(&member, &group); err != nil {
			return err
		}
		_, err := qq.SendGroupMessage(ctx, group.ID, "欢迎 "+member.DisplayName())
		return err
	})
	if err != nil {
		log.Fatal(err) // the stream does not exist: no session has started yet
	}
}

// check_event over NATS: the items no other caller took, or the first new one within the hold.
func ExampleClient_CheckEvent() {
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	items, err := client.New(nc).CheckEvent(context.Background(), 30*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range items {
		fmt.Println(it.Name)
	}
}

// An item as the stream and post_api carry it, decoded by its post_type.
func ExampleDecodeItem() {
	data := []byte(`{"class":"recv","content":"你好","id":1795459200123456,"post_type":"receive_message",` +
		`"time":1700000000,"type":"group_message","sender":"老王","sender_id":2372835507,"sender_uid":3072574066,` +
		`"group":"PERL学习交流","group_id":2617047292,"group_uid":67890}`)
	it, err := client.DecodeItem("qq.events.group_message", data)
	if err != nil {
		log.Fatal(err)
	}
	m := it.Message
	fmt.Println(it.Name, m.Sender.Name, m.GroupRef.Name, m.Content)

	ev, err := client.DecodeItem("qq.events.state_change", []byte(`{"event":"state_change","params":["updating","running"],"post_type":"event"}`))
	if err != nil {
		log.Fatal(err)
	}
	var from, to events.State
	if err := ev.Params(&from, &to); err != nil {
		log.Fatal(err)
	}
	fmt.Println(ev.Name, from, "→", to)
	// Output:
	// group_message 老王 PERL学习交流 你好
	// state_change updating → running
}

// A reply's error: its code, as errors.As finds it.
func ExampleReply_Err() {
	rep := &client.Reply{Route: events.RouteSendGroupMessage, HTTPStatus: 200,
		Data: []byte(`{"code":101,"id":null,"status":"group not found"}`)}
	err := rep.Err()
	var st *events.Status
	fmt.Println(errors.As(err, &st), st.Code, st.Status, client.Temporary(err))
	// Output: true 101 group not found false
}

// Where a reply to a message goes: a group message's to its group.
func ExampleReplyParams() {
	m := &events.Message{Type: events.GroupMessage, PostType: events.PostReceiveMessage,
		Sender: &events.Sender{ID: 2372835507}, GroupRef: &events.GroupRef{ID: 2617047292}}
	route, p, ok := client.ReplyParams(m, "收到")
	fmt.Println(route, p["id"], p["content"], ok)
	// Output: send_group_message 2617047292 收到 true
}
