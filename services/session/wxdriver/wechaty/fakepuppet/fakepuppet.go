// Package fakepuppet is a Wechaty puppet service for tests, written from the gRPC API
// (wechaty.Puppet, puppetpb): a real gRPC server on loopback whose account logs in through
// the scan states, streams events, and answers the contact, room, member, message, file,
// friendship and recall calls over its own roster. Like web WeChat's puppets, its ids change
// at every QR login. Faults: Drop cuts the event streams, Stall holds every call, Garbage
// sends events whose payloads are not what their type says, and a wrong token is refused.
package fakepuppet

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/openqq/openqq/services/session/wxdriver/wechaty/puppetpb"
)

// Sent is a message the account sent through the puppet.
type Sent struct {
	ID             string
	ConversationID string
	Text           string
	FileName       string
	FileMime       string
	FileData       []byte
	Recalled       bool
}

// Room is a room of the fake's roster.
type Room struct {
	Topic   string
	Owner   string
	Members []string
	Aliases map[string]string
}

type message struct {
	p       *pb.MessagePayloadResponse
	box     string
	url     *pb.UrlLinkPayload
	contact string
}

// Server is the fake puppet service.
type Server struct {
	token string
	srv   *grpc.Server
	addr  string

	mu          sync.Mutex
	gen         int // the QR login's generation: the ids' suffix
	self        string
	loggedIn    bool
	logins      int
	contacts    map[string]*pb.ContactPayloadResponse
	rooms       map[string]*Room
	messages    map[string]*message
	friendships map[string]*pb.FriendshipPayloadResponse
	sent        []Sent
	made        []string // FriendshipAdd requests: contact ids
	subs        map[chan *pb.EventResponse]bool
	drop        chan struct{}
	stall       chan struct{} // closed: calls answer; open: calls wait (Stall)
	seq         int
	dings       chan struct{}
}

// New starts a fake puppet service on a free loopback port, accepting token.
func New(token string) (*Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{token: token, addr: lis.Addr().String(), subs: map[chan *pb.EventResponse]bool{}, drop: make(chan struct{}), stall: make(chan struct{}), dings: make(chan struct{}, 64)}
	close(s.stall)
	s.seed()
	s.srv = grpc.NewServer(grpc.UnaryInterceptor(s.unaryAuth), grpc.StreamInterceptor(s.streamAuth))
	pb.RegisterPuppetServer(s.srv, &puppet{s: s})
	go s.srv.Serve(lis)
	return s, nil
}

// Addr is the host:port to connect to.
func (s *Server) Addr() string { return s.addr }

// Close stops the server.
func (s *Server) Close() { s.srv.Stop() }

// ID names a contact or room of the current generation by its base name (wang, mei,
// xiaoice, huitailang, self, room1, ...).
func (s *Server) ID(base string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id(base)
}

func (s *Server) id(base string) string {
	if base == "filehelper" {
		return base
	}
	return fmt.Sprintf("%s_%d", base, s.gen)
}

func baseOf(id string) string {
	if i := strings.LastIndexByte(id, '_'); i > 0 {
		return id[:i]
	}
	return id
}

