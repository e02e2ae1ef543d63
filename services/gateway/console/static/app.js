// openqq console: plain JavaScript against the public API (/openqq/*, and /openwx/* for the
// WeChat account's summary; the Controller's routes of both for the accounts) and the event stream (/openqq/events, Server-Sent Events). An access token, if the API needs one, is typed into
// the form the console shows when the API asks for it (or given once as ?access_token=, taken
// out of the address bar at once). It lives in this page's memory only: never in a URL, never
// in storage. The event stream, which cannot send a header, authenticates with an HttpOnly
// cookie the gateway sets in exchange for the token (POST /console/session).
"use strict";

const $ = (id) => document.getElementById(id);
let token = "";
const params = new URLSearchParams(location.search);
if (params.has("access_token")) {
  token = params.get("access_token") || "";
  params.delete("access_token");
  const q = params.toString();
  history.replaceState(null, "", location.pathname + (q ? "?" + q : "") + location.hash);
}
localStorage.removeItem("openqq_token"); // where an older console kept it

// The names the stream carries: SSE needs a listener per event name.
const NAMES = ["friend_message", "group_message", "discuss_message", "sess_message",
  "login", "stop", "state_change", "input_qrcode", "new_friend", "lose_friend", "new_group",
  "lose_group", "new_group_member", "lose_group_member", "new_discuss", "lose_discuss",
  "new_discuss_member", "lose_discuss_member", "friend_property_change",
  "group_property_change", "group_member_property_change", "user_property_change"];

const roster = { friends: [], groups: [] };
let state = "";
let qr = "";

async function api(route, body) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  const r = await fetch("/openqq/" + route, { method: "POST", headers, body: JSON.stringify(body || {}) });
  return r.json();
}

function setState(s) {
  state = s;
  const el = $("state");
  el.textContent = s;
  el.className = "state " + s;
  $("qr").hidden = !(s === "scaning" && qr);
  if (s === "running") { loadAccount(); loadRoster(); }
}

function showQR(b64) {
  qr = b64.replace(/\s/g, "");
  $("qrimg").src = "data:image/png;base64," + qr;
  $("qr").hidden = state !== "scaning";
}

// stateChanges counts the state_change events seen, so that a get_client_info answer that
// was on its way while one arrived does not put an older state back.
let stateChanges = 0;

async function loadAccount() {
  const me = await api("get_user_info");
  if (me.name !== undefined) $("account").textContent = me.name + " (" + me.uid + ")";
}

async function loadRoster() {
  const [friends, groups] = await Promise.all([api("get_friend_info"), api("get_group_info")]);
  if (Array.isArray(friends)) roster.friends = friends;
  if (Array.isArray(groups)) roster.groups = groups;
  if (!$("account").textContent.includes("(")) {
    const me = await api("get_user_info");
    if (me.uid) $("account").textContent = me.name + " (" + me.uid + ")";
  }
  renderRoster();
  renderTargets();
}

const display = (o) => o.markname || o.card || o.name;

function renderRoster() {
  const q = $("search").value.trim().toLowerCase();
  const hit = (o) => !q || [o.name, o.markname, o.card, String(o.uid), String(o.id)].some((v) => v && v.toLowerCase().includes(q));
  const friends = roster.friends.filter(hit);
  $("friends").replaceChildren(...friends.map((f) => item(display(f), f.category + " · " + f.uid, () => pick("friend", f.id))));
  $("friend-count").textContent = friends.length + "/" + roster.friends.length;
  const groups = roster.groups.filter((g) => hit(g) || (q && g.member.some(hit)));
  $("groups").replaceChildren(...groups.map((g) => {
    const li = item(display(g), g.uid + " · " + g.member_count + " 人", () => pick("group", g.id));
    if (q) {
      const members = g.member.filter(hit).slice(0, 20);
      if (members.length) {
        const ul = document.createElement("ul");
        ul.replaceChildren(...members.map((m) => item(display(m), m.role + " · " + m.uid)));
        li.append(ul);
      }
    }
    return li;
  }));
  $("group-count").textContent = groups.length + "/" + roster.groups.length;
}

