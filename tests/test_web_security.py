"""``hvrmet serve`` against the attacks measured on it (no browser: FastAPI's TestClient).

Each test names the attack it replays. A secret-marker file outside the roots (the
output folder and the data roots) stands for ``/etc/shadow``: its text must never come
back, in a reply, an error, the evidence, the state or a served file.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest
import yaml

from hvrmet.agents.configuration import Configuration

MARKER = "hvrmet-secret-7f3a9c"
SHADOW = "".join(f"{MARKER}{i}:*:20228:0:99999:7:::\n" for i in range(3))  # YAML reads it as a mapping


@pytest.fixture()
def secret(tmp_path) -> Path:
    """A shadow-like file outside the roots."""
    p = tmp_path / "outside" / "shadow"
    p.parent.mkdir()
    p.write_text(SHADOW)
    return p


@pytest.fixture()
def out(tmp_path) -> Path:
    p = tmp_path / "out"
    p.mkdir()
    return p


def _client(app, base="http://127.0.0.1"):
    from fastapi.testclient import TestClient

    return TestClient(app, base_url=base)


@pytest.fixture()
def client(out):
    from hvrmet.web import create_app

    with _client(create_app(Configuration(out_dir=str(out), figures=False))) as c:
        yield c


def _new(client, **body) -> str:
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 200, r.text
    return r.json()["session_id"]


_SAID: dict[str, int] = {}


def _say(client, sid: str, line: str) -> tuple[dict, str]:
    """Run one line; its reply, and every byte the session's event stream sent."""
    assert client.post(f"/api/sessions/{sid}/command", json={"line": line}).status_code == 202
    _SAID[sid] = n = _SAID.get(sid, 0) + 1  # this line's is the n-th ``user`` event of the session
    sent, events = [], []
    with client.stream("GET", f"/api/sessions/{sid}/events") as r:
        kind = None
        for text in r.iter_lines():
            sent.append(text)
            if text.startswith("event: "):
                kind = text[7:]
            elif text.startswith("data: "):
                events.append((kind, json.loads(text[6:])))
                users = [i for i, (k, _) in enumerate(events) if k == "user"]
                if len(users) >= n and events[-1][0] == "idle" and len(events) > users[n - 1]:
                    mine = events[users[n - 1]:]
                    assert mine[0][1]["line"] == line
                    return next(d for k, d in mine if k == "reply"), "\n".join(sent)
    raise AssertionError("the event stream ended")


def _everything(client, sid: str) -> str:
    """The session's state, history and listing as one text (to look for the marker)."""
    state = client.get(f"/api/sessions/{sid}/state").text
    return state + client.get("/api/sessions").text


# -- paths a user types: the data-root rule, and no file's text in any error ----------------------

def test_case_path_outside_the_roots_is_refused_without_its_text(client, secret, tmp_path):
    sid = _new(client)
    for line in (f"/case {secret}", f"/case {tmp_path / 'out' / '..' / 'outside' / 'shadow'}", "/case /etc/shadow"):
        reply, sent = _say(client, sid, line)
        assert reply["error"] and "outside the folders this session may read" in reply["text"]
        assert MARKER not in sent and "root:" not in sent
    # a link inside the output folder that points out is followed, then refused
    link = tmp_path / "out" / "case.yaml"
    link.symlink_to(secret)
    reply, sent = _say(client, sid, f"/case {link}")
    assert reply["error"] and "outside" in reply["text"] and MARKER not in sent
    # the case given with a new session goes through the same check
    r = client.post("/api/sessions", json={"case": str(secret)})
    assert r.status_code == 200 and r.json()["case"] is None and MARKER not in r.text
    assert MARKER not in _everything(client, sid)


def test_check_and_plot_paths_outside_the_roots_store_nothing(client, secret, out):
    sid = _new(client, case="may1999")
    files = shlex.quote(json.dumps({"sounding": str(secret)}))
    for line in (f"/check compute_mlcape case={secret}", f"/check compute_mlcape files={files}",
                 f"/check compute_mlcape data_dir={secret.parent}", f"/plot skewt case={secret}",
                 f"/plot skewt files={files}"):
        reply, sent = _say(client, sid, line)
        assert reply["error"] and "outside the folders this session may read" in reply["text"], reply
        assert MARKER not in sent
    # the runs database is inside the output folder, and still no input (every session's text is in it)
    db = shlex.quote(json.dumps({"sounding": str(out / "runs.sqlite")}))
    reply, _ = _say(client, sid, f"/check compute_mlcape files={db}")
    assert reply["error"] and "the runs database is no input" in reply["text"]
    assert MARKER not in _everything(client, sid)
    assert client.get(f"/api/sessions/{sid}/state").json()["evidence"] is None  # no check ran


