"""An OpenAI-compatible chat model as the brain (OpenAI, vLLM, Ollama, llama.cpp server).

Structured answers are requested as JSON and validated with pydantic; checks are chosen
through function calling with the tool registry's schemas; the chat answers through the
same tools (run by the caller's ``run_tool``).

What is retried, and how. Every step (one structured answer, the checks of one
hypothesis, one round of the chat, the summary) gets ``1 + llm_retries`` attempts at the
endpoint in all, whatever goes wrong in them:

- HTTP 408, 409, 429 and 5xx, a timeout (``llm_timeout_s`` per request) and a connection
  error are tried again after an exponential backoff (``backoff_s``, 0.5 s unless
  ``HVRMET_LLM_BACKOFF_S`` says otherwise, doubled per attempt up to ``backoff_cap_s``,
  8 s), or after the ``Retry-After`` / ``retry-after-ms`` the endpoint asks for (at most
  ``max_retry_after_s``, 30 s). Other HTTP errors (400, 401, 404 ...) are not retried.
  The openai client's own retries are off (``max_retries=0``): this loop is the only one.
- A body that is not a completion (not JSON, an HTML page, truncated, ``choices`` empty
  or null, no ``message``, an ``error`` object) is asked for again as it was, after the
  same backoff.
- A completion the step cannot use is asked for again with the reason told to the model:
  a structured answer that is empty, does not parse or does not validate gets the "That
  was not valid: ..." prompt; an empty summary or chat reply gets the reason too; tool
  calls of which none can be used (an unknown tool, arguments that are not a JSON object
  or that the tool's input model rejects) get the reasons and a request to call again.
  Usable calls in a reply are kept and the others dropped; no call at all plans no check.
  In the chat a call that cannot be used is not retried: its error goes back to the model
  as the call's result (data), as the registry's own errors for wrong-typed arguments do;
  a chat that is still calling tools after ``max_rounds`` ends with kind ``budget``.

When its attempts are spent a step raises :class:`~hvrmet.agents.brain.BrainError` with
the last failure's ``kind`` (``http``, ``timeout``, ``unreachable`` or ``malformed``) and a
one-line reason naming the step, the attempts and, for HTTP, the status code; the graph
records it before going on or stopping cleanly. The API key (``cfg.api_key``, a str or a
``SecretStr``, else ``OPENAI_API_KEY``) never appears in a message.
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from hvrmet.llm import prompts
from hvrmet.agents.state import PlannedCheck
from hvrmet.knowledge import default_store
from hvrmet.agents.brain import (Answer, Assessment, BrainContext, BrainError, Capabilities, Proposal, ReplanPlan,
                                 ToolRunner)

__all__ = ["OpenAIBrain"]

#: HTTP statuses retried besides every 5xx (as the openai client itself does).
_RETRY_STATUS = frozenset({408, 409, 429})
#: Keys of tool arguments the run sets itself.
_OWN_ARGS = ("case", "data_dir")


class _Proposals(BaseModel):
    proposals: list[Proposal]


class _Check(BaseModel):
    hypothesis_id: str
    tool: str
    args: dict[str, Any] = {}


class _Replan(BaseModel):
    assessments: list[Assessment]
    new_checks: list[_Check] = []
    stop: bool
    reason: str


@dataclass
class _Call:
    id: str
    name: str
    arguments: str


@dataclass
class _Message:
    """The assistant message of a completion, checked for shape."""

    content: str | None
    tool_calls: list[_Call] = field(default_factory=list)


class _Fault(Exception):
    """One failed attempt: its kind, a one-line reason, what to tell the model before the
    next attempt, whether to back off first (and for how long, when the endpoint said)."""

    def __init__(self, kind: str, reason: str, *, feedback: list[dict] | None = None, backoff: bool = False,
                 delay: float | None = None, retry: bool = True) -> None:
        super().__init__(reason)
        self.kind, self.reason, self.feedback = kind, reason, feedback or []
        self.backoff, self.delay, self.retry = backoff, delay, retry


def _api_key(cfg: Any) -> str | None:
    """The API key of a configuration: ``cfg.api_key`` (a str or a ``SecretStr``), else
    ``OPENAI_API_KEY``, else none."""
    key = getattr(cfg, "api_key", None)
    if isinstance(key, SecretStr):
        key = key.get_secret_value()
    return key or os.environ.get("OPENAI_API_KEY") or None


def _backoff_base(cfg: Any, default: float = 0.5) -> float:
    """The first wait between attempts, seconds: ``cfg.llm_backoff_s`` if the configuration
    has one, else ``HVRMET_LLM_BACKOFF_S``, else ``default``."""
    value = getattr(cfg, "llm_backoff_s", None)
    if value is None:
        value = os.environ.get("HVRMET_LLM_BACKOFF_S")
    try:
        return max(float(value), 0.0) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _strip_fence(text: str) -> str:
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else t
        t = t.rsplit("```", 1)[0]
    return t.strip()


def _one_line(text: str, limit: int = 160) -> str:
    """Text on one line, HTML reduced to its title or text, at most ``limit`` characters."""
    text = str(text)
    if re.search(r"<(!doctype|html|head|body|title)\b", text, re.I):
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
        text = "HTML page: " + (title.group(1) if title else re.sub(r"<[^>]*>", " ", text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _why(exc: BaseException) -> str:
    """One line saying why a model's text was rejected."""
    if isinstance(exc, ValidationError):
        errs = exc.errors()
        parts = [(".".join(str(x) for x in e["loc"]) + ": " if e["loc"] else "") + e["msg"] for e in errs[:3]]
        return "; ".join(parts) + (f" (and {len(errs) - 3} more)" if len(errs) > 3 else "")
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON ({exc.msg}, character {exc.pos})"
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    return _one_line(str(exc))


