package events

// The roster objects, as Mojo-Webqq's to_json_hash renders them. Fields are declared in sorted
// order so that the JSON keys come out sorted, as Mojo::JSON wrote them.

// User is the logged-in account.
type User struct {
	Account    string `json:"account"`
	Allow      int    `json:"allow"`
	Birthday   string `json:"birthday"`
	Blood      int    `json:"blood"`
	City       string `json:"city"`
	ClientType string `json:"client_type"`
	College    string `json:"college"`
	Constel    int    `json:"constel"`
	Country    string `json:"country"`
	Email      string `json:"email"`
	Face       int    `json:"face"`
	Homepage   string `json:"homepage"`
	ID         int64  `json:"id"`
	Mobile     string `json:"mobile"`
	Name       string `json:"name"`
	Occupation string `json:"occupation"`
	Personal   string `json:"personal"`
	Phone      string `json:"phone"`
	Province   string `json:"province"`
	Sex        string `json:"sex"`
	Shengxiao  int    `json:"shengxiao"`
	Signature  string `json:"signature"`
	State      string `json:"state"`
	UID        int64  `json:"uid"`
}

// DisplayName is the name the account shows in a conversation.
func (u *User) DisplayName() string { return u.Name }

// Friend is one entry of the friend list.
type Friend struct {
	Category   string `json:"category"`
	ClientType string `json:"client_type"`
	Face       int    `json:"face"`
	Flag       int    `json:"flag"`
	ID         int64  `json:"id"`
	IsVIP      int    `json:"is_vip"`
	Markname   string `json:"markname"`
	Name       string `json:"name"`
	State      string `json:"state"`
	UID        int64  `json:"uid"`
	VIPLevel   int    `json:"vip_level"`
}

// DisplayName is the markname if there is one, else the name.
func (f *Friend) DisplayName() string { return orElse(f.Markname, f.Name) }

// The account's own role in a group (Group.Role).
const (
	GroupRoleCreate = "create" // owner
	GroupRoleManage = "manage" // admin
	GroupRoleAttend = "attend" // plain member
)

// A member's role in its group (GroupMember.Role).
const (
	MemberRoleOwner  = "owner"
	MemberRoleAdmin  = "admin"
	MemberRoleMember = "member"
)

// Group is a QQ group. Member is omitted from the JSON only when it is nil, which is how
// get_group_basic_info renders groups; a group without members has an empty, non-nil Member.
type Group struct {
	AdminCount  int           `json:"admin_count"`
	Code        int64         `json:"code"`
	Createtime  int64         `json:"createtime"`
	ID          int64         `json:"id"`
	Level       int           `json:"level"`
	Markname    string        `json:"markname"`
	MaxAdmin    int           `json:"max_admin"`
	MaxMember   int           `json:"max_member"`
	Member      []GroupMember `json:"member,omitzero"`
	MemberCount int           `json:"member_count"`
	Memo        string        `json:"memo"`
	Name        string        `json:"name"`
	OwnerID     int64         `json:"owner_id"`
	OwnerUID    int64         `json:"owner_uid"`
	Role        string        `json:"role"`
	UID         int64         `json:"uid"`
}

// DisplayName is the markname if there is one, else the name.
func (g *Group) DisplayName() string { return orElse(g.Markname, g.Name) }

// GroupMember is a member of a group.
type GroupMember struct {
	BadRecord     int    `json:"bad_record"`
	Card          string `json:"card"`
	City          string `json:"city"`
	ClientType    string `json:"client_type"`
	Country       string `json:"country"`
	ID            int64  `json:"id"`
	JoinTime      int64  `json:"join_time"`
	LastSpeakTime int64  `json:"last_speak_time"`
	Level         int    `json:"level"`
	Name          string `json:"name"`
	Province      string `json:"province"`
	Qage          int    `json:"qage"`
	Role          string `json:"role"`
	Sex           string `json:"sex"`
	State         string `json:"state"`
	UID           int64  `json:"uid"`
}

// DisplayName is the group card if there is one, else the name.
func (m *GroupMember) DisplayName() string { return orElse(m.Card, m.Name) }

// Discuss is a discussion group (讨论组).
type Discuss struct {
	ID      int64           `json:"id"`
	Member  []DiscussMember `json:"member"`
	Name    string          `json:"name"`
	OwnerID int64           `json:"owner_id"`
}

// DisplayName is the discuss's name.
func (d *Discuss) DisplayName() string { return d.Name }

// DiscussMember is a member of a discuss.
type DiscussMember struct {
	ClientType string `json:"client_type"`
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	State      string `json:"state"`
	UID        int64  `json:"uid"`
}

// DisplayName is the member's name.
func (m *DiscussMember) DisplayName() string { return m.Name }

func orElse(s, fallback string) string {
	if s != "" {
		return s
	}
	return fallback
}
