package e2e

import (
	"slices"
	"sort"
	"testing"
)

// The five get_*_info routes answer the same with GET, a POST form and a POST JSON body, with
// every field COMPAT.md lists and every id, uid and time as a JSON integer.
func TestInfoRoutes(t *testing.T) {
	t.Parallel()
	e := start(t)
	checks := []struct {
		route string
		check func(t *testing.T, body []byte)
	}{
		{"get_user_info", checkUserInfo},
		{"get_friend_info", checkFriendInfo},
		{"get_group_info", checkGroupInfo},
		{"get_group_basic_info", checkGroupBasicInfo},
		{"get_discuss_info", checkDiscussInfo},
	}
	for _, c := range checks {
		for _, v := range vias {
			t.Run(c.route+"/"+string(v), func(t *testing.T) {
				code, body := e.with(t).call(v, c.route)
				if code != 200 {
					t.Fatalf("status %d: %.300s", code, body)
				}
				c.check(t, body)
			})
		}
	}
}

func checkUserInfo(t *testing.T, body []byte) {
	u := object(t, body)
	hasKeys(t, "user", u, userKeys...)
	if id, uid := intOf(t, u, "id"), intOf(t, u, "uid"); id != meID || uid != meUID {
		t.Errorf("id %d uid %d, want %d %d", id, uid, meID, meUID)
	}
	fields(t, "user", u, map[string]any{"name": "小灰", "account": "1234567", "state": "online"})
	for _, k := range []string{"name", "sex", "city", "province", "country", "signature", "client_type"} {
		if _, ok := u[k].(string); !ok {
			t.Errorf("user %q is %T, want a string", k, u[k])
		}
	}
}

func checkFriendInfo(t *testing.T, body []byte) {
	friends := array(t, body)
	if len(friends) != 16 {
		t.Errorf("%d friends, want 16", len(friends))
	}
	categories := map[string]int{}
	for _, f := range friends {
		hasKeys(t, "friend", f, friendKeys...)
		intOf(t, f, "id")
		intOf(t, f, "uid")
		if c, ok := f["category"].(string); ok {
			categories[c]++
		} else {
			t.Errorf("friend %v: category %T", f["id"], f["category"])
		}
	}
	want := map[string]int{"我的好友": 4, "我的家人": 4, "我的同学": 4, "同事": 4}
	if len(categories) != len(want) {
		t.Errorf("categories %v, want %v", categories, want)
	}
	for c, n := range want {
		if categories[c] != n {
			t.Errorf("category %s: %d friends, want %d", c, categories[c], n)
		}
	}
	wang := byID(friends, friendID)
	if wang == nil {
		t.Fatalf("friend %d missing", friendID)
	}
	fields(t, "老王", wang, map[string]any{"uid": friendUID, "name": "夏梓轩", "markname": "老王", "category": "我的好友"})
}

func checkGroupInfo(t *testing.T, body []byte) {
	groups := array(t, body)
	if len(groups) != 3 {
		t.Fatalf("%d groups, want 3", len(groups))
	}
	// The account's own role in the group, and its member role there.
	wantRole := map[int64][2]string{
		perlGroupID: {"manage", "admin"},
		devGroupID:  {"create", "owner"},
		hikeGroupID: {"attend", "member"},
	}
	for _, g := range groups {
		hasKeys(t, "group", g, append(groupKeys, "member")...)
		id := intOf(t, g, "id")
		for _, k := range []string{"uid", "code", "createtime", "owner_id", "owner_uid", "member_count", "admin_count"} {
			intOf(t, g, k)
		}
		ms := members(t, g)
		if len(ms) == 0 {
			t.Errorf("group %d: no members", id)
		}
		if n := intOf(t, g, "member_count"); n != int64(len(ms)) {
			t.Errorf("group %d: member_count %d, %d members", id, n, len(ms))
		}
		roles := map[string]int{}
		for _, m := range ms {
			hasKeys(t, "member", m, memberKeys...)
			for _, k := range []string{"id", "uid", "join_time", "last_speak_time"} {
				intOf(t, m, k)
			}
			r, _ := m["role"].(string)
			if !slices.Contains([]string{"owner", "admin", "member"}, r) {
				t.Errorf("group %d member %v: role %q", id, m["id"], m["role"])
			}
			roles[r]++
		}
		if roles["owner"] != 1 || roles["admin"] == 0 || roles["member"] == 0 {
			t.Errorf("group %d: member roles %v, want one owner, admins and members", id, roles)
		}
		if i := slices.IndexFunc(ms, func(m map[string]any) bool { return m["role"] == "owner" }); i >= 0 {
			if owner := ms[i]; g["owner_id"] != owner["id"] || g["owner_uid"] != owner["uid"] {
				t.Errorf("group %d: owner_id %v owner_uid %v, owner member %v %v", id, g["owner_id"], g["owner_uid"], owner["id"], owner["uid"])
			}
		}
		want, ok := wantRole[id]
		if !ok {
			t.Errorf("unexpected group %d", id)
			continue
		}
		if g["role"] != want[0] {
			t.Errorf("group %d: role %v, want %s", id, g["role"], want[0])
		}
		me := byID(ms, meID)
		if me == nil || me["role"] != want[1] {
			t.Errorf("group %d: the account's member entry %v, want role %s", id, me, want[1])
		}
	}
	perl := byID(groups, perlGroupID)
	fields(t, "PERL学习交流", perl, map[string]any{"uid": perlGroupUID, "name": "PERL学习交流", "markname": "", "member_count": 311})
	if m := byID(members(t, perl), perlOwnerID); m == nil || m["role"] != "owner" {
		t.Errorf("PERL学习交流 owner %d: %v", perlOwnerID, m)
	}
	if m := byID(members(t, perl), perlAdminID); m == nil || m["role"] != "admin" {
		t.Errorf("PERL学习交流 admin %d: %v", perlAdminID, m)
	}
	if m := byID(members(t, perl), perlMemberID); m == nil || m["role"] != "member" || m["uid"] != num(perlMemberUID) {
		t.Errorf("PERL学习交流 member %d: %v", perlMemberID, m)
	}
	fields(t, "openqq开发组", byID(groups, devGroupID), map[string]any{"name": "openqq开发组", "markname": "开发组"})
}