function item(text, note, onclick) {
  const li = document.createElement("li");
  li.textContent = text;
  const small = document.createElement("small");
  small.textContent = note;
  li.append(small);
  if (onclick) li.onclick = onclick;
  return li;
}

function renderTargets() {
  const list = $("kind").value === "friend" ? roster.friends : roster.groups;
  const keep = $("target").value;
  $("target").replaceChildren(...list.map((o) => {
    const opt = document.createElement("option");
    opt.value = o.id;
    opt.textContent = display(o) + " (" + o.uid + ")";
    return opt;
  }));
  if (keep && list.some((o) => String(o.id) === keep)) $("target").value = keep;
}

function pick(kind, id) {
  $("kind").value = kind;
  renderTargets();
  $("target").value = String(id);
  $("content").focus();
}

function describe(name, d) {
  if (d.post_type === "event") {
    const p = d.params || [];
    switch (name) {
      case "state_change": return p[0] + " → " + p[1];
      case "input_qrcode": return "二维码 " + p[0];
      case "login": return p[0] ? "登录 (扫码)" : "登录";
      case "stop": return "客户端停止";
      default: return p.map((x) => (x && typeof x === "object" ? display(x) + " (" + x.uid + ")" : String(x))).join(" · ");
    }
  }
  const where = d.group ? "[" + d.group + "]" : d.discuss ? "[" + d.discuss + "]" : "";
  if (d.class === "send") {
    const outcome = d.code !== 0 ? " (" + d.status + ")" : "";
    return "我 → " + (d.receiver || where) + " " + d.content + outcome;
  }
  return (where ? where + " " : "") + (d.sender || "") + ": " + d.content;
}

function addEvent(name, d, id) {
  const li = document.createElement("li");
  li.dataset.seq = id;
  li.dataset.name = name;
  const t = document.createElement("time");
  t.textContent = new Date((d.time || Date.now() / 1000) * 1000).toLocaleTimeString("zh-CN", { hour12: false });
  const n = document.createElement("span");
  n.className = "name" + (d.class === "send" ? " send" : "");
  n.textContent = name;
  li.append(t, n, document.createTextNode(describe(name, d)));
  const list = $("events");
  list.prepend(li);
  while (list.children.length > 300) list.lastChild.remove();
}

function onItem(name, e) {
  let d;
  try { d = JSON.parse(e.data); } catch { return; }
  addEvent(name, d, e.lastEventId);
  if (name === "state_change") { stateChanges++; setState(d.params[1]); }
  if (name === "input_qrcode") showQR(d.params[1]);
  if (name === "login") $("qr").hidden = true;
  if (/^(new|lose)_/.test(name) && state === "running") loadRoster();
}

function connect() {
  // replay=last: the latest item of every subject first, so the state and the QR code show
  // at once; EventSource resumes by itself with Last-Event-ID after a drop. The session
  // cookie, if the API needs a token, goes along by itself.
  const es = new EventSource("/openqq/events?replay=last");
  es.onopen = () => { $("conn").textContent = "●"; $("conn").className = "conn up"; };
  es.onerror = () => { $("conn").textContent = "○"; $("conn").className = "conn"; };
  for (const name of NAMES) es.addEventListener(name, (e) => onItem(name, e));
}

// The WeChat account (/openwx), when the gateway serves it and a session answers: its state,
// user and roster counts, asked every few seconds. Openwx's get_*_info answer GET only.
async function wxGet(route) {
  const r = await fetch("/openwx/" + route, { headers: token ? { Authorization: "Bearer " + token } : {} });
  return r.json(); // a text 403 (no /openwx) throws: the panel stays hidden
}

async function loadWx() {
  try {
    const info = await wxGet("get_client_info");
    if (info.code !== 0) { $("wx").hidden = true; return; }
    const st = info.state || "?";
    $("wx-state").textContent = st;
    $("wx-state").className = "state " + st;
    $("wx").hidden = false;
    if (st !== "running") { $("wx-counts").textContent = ""; return; }
    const [me, friends, groups] = await Promise.all([wxGet("get_user_info"), wxGet("get_friend_info"), wxGet("get_group_basic_info")]);
    if (me.name !== undefined) $("wx-account").textContent = (me.displayname || me.name) + (me.account ? " (" + me.account + ")" : "");
    if (Array.isArray(friends) && Array.isArray(groups)) $("wx-counts").textContent = friends.length + " 好友 · " + groups.length + " 群";
  } catch { $("wx").hidden = true; }
}

