package fakepuppet

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/openqq/openqq/services/session/wxdriver/wechaty/puppetpb"
)

// puppet implements the RPCs the wechaty driver uses; the others answer Unimplemented.
type puppet struct {
	pb.UnimplementedPuppetServer
	s *Server
}

func notFound(what, id string) error {
	return status.Errorf(codes.NotFound, "%s %q not found", what, id)
}

func (p *puppet) Start(context.Context, *pb.StartRequest) (*pb.StartResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loggedIn {
		s.login()
	}
	return &pb.StartResponse{}, nil
}

func (p *puppet) Stop(context.Context, *pb.StopRequest) (*pb.StopResponse, error) {
	return &pb.StopResponse{}, nil
}

func (p *puppet) Logout(context.Context, *pb.LogoutRequest) (*pb.LogoutResponse, error) {
	p.s.Logout()
	return &pb.LogoutResponse{}, nil
}

func (p *puppet) Ding(_ context.Context, r *pb.DingRequest) (*pb.DingResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.dings <- struct{}{}:
	default:
	}
	s.emit(pb.EventType_EVENT_TYPE_DONG, map[string]any{"data": r.GetData()})
	return &pb.DingResponse{}, nil
}

func (p *puppet) Event(_ *pb.EventRequest, stream pb.Puppet_EventServer) error {
	s := p.s
	ch := make(chan *pb.EventResponse, 256)
	s.mu.Lock()
	s.subs[ch] = true
	drop := s.drop
	// As the puppet service does: a heartbeat says the stream is open, and a logged-in
	// account's login is told again.
	ch <- &pb.EventResponse{Type: pb.EventType_EVENT_TYPE_HEARTBEAT, Payload: `{"data":"Wechaty Puppet gRPC stream connect successfully"}`}
	if s.loggedIn {
		ch <- &pb.EventResponse{Type: pb.EventType_EVENT_TYPE_LOGIN, Payload: `{"contactId":"` + s.self + `"}`}
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}()
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case <-drop:
			return status.Error(codes.Unavailable, "fakepuppet: connection dropped")
		case e := <-ch:
			if err := stream.Send(e); err != nil {
				return err
			}
		}
	}
}

func (p *puppet) ContactList(context.Context, *pb.ContactListRequest) (*pb.ContactListResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &pb.ContactListResponse{}
	for id := range s.contacts {
		r.Ids = append(r.Ids, id)
	}
	slices.Sort(r.Ids)
	return r, nil
}

func (p *puppet) ContactPayload(_ context.Context, r *pb.ContactPayloadRequest) (*pb.ContactPayloadResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.contacts[r.GetId()]
	if c == nil {
		return nil, notFound("contact", r.GetId())
	}
	return cloneContact(c), nil
}

func (p *puppet) ContactAlias(_ context.Context, r *pb.ContactAliasRequest) (*pb.ContactAliasResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.contacts[r.GetId()]
	if c == nil {
		return nil, notFound("contact", r.GetId())
	}
	if r.Alias != nil {
		c.Alias = r.GetAlias()
	}
	return &pb.ContactAliasResponse{Alias: c.Alias}, nil
}

// avatar is a 1×1 PNG.
var avatar = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")

func avatarBox(name string) string {
	b, _ := json.Marshal(map[string]any{"type": 1, "name": name + ".png", "metadata": map[string]string{}, "base64": base64.StdEncoding.EncodeToString(avatar)})
	return string(b)
}

func (p *puppet) ContactAvatar(_ context.Context, r *pb.ContactAvatarRequest) (*pb.ContactAvatarResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.contacts[r.GetId()] == nil {
		return nil, notFound("contact", r.GetId())
	}
	return &pb.ContactAvatarResponse{FileBox: avatarBox(r.GetId())}, nil
}

func (p *puppet) RoomAvatar(_ context.Context, r *pb.RoomAvatarRequest) (*pb.RoomAvatarResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.GetId()] == nil {
		return nil, notFound("room", r.GetId())
	}
	return &pb.RoomAvatarResponse{FileBox: avatarBox(r.GetId())}, nil
}

func (p *puppet) RoomList(context.Context, *pb.RoomListRequest) (*pb.RoomListResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &pb.RoomListResponse{}
	for id := range s.rooms {
		r.Ids = append(r.Ids, id)
	}
	slices.Sort(r.Ids)
	return r, nil
}

func (p *puppet) RoomPayload(_ context.Context, r *pb.RoomPayloadRequest) (*pb.RoomPayloadResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.rooms[r.GetId()]
	if room == nil {
		return nil, notFound("room", r.GetId())
	}
	return &pb.RoomPayloadResponse{Id: r.GetId(), Topic: room.Topic, OwnerId: room.Owner, MemberIds: slices.Clone(room.Members)}, nil
}

func (p *puppet) RoomMemberList(_ context.Context, r *pb.RoomMemberListRequest) (*pb.RoomMemberListResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.rooms[r.GetId()]
	if room == nil {
		return nil, notFound("room", r.GetId())
	}
	return &pb.RoomMemberListResponse{MemberIds: slices.Clone(room.Members)}, nil
}