// seed makes the roster: the user, two friends, an official account, the file assistant, a
// stranger, and a room the user owns.
func (s *Server) seed() {
	s.gen = 1
	s.contacts = map[string]*pb.ContactPayloadResponse{}
	add := func(c *pb.ContactPayloadResponse) { s.contacts[c.Id] = c }
	s.self = s.id("self")
	add(&pb.ContactPayloadResponse{Id: s.self, Name: "小明", Weixin: "xiaoming", Gender: pb.ContactGender_CONTACT_GENDER_MALE, Type: pb.ContactType_CONTACT_TYPE_PERSONAL, Friend: true, City: "深圳", Province: "广东"})
	add(&pb.ContactPayloadResponse{Id: s.id("wang"), Name: "王大锤", Alias: "老王", Weixin: "wangdachui", Gender: pb.ContactGender_CONTACT_GENDER_MALE, Type: pb.ContactType_CONTACT_TYPE_PERSONAL, Friend: true, City: "北京", Province: "北京", Signature: "万万没想到"})
	add(&pb.ContactPayloadResponse{Id: s.id("mei"), Name: "小美", Alias: "表妹", Gender: pb.ContactGender_CONTACT_GENDER_FEMALE, Type: pb.ContactType_CONTACT_TYPE_PERSONAL, Friend: true})
	add(&pb.ContactPayloadResponse{Id: s.id("xiaoice"), Name: "小冰", Weixin: "ms-xiaoice", Type: pb.ContactType_CONTACT_TYPE_OFFICIAL, Friend: true, Gender: pb.ContactGender_CONTACT_GENDER_FEMALE, City: "海淀", Province: "北京"})
	add(&pb.ContactPayloadResponse{Id: "filehelper", Name: "文件传输助手", Type: pb.ContactType_CONTACT_TYPE_PERSONAL, Friend: true})
	add(&pb.ContactPayloadResponse{Id: s.id("huitailang"), Name: "灰太狼", Type: pb.ContactType_CONTACT_TYPE_PERSONAL})
	add(&pb.ContactPayloadResponse{Id: s.id("xiyangyang"), Name: "喜羊羊", Type: pb.ContactType_CONTACT_TYPE_PERSONAL})
	s.rooms = map[string]*Room{s.id("room1"): {Topic: "openqq 测试群", Owner: s.self, Members: []string{s.self, s.id("wang"), s.id("huitailang"), s.id("xiyangyang")}, Aliases: map[string]string{s.id("huitailang"): "狼哥"}}}
	s.messages = map[string]*message{}
	s.friendships = map[string]*pb.FriendshipPayloadResponse{}
}

// renew gives every contact and room the ids of a new generation (a new QR login).
func (s *Server) renew() {
	s.gen++
	re := func(id string) string {
		if id == "filehelper" || id == "" {
			return id
		}
		return s.id(baseOf(id))
	}
	cs := map[string]*pb.ContactPayloadResponse{}
	for id, c := range s.contacts {
		c.Id = re(id)
		cs[c.Id] = c
	}
	s.contacts = cs
	rs := map[string]*Room{}
	for id, r := range s.rooms {
		r.Owner = re(r.Owner)
		for i, m := range r.Members {
			r.Members[i] = re(m)
		}
		al := map[string]string{}
		for k, v := range r.Aliases {
			al[re(k)] = v
		}
		r.Aliases = al
		rs[re(id)] = r
	}
	s.rooms = rs
	s.self = re(s.self)
	s.messages = map[string]*message{}
	s.friendships = map[string]*pb.FriendshipPayloadResponse{}
}

func (s *Server) nextID(prefix string) string {
	s.seq++
	return prefix + strconv.Itoa(1000+s.seq)
}

// emit sends an event to every stream. Callers hold mu.
func (s *Server) emit(t pb.EventType, payload any) {
	b, _ := json.Marshal(payload)
	s.emitRaw(t, string(b))
}

func (s *Server) emitRaw(t pb.EventType, payload string) {
	e := &pb.EventResponse{Type: t, Payload: payload}
	for ch := range s.subs {
		select {
		case ch <- e:
		default: // a stream this far behind is as good as gone; the test would see it
		}
	}
}

// login walks the scan states to a login, as a puppet does when started logged out.
// Callers hold mu.
func (s *Server) login() {
	s.logins++
	if s.logins > 1 {
		s.renew()
	}
	qr := fmt.Sprintf("https://login.weixin.qq.com/l/fakepuppet-%d", s.logins)
	s.emit(pb.EventType_EVENT_TYPE_SCAN, map[string]any{"qrcode": qr, "status": 2})
	s.emit(pb.EventType_EVENT_TYPE_SCAN, map[string]any{"qrcode": qr, "status": 3})
	s.emit(pb.EventType_EVENT_TYPE_SCAN, map[string]any{"qrcode": qr, "status": 4})
	s.loggedIn = true
	s.emit(pb.EventType_EVENT_TYPE_LOGIN, map[string]any{"contactId": s.self})
}

