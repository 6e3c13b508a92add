// The board page: a snapshot from /api/snapshot, kept current by the live feed /api/events.
"use strict";

const TEXT = {
  zh: {
    title: "郑州市生态环境监测告警看板", offline: "未连接", online: "实时", signin: "登录", signout: "退出",
    aqi: "全市实时AQI", heavy: "重污染天数（目标 ≤ 1.4%）", night: "功能区夜间达标率（目标 ≥ 85%）",
    firing: "当前告警", district: "区县", kind: "类型", severity: "级别", all: "全部", critical: "严重",
    warning: "预警", active: "活动告警", what: "告警", where: "站点 / 区域", value: "数值 / 阈值",
    since: "开始时间", units: "责任单位", handling: "处置", none: "暂无告警", feed: "实时动态",
    stations: "站点状态", station: "站点", state: "状态", seen: "最近数据", silences: "静默规则",
    token: "令牌", cancel: "取消", ok: "确定", silence: "静默", for: "时长", why: "原因", note: "备注", confirm_expire: "解除这条静默？解除后告警恢复通知。",
    ack: "确认", acked_by: "已确认：", silenced: "已静默", expire: "解除", no_silences: "无生效的静默",
    ok_state: "正常", silent: "离线", flagged: "数据异常", unseen: "未见数据",
    air: "空气", noise: "噪声", groundwater: "地下水", vocs: "VOCs", ammonia: "氨逃逸",
    firing_state: "告警", resolved: "已解除", pending: "待确认",
    heavy_note: (d, days, used) => `已用 ${used}% 额度（${d} 天 / ${days} 天）`,
    night_note: (n) => `最近 ${n} 个夜间`, aqi_note: (c, p, t) => `${c}${p ? "，首要污染物 " + p : ""} · ${t}`,
    aqi_lacking: (p, t) => `数据不足，不计AQI${p ? "（" + p + "）" : ""} · ${t}`,
    alerts_note: (c, w, a) => `严重 ${c} · 预警 ${w} · 已确认 ${a}`,
    station_summary: (ok, bad, all) => `${all} 个站点：正常 ${ok}，异常 ${bad}`,
    wrong_token: "令牌无效", needs_reason: "请填写原因", escalated: "已升级至",
    until: "至", by: "创建人",
  },
  en: {
    title: "Zhengzhou environmental monitoring: live alerts", offline: "offline", online: "live",
    signin: "Sign in", signout: "Sign out", aqi: "City AQI now", heavy: "Heavy-pollution days (target ≤ 1.4 %)",
    night: "Night-time noise compliance (target ≥ 85 %)", firing: "Firing alerts", district: "District",
    kind: "Kind", severity: "Severity", all: "All", critical: "critical", warning: "warning",
    active: "Active alerts", what: "Alert", where: "Station / area", value: "Value / threshold",
    since: "Since", units: "Responsible units", handling: "Handling", none: "No alerts", feed: "Live feed",
    stations: "Station health", station: "Station", state: "State", seen: "Last data", silences: "Silences",
    token: "Token", cancel: "Cancel", ok: "OK", silence: "Silence", for: "For", why: "Reason", note: "Note", confirm_expire: "End this silence? Its alerts are notified again.",
    ack: "Acknowledge", acked_by: "Acknowledged by ", silenced: "silenced", expire: "End",
    no_silences: "No silence in force", ok_state: "ok", silent: "silent", flagged: "flagged",
    unseen: "not seen", air: "air", noise: "noise", groundwater: "groundwater", vocs: "VOCs",
    ammonia: "ammonia slip", firing_state: "firing", resolved: "resolved", pending: "pending",
    heavy_note: (d, days, used) => `${used} % of the budget used (${d} of ${days} days)`,
    night_note: (n) => `last ${n} nights`, aqi_note: (c, p, t) => `${c}${p ? ", primary " + p : ""} · ${t}`,
    aqi_lacking: (p, t) => `not enough data for an AQI${p ? " (" + p + ")" : ""} · ${t}`,
    alerts_note: (c, w, a) => `critical ${c} · warning ${w} · acknowledged ${a}`,
    station_summary: (ok, bad, all) => `${all} stations: ${ok} ok, ${bad} with problems`,
    wrong_token: "Not a valid token", needs_reason: "Please give a reason", escalated: "escalated to",
    until: "until", by: "by",
  },
};

