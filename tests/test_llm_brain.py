"""The OpenAI-compatible brain, end to end against a scripted local server."""

from __future__ import annotations

import json

import pytest

from hvrmet.agents.configuration import Configuration
from hvrmet.runs import diagnose
from hvrmet.testing.openai_server import ScriptedOpenAIServer

PROPOSALS = {"proposals": [
    {"hazard": "tornadic_supercell", "statement": "A tornadic supercell environment", "prior": 0.6, "rationale": "CAPE and helicity"},
    {"hazard": "no_severe_hazard", "statement": "Nothing severe", "prior": 0.2, "rationale": "null"}]}


def _cfg(tmp_path, url, **kw):
    return Configuration(brain="openai", base_url=url, model="test-model", api_key="x", out_dir=str(tmp_path),
                         figures=False, llm_timeout_s=kw.pop("timeout", 5), **kw)


def _responder(request: dict):
    """Answers by what is asked: structured JSON, tool calls, or the summary."""
    text = request["messages"][-1]["content"] or ""
    if request.get("tools"):
        if "tornadic_supercell" in text:
            return {"tool_calls": [("compute_helicity", {"case": "may1999"}),
                                   ("compute_tornado_parameter", {"case": "may1999"})]}
        return {"tool_calls": [("compute_sbcape", {"case": "may1999"})]}
    if "Propose" in text:
        return PROPOSALS
    if "Update each hypothesis" in text:
        return {"assessments": [{"hypothesis_id": "H1", "posterior": 0.9, "status": "supported", "rationale": "STP 2.7 [E1-H1-2]"},
                                {"hypothesis_id": "H2", "posterior": 0.05, "status": "refuted", "rationale": "CAPE 2470"}],
                "new_checks": [], "stop": True, "reason": "settled"}
    return "A tornadic supercell environment is supported [E1-H1-2]; the null hypothesis is refuted."


def test_full_loop_with_tool_calls(tmp_path, data_dir):
    with ScriptedOpenAIServer(responder=_responder) as srv:
        state = diagnose("may1999", _cfg(tmp_path, srv.base_url))
        tool_requests = [r for r in srv.requests if r.get("tools")]
    assert tool_requests and all(t["type"] == "function" for t in tool_requests[0]["tools"])
    tools_run = {e["tool"] for e in state["evidence"]}
    assert {"compute_helicity", "compute_tornado_parameter", "compute_sbcape"} <= tools_run
    hyps = {h["hazard"]: h for h in state["hypotheses"]}
    assert hyps["tornadic_supercell"]["status"] == "supported"
    assert hyps["no_severe_hazard"]["status"] == "refuted"
    assert state["llm_tokens"] > 0
    assert "tornadic supercell" in state["report"]["summary"]


def test_malformed_json_is_retried(tmp_path, data_dir):
    script = ["this is not JSON {", json.dumps(PROPOSALS)]
    with ScriptedOpenAIServer(script=script, responder=_responder) as srv:
        state = diagnose("may1999", _cfg(tmp_path, srv.base_url))
        retry = srv.requests[1]["messages"][-1]["content"]
    assert "That was not valid" in retry
    assert {h["hazard"] for h in state["hypotheses"]} == {"tornadic_supercell", "no_severe_hazard"}


def test_timeout_stops_cleanly(tmp_path, data_dir):
    with ScriptedOpenAIServer(script=[{"sleep": 3}], responder=_responder) as srv:
        state = diagnose("may1999", _cfg(tmp_path, srv.base_url, timeout=1, llm_retries=0))  # timeouts are retried
    assert state["outcome"] in ("error", "insufficient evidence")
    assert any("did not answer within 1 s" in m["text"] for m in state["messages"])
    assert state["report"]["html"]  # the report is still written
