package onebot

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// num reads an integer that implementations send as a JSON number or a string (ids, levels:
// NapCat's level is "LV5"-style text on some builds). What cannot be read is 0.
type num int64

func (n *num) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	s := strings.TrimLeftFunc(string(b), func(r rune) bool { return r < '0' || r > '9' })
	if v, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		*n = num(v)
		return nil
	}
	if f, err := strconv.ParseFloat(string(b), 64); err == nil {
		*n = num(f)
		return nil
	}
	v, _ := strconv.ParseInt(s, 10, 64)
	*n = num(v)
	return nil
}

// flag reads a request's flag, a string in the spec and a number on some builds.
type flag string

func (f *flag) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flag(s)
		return nil
	}
	*f = flag(bytes.TrimSpace(b))
	return nil
}

// The OneBot v11 data the driver reads (SPEC api/public.md, plus the extras of NapCat and
// go-cqhttp that map to Mojo fields).
type (
	obLogin struct {
		UserID   num    `json:"user_id"`
		Nickname string `json:"nickname"`
	}
	obStranger struct {
		UserID   num    `json:"user_id"`
		Nickname string `json:"nickname"`
		Sex      string `json:"sex"`
		Age      num    `json:"age"`
		LongNick string `json:"long_nick"` // NapCat: the signature
	}
	obFriend struct {
		UserID   num    `json:"user_id"`
		Nickname string `json:"nickname"`
		Remark   string `json:"remark"`
	}
	// obCategory is an entry of NapCat's get_friends_with_category.
	obCategory struct {
		CategoryName string     `json:"categoryName"`
		BuddyList    []obFriend `json:"buddyList"`
	}
	obGroup struct {
		GroupID         num    `json:"group_id"`
		GroupName       string `json:"group_name"`
		GroupRemark     string `json:"group_remark"`
		MemberCount     num    `json:"member_count"`
		MaxMemberCount  num    `json:"max_member_count"`
		GroupCreateTime num    `json:"group_create_time"`
		GroupLevel      num    `json:"group_level"`
	}
	obMember struct {
		GroupID      num    `json:"group_id"`
		UserID       num    `json:"user_id"`
		Nickname     string `json:"nickname"`
		Card         string `json:"card"`
		Sex          string `json:"sex"`
		Area         string `json:"area"`
		JoinTime     num    `json:"join_time"`
		LastSentTime num    `json:"last_sent_time"`
		Level        num    `json:"level"`
		Role         string `json:"role"`
		Unfriendly   bool   `json:"unfriendly"`
	}
	obSendResult struct {
		MessageID num `json:"message_id"`
	}
)

// obEvent is any event, with the fields the driver reads from each kind.
type obEvent struct {
	Time            num             `json:"time"`
	SelfID          num             `json:"self_id"`
	PostType        string          `json:"post_type"`
	MessageType     string          `json:"message_type"`
	MessageSentType string          `json:"message_sent_type"`
	SubType         string          `json:"sub_type"`
	MessageID       num             `json:"message_id"`
	UserID          num             `json:"user_id"`
	GroupID         num             `json:"group_id"`
	TargetID        num             `json:"target_id"`
	OperatorID      num             `json:"operator_id"`
	Message         json.RawMessage `json:"message"`
	RawMessage      string          `json:"raw_message"`
	Sender          struct {
		UserID   num    `json:"user_id"`
		Nickname string `json:"nickname"`
		Card     string `json:"card"`
		GroupID  num    `json:"group_id"` // go-cqhttp: where a temporary session began
	} `json:"sender"`
	Anonymous json.RawMessage `json:"anonymous"`

	NoticeType string `json:"notice_type"`
	CardNew    string `json:"card_new"`
	NameNew    string `json:"name_new"`

	RequestType string `json:"request_type"`
	Comment     string `json:"comment"`
	Flag        flag   `json:"flag"`

	MetaEventType string `json:"meta_event_type"`
	Status        *struct {
		Online *bool `json:"online"`
	} `json:"status"`
}