def test_case_file_inside_the_roots_naming_data_outside_is_refused(client, out, secret):
    case = out / "mine.yaml"
    base = {"id": "mine", "title": "t", "time": "2011-05-22T12:00:00Z", "location": {"lat": 35.0, "lon": -97.0}}
    sid = _new(client)
    for extra in ({"data_dir": str(secret.parent), "files": [{"role": "sounding", "format": "uwyo_sounding",
                                                               "path": "shadow"}]},
                  {"files": [{"role": "sounding", "format": "uwyo_sounding", "path": str(secret)}]},
                  {"data_dir": ".", "files": [{"role": "sounding", "format": "uwyo_sounding",
                                               "path": "../outside/shadow"}]},
                  {"data_dir": ".", "files": [{"role": "sounding", "format": "uwyo_sounding",
                                               "glob": "../outside/*"}]}):
        case.write_text(yaml.safe_dump({**base, **extra}))
        reply, sent = _say(client, sid, f"/case {case}")
        assert reply["error"] and ("outside" in reply["text"] or "leaves its data folder" in reply["text"]), reply
        assert MARKER not in sent


def test_case_errors_name_fields_and_lines_never_the_text(client, out, secret):
    sid = _new(client)
    # a file of the roots that YAML reads as a mapping (the shape of /etc/shadow)
    shadow_like = out / "shadow.yaml"
    shadow_like.write_text(SHADOW)
    reply, sent = _say(client, sid, f"/case {shadow_like}")
    assert reply["error"] and "invalid case" in reply["text"] and "3 unknown fields at lines 1, 2, 3" in reply["text"]
    assert "id: Field required" in reply["text"] and MARKER not in sent
    # YAML syntax errors: where, never the snippet
    broken = out / "broken.yaml"
    broken.write_text(f"id: x\ntitle: [{MARKER}, {MARKER}\nnotes: '{MARKER}'\n")
    reply, sent = _say(client, sid, f"/case {broken}")
    assert reply["error"] and "not valid YAML at line 3" in reply["text"] and MARKER not in sent
    # pydantic's errors: field and line, never input_value
    bad = out / "bad.yaml"
    bad.write_text(f"id: {MARKER}X\ntitle: t\ntime: {MARKER}\nlocation: {{lat: 0, lon: {MARKER}}}\n"
                   f"files: [{{role: {MARKER}, format: x, path: y}}]\n{MARKER}: 1\n")
    reply, sent = _say(client, sid, f"/case {bad}")
    text = reply["text"]
    assert "id (line 1)" in text and "time (line 3)" in text and "location.lon (line 4)" in text
    assert "files.0.role (line 5): unknown role" in text and "1 unknown field at line 6" in text
    assert MARKER not in sent and "input_value" not in sent
    # a binary file is no case file
    binary = out / "runs.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe" + MARKER.encode())
    reply, sent = _say(client, sid, f"/case {binary}")
    assert reply["error"] and "not UTF-8 text" in reply["text"] and MARKER not in sent


def test_case_errors_at_their_source(tmp_path):
    from hvrmet.cases import get_case
    from hvrmet.errors import CaseError

    p = tmp_path / "c.yaml"
    for text in (SHADOW, f"a: [{MARKER}\n", f"x: *{MARKER}\n", f"x: !!python/name:{MARKER} y\n",
                 f"id: ok\ntitle: t\ntime: 2020-01-01\nlocation: {{lat: 0, lon: 0}}\nfiles: [{{role: {MARKER}, "
                 "format: x, path: y}]\n"):
        p.write_text(text)
        with pytest.raises(CaseError) as info:
            get_case(p)
        assert MARKER not in str(info.value) and "input_value" not in str(info.value), str(info.value)


# -- /files: run artefacts only ----------------------------------------------------------------

