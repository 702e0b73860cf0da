"""The report: one model rendered as Markdown, HTML and the chat's tables; every link in
the reports resolves from the report's own folder; each run keeps its own figures."""

from __future__ import annotations

import hashlib
import html
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from hvrmet.agents.configuration import Configuration
from hvrmet.agents.report import build_report, evidence_rows, hypothesis_rows, render_html, render_markdown
from hvrmet.agents.state import Evidence, Hypothesis
from hvrmet.chat.commands import evidence_table, hypothesis_table

try:
    from hvrmet.runs import diagnose
except ImportError:  # before the run lifecycle moved to hvrmet.runs
    from hvrmet.agents.run import diagnose

_MD_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_MD_ANCHOR = re.compile(r"<a id=\"([^\"]+)\"></a>")


class _Links(HTMLParser):
    """Every ``href``/``src`` of a page, and its element ids."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v is not None:
                self.links.append(v)
            if k == "id" and v:
                self.ids.add(v)


def _html_links(text: str) -> tuple[list[str], set[str]]:
    p = _Links()
    p.feed(text)
    return p.links, p.ids


def _check_links(folder: Path, links: list[str], anchors: set[str]) -> list[Path]:
    """Assert every link resolves from ``folder`` (files) or to an anchor of the page;
    return the files."""
    files = []
    for link in links:
        if link.startswith("data:"):
            continue
        if link.startswith("#"):
            assert link[1:] in anchors, f"in-page link {link} has no anchor"
            continue
        parts = urlsplit(link)
        assert not parts.scheme and not parts.netloc, f"{link} is not a relative link"
        assert not os.path.isabs(unquote(parts.path)), f"{link} is absolute"
        target = folder / unquote(parts.path)
        assert target.is_file(), f"{link} does not resolve from {folder}"
        files.append(target.resolve())
    return files


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def two_runs(data_dir, tmp_path_factory):
    """Two figure-drawing runs of may1999 into one output folder, each started from a
    working directory that is not the output's: the first with an absolute ``out_dir``,
    the second with the same folder given relative to the working directory."""
    out = tmp_path_factory.mktemp("out")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(elsewhere)
        first = diagnose("may1999", Configuration(out_dir=str(out), figures=True))
        folder = Path(first["report"]["folder"]).resolve()
        figs = {p: _sha(p) for p in (folder / "figures").rglob("*") if p.is_file()}
        md_before = (folder / "report.md").read_text()
        second = diagnose("may1999", Configuration(out_dir=os.path.relpath(out, elsewhere), figures=True))
        second_folder = Path(second["report"]["folder"]).resolve()
    return {"out": out, "elsewhere": elsewhere, "first": first, "second": second, "folder": folder, "second_folder": second_folder,
            "figures_before": figs, "md_before": md_before}


def test_every_link_resolves_from_the_report_folder(two_runs):
    for key in ("folder", "second_folder"):
        folder = two_runs[key]
        md = (folder / "report.md").read_text()
        md_files = _check_links(folder, _MD_LINK.findall(md), set(_MD_ANCHOR.findall(md)))
        page = (folder / "report.html").read_text()
        links, ids = _html_links(page)
        html_files = _check_links(folder, links, ids)
        # the figures (PNG and sidecar), the trace and the data files read are all linked
        pngs = {p for p in md_files if p.suffix == ".png"}
        assert len(pngs) == 2 and all((folder / "figures") in p.parents for p in pngs), pngs
        sidecars = {p for p in md_files if p.suffix == ".json" and p.name != "trace.json"}
        assert {p.with_suffix(".json") for p in pngs} == sidecars
        assert folder / "trace.json" in md_files and folder / "trace.json" in html_files
        assert {p.name for p in md_files} >= {"may4_sounding.txt", "KTLX19990503_235621.gz", "report.html"}
        assert pngs | sidecars <= set(html_files) and folder / "report.md" in html_files
        # the HTML is self-contained: its figures are embedded
        assert sum(1 for link in links if link.startswith("data:image/png;base64,")) == 2
        # a file read that is not a local path is listed by name and sha256, unlinked
        assert "catalogue:may1999 (000000000000)" in md and "[catalogue:may1999]" not in md


def test_each_run_keeps_its_own_figures(two_runs):
    a, b = two_runs["folder"], two_runs["second_folder"]
    assert a != b and a.parent == b.parent == (two_runs["out"] / "may1999").resolve()
    figs_a = {p.resolve() for p in (a / "figures").rglob("*.png")}
    figs_b = {p.resolve() for p in (b / "figures").rglob("*.png")}
    assert len(figs_a) == len(figs_b) == 2 and not figs_a & figs_b
    ev_b = [f["png"] for e in two_runs["second"]["evidence"] for f in e["figures"]]
    assert ev_b and all((b / "figures") in (two_runs["elsewhere"] / p).resolve().parents for p in ev_b)
    # the second run left the first one's figures and report as they were
    assert {p: _sha(p) for p in (a / "figures").rglob("*") if p.is_file()} == two_runs["figures_before"]
    assert (a / "report.md").read_text() == two_runs["md_before"]


def _md_table(md: str, heading: str) -> list[list[str]]:
    block = md.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in block.splitlines() if line.startswith("|")][2:]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows]


def _html_table(page: str, table_id: str) -> list[list[str]]:
    block = page.split(f'<table id="{table_id}">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", block, flags=re.S)[1:]
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td>(.*?)</td>", r, flags=re.S)]
            for r in rows]


def test_markdown_html_and_chat_show_the_same_hypotheses(two_runs):
    state, folder = two_runs["first"], two_runs["folder"]
    hyps = [Hypothesis.model_validate(h) for h in state["hypotheses"]]
    evidence = [Evidence.model_validate(e) for e in state["evidence"]]
    model = build_report(state, folder=folder, brain="offline")
    expected = [[h.id, h.hazard, h.status, f"{h.prior:.2f}", f"{h.posterior:.2f}"] for h in model.hypotheses]
    assert [h[:3] for h in expected] == [[h.id, h.hazard, h.status] for h in hyps]
    assert any(h[2] == "supported" for h in expected) and any(h[2] == "refuted" for h in expected)
    md = (folder / "report.md").read_text()
    page = (folder / "report.html").read_text()
    chat = hypothesis_table(hyps)
    assert [r[:5] for r in _md_table(md, "Hypotheses")] == expected
    assert [r[:5] for r in _html_table(page, "hypotheses")] == expected
    assert [r[:5] for r in chat.rows] == expected
    assert chat.model_dump() == hypothesis_rows(model.hypotheses).model_dump()
    # the evidence too: the same items, in the same order, with the same key values
    ev_chat = evidence_table(evidence)
    assert ev_chat.model_dump() == evidence_rows(model.evidence).model_dump()
    assert [r[0] for r in ev_chat.rows] == [re.sub(r"<[^>]+>", "", r[0]) for r in _md_table(md, "Evidence")]
    assert [r[0] for r in ev_chat.rows] == [r[0] for r in _html_table(page, "evidence")]
    stp = next(e for e in model.evidence if e.tool == "compute_tornado_parameter")
    assert stp.result() == "stp = 2.668" and f"| {stp.result()} |" in md  # dimensionless: no "1" as a unit
    assert f"{state['tool_calls']} tool calls" in md  # the report's own figure calls counted


def _synthetic_state(tmp_path: Path) -> tuple[dict, Path]:
    folder = tmp_path / "out" / "may1999" / "r1"
    (folder / "figures").mkdir(parents=True)
    png, side = folder / "figures" / "a b.png", folder / "figures" / "a b.json"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    side.write_text("{}")
    data = tmp_path / "data" / "snd <1>.txt"
    data.parent.mkdir()
    data.write_text("x")
    bad = "<img src=x onerror=alert(1)> & | pipe"
    ev = [Evidence(id="E1-H1-1", loop=1, tool="compute_sbcape", arguments={"case": "may1999", "note": bad}, ok=True,
                   values={"sbcape": {"value": 2470.49, "units": "J/kg"}, "profile": {"value": [1, 2], "units": ""}},
                   files=[{"path": str(data), "sha256": "ab" * 32, "role": "sounding"},
                          {"path": "https://example.org/remote.nc", "sha256": "cd" * 32, "role": "analysis"}],
                   figures=[{"png": str(png), "sidecar": str(side), "kind": bad}]).model_dump(),
          Evidence(id="E1-H1-2", loop=1, tool="compute_helicity", arguments={"case": "may1999"}, ok=False,
                   error=bad).model_dump()]
    hyps = [Hypothesis(id="H1", hazard="tornadic_supercell", statement="s", prior=0.5, posterior=0.875,
                       status="supported", evidence_ids=["E1-H1-1", "E1-H1-2"], rationale=bad,
                       signoff=f"accepted by the forecaster (machine: supported, 0.88): {bad}").model_dump()]
    state = {"case": "may1999", "run_id": "r1", "loop": 1, "tool_calls": 2, "hypotheses": hyps, "evidence": ev,
             "thresholds": {"gl-tornadic-supercell:stp>=": 9.0},
             "decisions": [{"loop": 1, "action": "stop", "reason": bad, "status_changes": {"H1": "proposed->supported"}}],
             "messages": [{"kind": "check", "text": bad}],
             "failure": {"node": "replan", "kind": "timeout", "message": bad}}
    return state, folder


def test_model_links_escaping_and_failures(tmp_path, monkeypatch):
    state, folder = _synthetic_state(tmp_path)
    monkeypatch.chdir(tmp_path / "data")  # links do not depend on the working directory
    model = build_report(state, folder=os.path.relpath(folder), summary="<b>sum</b>", brain="offline")
    assert model.outcome == "hazard: tornadic_supercell" and model.title
    ev = model.evidence[0]
    assert [f.link for f in ev.files] == ["../../../data/snd <1>.txt", None]  # a remote file: no link
    assert ev.figures[0].png_link == "figures/a b.png" and ev.figures[0].sidecar_link == "figures/a b.json"
    assert ev.result() == "sbcape = 2470 J/kg" and "note=" in ev.arguments_text
    assert [(f.evidence_id, f.tool) for f in model.failures] == [("E1-H1-2", "compute_helicity")]
    assert model.failure is not None and model.failure.node == "replan"
    assert model.thresholds[0].text == "gl-tornadic-supercell:stp>=9"
    assert model.hypotheses[0].posterior_text == "0.88" and len(model.hypotheses[0].chain) == 0
    md = render_markdown(model)
    page = render_html(model)
    (folder / "report.md").write_text(md)
    (folder / "report.html").write_text(page)
    (folder / "trace.json").write_text("{}")
    md_files = _check_links(folder, _MD_LINK.findall(md), set(_MD_ANCHOR.findall(md)))
    links, ids = _html_links(page)
    html_files = _check_links(folder, links, ids)
    assert (tmp_path / "data" / "snd <1>.txt").resolve() in set(md_files) & set(html_files)
    assert "remote.nc (cdcdcdcdcdcd)" in md and "https://example.org" not in md + page
    # every string is escaped in the HTML; the Markdown keeps pipes out of the table structure
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt; &amp; | pipe" in page
    assert "<b>sum</b>" not in page and "&lt;b&gt;sum&lt;/b&gt;" in page
    assert all(len(r) == 7 for r in _md_table(md, "Hypotheses")) and "\\| pipe" in md
    assert "Tool failures" in md and "Tool failures" in page and "stopped early" in md and "stopped early" in page
    assert "Thresholds changed by the forecaster: gl-tornadic-supercell:stp>=9" in md and page.count("stp&gt;=9") == 1


def _section(text: str, start: str, ends: tuple[str, ...]) -> str:
    """``text`` from ``start`` to the first of ``ends`` after it (or the end)."""
    i = text.index(start)
    stops = [j for j in (text.find(e, i + len(start)) for e in ends) if j != -1]
    return text[i:min(stops) if stops else len(text)]


def test_the_report_leads_with_what_decided_and_folds_the_rest(two_runs):
    state, folder = two_runs["first"], two_runs["folder"]
    md = (folder / "report.md").read_text()
    page = (folder / "report.html").read_text()
    model = build_report(state, folder=folder, brain="offline")
    # the top: the case title, the data's times, then the summary a forecaster can paste
    assert md.startswith(f"# Diagnosis: {model.title}\n") and f"<h1>Diagnosis: {html.escape(model.title)}</h1>" in page
    assert "**Data:** " in md and "radar volume KTLX 1999-05-03 23:56 UTC" in md and "sounding OUN" in md
    summary = _section(md, "## Summary\n", ("\n## ",))
    assert md.index("## Summary") < md.index("## Hypotheses")
    supported = [h for h in model.hypotheses if h.status == "supported"]
    assert supported and summary.count("supports ") >= len(supported) and all(
        f"supports {h.hazard_text} (posterior {h.posterior_text})" in summary for h in supported)
    assert "Refuted: ordinary convection" in summary and "J/kg" in summary  # numbers with their units
    assert build_report(state, folder=folder, brain="offline").plain_summary == model.plain_summary  # deterministic
    assert html.escape(model.plain_summary) in page
    headings = [f"### {h.id} " for h in model.chained]
    for h in model.chained:
        led = next(x["ledger"] for x in state["hypotheses"] if x["id"] == h.id)
        counted = [c for c in led["contributions"] if c["counted"] and c["weight"]]
        others = [c for c in led["contributions"] if not c["counted"]]
        # three to five pieces (fewer only when the sum has fewer), the largest weights first
        assert len(h.deciding) == min(5, len(counted)) and (len(h.deciding) >= 3 or len(counted) < 3)
        weights = sorted((abs(c["weight"]) for c in counted), reverse=True)
        assert [abs(d.weight) for d in h.deciding] == weights[:len(h.deciding)]
        sec = _section(md, f"### {h.id} ", tuple(x for x in headings if x != f"### {h.id} ") + ("\n## ",))
        assert sec.splitlines()[0] == f"### {h.id} {h.hazard}: {h.status_title.lower()} (posterior {h.posterior_text})"
        assert sec.splitlines()[2].startswith(h.status_title)  # the status in words, first
        lead = sec.index("**What decided it**")
        assert lead < sec.index("Posterior as a sum:") < sec.index("<details>") < sec.index("</details>")
        items = re.findall(r"^\d\. \*\*(.+?)\*\*", sec, flags=re.M)
        assert items == [d.quantity for d in h.deciding]
        for d in h.deciding:
            if d.tool != "(hypothesis)":
                assert d.value and "->" not in d.sentence and "`compute_" not in d.quantity
                assert d.files and all(f.link for f in d.files)  # the data file, linked
        # the folded part holds every check that did not enter the sum, and nothing counted
        folded = sec[sec.index("<details>"):sec.index("</details>")]
        assert len([r for r in folded.splitlines() if r.startswith("| [")]) == len(others)
        assert f"Other checks ({len(others)})" in folded
        # the HTML: the same order, the rest inside <details>
        hsec = _section(page, f"<h3 id='hyp-{h.id.lower()}'>", ("<h3 id='hyp-", "<h2>"))
        assert hsec.index("class='decided'") < hsec.index("Posterior as a sum:") < hsec.index("<details>")
        assert hsec.count("<li><b>") == len(h.deciding)
        hfold = hsec[hsec.index("<details>"):hsec.index("</details>")]
        assert hfold.count("<tr><td>") == len(others)
    # a radar feature carries its place and its distance from the case's place
    placed_items = [d for h in model.chained for d in h.deciding if d.place is not None]
    assert placed_items and all(" km " in d.place.text and "Oklahoma City" in d.place.text for d in placed_items)
    rot = next((d for d in placed_items if d.field == "max_rotational_velocity"), None)
    assert rot is None or rot.place.distance_km == pytest.approx(38.1, abs=0.5)
    # figures beside the evidence they illustrate: each embedded once, with the first hypothesis that uses it
    kinds = set()
    for f in model.figures:
        home = next((h for h in model.chained if f.png in {x.png for x in h.figures}), None)
        if home is None:
            continue
        kinds.add(f.kind)
        hsec = _section(page, f"<h3 id='hyp-{home.id.lower()}'>", ("<h3 id='hyp-", "<h2>"))
        assert f"<figure id='{f.anchor}'><img" in hsec and "<div class='figs'>" in hsec
        msec = _section(md, f"### {home.id} ", tuple(x for x in headings if x != f"### {home.id} ") + ("\n## ",))
        assert msec.index("**What decided it**") < msec.index(f"![{f.kind}](") < msec.index("Posterior as a sum:")
    assert kinds == {"skewt", "composite_reflectivity"}  # the sounding's and the radar's evidence both lead somewhere