async function loadReporters() {
  try {
    const r = await fetch("/console/reporters", { headers: token ? { Authorization: "Bearer " + token } : {} });
    const d = await r.json();
    if (!d.reporters) return;
    $("dead-letters").textContent = d.dead_letters;
    if (!d.reporters.length) return;
    $("reporters").replaceChildren(...d.reporters.map((c) => {
      const tr = document.createElement("tr");
      for (const v of [c.description || c.name, c.delivered, c.ack_pending, c.redelivered, c.pending]) {
        const td = document.createElement("td");
        td.textContent = v;
        tr.append(td);
      }
      return tr;
    }));
  } catch { /* the console works without it */ }
}

// The accounts of both platforms, through Mojo's Controller API (check_client, start_client,
// stop_client, get_qrcode: GET only, as Mojo declared them): each one's state and the host that
// runs it, its QR code while it waits for a scan. start_client's settings travel in the query
// string, as that API takes them (a token among them: the gateway never logs a query, and the
// Controller never echoes a secret); the access token goes in the header, never in a URL.
const PLATFORMS = [{ name: "qq", path: "/openqq/", label: "QQ" }, { name: "wx", path: "/openwx/", label: "微信" }];
const platformOf = (name) => PLATFORMS.find((p) => p.name === name);

async function ctlGet(pf, route, params) {
  const q = new URLSearchParams(params || {}).toString();
  const r = await fetch(pf.path + route + (q ? "?" + q : ""), { headers: token ? { Authorization: "Bearer " + token } : {} });
  return r.json();
}

const qrURLs = new Map(); // "<platform>/<client>" → the object URL of its QR code image
let accountsLoading = null;

function loadAccounts() {
  // One load at a time; a call meanwhile gets the one under way.
  if (!accountsLoading) accountsLoading = refreshAccounts().finally(() => { accountsLoading = null; });
  return accountsLoading;
}

async function refreshAccounts() {
  const rows = [];
  let served = false;
  for (const pf of PLATFORMS) {
    let d;
    try { d = await ctlGet(pf, "check_client"); } catch { continue; } // /openwx off: a text 403
    if (d.code !== 0 || !Array.isArray(d.client)) continue; // no Controller answers
    served = true;
    for (const c of d.client) rows.push({ pf, c });
  }
  $("accounts-panel").hidden = !served;
  $("accounts").replaceChildren(...rows.map(({ pf, c }) => {
    const tr = document.createElement("tr");
    tr.dataset.client = pf.name + "/" + c.client;
    const cells = [pf.label, c.client, c.state, c.host || "—", c.driver || ""];
    for (const [i, v] of cells.entries()) {
      const td = document.createElement("td");
      if (i === 2) {
        const b = document.createElement("b");
        b.className = "state " + v;
        b.textContent = v;
        td.append(b);
      } else {
        td.textContent = v;
      }
      tr.append(td);
    }
    const td = document.createElement("td");
    const stop = document.createElement("button");
    stop.type = "button";
    stop.className = "stop";
    stop.textContent = "停止";
    stop.onclick = () => stopAccount(pf, c.client);
    td.append(stop);
    tr.append(td);
    return tr;
  }));
  await showAccountQRs(rows.filter(({ c }) => c.qrcode || c.state === "scaning"));
}