// Logout logs the account out (the phone ended the session): the event stream says so.
func (s *Server) Logout() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loggedIn = false
	s.emit(pb.EventType_EVENT_TYPE_LOGOUT, map[string]any{"contactId": s.self, "data": "logged out"})
}

// Drop cuts every event stream, as a lost connection would.
func (s *Server) Drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.drop)
	s.drop = make(chan struct{})
}

// Stall makes every call wait until the returned function is called.
func (s *Server) Stall() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	s.stall = ch
	return sync.OnceFunc(func() { close(ch) })
}

// Garbage sends events whose payloads are not what their types say.
func (s *Server) Garbage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range []struct {
		t pb.EventType
		p string
	}{
		{pb.EventType_EVENT_TYPE_MESSAGE, "{not json"},
		{pb.EventType_EVENT_TYPE_MESSAGE, `{"messageId":42}`},
		{pb.EventType_EVENT_TYPE_MESSAGE, `{"messageId":"no-such-message"}`},
		{pb.EventType_EVENT_TYPE_ROOM_JOIN, `{"roomId":"","inviteeIdList":[]}`},
		{pb.EventType_EVENT_TYPE_FRIENDSHIP, `null`},
		{pb.EventType(99), `{}`},
		{pb.EventType_EVENT_TYPE_SCAN, `[]`},
	} {
		s.emitRaw(g.t, g.p)
	}
}

// Heartbeat sends a heartbeat and a dong.
func (s *Server) Heartbeat() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emit(pb.EventType_EVENT_TYPE_HEARTBEAT, map[string]any{"data": "heartbeat"})
	s.emit(pb.EventType_EVENT_TYPE_DONG, map[string]any{"data": "dong"})
}

// Dings receives once per Ding call (the latest 64 are kept).
func (s *Server) Dings() <-chan struct{} { return s.dings }

// Sent returns the messages sent so far.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.sent)
	for i := range out {
		out[i].FileData = slices.Clone(out[i].FileData)
	}
	return out
}

// FriendshipsAdded returns the contacts FriendshipAdd asked.
func (s *Server) FriendshipsAdded() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.made)
}

// Snapshot is the fake's roster.
type Snapshot struct {
	Self     string
	Contacts map[string]*pb.ContactPayloadResponse
	Rooms    map[string]Room
}

// Roster returns a copy of the roster.
func (s *Server) Roster() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{Self: s.self, Contacts: map[string]*pb.ContactPayloadResponse{}, Rooms: map[string]Room{}}
	for id, c := range s.contacts {
		snap.Contacts[id] = cloneContact(c)
	}
	for id, r := range s.rooms {
		cp := *r
		cp.Members = slices.Clone(r.Members)
		cp.Aliases = map[string]string{}
		for k, v := range r.Aliases {
			cp.Aliases[k] = v
		}
		snap.Rooms[id] = cp
	}
	return snap
}

func cloneContact(c *pb.ContactPayloadResponse) *pb.ContactPayloadResponse {
	cp := &pb.ContactPayloadResponse{}
	*cp = pb.ContactPayloadResponse{Id: c.Id, Gender: c.Gender, Type: c.Type, Name: c.Name, Avatar: c.Avatar, Alias: c.Alias,
		City: c.City, Friend: c.Friend, Province: c.Province, Signature: c.Signature, Weixin: c.Weixin}
	return cp
}

// Message is something that reaches the account.
type Message struct {
	Type     pb.MessageType
	Talker   string // empty in a room: a system notice
	Room     string
	Listener string // a message the account sent elsewhere: to whom
	Text     string
	FileName string
	FileMime string
	FileData []byte
	URL      *pb.UrlLinkPayload
	Contact  string // MESSAGE_TYPE_CONTACT: the card's contact
}