func checkGroupBasicInfo(t *testing.T, body []byte) {
	groups := array(t, body)
	if len(groups) != 3 {
		t.Fatalf("%d groups, want 3", len(groups))
	}
	counts := map[int64]int64{perlGroupID: 311, devGroupID: 21, hikeGroupID: 61}
	var ids []int64
	for _, g := range groups {
		hasKeys(t, "group", g, groupKeys...)
		lacksKeys(t, "basic group", g, "member")
		id := intOf(t, g, "id")
		intOf(t, g, "uid")
		ids = append(ids, id)
		if n := intOf(t, g, "member_count"); n != counts[id] {
			t.Errorf("group %d: member_count %d, want %d", id, n, counts[id])
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	if !slices.Equal(ids, []int64{perlGroupID, devGroupID, hikeGroupID}) {
		t.Errorf("group ids %v", ids)
	}
}

func checkDiscussInfo(t *testing.T, body []byte) {
	ds := array(t, body)
	if len(ds) != 1 {
		t.Fatalf("%d discusses, want 1", len(ds))
	}
	d := ds[0]
	hasKeys(t, "discuss", d, discussKeys...)
	fields(t, "discuss", d, map[string]any{"id": discussID, "name": "周末聚餐", "owner_id": meID})
	raw, ok := d["member"].([]any)
	if !ok || len(raw) != 4 {
		t.Fatalf("discuss member %v, want 4 members", d["member"])
	}
	var ids []int64
	for _, x := range raw {
		m := x.(map[string]any)
		hasKeys(t, "discuss member", m, discussMemberKeys...)
		ids = append(ids, intOf(t, m, "id"))
		intOf(t, m, "uid")
	}
	for _, want := range []int64{meID, friendID, friend2ID, discussMemberID} {
		if !slices.Contains(ids, want) {
			t.Errorf("discuss members %v lack %d", ids, want)
		}
	}
}

// search_friend and search_group: every parameter but the reserved ones is an exact filter on an
// attribute (the computed displayname too); all matches come back; nothing is "object not found".
func TestSearch(t *testing.T) {
	t.Parallel()
	e := start(t)
	const notFound = `{"code":100,"status":"object not found"}`
	family := []int64{friend2ID, 2372875102, 2372906778, 2372938454} // category 我的家人
	cases := []struct {
		name  string
		route string
		kv    []string
		want  []int64 // ids in roster order; nil: object not found
	}{
		{"friend by uid", "search_friend", []string{"uid", "456789"}, []int64{friendID}},
		{"friend by id", "search_friend", []string{"id", "2372835507"}, []int64{friendID}},
		{"friend by name", "search_friend", []string{"name", "夏梓轩"}, []int64{friendID}},
		{"friend by markname", "search_friend", []string{"markname", "表妹"}, []int64{2372851345}},
		{"friend by displayname (markname)", "search_friend", []string{"displayname", "老王"}, []int64{friendID}},
		{"friend by displayname (name)", "search_friend", []string{"displayname", "邵秀兰"}, []int64{friend2ID}},
		{"friend by category", "search_friend", []string{"category", "我的家人"}, family},
		{"friend by category and is_vip", "search_friend", []string{"category", "我的家人", "is_vip", "1"}, []int64{2372875102}},
		{"friend with reserved params", "search_friend",
			[]string{"uid", "456789", "datatype", "json", "callback", "cb", "client", "default", "access_token", "x", "_", "1479787946"},
			[]int64{friendID}},
		{"friend displayname is not the name", "search_friend", []string{"displayname", "夏梓轩"}, nil},
		{"friend name is not the markname", "search_friend", []string{"name", "老王"}, nil},
		{"friend unknown uid", "search_friend", []string{"uid", "1"}, nil},
		{"friend unknown attribute", "search_friend", []string{"nosuch", "1"}, nil},
		{"friend unknown attribute beside a match", "search_friend", []string{"uid", "456789", "nosuch", "1"}, nil},
		{"friend only reserved params", "search_friend", []string{"datatype", "json", "_", "1"}, nil},
		{"friend no params", "search_friend", nil, nil},
		{"friend filters must all match", "search_friend", []string{"uid", "456789", "category", "同事"}, nil},

		{"group by uid", "search_group", []string{"uid", "67890"}, []int64{perlGroupID}},
		{"group by id", "search_group", []string{"id", "2617063130"}, []int64{hikeGroupID}},
		{"group by name", "search_group", []string{"name", "openqq开发组"}, []int64{devGroupID}},
		{"group by displayname (markname)", "search_group", []string{"displayname", "开发组"}, []int64{devGroupID}},
		{"group by displayname (name)", "search_group", []string{"displayname", "周末爬山群"}, []int64{hikeGroupID}},
		{"group by role", "search_group", []string{"role", "attend"}, []int64{hikeGroupID}},
		{"groups by level", "search_group", []string{"level", "3"}, []int64{perlGroupID, devGroupID, hikeGroupID}},
		{"group by two attributes", "search_group", []string{"max_member", "2000", "role", "manage"}, []int64{perlGroupID}},
		{"group with reserved params", "search_group", []string{"uid", "67890", "datatype", "json", "client", "default", "_", "1"}, []int64{perlGroupID}},
		{"group displayname is not the name", "search_group", []string{"displayname", "openqq开发组"}, nil},
		{"group unknown attribute", "search_group", []string{"nosuch", "x"}, nil},
		{"group no params", "search_group", nil, nil},
	}
	for _, c := range cases {
		for _, v := range vias {
			t.Run(c.name+"/"+string(v), func(t *testing.T) {
				code, body := e.with(t).call(v, c.route, c.kv...)
				if code != 200 {
					t.Fatalf("status %d: %.300s", code, body)
				}
				if c.want == nil {
					sameJSON(t, body, notFound)
					return
				}
				checkSearchResult(t, c.route, body, c.want)
			})
		}
	}

	// Parameters given as JSON numbers are the same as strings.
	numeric := []struct {
		route string
		body  map[string]any
		want  []int64
	}{
		{"search_friend", map[string]any{"uid": friendUID}, []int64{friendID}},
		{"search_friend", map[string]any{"id": friendID}, []int64{friendID}},
		{"search_friend", map[string]any{"category": "我的家人", "is_vip": 1}, []int64{2372875102}},
		{"search_group", map[string]any{"uid": perlGroupUID}, []int64{perlGroupID}},
		{"search_group", map[string]any{"id": devGroupID, "level": 3}, []int64{devGroupID}},
	}
	for _, c := range numeric {
		t.Run(c.route+"/JSON numbers", func(t *testing.T) {
			code, body := e.with(t).postJSON(c.route, c.body)
			if code != 200 {
				t.Fatalf("status %d: %.300s", code, body)
			}
			checkSearchResult(t, c.route, body, c.want)
		})
	}
}

func checkSearchResult(t *testing.T, route string, body []byte, want []int64) {
	t.Helper()
	list := array(t, body)
	var got []int64
	for _, o := range list {
		got = append(got, intOf(t, o, "id"))
		if route == "search_friend" {
			hasKeys(t, "friend", o, friendKeys...)
			continue
		}
		hasKeys(t, "group", o, append(groupKeys, "member")...)
		if ms := members(t, o); int64(len(ms)) != intOf(t, o, "member_count") || len(ms) == 0 {
			t.Errorf("group %v: %d members, member_count %v", o["id"], len(ms), o["member_count"])
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("found %v, want %v", got, want)
	}
}
