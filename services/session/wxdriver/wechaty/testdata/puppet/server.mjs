// A real Wechaty puppet service for the wechaty driver's tests: wechaty-puppet-service's
// PuppetServer over wechaty-puppet-mock's PuppetMock, driven by a Mocker scenario read from
// stdin, one command a line. Usage: node server.mjs <host:port> <insecure_token> [auto|tls]
// It prints "READY" once serving, "STARTED" once a client started the puppet (its event stream
// is open: a scan is not lost), "OK <command>" after each command, "MSG <json>" for every
// message the puppet sees (the driver's sends among them), "FILE <json>" for every file of one
// ({id, name, data: base64}), "RECALL <id>" for a recall the driver made, "ACCEPTED <id>" for
// a friendship it accepted, "ADMIN <call> <json>" for an admin call (roomCreate, roomAdd,
// roomDel, roomTopic, contactAlias, friendshipAdd).
// With "auto", the account is scanned and logs in by itself once started, and 老王 says hello:
// a puppet service to run openqq against by hand (README).
import readline from 'node:readline'
import { randomUUID } from 'node:crypto'
import * as PUPPET from 'wechaty-puppet'
import { PuppetServer } from 'wechaty-puppet-service'
import { PuppetMock, mock } from 'wechaty-puppet-mock'
import { FileBox } from 'file-box'

const [endpoint, token, mode] = process.argv.slice(2)
const mocker = new mock.Mocker()
const puppet = new PuppetMock({ mocker })

// Where PuppetMock does nothing, the scenario does what a real puppet does.
// Sends answer the new message's id (the mock's answer none); say() emits the message at once.
const mockSend = puppet._messageSend.bind(puppet)
puppet._messageSend = async (conversationId, something) => {
  let id
  const got = ({ messageId }) => { id = id ?? messageId }
  puppet.on('message', got)
  try {
    await mockSend(conversationId, something)
  } finally {
    puppet.off('message', got)
  }
  return id
}
// A recall of a message the puppet has succeeds (the mock's always fails).
puppet.messageRecall = async (id) => {
  try {
    mocker.messagePayload(id)
  } catch {
    return false
  }
  console.log('RECALL ' + id)
  return true
}
// Friendships have payloads (the mock's are bare ids); accepting one makes a friend.
const friendships = new Map()
puppet.friendshipRawPayload = async (id) => friendships.get(id) ?? { id }
puppet.friendshipAccept = async (id) => {
  const f = friendships.get(id)
  if (!f) throw new Error('no friendship ' + id)
  mocker.contactPayload(f.contactId).friend = true
  puppet.dirtyPayload(PUPPET.types.Dirty.Contact, f.contactId)
  console.log('ACCEPTED ' + id)
}

// The admin calls change the mock's account as WeChat would (the mock's do nothing), and tell
// of it: "ADMIN <call> <json>".
const admin = (call, v) => console.log('ADMIN ' + call + ' ' + JSON.stringify(v))
const roomOf = (id) => mocker.RoomMock.load(id)
const contactOf = (id) => mocker.ContactMock.load(id)
puppet.roomCreate = async (contactIdList, topic) => {
  const r = mocker.createRoom({ topic: topic ?? '', memberIdList: [puppet.currentUserId, ...contactIdList], ownerId: puppet.currentUserId })
  admin('roomCreate', { id: r.id, topic, members: contactIdList })
  return r.id
}
puppet.roomAdd = async (roomId, contactId) => {
  roomOf(roomId).add(contactOf(contactId)).by(contactOf(puppet.currentUserId))
  admin('roomAdd', { room: roomId, contact: contactId })
}
puppet.roomDel = async (roomId, contactId) => {
  roomOf(roomId).remove(contactOf(contactId)).by(contactOf(puppet.currentUserId))
  admin('roomDel', { room: roomId, contact: contactId })
}
const mockTopic = puppet.roomTopic.bind(puppet)
puppet.roomTopic = async (roomId, topic) => {
  if (topic === undefined) return mocker.roomPayload(roomId).topic
  mocker.roomPayload(roomId).topic = topic
  admin('roomTopic', { room: roomId, topic })
  return mockTopic(roomId, topic)
}
puppet.contactAlias = async (contactId, alias) => {
  if (alias === undefined) return mocker.contactPayload(contactId).alias ?? ''
  mocker.contactPayload(contactId).alias = alias
  puppet.dirtyPayload(PUPPET.types.Dirty.Contact, contactId)
  admin('contactAlias', { contact: contactId, alias })
}
puppet.friendshipAdd = async (contactId, hello) => admin('friendshipAdd', { contact: contactId, hello })
// Avatars are a small PNG (the mock's is a file of its repository, absent from the package).
const avatarPNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4//8/AAX+Av6nNYGEAAAAAElFTkSuQmCC'
puppet.contactAvatar = async (contactId, file) => file ? undefined : FileBox.fromBase64(avatarPNG, 'avatar.png')
puppet.roomAvatar = async () => FileBox.fromBase64(avatarPNG, 'room.png')

// Without TLS, unless "tls": then the service's default, Wechaty's "insecure" certificate
// (signed by Wechaty's root CA), as a gateway started without NO_TLS_INSECURE_SERVER serves.
const server = new PuppetServer({ endpoint, puppet, token, tls: mode === 'tls' ? {} : { disable: true } })
await server.start()