def _json_type(value: Any) -> str:
    return {list: "list", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def _http_detail(response: Any) -> str:
    """The endpoint's own words in an HTTP error: its error message, or its page, on one line."""
    try:
        text = response.text or ""
    except Exception:  # noqa: BLE001 - a body that cannot be read says nothing
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        return _one_line(text, 120)
    err = data.get("error", data) if isinstance(data, dict) else data
    msg = err.get("message", err) if isinstance(err, dict) else err
    return _one_line(msg if isinstance(msg, str) else json.dumps(msg), 120)


def _retry_after(headers: Any) -> float | None:
    """Seconds the endpoint asks to wait (``retry-after-ms``, ``Retry-After`` in seconds or
    as an HTTP date), or ``None``."""
    try:
        ms = headers.get("retry-after-ms")
        if ms:
            return float(ms) / 1000.0
    except (TypeError, ValueError):
        pass
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (when - datetime.now(timezone.utc)).total_seconds()


def _parse_completion(text: str) -> tuple[_Message, int]:
    """The assistant message and token count of a completion body; a body of another
    shape raises a :class:`_Fault` (asked again after a backoff)."""
    def bad(reason: str) -> _Fault:
        return _Fault("malformed", reason, backoff=True)

    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise bad(f"the reply is not JSON ({_one_line(text, 80) or 'empty body'})") from None
    if not isinstance(data, dict):
        raise bad(f"the reply is a JSON {_json_type(data)}, not a completion")
    if data.get("error"):
        err = data["error"]
        msg = err.get("message", err) if isinstance(err, dict) else err
        raise bad(f"the reply is an error: {_one_line(msg if isinstance(msg, str) else json.dumps(msg), 120)}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise bad(f"the reply has no choices (choices: {json.dumps(choices)[:20]})")
    first = choices[0]
    msg = first.get("message") if isinstance(first, dict) else None
    if not isinstance(msg, dict):
        raise bad("the reply's choice has no message")
    content = msg.get("content")
    if isinstance(content, list):  # content parts, as some servers send
        content = "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    if content is not None and not isinstance(content, str):
        raise bad(f"the message content is a JSON {_json_type(content)}, not text")
    raw_calls = msg.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise bad(f"the message's tool_calls is a JSON {_json_type(raw_calls)}, not a list")
    calls = []
    for i, c in enumerate(raw_calls):
        fn = c.get("function") if isinstance(c, dict) else None
        name = fn.get("name") if isinstance(fn, dict) else None
        if not isinstance(name, str) or not name:
            raise bad(f"tool call {i + 1} of the reply names no function")
        args = fn.get("arguments")
        if args is None:
            args = ""
        elif not isinstance(args, str):  # an object instead of its JSON text, as some servers send
            args = json.dumps(args)
        calls.append(_Call(id=str(c.get("id") or f"call_{i}"), name=name, arguments=args))
    usage = data.get("usage")
    tokens = usage.get("total_tokens") if isinstance(usage, dict) else None
    return _Message(content=content, tool_calls=calls), tokens if isinstance(tokens, int) and tokens > 0 else 0


class OpenAIBrain:
    """The brain behind an OpenAI-compatible ``/v1/chat/completions`` endpoint.

    ``backoff_s``, ``backoff_cap_s`` and ``max_retry_after_s`` set the waits between
    attempts; ``sleep`` is the function that waits (tests replace it).
    """

    name = "openai"
    capabilities = Capabilities(free_text=True, deterministic=False, tool_calling=True)

    def __init__(self, cfg) -> None:
        import openai

        self.cfg = cfg
        key = _api_key(cfg)
        self._secret = key if key and len(key) >= 4 else None
        self.client = openai.OpenAI(base_url=cfg.base_url, api_key=key or "not-needed",
                                    timeout=cfg.llm_timeout_s, max_retries=0)
        self._url = re.sub(r"//[^/@]*@", "//", str(self.client.base_url)).rstrip("/")
        self.backoff_s = _backoff_base(cfg)
        self.backoff_cap_s = 8.0
        self.max_retry_after_s = 30.0
        self.sleep = time.sleep
        self.tokens_used = 0
        self.store = default_store()

    # -- transport --------------------------------------------------------------------
    def _clean(self, text: str) -> str:
        """One line, without the API key."""
        text = " ".join(str(text).split())
        return text.replace(self._secret, "***") if self._secret else text

    def _request(self, messages: list[dict], **kw) -> _Message:
        """One request; every failure is a :class:`_Fault`."""
        import openai

        try:
            raw = self.client.chat.completions.with_raw_response.create(model=self.cfg.model, messages=messages,
                                                                        temperature=0, **kw)
            text = raw.http_response.text
        except openai.APITimeoutError:
            raise _Fault("timeout", f"the model did not answer within {self.cfg.llm_timeout_s:g} s",
                         backoff=True) from None
        except openai.APIConnectionError as exc:
            cause = _one_line(str(exc.__cause__ or exc), 120)
            raise _Fault("unreachable", f"cannot reach {self._url} ({cause})", backoff=True) from None
        except openai.APIStatusError as exc:
            code = exc.status_code
            detail = _http_detail(exc.response)
            retry = code in _RETRY_STATUS or code >= 500
            raise _Fault("http", f"the endpoint answered HTTP {code}" + (f" ({detail})" if detail else ""),
                         backoff=True, retry=retry,
                         delay=_retry_after(exc.response.headers) if retry else None) from None
        except openai.APIError as exc:  # anything else the client says about a reply
            raise _Fault("malformed", f"the reply could not be read ({_one_line(str(exc), 120)})",
                         backoff=True) from None
        msg, tokens = _parse_completion(text)
        self.tokens_used += tokens
        return msg

    def _wait(self, attempt: int, asked: float | None) -> None:
        if asked is not None:
            delay = min(max(asked, 0.0), self.max_retry_after_s)
        else:
            delay = min(self.backoff_s * 2 ** attempt, self.backoff_cap_s)
        self.sleep(delay)

    def _ask(self, step: str, messages: list[dict], use, **kw):
        """``use(reply)`` of the first reply it accepts, within ``1 + llm_retries`` attempts;
        ``use`` raises a :class:`_Fault` to reject one. Then a :class:`BrainError`."""
        attempts = self.cfg.llm_retries + 1
        msgs = list(messages)
        last: _Fault | None = None
        for attempt in range(attempts):
            try:
                return use(self._request(msgs, **kw))
            except _Fault as fault:
                last = fault
            if not last.retry or attempt + 1 == attempts:
                break
            msgs += last.feedback
            if last.backoff:
                self._wait(attempt, last.delay)
        n = attempt + 1
        raise BrainError(self._clean(f"{last.reason} ({step}, {n} attempt{'s' if n > 1 else ''})"), kind=last.kind)

    def _structured(self, step: str, prompt: str, model: type[BaseModel], check=None) -> BaseModel:
        """A JSON answer validated by ``model`` (and ``check``, which raises ``ValueError``
        with the reason)."""
        vocab = ", ".join(sorted(self.store.hazards))
        messages = [{"role": "system", "content": prompts.SYSTEM.format(vocabulary=vocab)},
                    {"role": "user", "content": prompt}]

        def use(msg: _Message) -> BaseModel:
            text = (msg.content or "").strip()
            if not text:
                reason = "the answer is empty" + (" (tool calls instead of JSON)" if msg.tool_calls else "")
                raise _Fault("malformed", reason,
                             feedback=[{"role": "user", "content": prompts.RETRY_JSON.format(reason=reason)}])
            try:
                data = json.loads(_strip_fence(text))
            except (ValueError, RecursionError) as exc:
                reason = f"the answer is {_why(exc)}"
            else:
                if not isinstance(data, dict):
                    reason = f"the answer is a JSON {_json_type(data)}, not an object"
                else:
                    try:
                        out = model.model_validate(data)
                        if check is not None:
                            check(out)
                        return out
                    except ValueError as exc:  # a ValidationError, or the check's reason
                        reason = f"the answer does not fit: {_why(exc)}"
            raise _Fault("malformed", reason,
                         feedback=[{"role": "assistant", "content": text},
                                   {"role": "user", "content": prompts.RETRY_JSON.format(reason=reason)}])

        return self._ask(step, messages, use, response_format={"type": "json_object"})

    @staticmethod
    def _call_args(call: _Call, ctx: BrainContext, validate: bool) -> tuple[dict | None, str | None]:
        """A tool call's arguments without the ones the run sets, or why it cannot be used
        (an unknown tool, arguments that are not a JSON object or, with ``validate``, that
        the tool's input model rejects)."""
        if call.name not in ctx.tools:
            return None, f"unknown tool {call.name!r}"
        try:
            args = json.loads(call.arguments) if call.arguments.strip() else {}
        except (ValueError, RecursionError) as exc:
            return None, f"the arguments of {call.name} are {_why(exc)}"
        if not isinstance(args, dict):
            return None, f"the arguments of {call.name} are a JSON {_json_type(args)}, not an object"
        args = {k: v for k, v in args.items() if k not in _OWN_ARGS}
        if validate:
            from hvrmet.tools import get_tool

            try:
                get_tool(call.name).input_model.model_validate({**args, "case": ctx.case})
            except Exception as exc:  # noqa: BLE001 - a ValidationError, or whatever a validator raised
                return None, f"invalid arguments for {call.name}: {_why(exc)}"
        return args, None

    # -- the Brain protocol -------------------------------------------------------------
    def propose(self, ctx: BrainContext) -> list[Proposal]:
        signals = "\n".join(f"- {s.id}: {s.description} ({s.tool}.{s.field} = {s.value} {s.units})"
                            for s in ctx.signals) or "- none"
        query = " ".join(s.description for s in ctx.signals) or "benign weather"
        cards = "\n".join(f"- {c.id}: {c.title}" for c, _ in self.store.search(query, k=6))

        def known(out: _Proposals) -> None:
            if not any(p.hazard in self.store.hazards for p in out.proposals):
                got = ", ".join(sorted({p.hazard for p in out.proposals})[:6]) or "no proposals"
                raise ValueError(f"no proposed hazard is in the vocabulary (got {got})")

        out = self._structured("proposing hypotheses",
                               prompts.PROPOSE.format(roles=", ".join(ctx.roles), time=ctx.time, location=ctx.location,
                                                      signals=signals, cards=cards), _Proposals, check=known)
        proposals = []
        for i, p in enumerate(out.proposals, 1):
            if p.hazard not in self.store.hazards:
                continue
            p.checks = self._plan(f"H{i}", p, ctx)
            proposals.append(p)
        return proposals

    @staticmethod
    def _tool_schemas(ctx: BrainContext) -> list[dict]:
        """Function-calling schemas of the tools the brain may call."""
        from hvrmet.tools import get_tool
        from hvrmet.tools.adapters import openai_schema

        return [openai_schema(get_tool(n)) for n in ctx.tools]

    def _plan(self, hid: str, p: Proposal, ctx: BrainContext) -> list[PlannedCheck]:
        """The checks the model calls for one hypothesis. Unusable calls are dropped; a
        reply whose calls are all unusable is asked again with the reasons. No call at all
        is no check."""
        messages = [{"role": "system", "content": prompts.SYSTEM.format(vocabulary=p.hazard)},
                    {"role": "user", "content": prompts.PLAN.format(hid=hid, hazard=p.hazard, statement=p.statement,
                                                                    roles=", ".join(ctx.roles), case=ctx.case)}]

        def use(msg: _Message) -> list[PlannedCheck]:
            checks, bad = [], []
            for call in msg.tool_calls:
                args, problem = self._call_args(call, ctx, validate=True)
                if problem:
                    bad.append(problem)
                else:
                    checks.append(PlannedCheck(tool=call.name, args=args, reason="chosen by the model"))
            if bad and not checks:
                reason = "; ".join(bad[:3]) + (f" (and {len(bad) - 3} more)" if len(bad) > 3 else "")
                raise _Fault("malformed", reason,
                             feedback=[{"role": "user", "content": prompts.RETRY_TOOLS.format(reason=reason)}])
            return checks

        return self._ask(f"planning the checks of {hid}", messages, use, tools=self._tool_schemas(ctx),
                         tool_choice="auto")

    def replan(self, ctx: BrainContext) -> ReplanPlan:
        hyps = "\n".join(f"- {h.id} {h.hazard} status={h.status} prior={h.prior:.2f} posterior={h.posterior:.2f}"
                         for h in ctx.hypotheses)
        ev = []
        for e in ctx.evidence:
            met = "; ".join(f"{v.hypothesis_id}: {v.condition} -> {'met' if v.met else 'not met'}"
                            for v in e.verdicts if v.met is not None)
            ev.append(f"- {e.id} {e.tool}: {e.summary if e.ok else 'ERROR ' + str(e.error)} [{met}]")
        out = self._structured("replanning",
                               prompts.REPLAN.format(hypotheses=hyps, evidence="\n".join(ev[-40:]) or "- none",
                                                     budget=ctx.budget_left, tools=", ".join(ctx.tools)), _Replan)
        known = {h.id for h in ctx.hypotheses}
        assessments = [a for a in out.assessments if a.hypothesis_id in known]
        for a in assessments:
            if a.status not in ("proposed", "supported", "refuted", "inconclusive"):
                a.status = "inconclusive"
        new_checks: dict[str, list[PlannedCheck]] = {}
        for c in out.new_checks:
            if c.hypothesis_id in known and c.tool in ctx.tools:
                new_checks.setdefault(c.hypothesis_id, []).append(
                    PlannedCheck(tool=c.tool, args={k: v for k, v in c.args.items() if k != "case"}, reason="model"))
        return ReplanPlan(assessments=assessments, new_checks=new_checks, stop=out.stop or not new_checks,
                          reason=out.reason)

    def summarize(self, ctx: BrainContext) -> str:
        hyps = "; ".join(f"{h.id} {h.hazard} {h.status} ({h.posterior:.2f}) evidence {h.evidence_ids[:5]}"
                         for h in ctx.hypotheses)

        def use(msg: _Message) -> str:
            text = (msg.content or "").strip()
            if not text:
                reason = "the summary is empty"
                raise _Fault("malformed", reason,
                             feedback=[{"role": "user", "content": prompts.RETRY_TEXT.format(reason=reason)}])
            return text

        return self._ask("the summary", [{"role": "user", "content": prompts.SUMMARY.format(hypotheses=hyps)}], use)

    @staticmethod
    def _run(run_tool: ToolRunner, name: str, args: dict, ids: list[str]) -> dict:
        """A tool's result as the model sees it; a tool that fails is a result too."""
        try:
            ev = run_tool(name, args)
        except Exception as exc:  # noqa: BLE001 - reported to the model as data, like the registry's errors
            return {"ok": False, "error": _one_line(f"{name} failed: {type(exc).__name__}: {exc}", 300)}
        if not isinstance(ev, dict):
            return {"ok": False, "error": f"{name} returned no result"}
        if ev.get("id"):
            ids.append(ev["id"])
        values = ev.get("values") if isinstance(ev.get("values"), dict) else {}
        return {"evidence_id": ev.get("id"), "ok": ev.get("ok"), "error": ev.get("error"), "summary": ev.get("summary"),
                "values": {k: ({"value": v.get("value"), "units": v.get("units")} if isinstance(v, dict) else {"value": v})
                           for k, v in list(values.items())[:20]}}

    def answer(self, question: str, ctx: BrainContext, run_tool: ToolRunner, max_rounds: int = 4) -> Answer:
        """Free text through function calling: the model calls registry tools (run and
        recorded by ``run_tool``), sees their results, and answers. A call that cannot be
        run (unknown tool, arguments not a JSON object) and a tool's error go back to the
        model as the call's result."""
        hyps = "; ".join(f"{h.id} {h.hazard} {h.status} ({h.posterior:.2f})" for h in ctx.hypotheses) or "none yet"
        messages: list[dict] = [
            {"role": "system", "content": prompts.CHAT.format(case=ctx.case, roles=", ".join(ctx.roles), time=ctx.time,
                                                              location=ctx.location, hypotheses=hyps)},
            {"role": "user", "content": question}]
        schemas = self._tool_schemas(ctx)

        def use(msg: _Message) -> _Message:
            if not msg.tool_calls and not (msg.content or "").strip():
                reason = "the reply has neither text nor tool calls"
                raise _Fault("malformed", reason,
                             feedback=[{"role": "user", "content": prompts.RETRY_TEXT.format(reason=reason)}])
            return msg

        ids: list[str] = []
        for _round in range(max_rounds):
            msg = self._ask("answering the question", messages, use, tools=schemas, tool_choice="auto")
            if not msg.tool_calls:
                return Answer(text=(msg.content or "").strip(), evidence_ids=ids)
            messages.append({"role": "assistant", "content": msg.content or "",
                             "tool_calls": [{"id": c.id, "type": "function",
                                             "function": {"name": c.name, "arguments": c.arguments}}
                                            for c in msg.tool_calls]})
            for call in msg.tool_calls:
                args, problem = self._call_args(call, ctx, validate=False)
                result = {"ok": False, "error": problem} if problem else self._run(run_tool, call.name, args, ids)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result, default=str)})
        raise BrainError(f"no answer after {max_rounds} rounds of tool calls", kind="budget")
