"""``hvrmet serve``: the API (in process) and the page in headless Chromium (Playwright)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from hvrmet.agents.configuration import Configuration

pytestmark = pytest.mark.realdata


@pytest.fixture()
def client(tmp_path, data_dir):
    from fastapi.testclient import TestClient

    from hvrmet.web import create_app

    app = create_app(Configuration(out_dir=str(tmp_path / "out"), figures=False))
    with TestClient(app, base_url="http://127.0.0.1") as c:  # the Host header must name the bound address
        yield c


def _wait_state(client, sid, status, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        st = client.get(f"/api/sessions/{sid}/state").json()
        if st["status"] == status:
            return st
        time.sleep(0.2)
    raise AssertionError(f"session did not reach {status!r}: {st}")


def test_files_only_artefacts_from_the_output_folder_and_data_roots(client, tmp_path, data_dir):
    assert client.get("/files", params={"path": "/etc/passwd"}).status_code == 403
    assert client.get("/files", params={"path": str(tmp_path / "out" / ".." / ".." / "x")}).status_code == 403
    (tmp_path / "secret.txt").write_text("no")
    link = tmp_path / "out" / "link.txt"
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(tmp_path / "secret.txt")  # a link out of the folder is followed, then refused
    assert client.get("/files", params={"path": str(link)}).status_code == 403
    assert client.get("/files", params={"path": str(data_dir / "MANIFEST.tsv")}).status_code == 403  # not an artefact
    report = tmp_path / "out" / "may1999" / "run1" / "report.md"
    report.parent.mkdir(parents=True)
    report.write_text("# report\n")
    ok = client.get("/files", params={"path": str(report)})
    assert ok.status_code == 200 and ok.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/../app.py").status_code == 404


def test_api_runs_a_diagnosis_and_refuses_a_second_line_while_busy(client):
    cases = client.get("/api/cases").json()
    assert "may1999" in {c["id"] for c in cases}
    st = client.post("/api/sessions", json={"case": "may1999"}).json()
    sid = st["session_id"]
    assert st["case"] == "may1999" and st["status"] == "none"
    assert client.post(f"/api/sessions/{sid}/command", json={"line": "/diagnose"}).status_code == 202
    busy = client.post(f"/api/sessions/{sid}/command", json={"line": "/hypotheses"})
    assert busy.status_code == 409
    st = _wait_state(client, sid, "review")
    assert st["hypotheses"]["rows"][0][:3] == ["H1", "tornadic_supercell", "supported"]
    assert client.get("/api/sessions/nope/state").status_code == 404


def test_page_in_headless_chromium(tmp_path, data_dir):
    from hvrmet.testing.web import browser, diagnose_in_page, find_chromium, serve

    if find_chromium() is None:
        if os.environ.get("HVRMET_REQUIRE_BROWSER"):  # make test installs it: missing is a failure there
            pytest.fail("chromium is not installed (make test installs Debian's chromium)")
        pytest.skip("chromium is not installed (make test installs it)")
    injected = '<img src=x onerror="window.pwned=1">'
    with serve(tmp_path / "out") as url:
        with browser() as ctx:
            page = ctx.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            diagnose_in_page(page, url, "may1999", lines=(f"/reject H1 {injected}",))
            rows = page.locator("#hypotheses tbody tr")
            trace = json.loads(next((tmp_path / "out" / "may1999").glob("*/trace.json")).read_text())
            assert rows.count() == len(trace["hypotheses"]) >= 2  # every hypothesis of the run, one row each
            first = rows.first.locator("td")
            assert [first.nth(i).inner_text() for i in range(3)] == ["H1", "tornadic_supercell", "refuted"]
            assert injected in first.nth(6).inner_text()  # shown as text, never run
            assert page.evaluate("window.pwned") is None
            assert page.locator("#log img[src='x']").count() == 0
            # the report's figures appear and load
            page.wait_for_function("[...document.querySelectorAll('#figures img')].some(i => i.complete && i.naturalWidth > 200)",
                                   timeout=60_000)
            kinds = page.locator("#figures figcaption").all_inner_texts()
            assert any(k.startswith("skewt") for k in kinds), kinds
            # the loop was streamed into the log, and the report is in the frame
            log = page.locator("#log").inner_text()
            last = max(d["loop"] for d in trace["decisions"])
            assert "hypothesis H1 tornadic_supercell" in log and f"decision loop {last}: stop" in log
            frame = page.frame_locator("#report")
            assert "rejected by the forecaster" in frame.locator("#hypotheses").inner_text()
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
            assert not errors, errors
        report = next((tmp_path / "out" / "may1999").glob("*/report.html"))
        _page_under_its_policy(url, report)  # a second Playwright, once the first has stopped
    md = next((tmp_path / "out" / "may1999").glob("*/report.md")).read_text()
    assert "rejected by the forecaster (machine: supported, 1.00): " + injected in md


def _page_under_its_policy(url: str, report: Path) -> None:
    """The page with its Content-Security-Policy and frame headers enforced (no bypass):
    its script runs, and the report shows in its sandboxed frame (same origin)."""
    from hvrmet.testing.web import browser

    with browser(bypass_csp=False) as ctx:
        page = ctx.new_page()
        refused = []
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text
                or "X-Frame-Options" in m.text else None)
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)  # app.js ran and fetched the cases
        assert page.locator("#case option").count() > 5
        page.evaluate("p => { document.getElementById('report').src = '/files?path=' + encodeURIComponent(p); }",
                      str(report))
        assert "H1" in page.frame_locator("#report").locator("#hypotheses").inner_text(timeout=30_000)
        assert not refused, refused


def test_each_screening_tool_streams_as_it_finishes(tmp_path, data_dir):
    from hvrmet.chat.session import ChatSession
    from hvrmet.web.app import _WebSession

    ws = _WebSession(ChatSession(Configuration(out_dir=str(tmp_path / "out"), figures=False)), time.monotonic)
    try:
        ws.run("/case may1999")
        ws.run("/diagnose")
    finally:
        ws.close()
    msgs = [e["data"] for e in ws.events if e["type"] == "message"]
    kinds = [m["kind"] for m in msgs]
    first_screen = kinds.index("screen")
    screened = kinds.count("screen")
    # every screening tool was announced as it finished, before the screening node returned
    tools = [m["text"] for m in msgs[:first_screen] if m["kind"] == "tool"]
    assert len(tools) == screened and all(": done in " in t or ": error (" in t for t in tools), tools
    assert tools[0].startswith("describe_case_setting: ") or tools[0].split(":")[0]