func (p *puppet) RoomMemberPayload(_ context.Context, r *pb.RoomMemberPayloadRequest) (*pb.RoomMemberPayloadResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.rooms[r.GetId()]
	if room == nil || !slices.Contains(room.Members, r.GetMemberId()) {
		return nil, notFound("room member", r.GetMemberId())
	}
	c := s.contacts[r.GetMemberId()]
	out := &pb.RoomMemberPayloadResponse{Id: r.GetMemberId(), RoomAlias: room.Aliases[r.GetMemberId()]}
	if c != nil {
		out.Name = c.Name
	}
	return out, nil
}

// checkContacts answers NotFound for an id that is not a contact. Callers hold mu.
func (s *Server) checkContacts(ids []string) error {
	for _, id := range ids {
		if s.contacts[id] == nil {
			return notFound("contact", id)
		}
	}
	return nil
}

func (p *puppet) RoomCreate(_ context.Context, r *pb.RoomCreateRequest) (*pb.RoomCreateResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkContacts(r.GetContactIds()); err != nil {
		return nil, err
	}
	id := s.id(s.nextID("room"))
	s.rooms[id] = &Room{Topic: r.GetTopic(), Owner: s.self, Members: append([]string{s.self}, r.GetContactIds()...), Aliases: map[string]string{}}
	return &pb.RoomCreateResponse{Id: id}, nil
}

func addIDs(one string, many []string) []string {
	if one != "" && !slices.Contains(many, one) {
		many = append(many, one)
	}
	return many
}

func (p *puppet) RoomAdd(_ context.Context, r *pb.RoomAddRequest) (*pb.RoomAddResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.rooms[r.GetId()]
	if room == nil {
		return nil, notFound("room", r.GetId())
	}
	//lint:ignore SA1019 older clients send only contact_id
	ids := addIDs(r.GetContactId(), r.GetContactIds())
	if err := s.checkContacts(ids); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if !slices.Contains(room.Members, id) {
			room.Members = append(room.Members, id)
		}
	}
	s.emit(pb.EventType_EVENT_TYPE_ROOM_JOIN, map[string]any{"roomId": r.GetId(), "inviteeIdList": ids, "inviterId": s.self})
	return &pb.RoomAddResponse{}, nil
}

func (p *puppet) RoomDel(_ context.Context, r *pb.RoomDelRequest) (*pb.RoomDelResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.rooms[r.GetId()]
	if room == nil {
		return nil, notFound("room", r.GetId())
	}
	//lint:ignore SA1019 older clients send only contact_id
	ids := addIDs(r.GetContactId(), r.GetContactIds())
	for _, id := range ids {
		if !slices.Contains(room.Members, id) {
			return nil, notFound("room member", id)
		}
	}
	room.Members = slices.DeleteFunc(room.Members, func(m string) bool { return slices.Contains(ids, m) })
	s.emit(pb.EventType_EVENT_TYPE_ROOM_LEAVE, map[string]any{"roomId": r.GetId(), "removeeIdList": ids, "removerId": s.self})
	return &pb.RoomDelResponse{}, nil
}

func (p *puppet) RoomTopic(_ context.Context, r *pb.RoomTopicRequest) (*pb.RoomTopicResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.rooms[r.GetId()]
	if room == nil {
		return nil, notFound("room", r.GetId())
	}
	if r.Topic != nil {
		old := room.Topic
		room.Topic = r.GetTopic()
		s.emit(pb.EventType_EVENT_TYPE_ROOM_TOPIC, map[string]any{"roomId": r.GetId(), "newTopic": room.Topic, "oldTopic": old, "changerId": s.self})
	}
	return &pb.RoomTopicResponse{Topic: room.Topic}, nil
}

func (p *puppet) MessagePayload(_ context.Context, r *pb.MessagePayloadRequest) (*pb.MessagePayloadResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.messages[r.GetId()]
	if m == nil {
		return nil, notFound("message", r.GetId())
	}
	return m.p, nil
}

func (p *puppet) message(id string) (*message, error) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	m := p.s.messages[id]
	if m == nil {
		return nil, notFound("message", id)
	}
	return m, nil
}

func (p *puppet) MessageImage(_ context.Context, r *pb.MessageImageRequest) (*pb.MessageImageResponse, error) {
	m, err := p.message(r.GetId())
	if err != nil {
		return nil, err
	}
	return &pb.MessageImageResponse{FileBox: m.box}, nil
}

func (p *puppet) MessageFile(_ context.Context, r *pb.MessageFileRequest) (*pb.MessageFileResponse, error) {
	m, err := p.message(r.GetId())
	if err != nil {
		return nil, err
	}
	return &pb.MessageFileResponse{FileBox: m.box}, nil
}

func (p *puppet) MessageUrl(_ context.Context, r *pb.MessageUrlRequest) (*pb.MessageUrlResponse, error) {
	m, err := p.message(r.GetId())
	if err != nil {
		return nil, err
	}
	return &pb.MessageUrlResponse{UrlLink: m.url}, nil
}

