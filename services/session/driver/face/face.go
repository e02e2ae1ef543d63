// Package face is QQ's table of classic system faces, the one the drivers share: the
// onebot driver turns [微笑] in content into a face segment and a face segment back into
// [微笑]; the sim keeps faces as faces the same way.
//
// Source: Mojo-Webqq's lib/Mojo/Webqq/Message/Face.pm (sjdy521/Mojo-Webqq at 303d6be,
// %FACE_MAP, face_parse and face_to_txt). Its names are the names here, but its ids are
// WebQQ's own numbering, which agrees with QQ's classic numbering only for 0..14 (惊讶..微笑):
// Mojo's 50 难过 is QQ's 15, its 21 飞吻 is QQ's 85. OneBot's face segment carries QQ's
// classic ids (the "sid" of go-cqhttp, Lagrange and NapCat), so the ids here are those, each
// of Mojo's 105 faces matched to its QQ id by name. Three of Mojo's faces were renamed by QQ
// later (强 is now 赞, 弱 is 踩, 大兵 is 悠闲): they keep Mojo's name, which is what a received
// face reads as (a Mojo bot matches on it), and the newer name is taken on sending too. Faces
// QQ added after WebQQ (doge, 笑哭, ...) carry QQ's names; anything newer reads [表情].
package face

import (
	"sort"
	"strings"
)

// names are the faces by QQ's classic id.
var names = map[int]string{
	// The 105 faces of Mojo-Webqq's table, under their QQ ids.
	0: "惊讶", 1: "撇嘴", 2: "色", 3: "发呆", 4: "得意", 5: "流泪", 6: "害羞", 7: "闭嘴",
	8: "睡", 9: "大哭", 10: "尴尬", 11: "发怒", 12: "调皮", 13: "呲牙", 14: "微笑",
	15: "难过", 16: "酷", 18: "抓狂", 19: "吐", 20: "偷笑", 21: "可爱", 22: "白眼",
	23: "傲慢", 24: "饥饿", 25: "困", 26: "惊恐", 27: "流汗", 28: "憨笑", 29: "大兵",
	30: "奋斗", 31: "咒骂", 32: "疑问", 33: "嘘", 34: "晕", 35: "折磨", 36: "衰",
	37: "骷髅", 38: "敲打", 39: "再见", 41: "发抖", 42: "爱情", 43: "跳跳", 46: "猪头",
	49: "拥抱", 53: "蛋糕", 54: "闪电", 55: "炸弹", 56: "刀", 57: "足球", 59: "便便",
	60: "咖啡", 61: "饭", 63: "玫瑰", 64: "凋谢", 66: "爱心", 67: "心碎", 69: "礼物",
	74: "太阳", 75: "月亮", 76: "强", 77: "弱", 78: "握手", 79: "胜利", 85: "飞吻",
	86: "怄火", 89: "西瓜", 96: "冷汗", 97: "擦汗", 98: "抠鼻", 99: "鼓掌", 100: "糗大了",
	101: "坏笑", 102: "左哼哼", 103: "右哼哼", 104: "哈欠", 105: "鄙视", 106: "委屈",
	107: "快哭了", 108: "阴险", 109: "亲亲", 110: "吓", 111: "可怜", 112: "菜刀",
	113: "啤酒", 114: "篮球", 115: "乒乓", 116: "示爱", 117: "瓢虫", 118: "抱拳",
	119: "勾引", 120: "拳头", 121: "差劲", 122: "爱你", 123: "NO", 124: "OK",
	125: "转圈", 126: "磕头", 127: "回头", 128: "跳绳", 129: "挥手", 130: "激动",
	131: "街舞", 132: "献吻", 133: "左太极", 134: "右太极",
	// Faces QQ added after WebQQ, under QQ's names (as OneBot implementations list them).
	136: "双喜", 137: "鞭炮", 138: "灯笼", 140: "K歌", 144: "喝彩", 145: "祈祷", 146: "爆筋",
	147: "棒棒糖", 148: "喝奶", 151: "飞机", 158: "钞票", 168: "药", 169: "手枪", 171: "茶",
	172: "眨眼睛", 173: "泪奔", 174: "无奈", 175: "卖萌", 176: "小纠结", 177: "喷血",
	178: "斜眼笑", 179: "doge", 180: "惊喜", 181: "骚扰", 182: "笑哭", 183: "我最美",
	184: "河蟹", 185: "羊驼", 187: "幽灵", 188: "蛋", 190: "菊花", 192: "红包",
	193: "大笑", 194: "不开心", 197: "冷漠", 198: "呃", 199: "好棒", 200: "拜托",
	201: "点赞", 202: "无聊", 203: "托脸", 204: "吃", 205: "送花", 206: "害怕",
	207: "花痴", 208: "小样儿", 210: "飙泪", 211: "我不看", 212: "托腮",
}

// aliases are QQ's later names of Mojo's faces, taken when sending.
var aliases = map[string]int{"赞": 76, "踩": 77, "悠闲": 29}

var ids = func() map[string]int {
	m := make(map[string]int, len(names)+len(aliases))
	for id, n := range names {
		m[n] = id
	}
	for n, id := range aliases {
		m[n] = id
	}
	return m
}()

// Name is the face's name (微笑 for 14), false for an id the table lacks.
func Name(id int) (string, bool) {
	n, ok := names[id]
	return n, ok
}

// ID is the face a name stands for (14 for 微笑, and for QQ's later names of Mojo's faces).
func ID(name string) (int, bool) {
	id, ok := ids[name]
	return id, ok
}

// Text is a face as content shows it, [微笑]; an id the table lacks is [表情], as Mojo-Webqq
// showed faces it did not know.
func Text(id int) string {
	if n, ok := names[id]; ok {
		return "[" + n + "]"
	}
	return Unknown
}

// Unknown is how content shows a face the table lacks.
const Unknown = "[表情]"

// IDs are the table's ids in order.
func IDs() []int {
	out := make([]int, 0, len(names))
	for id := range names {
		out = append(out, id)
	}
	sort.Ints(out)
	return out
}

// Part is a piece of content: text, or a face (Face set, ID its id, Text its [name] as
// written). The parts' Text joined is the content.
type Part struct {
	Text string
	Face bool
	ID   int
}

// Parse splits content into text and faces as Mojo-Webqq's face_parse did: a face is a name
// of the table between '[' and ']' with no bracket inside, so [[微笑]] is "[", 微笑 and "]";
// anything else, [不是表情] included, stays text. Adjacent text is one part; empty content has
// no parts.
func Parse(content string) []Part {
	var parts []Part
	start := 0 // where the pending text begins
	for i := 0; i < len(content); {
		if content[i] != '[' {
			i++
			continue
		}
		end := strings.IndexAny(content[i+1:], "[]")
		if end < 0 {
			break
		}
		end += i + 1
		if content[end] == '[' {
			i = end
			continue
		}
		id, ok := ids[content[i+1:end]]
		if !ok {
			i = end + 1
			continue
		}
		if i > start {
			parts = append(parts, Part{Text: content[start:i]})
		}
		parts = append(parts, Part{Text: content[i : end+1], Face: true, ID: id})
		start, i = end+1, end+1
	}
	if start < len(content) {
		parts = append(parts, Part{Text: content[start:]})
	}
	return parts
}
