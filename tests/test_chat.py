"""The chat session and its commands, in process (the terminal and web front ends have
their own tests in test_chat_terminal.py and test_web.py)."""

from __future__ import annotations

import re

import json
from pathlib import Path

import pytest

from hvrmet.agents.configuration import Configuration
from hvrmet.chat import ChatSession, handle, list_sessions
from hvrmet.testing.openai_server import ScriptedOpenAIServer

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def diagnosed(tmp_path_factory, data_dir):
    """A session that loaded may1999 and ran /diagnose (paused at the review)."""
    out = tmp_path_factory.mktemp("chat")
    s = ChatSession(Configuration(out_dir=str(out), figures=False))
    assert not handle(s, "/case may1999").error
    r = handle(s, "/diagnose")
    assert not r.error, r.text
    yield s
    s.close()


def _cfg(tmp_path, **kw) -> Configuration:
    return Configuration(out_dir=str(tmp_path), figures=False, **kw)


def test_diagnose_pauses_for_signoff(diagnosed):
    s = diagnosed
    assert s.status() == "review"  # the interrupt: no report before the forecaster signs off
    assert not s.state().get("report")
    hyps = {h.hazard: h for h in s.hypotheses()}
    assert hyps["tornadic_supercell"].status == "supported"
    assert hyps["no_severe_hazard"].status == "refuted"


def test_why_shows_the_evidence_chain(diagnosed):
    r = handle(diagnosed, "/why H1")
    assert not r.error
    chain = r.tables[0]
    assert chain.title == "evidence chain of H1"
    by_tool = {row[1]: row for row in chain.rows}
    # STP from the OUN sounding, with its threshold, card and the file's sha256
    stp = by_tool["compute_tornado_parameter"]
    assert stp[2].startswith("2.668") and "stp >= 1.0" in stp[3] and stp[4] == "met"
    assert "may4_sounding.txt (b3a7c3ee4b1b)" in stp[6]
    assert handle(diagnosed, "/why tornadic_supercell").tables[0].rows == chain.rows  # by hazard label too
    bad = handle(diagnosed, "/why H9")
    assert bad.error and "known: H1 (tornadic_supercell)" in bad.text


def test_reject_then_report_records_it(tmp_path, data_dir):
    s = ChatSession(_cfg(tmp_path))
    handle(s, "/case may1999")
    handle(s, "/diagnose")
    r = handle(s, "/reject H1 velocity couplet is range-folded")
    assert not r.error, r.text
    h = s.hypothesis("H1")
    assert h.status == "refuted"
    assert h.signoff == "rejected by the forecaster (machine: supported, 1.00): velocity couplet is range-folded"
    assert s.status() == "review"
    r = handle(s, "/report")
    assert not r.error, r.text
    md = Path(r.links["markdown"]).read_text()
    assert "| H1 | tornadic_supercell | refuted |" in md
    assert "rejected by the forecaster (machine: supported, 1.00): velocity couplet is range-folded" in md
    assert "**Forecaster:** rejected" in md
    assert "hazard: supercell_large_hail" in md and "tornadic_supercell" not in md.split("## Hypotheses")[0].split("**")[1]
    html = Path(r.links["html"]).read_text()
    assert "rejected by the forecaster" in html
    trace = json.loads(Path(r.links["trace"]).read_text())
    assert any(d["action"] == "signoff" and d["status_changes"] == {"H1": "supported->refuted"} for d in trace["decisions"])
    # a sign-off after the report reopens the review; the next report has both
    handle(s, "/accept H3 bow echo seen on the next volume")
    r2 = handle(s, "/report")
    md2 = Path(r2.links["markdown"]).read_text()
    assert re.search(r"accepted by the forecaster \(machine: (inconclusive|proposed|not_assessed|refuted), [0-9.]+\): "
                     r"bow echo seen on the next volume", md2)
    assert "velocity couplet is range-folded" in md2
    s.close()


def test_check_and_plot_join_the_evidence(tmp_path, data_dir):
    s = ChatSession(_cfg(tmp_path))
    handle(s, "/case may1999")
    r = handle(s, "/check compute_mlcape")  # before a diagnosis: shown, not recorded
    assert not r.error and r.tables[0].rows[0][:2] == ["mlcape", "2191"]
    handle(s, "/diagnose")
    r = handle(s, "/check compute_helicity")
    assert not r.error
    ev = s.evidence()[-1]
    loops = max(e.loop for e in s.evidence()[:-1])  # the forecaster's check belongs to the last loop run
    assert ev.id == f"E{loops}-F1" and ev.tool == "compute_helicity" and ev.for_hypothesis == "forecaster"
    assert ev.loop == loops
    assert any(v.hypothesis_id == "H1" and v.met for v in ev.verdicts)
    assert ev.id in s.hypothesis("H1").evidence_ids
    r = handle(s, "/plot skewt")
    assert not r.error and r.figures and Path(r.figures[0]).stat().st_size > 10_000
    bad = handle(s, "/check compute_nothing")
    assert bad.error and "unknown tool 'compute_nothing'" in bad.text
    bad = handle(s, "/plot nothing")
    assert bad.error and "kinds: composite_reflectivity" in bad.text
    s.close()


