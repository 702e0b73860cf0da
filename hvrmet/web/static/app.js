// hvrmet web chat. Every string from the server is inserted with textContent, never as HTML.
"use strict";
const $ = (id) => document.getElementById(id);
let sid = null;
let source = null;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function fileUrl(path) { return "/files?path=" + encodeURIComponent(path); }

function log(text, cls) {
  const d = el("div", text, cls);
  $("log").appendChild(d);
  $("log").scrollTop = $("log").scrollHeight;
  return d;
}

function renderTable(table, spec, actions) {
  const thead = table.tHead, tbody = table.tBodies[0];
  thead.replaceChildren(); tbody.replaceChildren();
  if (!spec) return;
  const hr = document.createElement("tr");
  for (const c of spec.columns) hr.appendChild(el("th", c));
  if (actions) hr.appendChild(el("th", "sign-off"));
  thead.appendChild(hr);
  for (const row of spec.rows) {
    const tr = document.createElement("tr");
    if (row.length > 2) tr.className = row[2];
    for (const cell of row) tr.appendChild(el("td", cell));
    if (actions) tr.appendChild(actions(row));
    tbody.appendChild(tr);
  }
}

function signoffButtons(row) {
  const td = el("td", null, "actions");
  for (const [label, cmd] of [["accept", "/accept"], ["reject", "/reject"], ["why", "/why"]]) {
    const b = el("button", label);
    b.type = "button";
    b.dataset.hyp = row[0];
    b.className = label;
    b.addEventListener("click", () => send(cmd + " " + row[0]));
    td.appendChild(b);
  }
  return td;
}

function renderState(st) {
  $("session-info").textContent = "session " + st.session_id + (st.thread_id ? " · run " + st.thread_id : "") +
    " · " + st.status;
  $("diagnose").disabled = !st.case;
  $("report-btn").disabled = !st.hypotheses;
  renderTable($("hypotheses"), st.hypotheses, signoffButtons);
  renderTable($("evidence"), st.evidence);
  const figs = $("figures");
  figs.replaceChildren();
  for (const f of st.figures || []) {
    const fig = el("figure");
    const img = el("img");
    img.src = fileUrl(f.path);
    img.alt = f.kind + " (" + f.id + ")";
    fig.appendChild(img);
    fig.appendChild(el("figcaption", f.kind + " (" + f.id + ")"));
    figs.appendChild(fig);
  }
  const links = $("report-links");
  links.replaceChildren();
  if (st.report && st.report.html) {
    links.appendChild(el("b", st.outcome + ". "));
    links.appendChild(el("span", st.report.summary + " "));
    for (const k of ["html", "markdown", "trace"]) {
      const a = el("a", k);
      a.href = fileUrl(st.report[k]);
      a.target = "_blank";
      links.appendChild(a);
      links.appendChild(document.createTextNode(" "));
    }
    const url = fileUrl(st.report.html);
    if ($("report").getAttribute("src") !== url) $("report").setAttribute("src", url);
  }
}

function renderReply(r) {
  const box = log("", r.error ? "error" : "reply");
  if (r.text) box.appendChild(el("div", r.text));
  for (const t of r.tables || []) {
    box.appendChild(el("div", t.title));
    const table = document.createElement("table");
    table.appendChild(document.createElement("thead"));
    table.appendChild(document.createElement("tbody"));
    renderTable(table, t);
    box.appendChild(table);
  }
  for (const f of r.figures || []) {
    const img = el("img");
    img.src = fileUrl(f);
    img.alt = f;
    img.style.maxWidth = "100%";
    box.appendChild(img);
  }
  $("log").scrollTop = $("log").scrollHeight;
}

function listen() {
  if (source) source.close();
  source = new EventSource("/api/sessions/" + encodeURIComponent(sid) + "/events");
  source.addEventListener("message", (e) => { const m = JSON.parse(e.data); log(m.kind.padStart(10) + " " + m.text, m.kind); });
  source.addEventListener("user", (e) => log("> " + JSON.parse(e.data).line, "user"));
  source.addEventListener("reply", (e) => renderReply(JSON.parse(e.data)));
  source.addEventListener("state", (e) => renderState(JSON.parse(e.data)));
  source.addEventListener("busy", () => { $("busy").hidden = false; });
  source.addEventListener("idle", () => { $("busy").hidden = true; document.body.dataset.idle = String(Date.now()); });
}

function post(url, body) {
  return fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
}

async function send(line) {
  if (!sid || !line) return;
  const r = await post("/api/sessions/" + encodeURIComponent(sid) + "/command", {line});
  if (r.status === 409) log("still working on the previous line", "error");
  else if (r.status === 404) {  // closed after an idle time (or the server restarted)
    log("this session is closed (idle too long): press Load to open it again", "error");
    if (source) source.close();
  } else if (!r.ok) log("the server refused the line (" + r.status + ")", "error");
}

async function loadCase() {
  const body = {case: $("case").value, session_id: sid};
  let r = await post("/api/sessions", body);
  if (r.status === 404 && sid) {  // no longer known to the server: a new session
    sid = null;
    r = await post("/api/sessions", {case: body.case, session_id: null});
  }
  if (!r.ok) { log("could not open a session (" + r.status + ")", "error"); return; }
  const st = await r.json();
  sid = st.session_id;
  const c = window.hvrmetCases.find((x) => x.id === $("case").value);
  $("case-info").textContent = c ? c.title + " (" + c.time + " UTC, " + c.place + "; data: " + c.roles.join(", ") + ")" : "";
  renderState(st);
  listen();
}

async function init() {
  const cases = await (await fetch("/api/cases")).json();
  window.hvrmetCases = cases;
  for (const c of cases) {
    const o = el("option", c.id + " (" + c.time + ", " + c.place + ")");
    o.value = c.id;
    $("case").appendChild(o);
  }
  $("load").addEventListener("click", loadCase);
  $("diagnose").addEventListener("click", () => send("/diagnose"));
  $("report-btn").addEventListener("click", () => send("/report"));
  $("line-form").addEventListener("submit", (e) => { e.preventDefault(); send($("line").value.trim()); $("line").value = ""; });
  document.body.dataset.ready = "1";
}
init();
