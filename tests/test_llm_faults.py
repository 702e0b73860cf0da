"""The OpenAI-compatible brain against an endpoint that misbehaves (the scripted server).

Each fault is tried on every brain step it can hit: followed by a good reply within the
budget it is recovered from; repeated past the budget it ends in a ``BrainError`` of the
right kind with a one-line message, never another exception, never the key. Waits
between attempts are recorded instead of slept.
"""

from __future__ import annotations

import json
import socket

import pytest
from pydantic import SecretStr

from hvrmet.agents.brain import Answer, BrainContext, BrainError, ReplanPlan, get_brain
from hvrmet.agents.configuration import Configuration
from hvrmet.agents.state import Evidence, Hypothesis, Signal
from hvrmet.llm.openai_brain import OpenAIBrain, _retry_after
from hvrmet.testing.openai_server import (Raw, ScriptedOpenAIServer, completion, drop_connection, html_page,
                                          http_error, message, missing_message, raw_body)

KEY = "sk-test"
METHODS = ["propose", "replan", "summarize", "answer"]

PROPOSALS = {"proposals": [
    {"hazard": "tornadic_supercell", "statement": "A tornadic supercell environment", "prior": 0.6, "rationale": "SRH"},
    {"hazard": "no_severe_hazard", "statement": "Nothing severe", "prior": 0.2, "rationale": "null"}]}
PLAN = {"tool_calls": [("compute_helicity", {"case": "may1999"})]}
REPLAN = {"assessments": [{"hypothesis_id": "H1", "posterior": 0.9, "status": "supported", "rationale": "SRH [E1-H1-1]"}],
          "new_checks": [], "stop": True, "reason": "settled"}
SUMMARY = "A tornadic supercell environment is supported [E1-H1-1]."
ANSWER = "0-1 km storm-relative helicity is 250 m2/s2 [E1]."

#: The good replies of each step, in order (propose: the hypotheses, then one plan per hypothesis).
GOOD = {"propose": [PROPOSALS, PLAN, PLAN], "replan": [REPLAN], "summarize": [SUMMARY],
        "answer": [{"tool_calls": [("compute_helicity", {})]}, ANSWER]}


def _ctx() -> BrainContext:
    hyp = Hypothesis(id="H1", hazard="tornadic_supercell", statement="A tornadic supercell", prior=0.6, posterior=0.6)
    ev = Evidence(id="E1-H1-1", loop=1, tool="compute_helicity", arguments={"case": "may1999"}, ok=True,
                  values={"srh_0_1km": {"value": 250.0, "units": "m**2/s**2"}}, summary="SRH 250 m2/s2")
    sig = Signal(id="S1", description="large low-level helicity", tool="compute_helicity", field="srh_0_1km",
                 value=250.0, units="m**2/s**2")
    return BrainContext(case="may1999", roles=["sounding"], time="1999-05-04T00:00:00Z",
                        location={"lat": 35.2, "lon": -97.4}, loop=1, signals=[sig], hypotheses=[hyp],
                        evidence=[ev], tools=["compute_helicity", "compute_sbcape"],
                        budget_left={"loops": 3, "tool_calls": 40})


