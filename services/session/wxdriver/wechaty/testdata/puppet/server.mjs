// A real Wechaty puppet service for the wechaty driver's tests: wechaty-puppet-service's
// PuppetServer over wechaty-puppet-mock's PuppetMock, driven by a Mocker scenario read from
// stdin, one command a line. Usage: node server.mjs <host:port> <insecure_token>
// It prints "READY" once serving, "OK <command>" after each command, and "MSG <json>" for
// every message the puppet sees (the driver's sends among them).
import readline from 'node:readline'
import { PuppetServer } from 'wechaty-puppet-service'
import { PuppetMock, mock } from 'wechaty-puppet-mock'
import { FileBox } from 'file-box'

const [endpoint, token] = process.argv.slice(2)
const mocker = new mock.Mocker()
const puppet = new PuppetMock({ mocker })
const server = new PuppetServer({ endpoint, puppet, token, tls: { disable: true } })
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
  } catch (e) {
    console.log('ERR ' + e)
  }
})

const commands = {
  scan: () => mocker.scan('https://login.weixin.qq.com/l/openqq-mock', 2),
  login: () => mocker.login(user),
  say: (text) => wang.say(text).to(user),
  roomsay: (text) => wang.say(text).to(room),
  // image <name> <base64>: 老王 sends the account a picture
  image: (arg) => { const [name, b64] = arg.split(' '); wang.say(FileBox.fromBase64(b64, name)).to(user) },
  ids: () => console.log('IDS ' + JSON.stringify({ user: user.id, wang: wang.id, mei: mei.id, wolf: wolf.id, room: room.id })),
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
  await server.stop()
  process.exit(0)
})