func (p *puppet) MessageContact(_ context.Context, r *pb.MessageContactRequest) (*pb.MessageContactResponse, error) {
	m, err := p.message(r.GetId())
	if err != nil {
		return nil, err
	}
	return &pb.MessageContactResponse{Id: m.contact}, nil
}

// conversation checks a send's conversation: a contact or a room. Callers hold mu.
func (s *Server) conversation(id string) error {
	if s.contacts[id] == nil && s.rooms[id] == nil {
		return notFound("conversation", id)
	}
	if !s.loggedIn {
		return status.Error(codes.FailedPrecondition, "not logged in")
	}
	return nil
}

func (p *puppet) MessageSendText(_ context.Context, r *pb.MessageSendTextRequest) (*pb.MessageSendTextResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.conversation(r.GetConversationId()); err != nil {
		return nil, err
	}
	id := s.record(Sent{ConversationID: r.GetConversationId(), Text: r.GetText()}, pb.WireText)
	return &pb.MessageSendTextResponse{Id: id}, nil
}

// record keeps a send and echoes it on the event stream as the puppet's own message, as
// puppets do. Callers hold mu.
func (s *Server) record(m Sent, t pb.MessageType) string {
	m.ID = s.nextID("sent")
	s.sent = append(s.sent, m)
	p := &pb.MessagePayloadResponse{Id: m.ID, Type: t, TalkerId: s.self, Text: m.Text, Filename: m.FileName}
	if s.rooms[m.ConversationID] != nil {
		p.RoomId = m.ConversationID
	} else {
		p.ListenerId = m.ConversationID
	}
	s.messages[m.ID] = &message{p: p}
	s.emit(pb.EventType_EVENT_TYPE_MESSAGE, map[string]any{"messageId": m.ID})
	return m.ID
}

func (p *puppet) MessageSendFile(_ context.Context, r *pb.MessageSendFileRequest) (*pb.MessageSendFileResponse, error) {
	var box struct {
		Type      int    `json:"type"`
		Name      string `json:"name"`
		MediaType string `json:"mediaType"`
		Base64    string `json:"base64"`
	}
	if err := json.Unmarshal([]byte(r.GetFileBox()), &box); err != nil || box.Type != 1 {
		return nil, status.Errorf(codes.InvalidArgument, "file_box: not a base64 FileBox: %v", err)
	}
	data, err := base64.StdEncoding.DecodeString(box.Base64)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "file_box: %v", err)
	}
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.conversation(r.GetConversationId()); err != nil {
		return nil, err
	}
	id := s.record(Sent{ConversationID: r.GetConversationId(), FileName: box.Name, FileMime: box.MediaType, FileData: data}, pb.WireAttachment)
	s.messages[id].box = r.GetFileBox()
	return &pb.MessageSendFileResponse{Id: id}, nil
}

func (p *puppet) MessageRecall(_ context.Context, r *pb.MessageRecallRequest) (*pb.MessageRecallResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.sent, func(m Sent) bool { return m.ID == r.GetId() })
	if i < 0 || s.sent[i].Recalled {
		return &pb.MessageRecallResponse{Success: false}, nil
	}
	s.sent[i].Recalled = true
	return &pb.MessageRecallResponse{Success: true}, nil
}

func (p *puppet) FriendshipPayload(_ context.Context, r *pb.FriendshipPayloadRequest) (*pb.FriendshipPayloadResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.friendships[r.GetId()]
	if f == nil {
		return nil, notFound("friendship", r.GetId())
	}
	return f, nil
}

func (p *puppet) FriendshipAccept(_ context.Context, r *pb.FriendshipAcceptRequest) (*pb.FriendshipAcceptResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.friendships[r.GetId()]
	if f == nil || f.Type != pb.FriendshipType_FRIENDSHIP_TYPE_RECEIVE {
		return nil, notFound("friendship", r.GetId())
	}
	s.contacts[f.ContactId].Friend = true
	fid := s.nextID("fs")
	s.friendships[fid] = &pb.FriendshipPayloadResponse{Id: fid, ContactId: f.ContactId, Type: pb.FriendshipType_FRIENDSHIP_TYPE_CONFIRM}
	delete(s.friendships, r.GetId())
	s.emit(pb.EventType_EVENT_TYPE_FRIENDSHIP, map[string]any{"friendshipId": fid})
	return &pb.FriendshipAcceptResponse{}, nil
}

func (p *puppet) FriendshipAdd(_ context.Context, r *pb.FriendshipAddRequest) (*pb.FriendshipAddResponse, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.contacts[r.GetContactId()]
	if c == nil {
		return nil, notFound("contact", r.GetContactId())
	}
	if c.Friend {
		return nil, status.Errorf(codes.AlreadyExists, "%s is a friend already", r.GetContactId())
	}
	s.made = append(s.made, r.GetContactId())
	return &pb.FriendshipAddResponse{}, nil
}