// Deliver makes the account receive m (a message event) and returns its id.
func (s *Server) Deliver(m Message) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextID("msg")
	p := &pb.MessagePayloadResponse{Id: id, Type: m.Type, TalkerId: m.Talker, RoomId: m.Room, ListenerId: m.Listener, Text: m.Text,
		Filename: m.FileName, ReceiveTime: timestamppb.New(time.Now())}
	if p.ListenerId == "" && p.RoomId == "" {
		p.ListenerId = s.self
	}
	msg := &message{p: p, url: m.URL, contact: m.Contact}
	if m.FileData != nil {
		b, _ := json.Marshal(map[string]any{"type": 1, "name": m.FileName, "mediaType": m.FileMime, "metadata": map[string]string{},
			"base64": base64.StdEncoding.EncodeToString(m.FileData)})
		msg.box = string(b)
	}
	s.messages[id] = msg
	s.emit(pb.EventType_EVENT_TYPE_MESSAGE, map[string]any{"messageId": id})
	return id
}

// AddContact adds a contact (a friend or not) and returns its id; friend contacts are
// announced as a confirmed friendship, as puppets do.
func (s *Server) AddContact(base string, c *pb.ContactPayloadResponse) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.Id = s.id(base)
	s.contacts[c.Id] = c
	if c.Friend {
		fid := s.nextID("fs")
		s.friendships[fid] = &pb.FriendshipPayloadResponse{Id: fid, ContactId: c.Id, Type: pb.FriendshipType_FRIENDSHIP_TYPE_CONFIRM}
		s.emit(pb.EventType_EVENT_TYPE_FRIENDSHIP, map[string]any{"friendshipId": fid})
	}
	return c.Id
}

// UpdateContact changes a contact and tells the account it is dirty.
func (s *Server) UpdateContact(id string, f func(c *pb.ContactPayloadResponse)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.contacts[id]; c != nil {
		f(c)
		s.emit(pb.EventType_EVENT_TYPE_DIRTY, map[string]any{"payloadType": 2, "payloadId": id})
	}
}

// Join makes contact join room (room-join).
func (s *Server) Join(room, contact string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[room]; r != nil && !slices.Contains(r.Members, contact) {
		r.Members = append(r.Members, contact)
		s.emit(pb.EventType_EVENT_TYPE_ROOM_JOIN, map[string]any{"roomId": room, "inviteeIdList": []string{contact}, "inviterId": s.self, "timestamp": time.Now().Unix()})
	}
}

// Leave makes contact leave room (room-leave).
func (s *Server) Leave(room, contact string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[room]; r != nil {
		r.Members = slices.DeleteFunc(r.Members, func(m string) bool { return m == contact })
		s.emit(pb.EventType_EVENT_TYPE_ROOM_LEAVE, map[string]any{"roomId": room, "removeeIdList": []string{contact}, "removerId": contact, "timestamp": time.Now().Unix()})
	}
}

// SetTopic renames a room, as someone else in it would (room-topic).
func (s *Server) SetTopic(room, topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[room]; r != nil {
		old := r.Topic
		r.Topic = topic
		s.emit(pb.EventType_EVENT_TYPE_ROOM_TOPIC, map[string]any{"roomId": room, "newTopic": topic, "oldTopic": old, "changerId": r.Owner, "timestamp": time.Now().Unix()})
	}
}

// AskFriendship makes a new stranger named name ask to be a friend; it returns the
// friendship's id.
func (s *Server) AskFriendship(name, hello string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	cid := s.id(s.nextID("stranger"))
	s.contacts[cid] = &pb.ContactPayloadResponse{Id: cid, Name: name, Type: pb.ContactType_CONTACT_TYPE_PERSONAL}
	fid := s.nextID("fs")
	s.friendships[fid] = &pb.FriendshipPayloadResponse{Id: fid, ContactId: cid, Hello: hello, Type: pb.FriendshipType_FRIENDSHIP_TYPE_RECEIVE}
	s.emit(pb.EventType_EVENT_TYPE_FRIENDSHIP, map[string]any{"friendshipId": fid})
	return fid
}

// auth checks the token, as the puppet service does.
func (s *Server) auth(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("authorization"); len(v) != 1 || v[0] != "Wechaty "+s.token {
		return status.Error(codes.Unauthenticated, "invalid token")
	}
	s.mu.Lock()
	stall := s.stall
	s.mu.Unlock()
	select {
	case <-stall:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

func (s *Server) unaryAuth(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := s.auth(ctx); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := s.auth(ss.Context()); err != nil {
		return err
	}
	return h(srv, ss)
}