const user = mocker.createContact({ name: '小明', weixin: 'xiaoming' })
const wang = mocker.createContact({ name: '王大锤', alias: '老王', weixin: 'wangdachui', friend: true })
const mei = mocker.createContact({ name: '小美', alias: '表妹', friend: true })
const wolf = mocker.createContact({ name: '灰太狼', friend: false })
const room = mocker.createRoom({ topic: 'openqq 测试群', memberIdList: [user.id, wang.id, wolf.id], ownerId: user.id })

puppet.on('message', async ({ messageId }) => {
  try {
    const p = await puppet.messagePayload(messageId)
    console.log('MSG ' + JSON.stringify(p))
    if (mocker.cacheFileBoxPayload.has(messageId)) {
      const box = await puppet.messageFile(messageId)
      console.log('FILE ' + JSON.stringify({ id: messageId, name: box.name, data: await box.toBase64() }))
    }
  } catch (e) {
    console.log('ERR ' + e)
  }
})

// deliver makes talker send a message of a type to a contact or a room, as say() does for the
// types say() cannot make (files of any name, recalls).
function deliver (talker, conversation, type, { text, box } = {}) {
  const payload = { id: randomUUID(), talkerId: talker.id, timestamp: Date.now(), type, text }
  if (conversation === room) payload.roomId = room.id
  else payload.listenerId = conversation.id
  if (box) mocker.cacheFileBoxPayload.set(payload.id, box.toJSON())
  mocker.MessageMock.create(payload)
  puppet.emit('message', { messageId: payload.id })
  return payload.id
}

const commands = {
  scan: () => mocker.scan('https://login.weixin.qq.com/l/openqq-mock', PUPPET.types.ScanStatus.Waiting),
  // scanned: the phone scanned the QR code; the login waits for its confirmation
  scanned: () => mocker.scan('https://login.weixin.qq.com/l/openqq-mock', PUPPET.types.ScanStatus.Scanned),
  login: () => mocker.login(user),
  say: (text) => wang.say(text).to(user),
  roomsay: (text) => wang.say(text).to(room),
  // image <name> <base64>: 老王 sends the account a picture
  image: (arg) => { const [name, b64] = arg.split(' '); wang.say(FileBox.fromBase64(b64, name)).to(user) },
  // file <name> <base64>: 老王 sends the account a file; roomfile: to the room
  file: (arg) => { const [name, b64] = arg.split(' '); deliver(wang, user, PUPPET.types.Message.Attachment, { box: FileBox.fromBase64(b64, name) }) },
  roomfile: (arg) => { const [name, b64] = arg.split(' '); deliver(wang, room, PUPPET.types.Message.Attachment, { box: FileBox.fromBase64(b64, name) }) },
  // recall <text>: 老王 says text, then recalls it; prints "SAID <id>" of the recalled message
  recall: (text) => {
    const id = deliver(wang, user, PUPPET.types.Message.Text, { text })
    console.log('SAID ' + id)
    deliver(wang, user, PUPPET.types.Message.Recalled, { text: id })
  },
  // join <name>: a new contact joins the room, invited by 老王; prints "JOINED <id>"
  join: (name) => {
    const c = mocker.createContact({ name })
    room.add(c).by(wang)
    console.log('JOINED ' + c.id)
  },
  // leave: 灰太狼 is removed from the room
  leave: () => room.remove(wolf).by(user),
  // topic <text>: 老王 renames the room
  topic: (text) => room.topic(text).by(wang),
  // friendship <name> <hello>: a stranger asks to be a friend; prints "FRIENDSHIP <id> <contact id>"
  friendship: (arg) => {
    const i = arg.indexOf(' ')
    const [name, hello] = i < 0 ? [arg, ''] : [arg.slice(0, i), arg.slice(i + 1)]
    const c = mocker.createContact({ name, friend: false })
    const id = randomUUID()
    friendships.set(id, { id, contactId: c.id, hello, type: PUPPET.types.Friendship.Receive, timestamp: Date.now() })
    console.log('FRIENDSHIP ' + id + ' ' + c.id)
    puppet.emit('friendship', { friendshipId: id })
  },
  ids: () => console.log('IDS ' + JSON.stringify({ user: user.id, wang: wang.id, mei: mei.id, wolf: wolf.id, room: room.id })),
}

const started = puppet.start.bind(puppet)
puppet.start = async () => {
  await started()
  console.log('STARTED')
  if (mode === 'auto') {
    setTimeout(() => commands.scan(), 1000)
    setTimeout(() => commands.scanned(), 2000)
    setTimeout(() => commands.login(), 3000)
    setTimeout(() => commands.say('你好, openqq'), 5000)
  }
}

console.log('READY')
readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  const i = line.indexOf(' ')
  const [cmd, arg] = i < 0 ? [line, ''] : [line.slice(0, i), line.slice(i + 1)]
  try {
    await commands[cmd](arg)
    console.log('OK ' + cmd)
  } catch (e) {
    console.log('ERR ' + cmd + ' ' + e)
  }
}).on('close', async () => {
  if (mode === 'auto') return // run by hand: stdin may be closed; serve until killed
  await server.stop()
  process.exit(0)
})