// showAccountQRs shows the QR code of each account that waits for a scan (get_qrcode's image,
// fetched with the token in the header), and drops the others'.
async function showAccountQRs(waiting) {
  const keep = new Set();
  const figures = [];
  for (const { pf, c } of waiting) {
    const key = pf.name + "/" + c.client;
    try {
      const r = await fetch(pf.path + "get_qrcode?client=" + encodeURIComponent(c.client), { headers: token ? { Authorization: "Bearer " + token } : {} });
      if (!r.ok || !(r.headers.get("Content-Type") || "").startsWith("image/")) continue;
      const url = URL.createObjectURL(await r.blob());
      if (qrURLs.has(key)) URL.revokeObjectURL(qrURLs.get(key));
      qrURLs.set(key, url);
    } catch { continue; }
    keep.add(key);
    const fig = document.createElement("figure");
    fig.dataset.client = key;
    const img = document.createElement("img");
    img.src = qrURLs.get(key);
    img.alt = c.client + " 的登录二维码";
    const cap = document.createElement("figcaption");
    cap.textContent = platformOf(pf.name).label + " · " + c.client + " · 请扫码登录";
    fig.append(img, cap);
    figures.push(fig);
  }
  for (const [key, url] of qrURLs) {
    if (!keep.has(key)) { URL.revokeObjectURL(url); qrURLs.delete(key); }
  }
  $("account-qrs").replaceChildren(...figures);
}

async function stopAccount(pf, client) {
  const r = await ctlGet(pf, "stop_client", { client });
  $("start-result").textContent = r.code === 0 ? "已停止 " + client : "停止失败: " + r.status + " (" + r.code + ")";
  await loadAccounts();
}

// settingsOf reads the settings box: one key=value per line (blank lines and # comments skipped).
function settingsOf(text) {
  const out = {};
  for (const line of text.split("\n")) {
    const l = line.trim();
    if (!l || l.startsWith("#")) continue;
    const i = l.indexOf("=");
    if (i <= 0) throw new Error("设置须为 key=value: " + l.slice(0, 40));
    out[l.slice(0, i).trim()] = l.slice(i + 1).trim();
  }
  return out;
}

$("start-form").onsubmit = async (e) => {
  e.preventDefault();
  const pf = platformOf($("start-platform").value);
  let params;
  try {
    params = settingsOf($("start-settings").value);
  } catch (err) {
    $("start-result").textContent = err.message;
    return;
  }
  params.client = $("start-client").value.trim();
  $("start-button").disabled = true;
  try {
    const r = await ctlGet(pf, "start_client", params);
    if (r.code === 0) {
      $("start-result").textContent = "已启动 " + params.client + " · " + r.status;
      $("start-client").value = "";
      $("start-settings").value = ""; // a token among them leaves the page
    } else {
      $("start-result").textContent = "启动失败: " + r.status + " (" + r.code + ")";
    }
  } catch (err) {
    $("start-result").textContent = "启动失败: " + err.message;
  } finally {
    $("start-button").disabled = false;
  }
  await loadAccounts();
};

$("kind").onchange = renderTargets;
$("search").oninput = renderRoster;
$("send").onsubmit = async (e) => {
  e.preventDefault();
  const route = $("kind").value === "friend" ? "send_friend_message" : "send_group_message";
  $("send-button").disabled = true;
  try {
    const r = await api(route, { id: $("target").value, content: $("content").value });
    $("send-result").textContent = r.code === 0 ? "已发送 · id " + r.id : "失败: " + r.status + " (" + r.code + ")";
    if (r.code === 0) $("content").value = "";
  } finally {
    $("send-button").disabled = false;
  }
};

// openSession has the gateway set the event stream's cookie for the token.
async function openSession() {
  await fetch("/console/session", { method: "POST", headers: { Authorization: "Bearer " + token } });
}

let started = false;

// start asks for the client's state; if the API wants a token the console does not have (or
// a wrong one), it shows the form; otherwise the stream and the reporters start.
async function start() {
  if (token) await openSession();
  const seen = stateChanges;
  const info = await api("get_client_info");
  if (info.code === -6) { // auth failure
    $("login").hidden = false;
    $("token").focus();
    return;
  }
  $("login").hidden = true;
  if (info.state && seen === stateChanges) setState(info.state);
  if (started) return;
  started = true;
  connect();
  loadReporters();
  setInterval(loadReporters, 5000);
  loadWx();
  setInterval(loadWx, 5000);
  loadAccounts();
  setInterval(loadAccounts, 3000);
}

$("login-form").onsubmit = (e) => {
  e.preventDefault();
  token = $("token").value;
  $("token").value = "";
  start();
};

start();
