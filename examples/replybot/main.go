// Command replybot is the smallest post_api receiver: it answers every message it receives
// with a reply, which openqq sends back into the same conversation.
//
//	go run ./examples/replybot &
//	POST_API=http://127.0.0.1:8080/post_api make run
package main

import (
	"encoding/json"
	"log"
	"net/http"
)

func handle(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		PostType string `json:"post_type"` // receive_message, send_message or event
		Sender   string `json:"sender"`
		Content  string `json:"content"`
	}
	if json.NewDecoder(r.Body).Decode(&msg) != nil || msg.PostType != "receive_message" {
		return // a 200 without an answer: delivered, nothing to do
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"reply": msg.Sender + "，你说的是：" + msg.Content})
}

func main() {
	http.HandleFunc("/post_api", handle)
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}