const board = {
  lang: localStorage.getItem("envalert.lang") || "zh",
  token: localStorage.getItem("envalert.token") || "",
  user: null,
  snapshot: null,
  fresh: new Set(),
  // Messages link here: /board/alerts/<fingerprint> shows that alert, /board/?unit=<id> a unit's.
  focus: decodeURIComponent(location.pathname.match(/^\/board\/alerts\/(.+)$/)?.[1] || ""),
  unit: new URLSearchParams(location.search).get("unit") || "",
};

const POLLUTANTS = { pm25: "PM2.5", pm10: "PM10", o3: "O₃", no2: "NO₂", so2: "SO₂", co: "CO" };
const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[board.lang][key] ?? key;

// Everything the server sends may have come from a station, a logger or a forged event: it is
// text, never markup. `html` escapes every value put into a template, unless the value is itself
// an `html` template; nothing else is ever given to innerHTML.
const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
function escape(text) {
  return (text == null ? "" : String(text)).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

class Markup {
  constructor(text) { this.text = text; }
}

function html(strings, ...values) {
  const put = (value) => value instanceof Markup ? value.text : Array.isArray(value) ? value.map(put).join("") : escape(value);
  return new Markup(strings.reduce((out, part, i) => out + part + (i < values.length ? put(values[i]) : ""), ""));
}

function fill(element, markup) {
  element.innerHTML = markup.text;
}

function beijing(iso, withDate = true) {
  if (!iso) return "—";
  const options = { timeZone: "Asia/Shanghai", hour12: false, hour: "2-digit", minute: "2-digit" };
  if (withDate) Object.assign(options, { month: "2-digit", day: "2-digit" });
  return new Date(iso).toLocaleString(board.lang === "zh" ? "zh-CN" : "en-GB", options);
}

function number(value) {
  return Math.abs(value) < 1e4 ? Number(value.toPrecision(4)).toString() : value.toFixed(0);
}

function headers() {
  const found = { "Content-Type": "application/json" };
  if (board.token) found.Authorization = `Bearer ${board.token}`;
  return found;
}

async function api(path, options = {}) {
  const reply = await fetch(path, { ...options, headers: headers() });
  const body = reply.headers.get("Content-Type")?.includes("json") ? await reply.json() : null;
  if (!reply.ok) throw Object.assign(new Error(body?.error || reply.statusText), { status: reply.status });
  return body;
}

// --- rendering ---------------------------------------------------------------------------------

function translate() {
  document.documentElement.lang = board.lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
  document.title = t("title");
  $("lang").textContent = board.lang === "zh" ? "English" : "中文";
  $("signin").textContent = board.user ? t("signout") : t("signin");
  $("user").textContent = board.user || "";
}

function renderCity(city, counts) {
  $("aqi").textContent = city.aqi ?? "—";
  const named = (list) => list?.split(",").filter(Boolean).map((p) => POLLUTANTS[p] || p).join("、");
  $("aqi-note").textContent = city.aqi != null ?
    t("aqi_note")(board.lang === "zh" ? city.category_zh : city.category_en, named(city.primary),
      beijing(city.aqi_hour)) :
    city.aqi_lacking != null ? t("aqi_lacking")(named(city.aqi_lacking), beijing(city.aqi_hour)) : "";
  const aqiColour = city.aqi == null ? "var(--info)" : city.aqi > 200 ? "var(--critical)" :
    city.aqi > 100 ? "var(--warning)" : "var(--ok)";
  $("card-aqi").style.borderLeftColor = aqiColour;
  const used = city.heavy_budget_used_pct;
  $("heavy").textContent = city.heavy_days == null ? "—" : `${city.heavy_days}`;
  $("heavy-note").textContent = used == null ? "" : t("heavy_note")(city.heavy_days, city.days, number(used));
  $("heavy-bar").style.width = `${Math.min(100, used || 0)}%`;
  $("heavy-bar").style.background = (used || 0) >= 100 ? "var(--critical)" : (used || 0) >= 60 ? "var(--warning)" : "var(--ok)";
  const night = city.night_compliance_pct;
  $("night").textContent = night == null ? "—" : `${number(night)}%`;
  $("night-note").textContent = night == null ? "" : t("night_note")(city.night_compliance_nights);
  $("card-night").style.borderLeftColor = night == null ? "var(--info)" :
    night < city.night_compliance_target_pct ? "var(--warning)" : "var(--ok)";
  $("firing").textContent = counts.firing;
  $("firing-note").textContent = t("alerts_note")(counts.critical, counts.warning, counts.acknowledged);
  $("card-alerts").style.borderLeftColor = counts.critical ? "var(--critical)" : counts.firing ? "var(--warning)" : "var(--ok)";
}

function fillFilter(select, values, label = (v) => v) {
  const chosen = select.value;
  select.replaceChildren(select.options[0]);
  values.forEach((value) => select.add(new Option(label(value), value)));
  select.value = values.includes(chosen) ? chosen : "";
}

function renderFilters(snapshot) {
  const districts = [...new Set(snapshot.stations.map((s) => s.district).concat(
    snapshot.alerts.map((a) => a.district).filter(Boolean)))].sort();
  fillFilter($("f-district"), districts);
  fillFilter($("f-kind"), [...new Set(snapshot.stations.map((s) => s.kind))].sort(), t);
  if (board.unit) {  // once, from the link: the unit's name, given its id or its name
    $("f-unit").dataset.wanted = snapshot.units[board.unit] || board.unit;
    board.unit = "";
  }
  const units = [...new Set(snapshot.alerts.flatMap((a) => a.units).concat($("f-unit").dataset.wanted || []))].sort();
  fillFilter($("f-unit"), units);
  if ($("f-unit").dataset.wanted) { $("f-unit").value = $("f-unit").dataset.wanted; delete $("f-unit").dataset.wanted; }
}

function shown(alert) {
  const district = $("f-district").value, kind = $("f-kind").value, severity = $("f-severity").value;
  const unit = $("f-unit").value;
  return (!district || alert.district === district) && (!kind || alert.kind === kind) &&
    (!severity || alert.severity === severity) && (!unit || alert.units.includes(unit));
}

function alertRow(alert) {
  const zh = board.lang === "zh";
  const row = document.createElement("tr");
  row.dataset.fingerprint = alert.fingerprint;
  row.className = `${alert.severity || ""} ${alert.acknowledged ? "acknowledged" : ""} ${alert.fingerprint === board.focus ? "focus" : ""}`;
  const where = alert.station_name ? html`${alert.station_name}<div class="small">${alert.district} · ${alert.subject}</div>` : html`${alert.subject}`;
  const handled = [];
  if (alert.acknowledged) {
    handled.push(html`<span class="acked">${t("acked_by")}${alert.acknowledged.by}</span><div class="small">${beijing(alert.acknowledged.at)} ${alert.acknowledged.comment}</div>`);
  } else {
    handled.push(html`<button type="button" class="ack">${t("ack")}</button>`);
  }
  if (alert.silenced_by.length) handled.push(html`<span class="badge muted">${t("silenced")}</span>`);
  else handled.push(html`<button type="button" class="silence">${t("silence")}</button>`);
  const escalated = alert.escalated_to.length ? html`<div class="small">${t("escalated")} ${alert.escalated_to.join("、")}</div>` : "";
  fill(row, html`
    <td><span class="badge ${alert.severity}">${t(alert.severity || "warning")}</span></td>
    <td>${zh ? alert.title_zh : alert.title_en}<div class="small">${zh ? alert.window_zh : alert.window}</div></td>
    <td>${where}</td>
    <td><strong>${zh ? alert.reading_zh : alert.reading_en}</strong></td>
    <td>${beijing(alert.since)}</td>
    <td>${alert.units.join("、")}${escalated}</td>
    <td class="handling">${handled.map((part, i) => i ? [html` `, part] : part)}</td>`);
  row.querySelector(".ack")?.addEventListener("click", () => acknowledge(alert));
  row.querySelector(".silence")?.addEventListener("click", () => askSilence(alert));
  return row;
}

let renderedAlerts = "";
function renderAlerts(alerts) {
  // Rows are replaced only when what they show changed: a button stays under the pointer.
  const key = board.lang + board.focus + JSON.stringify(alerts.filter(shown));
  if (key === renderedAlerts) return;
  renderedAlerts = key;
  const rows = alerts.filter(shown).map(alertRow);
  $("alerts").tBodies[0].replaceChildren(...rows);
  $("no-alerts").hidden = rows.length > 0;
  const focused = rows.find((row) => row.dataset.fingerprint === board.focus);
  if (focused) { focused.scrollIntoView({ block: "center" }); board.focus = ""; }
}

function renderFeed(feed) {
  const zh = board.lang === "zh";
  $("feed").replaceChildren(...feed.slice(0, 60).map((event) => {
    const item = document.createElement("li");
    if (board.fresh.has(event.key)) item.className = "fresh";
    fill(item, html`<span class="small">${beijing(event.event_time)}</span> ${zh ? event.message_zh : event.message_en}`);
    return item;
  }));
  board.fresh.clear();
}

function renderStations(stations) {
  const problems = stations.filter((s) => s.status !== "ok");
  $("station-summary").textContent = t("station_summary")(stations.length - problems.length, problems.length, stations.length);
  // Stations with a problem first: a wall screen shows the top of the list.
  const ordered = [...problems, ...stations.filter((s) => s.status === "ok")];
  $("stations").tBodies[0].replaceChildren(...ordered.map((station) => {
    const row = document.createElement("tr");
    row.dataset.station = station.id;
    const state = station.status === "ok" ? "ok_state" : station.status;
    fill(row, html`<td>${station.name}<div class="small">${station.id} · ${t(station.kind)}</div></td>
      <td>${station.district}</td>
      <td><span class="badge ${station.status}">${t(state)}</span><div class="small">${station.problems.join(", ")}</div></td>
      <td>${beijing(station.last_seen)}</td>`);
    return row;
  }));
}

function renderSilences(silences) {
  if (!silences.length) {
    fill($("silences"), html`<li class="empty">${t("no_silences")}</li>`);
    return;
  }
  $("silences").replaceChildren(...silences.map((silence) => {
    const item = document.createElement("li");
    const matchers = Object.entries(silence.matchers).map(([k, v]) => `${k}=${v}`).join(", ");
    fill(item, html`<code>${matchers}</code> ${t("until")} ${beijing(silence.ends_at)}
      <div class="small">${t("by")} ${silence.created_by}: ${silence.comment}</div>
      <button type="button" class="expire">${t("expire")}</button>`);
    item.querySelector(".expire").addEventListener("click", () => expire(silence.id));
    return item;
  }));
}

function render() {
  const snapshot = board.snapshot;
  if (!snapshot) return;
  translate();
  renderCity(snapshot.city, snapshot.counts);
  renderFilters(snapshot);
  renderAlerts(snapshot.alerts);
  renderFeed(snapshot.feed);
  renderStations(snapshot.stations);
  renderSilences(snapshot.silences);
}

let refreshing = null;
async function refresh() {
  if (refreshing) return refreshing;
  refreshing = api("/api/snapshot").then((snapshot) => { board.snapshot = snapshot; render(); })
    .catch((error) => {
      console.warn("snapshot:", error.message);
      // A board that asks for a token on reads too: ask for it.
      if (error.status === 401 && !$("signin-dialog").open) $("signin-dialog").showModal();
    })
    .finally(() => { refreshing = null; });
  return refreshing;
}

// A burst of transitions (a city-wide episode) redraws the page once, not once per event.
let soon = null;
function refreshSoon() {
  if (soon) return;
  soon = setTimeout(() => { soon = null; refresh(); }, 300);
}

// --- writes ------------------------------------------------------------------------------------

async function signedIn() {
  if (board.user) return true;
  $("signin-dialog").showModal();
  return false;
}

let acknowledging = null;
async function acknowledge(alert) {
  if (!(await signedIn())) return;
  acknowledging = alert;
  $("ack-what").textContent = `${board.lang === "zh" ? alert.title_zh : alert.title_en} · ${alert.station_name || alert.subject}`;
  $("ack-error").textContent = "";
  $("ack-dialog").showModal();
}

async function confirmAcknowledge(event) {
  event.preventDefault();
  try {
    await api(`/api/alerts/${encodeURIComponent(acknowledging.fingerprint)}/ack`, {
      method: "POST", body: JSON.stringify({ comment: $("ack-comment").value.trim() }),
    });
    $("ack-dialog").close();
    $("ack-comment").value = "";
  } catch (error) {
    $("ack-error").textContent = error.message;
  }
  await refresh();
}

let silencing = null;
async function askSilence(alert) {
  if (!(await signedIn())) return;
  silencing = alert;
  $("silence-what").textContent = `${board.lang === "zh" ? alert.title_zh : alert.title_en} · ${alert.station_name || alert.subject}`;
  $("silence-error").textContent = "";
  $("silence-dialog").showModal();
}

async function silence(event) {
  event.preventDefault();
  const comment = $("silence-why").value.trim();
  if (!comment) { $("silence-error").textContent = t("needs_reason"); return; }
  try {
    await api("/api/silences", { method: "POST", body: JSON.stringify({
      matchers: { rule: silencing.rule, subject: silencing.subject }, duration: $("silence-for").value, comment,
    }) });
    $("silence-dialog").close();
    $("silence-why").value = "";
  } catch (error) {
    $("silence-error").textContent = error.message;
  }
  await refresh();
}

async function expire(id) {
  if (!(await signedIn())) return;
  if (!window.confirm(t("confirm_expire"))) return;
  try { await api(`/api/silences/${encodeURIComponent(id)}`, { method: "DELETE" }); } catch (error) { alert_(error); }
  await refresh();
}

function alert_(error) { window.alert(error.message); }

async function identify() {
  try {
    const me = await api("/api/me");
    board.user = me.name;
  } catch (error) {
    board.user = null;
  }
  translate();
}

async function signIn(event) {
  event.preventDefault();
  board.token = $("token").value.trim();
  await identify();
  if (!board.user) { $("signin-error").textContent = t("wrong_token"); return; }
  localStorage.setItem("envalert.token", board.token);
  $("signin-error").textContent = "";
  $("signin-dialog").close();
  connect();
  await refresh();
}

function signOut() {
  board.token = ""; board.user = null;
  localStorage.removeItem("envalert.token");
  translate();
  refresh();
}

// --- live feed ---------------------------------------------------------------------------------

let source = null;
async function connect() {
  source?.close();
  // A token never goes into an address (proxies log addresses): a signed-in page asks for a
  // single-use ticket, and the feed takes that.
  let query = "";
  if (board.token) {
    try { query = `?ticket=${encodeURIComponent((await api("/api/events/ticket", { method: "POST" })).ticket)}`; }
    catch (error) { console.warn("ticket:", error.message); }
  }
  source = new EventSource("/api/events" + query);
  source.addEventListener("open", () => { $("live").className = "live on"; $("live").dataset.i18n = "online"; translate(); refresh(); });
  source.addEventListener("error", () => { $("live").className = "live off"; $("live").dataset.i18n = "offline"; translate(); });
  source.addEventListener("transition", (event) => { board.fresh.add(JSON.parse(event.data).key); refreshSoon(); });
  for (const kind of ["ack", "silence", "figures"]) source.addEventListener(kind, refreshSoon);
}

function tick() {
  $("clock").textContent = new Date().toLocaleString(board.lang === "zh" ? "zh-CN" : "en-GB",
    { timeZone: "Asia/Shanghai", hour12: false });
}

$("lang").addEventListener("click", () => {
  board.lang = board.lang === "zh" ? "en" : "zh";
  localStorage.setItem("envalert.lang", board.lang);
  render(); translate(); tick();
});
$("signin").addEventListener("click", () => (board.user ? signOut() : $("signin-dialog").showModal()));
$("signin-ok").addEventListener("click", signIn);
$("silence-ok").addEventListener("click", silence);
$("ack-ok").addEventListener("click", confirmAcknowledge);
for (const id of ["f-district", "f-kind", "f-unit", "f-severity"]) $(id).addEventListener("change", render);

translate();
tick();
setInterval(tick, 1000);
setInterval(refresh, 10000); // station health ages even when nothing new arrives
identify().then(() => { connect(); refresh(); });