def test_files_serves_run_artefacts_only(client, out, secret):
    sid = _new(client)  # makes runs.sqlite
    assert (out / "runs.sqlite").is_file()
    run = out / "may1999" / "abc"
    (run / "figures").mkdir(parents=True)
    (run / "report.html").write_text("<h1>report</h1>")
    (run / "report.md").write_text("# report")
    (run / "trace.json").write_text("{}")
    (run / "figures" / "skewt.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (run / "figures" / "skewt.json").write_text("{}")
    (run / "notes.json").write_text(json.dumps({"x": MARKER}))  # a JSON that is no sidecar nor trace
    (run / "notes.txt").write_text(MARKER)
    for p in ("report.html", "report.md", "trace.json", "figures/skewt.png", "figures/skewt.json"):
        assert client.get("/files", params={"path": str(run / p)}).status_code == 200, p
    for p in (out / "runs.sqlite", out / "runs.sqlite-wal", run / "notes.json", run / "notes.txt", secret,
              Path("/etc/passwd")):
        r = client.get("/files", params={"path": str(p)})
        assert r.status_code == 403 and MARKER not in r.text and "SQLite" not in r.text, p
    assert client.get("/files", params={"path": str(run / "gone.md")}).status_code == 404
    assert client.get("/files", params={"path": str(run) + "\x00.md"}).status_code == 403
    assert client.get("/files", params={"path": str(secret.with_name("gone.md"))}).status_code == 403  # no oracle
    # the report is framed by the page (same origin, sandboxed): frame-ancestors 'self'
    rep = client.get("/files", params={"path": str(run / "report.html")})
    assert "frame-ancestors 'self'" in rep.headers["content-security-policy"]
    assert "sandbox" in rep.headers["content-security-policy"] and rep.headers["x-frame-options"] == "SAMEORIGIN"
    fig = client.get("/files", params={"path": str(run / "figures" / "skewt.png")})
    assert "frame-ancestors 'none'" in fig.headers["content-security-policy"] and fig.headers["x-frame-options"] == "DENY"
    assert sid


# -- the Host header (DNS rebinding), the Origin --------------------------------------------------

def test_host_header_must_name_the_bound_address(out):
    from hvrmet.web import create_app

    app = create_app(Configuration(out_dir=str(out), figures=False), port=8123)
    with _client(app, "http://127.0.0.1:8123") as c:
        assert c.get("/api/cases").status_code == 200
        for host in ("localhost:8123", "127.0.0.1:8123", "[::1]:8123"):
            assert c.get("/api/cases", headers={"host": host}).status_code == 200, host
        for host in ("evil.example:8123", "evil.example", "127.0.0.1:9999", "127.0.0.1", "", "127.0.0.1:x"):
            r = c.get("/api/cases", headers={"host": host})
            assert r.status_code == 400 and "Host" in r.json()["detail"], host
            assert r.headers["x-frame-options"] == "DENY"
        # a page of another origin cannot change anything
        r = c.post("/api/sessions", json={}, headers={"origin": "http://evil.example"})
        assert r.status_code == 403
        assert c.post("/api/sessions", json={}, headers={"origin": "http://127.0.0.1:8123"}).status_code == 200


# -- security headers on every response -------------------------------------------------------------

def test_security_headers_on_every_response(client):
    responses = [client.get("/"), client.get("/static/app.js"), client.get("/api/cases"), client.get("/api/sessions"),
                 client.get("/api/sessions/nope/state"), client.get("/static/nope.js"),
                 client.get("/files", params={"path": "/etc/passwd"}), client.post("/api/sessions", json={})]
    for r in responses:
        h = r.headers
        csp = h["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp, r.url
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff", r.url
        assert h["referrer-policy"] == "no-referrer", r.url
    assert "<script>" not in responses[0].text and 'http-equiv="Content-Security-Policy"' not in responses[0].text


# -- sessions: 404 for unknown ids, owner only, expiry --------------------------------------------

def test_unknown_session_is_404(client):
    for method, url, body in (("GET", "/api/sessions/nope/state", None), ("GET", "/api/sessions/nope/events", None),
                              ("POST", "/api/sessions/nope/command", {"line": "/help"}),
                              ("POST", "/api/sessions", {"session_id": "nope"})):
        r = client.request(method, url, json=body)
        assert r.status_code == 404 and "no session 'nope'" in r.text, (method, url, r.status_code)


def test_sessions_listed_and_reachable_only_by_their_owner(out):
    from hvrmet.web import create_app

    app = create_app(Configuration(out_dir=str(out), figures=False))
    with _client(app) as alice, _client(app) as mallory:
        r = alice.post("/api/sessions", json={})
        sid = r.json()["session_id"]
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert [s["session_id"] for s in alice.get("/api/sessions").json()] == [sid]
        assert mallory.get("/api/sessions").json() == []
        assert mallory.get(f"/api/sessions/{sid}/state").status_code == 404
        assert mallory.get(f"/api/sessions/{sid}/events").status_code == 404
        assert mallory.post(f"/api/sessions/{sid}/command", json={"line": "/history"}).status_code == 404
        assert mallory.post("/api/sessions", json={"session_id": sid}).status_code == 404
        mine = mallory.post("/api/sessions", json={}).json()["session_id"]
        assert [s["session_id"] for s in mallory.get("/api/sessions").json()] == [mine]
        assert alice.get(f"/api/sessions/{mine}/state").status_code == 404
        # a second session of alice's is under the same cookie
        second = _new(alice)
        assert {s["session_id"] for s in alice.get("/api/sessions").json()} == {sid, second}


def test_idle_sessions_expire_and_are_closed(out, monkeypatch):
    from hvrmet.chat.session import ChatSession
    from hvrmet.web import create_app

    closed = []
    real_close = ChatSession.close
    monkeypatch.setattr(ChatSession, "close", lambda self: (closed.append(self.session_id), real_close(self)))
    now = [1000.0]
    app = create_app(Configuration(out_dir=str(out), figures=False), idle_timeout=60, clock=lambda: now[0])
    with _client(app) as c:
        idle, used = _new(c), _new(c)
        now[0] += 45
        assert c.get(f"/api/sessions/{used}/state").status_code == 200  # used: its idle time starts again
        now[0] += 30  # idle: 75 s, used: 30 s
        assert c.get(f"/api/sessions/{idle}/state").status_code == 404
        assert closed == [idle]
        assert c.get(f"/api/sessions/{used}/state").status_code == 200
        # its owner can open it again (from the runs database)
        assert c.post("/api/sessions", json={"session_id": idle}).json()["session_id"] == idle
        assert c.get(f"/api/sessions/{idle}/state").status_code == 200
        now[0] += 61
        app.state.sweep()
        assert sorted(closed) == sorted([idle, idle, used])


# -- a token beyond loopback -----------------------------------------------------------------------

def test_a_bind_beyond_loopback_needs_a_token(out):
    from hvrmet.web import create_app

    cfg = Configuration(out_dir=str(out), figures=False)
    with pytest.raises(ValueError, match="needs a token"):
        create_app(cfg, host="0.0.0.0")
    app = create_app(cfg, host="0.0.0.0", port=8124, token="s3cret-token")
    with _client(app, "http://10.1.2.3:8124") as c:
        for r in (c.get("/"), c.get("/api/cases"), c.get("/api/cases", params={"token": "wrong"}),
                  c.get("/api/cases", headers={"authorization": "Bearer wrong"}),
                  c.post("/api/sessions", json={})):
            assert r.status_code == 401 and "token" in r.json()["detail"] and "s3cret" not in r.text
        assert c.get("/api/cases", headers={"authorization": "Bearer s3cret-token"}).status_code == 200
        # the URL hvrmet serve prints: the token once, then a cookie (and out of the address bar)
        r = c.get("/", params={"token": "s3cret-token"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert "httponly" in r.headers["set-cookie"].lower() and "samesite=strict" in r.headers["set-cookie"].lower()
        assert c.get("/").status_code == 200 and c.get("/api/cases").status_code == 200
        assert c.post("/api/sessions", json={}).status_code == 200
    # a loopback bind needs none
    with _client(create_app(cfg)) as c:
        assert c.get("/api/cases").status_code == 200


def test_serve_beyond_loopback_prints_a_url_with_a_new_token(out, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from hvrmet.cli import app as cli

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    res = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "8125", "--out", str(out)])
    assert res.exit_code == 0, res.output
    line = next(s for s in res.output.splitlines() if "?token=" in s)
    token = line.split("?token=")[1].split()[0]
    assert len(token) >= 32 and served["host"] == "0.0.0.0" and served["port"] == 8125
    with _client(served["app"], "http://10.1.2.3:8125") as c:
        assert c.get("/api/cases").status_code == 401
        assert c.get("/api/cases", headers={"authorization": f"Bearer {token}"}).status_code == 200
    res = CliRunner().invoke(cli, ["serve", "--port", "8126", "--out", str(out)])
    assert res.exit_code == 0 and "?token=" not in res.output and "http://127.0.0.1:8126/" in res.output


def test_the_secret_never_left(secret):
    """The marker file is still there and outside the roots (the tests above are meaningful)."""
    from hvrmet.web import allowed_roots

    roots = allowed_roots(Configuration(out_dir=str(secret.parent.parent / "out")))
    assert secret.read_text() == SHADOW
    assert not any(secret.resolve().is_relative_to(r) for r in roots)
    assert os.environ.get("HVRMET_DATA_DIR") is None or not secret.is_relative_to(os.environ["HVRMET_DATA_DIR"])