class _Tools:
    """A ``run_tool`` that records its calls and returns an evidence dict."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, name: str, args: dict) -> dict:
        self.calls.append((name, args))
        return {"id": f"E{len(self.calls)}", "ok": True, "error": None, "summary": "SRH 250 m2/s2",
                "values": {"srh_0_1km": {"value": 250.0, "units": "m**2/s**2"}}}


def _brain(url: str, **kw) -> OpenAIBrain:
    cfg = Configuration(brain="openai", base_url=url, model="m", api_key=KEY,
                        llm_retries=kw.pop("llm_retries", 1), llm_timeout_s=kw.pop("llm_timeout_s", 2), **kw)
    brain = get_brain(cfg)
    brain.waits = []
    brain.sleep = brain.waits.append  # record the waits instead of sleeping
    return brain


def _call(brain: OpenAIBrain, method: str, run_tool=None):
    ctx = _ctx()
    if method == "answer":
        return brain.answer("How strong is the low-level helicity?", ctx, run_tool or _Tools())
    return getattr(brain, method)(ctx)


def _check_recovered(method: str, out) -> None:
    if method == "propose":
        assert [p.hazard for p in out] == ["tornadic_supercell", "no_severe_hazard"]
        assert out[0].checks[0].tool == "compute_helicity" and out[0].checks[0].args == {}
    elif method == "replan":
        assert isinstance(out, ReplanPlan) and out.assessments[0].status == "supported" and out.stop
    elif method == "summarize":
        assert out == SUMMARY
    else:
        assert isinstance(out, Answer) and out.text == ANSWER and out.evidence_ids == ["E1"]


def _brain_error(brain: OpenAIBrain, method: str, kind: str, run_tool=None) -> BrainError:
    """The step fails with a BrainError of ``kind`` (any other exception fails the test)."""
    with pytest.raises(BrainError) as info:
        _call(brain, method, run_tool)
    err = info.value
    text = str(err)
    assert err.kind == kind, text
    assert KEY not in text and "Traceback" not in text and "\n" not in text
    assert 20 < len(text) < 400, text
    return err


# -- replies that are not a usable completion: every step -------------------------------------

TRANSPORT = {  # name: (fault, kind, words in the message)
    "not_json": (raw_body("Internal error, please try again"), "malformed", "not JSON"),
    "html_page": (html_page(), "malformed", "502 Bad Gateway"),
    "truncated_body": (raw_body('{"id": "chatcmpl-1", "choices": [{"index": 0, "mess', "application/json"),
                       "malformed", "not JSON"),
    "choices_empty": (completion(choices=[]), "malformed", "no choices"),
    "choices_null": (completion(choices=None), "malformed", "no choices"),
    "missing_message": (missing_message(), "malformed", "no message"),
    "error_object_200": (raw_body('{"error": {"message": "model is loading"}}', "application/json"), "malformed",
                         "model is loading"),
    "http_500": (http_error(500), "http", "HTTP 500"),
    "http_503_html": (html_page(503, "503 Service Unavailable"), "http", "HTTP 503"),
    "http_429": (http_error(429, retry_after=0), "http", "HTTP 429"),
    "dropped": (drop_connection(), "unreachable", "cannot reach"),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("fault", sorted(TRANSPORT))
def test_transport_fault_then_good_reply_recovers(fault, method):
    with ScriptedOpenAIServer([TRANSPORT[fault][0], *GOOD[method]]) as srv:
        brain = _brain(srv.base_url)
        out = _call(brain, method)
        requests = list(srv.requests)
    _check_recovered(method, out)
    assert len(requests) == len(GOOD[method]) + 1
    assert requests[1]["messages"] == requests[0]["messages"]  # asked again as it was
    assert len(brain.waits) == 1 and brain.waits[0] <= 1.0  # one short backoff (Retry-After 0 for the 429)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("fault", sorted(TRANSPORT))
def test_transport_fault_past_the_budget_is_a_brain_error(fault, method):
    reply, kind, words = TRANSPORT[fault]
    with ScriptedOpenAIServer([reply, reply, *GOOD[method]]) as srv:
        brain = _brain(srv.base_url)
        err = _brain_error(brain, method, kind)
        assert len(srv.requests) == 2
    assert words in str(err) and "2 attempts" in str(err)


@pytest.mark.parametrize("method", METHODS)
def test_timeout_is_retried_then_a_brain_error(method):
    late = {"sleep": 1.5, "then": "late"}
    with ScriptedOpenAIServer([late, *GOOD[method]]) as srv:
        _check_recovered(method, _call(_brain(srv.base_url, llm_timeout_s=0.5), method))
    with ScriptedOpenAIServer([late, late]) as srv:
        err = _brain_error(_brain(srv.base_url, llm_timeout_s=0.5), method, "timeout")
    assert "did not answer within 0.5 s" in str(err)


def test_unreachable_endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    brain = _brain(f"http://127.0.0.1:{port}/v1")
    err = _brain_error(brain, "summarize", "unreachable")
    assert f"127.0.0.1:{port}" in str(err) and len(brain.waits) == 1


def test_transient_500_then_good_reply():
    with ScriptedOpenAIServer([http_error(500, "<html><body>upstream crashed</body></html>"), SUMMARY]) as srv:
        brain = _brain(srv.base_url, llm_retries=2)
        assert brain.summarize(_ctx()) == SUMMARY
        assert len(srv.requests) == 2
    assert brain.waits == [brain.backoff_s]


def test_429_waits_as_long_as_retry_after_says():
    with ScriptedOpenAIServer([http_error(429, retry_after=3), http_error(429, retry_after=60), SUMMARY]) as srv:
        brain = _brain(srv.base_url, llm_retries=2)
        assert brain.summarize(_ctx()) == SUMMARY
    assert brain.waits == [3.0, brain.max_retry_after_s]  # 60 s is more than it waits


def test_retry_after_forms():
    assert _retry_after({"retry-after-ms": "250"}) == 0.25
    assert _retry_after({"retry-after": "2"}) == 2.0
    assert _retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) < 0  # in the past: no wait
    assert _retry_after({"retry-after": "soon"}) is None and _retry_after({}) is None


def test_backoff_doubles_up_to_the_cap(monkeypatch):
    monkeypatch.setenv("HVRMET_LLM_BACKOFF_S", "0.01")
    with ScriptedOpenAIServer([http_error(503)] * 5 + [SUMMARY]) as srv:
        brain = _brain(srv.base_url, llm_retries=5)
        brain.backoff_cap_s = 0.05
        assert brain.summarize(_ctx()) == SUMMARY
    assert brain.waits == pytest.approx([0.01, 0.02, 0.04, 0.05, 0.05])


@pytest.mark.parametrize("status", [400, 401, 404])
def test_client_errors_are_not_retried(status):
    body = {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}}
    with ScriptedOpenAIServer([http_error(status, body), SUMMARY]) as srv:
        brain = _brain(srv.base_url, llm_retries=3)
        err = _brain_error(brain, "summarize", "http")
        assert len(srv.requests) == 1
    assert f"HTTP {status}" in str(err) and "Incorrect API key provided: ***" in str(err)
    assert "1 attempt)" in str(err) and brain.waits == []


@pytest.mark.parametrize("fault", [raw_body(f"bad gateway for key {KEY}"), http_error(500, f"<html>{KEY}</html>"),
                                   completion(choices=None, error={"message": f"key {KEY} rejected"})])
def test_the_key_never_shows(fault):
    with ScriptedOpenAIServer([fault, fault]) as srv:
        err = _brain_error(_brain(srv.base_url), "summarize", "malformed" if fault.status == 200 else "http")
    assert "***" in str(err)


def test_the_key_from_a_secret_or_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    with ScriptedOpenAIServer([SUMMARY, SUMMARY]) as srv:
        cfg = Configuration(brain="openai", base_url=srv.base_url, model="m", llm_retries=1, llm_timeout_s=2)
        OpenAIBrain(cfg.model_copy(update={"api_key": SecretStr(KEY)})).summarize(_ctx())
        OpenAIBrain(cfg).summarize(_ctx())  # api_key None: the environment's
        auth = [h["authorization"] for h in srv.headers]
    assert auth == [f"Bearer {KEY}", "Bearer sk-env"]
    with ScriptedOpenAIServer([raw_body(f"no {KEY}")] * 2) as srv:
        brain = OpenAIBrain(cfg.model_copy(update={"api_key": SecretStr(KEY), "base_url": srv.base_url}))
        brain.sleep = lambda s: None
        with pytest.raises(BrainError) as info:
            brain.summarize(_ctx())
    assert KEY not in str(info.value)


# -- completions a structured step cannot use: retried with the reason ------------------------

STRUCTURED = {  # name: reply
    "empty_content": "",
    "null_content": message(content=None),
    "truncated_json": '{"proposals": [{"hazard": "tornadic_supercell", "statement": "A torn',
    "json_list": json.dumps([{"hazard": "tornadic_supercell"}]),
    "wrong_form": json.dumps({"proposals": [{"hazard": "hail"}], "assessments": [{"posterior": 7}]}),
    "tool_calls_instead": {"tool_calls": [("compute_helicity", {})]},
    "prose": "I think it is a tornadic supercell.",
}


@pytest.mark.parametrize("method", ["propose", "replan"])
@pytest.mark.parametrize("fault", sorted(STRUCTURED))
def test_unusable_structured_answer_is_retried_with_the_reason(fault, method):
    with ScriptedOpenAIServer([STRUCTURED[fault], *GOOD[method]]) as srv:
        brain = _brain(srv.base_url)
        _check_recovered(method, _call(brain, method))
        retry = srv.requests[1]["messages"][-1]["content"]
    assert retry.startswith("That was not valid: the answer ") and "JSON only" in retry
    assert brain.waits == []  # the model answered: no backoff


@pytest.mark.parametrize("method", ["propose", "replan"])
@pytest.mark.parametrize("fault", sorted(STRUCTURED))
def test_unusable_structured_answer_past_the_budget(fault, method):
    with ScriptedOpenAIServer([STRUCTURED[fault]] * 2 + GOOD[method]) as srv:
        err = _brain_error(_brain(srv.base_url), method, "malformed")
    assert str(err).startswith("the answer ") and "2 attempts" in str(err)


def test_propose_with_no_known_hazard_is_retried():
    unknown = {"proposals": [{"hazard": "alien_invasion", "statement": "x", "prior": 0.5}]}
    with ScriptedOpenAIServer([unknown, *GOOD["propose"]]) as srv:
        _check_recovered("propose", _call(_brain(srv.base_url), "propose"))
        assert "alien_invasion" in srv.requests[1]["messages"][-1]["content"]
    with ScriptedOpenAIServer([unknown, unknown]) as srv:
        err = _brain_error(_brain(srv.base_url), "propose", "malformed")
    assert "no proposed hazard is in the vocabulary" in str(err)


@pytest.mark.parametrize("method", ["summarize", "answer"])
@pytest.mark.parametrize("fault", ["", message(content=None), message(content="   ")])
def test_empty_text_is_retried_then_a_brain_error(fault, method):
    with ScriptedOpenAIServer([fault, *GOOD[method]]) as srv:
        brain = _brain(srv.base_url)
        _check_recovered(method, _call(brain, method))
        assert srv.requests[1]["messages"][-1]["content"].startswith("That reply could not be used")
    with ScriptedOpenAIServer([fault, fault]) as srv:
        err = _brain_error(_brain(srv.base_url), method, "malformed")
    assert "empty" in str(err) or "neither text nor tool calls" in str(err)


# -- tool calls that cannot be used --------------------------------------------------------

BAD_CALLS = {  # name: (tool call, words in the reason)
    "list_arguments": (("compute_helicity", [1, 2]), "a JSON list, not an object"),
    "truncated_arguments": (("compute_helicity", Raw('{"role": "sound')), "not JSON"),
    "string_arguments": (("compute_helicity", "role=sounding"), "a JSON string, not an object"),
    "wrong_type": (("compute_helicity", {"role": [1, 2]}), "invalid arguments for compute_helicity: role"),
    "unknown_field": (("compute_helicity", {"depth": [1, 2]}), "invalid arguments for compute_helicity: depth"),
    "unknown_tool": (("compute_unicorns", {}), "unknown tool 'compute_unicorns'"),
    "not_offered": (("compute_mlcape", {}), "unknown tool 'compute_mlcape'"),
}


@pytest.mark.parametrize("fault", sorted(BAD_CALLS))
def test_plan_with_unusable_tool_calls_is_retried(fault):
    call, words = BAD_CALLS[fault]
    with ScriptedOpenAIServer([PROPOSALS, {"tool_calls": [call]}, PLAN, PLAN]) as srv:
        brain = _brain(srv.base_url)
        _check_recovered("propose", brain.propose(_ctx()))
        retry = srv.requests[2]["messages"][-1]["content"]
    assert retry.startswith("Those tool calls could not be used:") and words in retry


@pytest.mark.parametrize("fault", sorted(BAD_CALLS))
def test_plan_with_unusable_tool_calls_past_the_budget(fault):
    call, words = BAD_CALLS[fault]
    with ScriptedOpenAIServer([PROPOSALS, {"tool_calls": [call]}, {"tool_calls": [call]}, PLAN]) as srv:
        err = _brain_error(_brain(srv.base_url), "propose", "malformed")
    assert words in str(err) and "planning the checks of H1" in str(err)


def test_plan_keeps_the_usable_calls():
    mixed = {"tool_calls": [("compute_unicorns", {}), ("compute_helicity", [1]), ("compute_sbcape", {"role": "sounding"})]}
    with ScriptedOpenAIServer([PROPOSALS, mixed, {"content": "none needed", "tool_calls": []}]) as srv:
        out = _brain(srv.base_url).propose(_ctx())
        assert len(srv.requests) == 3  # no retry
    assert [(c.tool, c.args) for c in out[0].checks] == [("compute_sbcape", {"role": "sounding"})]
    assert out[1].checks == []  # no call at all: no check


@pytest.mark.parametrize("fault", sorted(BAD_CALLS))
def test_answer_gets_the_error_of_an_unusable_call_as_data(fault):
    from hvrmet.tools import call_tool

    call, words = BAD_CALLS[fault]
    ran: list = []

    def run_tool(name, args):  # the registry itself: arguments of the wrong type come back as an error
        res = call_tool(name, {**args, "case": "may1999"})
        ran.append(res)
        return {"id": f"E{len(ran)}", "ok": res.ok, "error": res.error, "summary": res.summary, "values": {}}

    with ScriptedOpenAIServer([{"tool_calls": [call]}, "Sorry, that tool call failed."]) as srv:
        ans = _brain(srv.base_url).answer("How strong is the helicity?", _ctx(), run_tool)
        result = json.loads(srv.requests[1]["messages"][-1]["content"])
    assert ans.text == "Sorry, that tool call failed."
    assert result["ok"] is False
    if fault in ("wrong_type", "unknown_field"):  # run through the registry, recorded
        assert ans.evidence_ids == ["E1"] and words in result["error"]
    else:
        assert ran == [] and words in result["error"]


def test_answer_gets_a_failing_tool_as_data():
    def run_tool(name, args):
        raise RuntimeError("no case loaded")

    with ScriptedOpenAIServer([{"tool_calls": [("compute_helicity", {})]}, "It failed."]) as srv:
        ans = _brain(srv.base_url).answer("?", _ctx(), run_tool)
        result = json.loads(srv.requests[1]["messages"][-1]["content"])
    assert ans.text == "It failed." and result == {"ok": False, "error": "compute_helicity failed: RuntimeError: no case loaded"}


def test_answer_out_of_rounds_is_a_budget_error():
    with ScriptedOpenAIServer(responder=lambda req: {"tool_calls": [("compute_helicity", {})]}) as srv:
        err = _brain_error(_brain(srv.base_url), "answer", "budget")
    assert "4 rounds" in str(err)


def test_faults_and_retries_share_one_budget_per_step():
    """A 500, an HTML page and an empty answer: with two retries the third attempt is the
    last, so the step fails on the empty answer."""
    with ScriptedOpenAIServer([http_error(500), html_page(), "", SUMMARY]) as srv:
        brain = _brain(srv.base_url, llm_retries=2)
        err = _brain_error(brain, "summarize", "malformed")
        assert len(srv.requests) == 3
    assert "the summary is empty" in str(err) and "3 attempts" in str(err)