def test_fork_changes_a_threshold(tmp_path, data_dir):
    s = ChatSession(_cfg(tmp_path))
    handle(s, "/case may1999")
    handle(s, "/diagnose")
    before = s.hypothesis("H1")
    first_thread = s.thread_id
    # STP is one number: both cards that state STP >= 1 must change for it to stop supporting
    r = handle(s, "/fork 1 gl-tornadic-supercell:stp>=9 idx-stp:stp>=9 drop H3")
    assert not r.error, r.text
    after = s.hypothesis("H1")
    assert s.thread_id == first_thread and s.status() == "review"
    assert s.state()["thresholds"] == {"gl-tornadic-supercell:stp>=": 9.0, "idx-stp:stp>=": 9.0}
    stp = [v for e in s.evidence() for v in e.verdicts if v.card == "gl-tornadic-supercell" and v.field == "stp"
           and v.op == ">=" and v.hypothesis_id == "H1"]
    assert stp and all("stp >= 9.0" in v.condition and v.met is False for v in stp)
    assert after.posterior < before.posterior
    assert s.hypothesis("H3").signoff.startswith("rejected by the forecaster")
    rep = handle(s, "/report")
    assert "Thresholds changed by the forecaster: gl-tornadic-supercell:stp>=9" in Path(rep.links["markdown"]).read_text()
    for line, msg in [("/fork 7", "no checkpoint at loop 7; loops that can be forked: 1"),
                      ("/fork 1 nocard:stp>=3", "unknown card 'nocard'"),
                      ("/fork 1 gl-tornadic-supercell:cape>=3", "its conditions: stp>=1, stp<0.3, sbcape<100, mucape<100"),
                      ("/fork 1 gl-tornadic-supercell:stp=3", "cannot read"),
                      ("/fork 1 add hailstorm", "unknown hazard 'hailstorm'"),
                      ("/fork x", "usage: /fork LOOP")]:
        r = handle(s, line)
        assert r.error and msg in r.text, (line, r.text)
    s.close()


def test_free_text_offline_never_makes_up_an_answer(tmp_path, data_dir):
    s = ChatSession(_cfg(tmp_path))
    r = handle(s, "why do you think so?")
    assert "Closest command: /why HYP" in r.text
    r = handle(s, "significant hail parameter values")
    assert r.text.startswith("Closest knowledge cards")
    assert "- idx-ship" in r.text
    r = handle(s, "/diagnos")
    assert r.error and "did you mean /diagnose?" in r.text
    r = handle(s, "/diagnose")
    assert r.error and "no case loaded" in r.text
    s.close()


def test_sessions_persist_and_resume(tmp_path, data_dir):
    cfg = _cfg(tmp_path)
    s = ChatSession(cfg)
    handle(s, "/case may1999")
    handle(s, "/diagnose")
    handle(s, "/reject H2 it's \"small\" hail")  # a note keeps its quotes and apostrophes
    sid, thread = s.session_id, s.thread_id
    s.close()
    again = ChatSession.resume(cfg)  # the latest session
    assert (again.session_id, again.case, again.thread_id) == (sid, "may1999", thread)
    assert again.status() == "review" and again.hypothesis("H2").status == "refuted"
    assert again.hypothesis("H2").signoff.endswith(": it's \"small\" hail")
    assert [t for _, t in again.history() if _ == "user"] == ["/case may1999", "/diagnose", "/reject H2 it's \"small\" hail"]
    r = handle(again, "/report")
    assert "rejected by the forecaster" in Path(r.links["markdown"]).read_text()
    assert list_sessions(cfg)[0]["session_id"] == sid
    again.close()
    with pytest.raises(Exception, match="no chat session 'nope'"):
        ChatSession.resume(cfg, "nope")


def test_free_text_with_the_llm_brain_goes_through_the_tools(tmp_path, data_dir):
    script = [{"tool_calls": [("compute_mlcape", {"case": "may1999"})]},
              "Mixed-layer CAPE is 2191 J/kg [E0-F1]."]
    with ScriptedOpenAIServer(script=script) as srv:
        cfg = Configuration(brain="openai", base_url=srv.base_url, model="m", api_key="x", out_dir=str(tmp_path),
                            figures=False, llm_timeout_s=5)
        s = ChatSession(cfg)
        handle(s, "/case may1999")
        r = handle(s, "How unstable is the boundary layer?")
        requests = list(srv.requests)
    assert not r.error and r.text == "Mixed-layer CAPE is 2191 J/kg [E0-F1]."
    assert requests[0]["tools"] and requests[0]["messages"][-1]["content"] == "How unstable is the boundary layer?"
    tool_msg = requests[1]["messages"][-1]
    assert tool_msg["role"] == "tool"
    result = json.loads(tool_msg["content"])
    assert result["ok"] and round(result["values"]["mlcape"]["value"]) == 2191
    assert result["values"]["mlcape"]["units"] == "J/kg"
    s.close()


def test_commands_work_with_the_llm_brain(tmp_path, data_dir):
    from test_llm_brain import _responder  # the scripted model of the engine's LLM tests

    with ScriptedOpenAIServer(responder=_responder) as srv:
        cfg = Configuration(brain="openai", base_url=srv.base_url, model="m", api_key="x", out_dir=str(tmp_path),
                            figures=False, llm_timeout_s=5)
        s = ChatSession(cfg)
        handle(s, "/case may1999")
        r = handle(s, "/diagnose")
        assert not r.error, r.text
        assert s.status() == "review"
        assert {h.hazard for h in s.hypotheses()} == {"tornadic_supercell", "no_severe_hazard"}
        assert not handle(s, "/why H1").error
        assert not handle(s, "/reject H1 not convinced").error
        r = handle(s, "/report")
    md = Path(r.links["markdown"]).read_text()
    assert "brain: openai" in md and "rejected by the forecaster (machine: supported, 0.90): not convinced" in md
    s.close()
