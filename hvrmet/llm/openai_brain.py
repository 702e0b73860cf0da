"""An OpenAI-compatible chat model as the brain (OpenAI, vLLM, Ollama, llama.cpp server).

Structured answers are requested as JSON and validated with pydantic; a malformed answer
is sent back with the validation error and retried (``llm_retries`` times); checks are
chosen through function calling with the tool registry's schemas; a timeout or an
unreachable endpoint raises :class:`~hvrmet.agents.brain.BrainError`, which the graph records
before going on or stopping cleanly.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from hvrmet.llm import prompts
from hvrmet.agents.state import PlannedCheck
from hvrmet.knowledge import default_store
from hvrmet.agents.brain import (Answer, Assessment, BrainContext, BrainError, Capabilities, Proposal, ReplanPlan,
                                 ToolRunner)

__all__ = ["OpenAIBrain"]


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


def _strip_fence(text: str) -> str:
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else t
        t = t.rsplit("```", 1)[0]
    return t.strip()


class OpenAIBrain:
    """The brain behind an OpenAI-compatible ``/v1/chat/completions`` endpoint."""

    name = "openai"
    capabilities = Capabilities(free_text=True, deterministic=False, tool_calling=True)

    def __init__(self, cfg) -> None:
        import openai

        self.cfg = cfg
        self.client = openai.OpenAI(base_url=cfg.base_url, api_key=cfg.api_key or "not-needed",
                                    timeout=cfg.llm_timeout_s, max_retries=0)
        self.tokens_used = 0
        self.store = default_store()

    # -- transport --------------------------------------------------------------------
    def _chat(self, messages: list[dict], **kw):
        import openai

        try:
            resp = self.client.chat.completions.create(model=self.cfg.model, messages=messages,
                                                       temperature=0, **kw)
        except openai.APITimeoutError:
            raise BrainError(f"the model did not answer within {self.cfg.llm_timeout_s:.0f} s") from None
        except openai.APIConnectionError as exc:
            raise BrainError(f"cannot reach {self.cfg.base_url}: {exc}") from None
        except openai.APIStatusError as exc:
            raise BrainError(f"the endpoint answered HTTP {exc.status_code}: {exc.message}") from None
        if resp.usage is not None:
            self.tokens_used += int(resp.usage.total_tokens or 0)
        return resp.choices[0].message

    def _structured(self, prompt: str, model: type[BaseModel]) -> BaseModel:
        vocab = ", ".join(sorted(self.store.hazards))
        messages = [{"role": "system", "content": prompts.SYSTEM.format(vocabulary=vocab)},
                    {"role": "user", "content": prompt}]
        last = ""
        for _attempt in range(self.cfg.llm_retries + 1):
            msg = self._chat(messages, response_format={"type": "json_object"})
            text = msg.content or ""
            try:
                return model.model_validate(json.loads(_strip_fence(text)))
            except (json.JSONDecodeError, ValidationError) as exc:
                last = str(exc).splitlines()[0]
                messages += [{"role": "assistant", "content": text},
                             {"role": "user", "content": f"That was not valid: {last}. Answer again with JSON only."}]
        raise BrainError(f"no valid answer after {self.cfg.llm_retries + 1} attempts ({last})")

    # -- the Brain protocol -------------------------------------------------------------
    def propose(self, ctx: BrainContext) -> list[Proposal]:
        signals = "\n".join(f"- {s.id}: {s.description} ({s.tool}.{s.field} = {s.value} {s.units})"
                            for s in ctx.signals) or "- none"
        query = " ".join(s.description for s in ctx.signals) or "benign weather"
        cards = "\n".join(f"- {c.id}: {c.title}" for c, _ in self.store.search(query, k=6))
        out = self._structured(prompts.PROPOSE.format(roles=", ".join(ctx.roles), time=ctx.time,
                                                      location=ctx.location, signals=signals, cards=cards), _Proposals)
        proposals = []
        for i, p in enumerate(out.proposals, 1):
            if p.hazard not in self.store.hazards:
                continue
            p.checks = self._plan(f"H{i}", p, ctx)
            proposals.append(p)
        if not proposals:
            raise BrainError("the model proposed no hypothesis with a known hazard label")
        return proposals

    @staticmethod
    def _tool_schemas(ctx: BrainContext) -> list[dict]:
        """Function-calling schemas of the tools the brain may call."""
        from hvrmet.tools import get_tool
        from hvrmet.tools.adapters import openai_schema

        return [openai_schema(get_tool(n)) for n in ctx.tools]

    def _plan(self, hid: str, p: Proposal, ctx: BrainContext) -> list[PlannedCheck]:
        schemas = self._tool_schemas(ctx)
        msg = self._chat([{"role": "system", "content": prompts.SYSTEM.format(vocabulary=p.hazard)},
                          {"role": "user", "content": prompts.PLAN.format(hid=hid, hazard=p.hazard, statement=p.statement,
                                                                          roles=", ".join(ctx.roles), case=ctx.case)}],
                         tools=schemas, tool_choice="auto")
        checks = []
        for call in msg.tool_calls or []:
            try:
                args = json.loads(call.function.arguments or "{}")
            except json.JSONDecodeError:
                continue
            if call.function.name in ctx.tools:
                checks.append(PlannedCheck(tool=call.function.name,
                                           args={k: v for k, v in args.items() if k not in ("case", "data_dir")},
                                           reason="chosen by the model"))
        return checks

    def replan(self, ctx: BrainContext) -> ReplanPlan:
        hyps = "\n".join(f"- {h.id} {h.hazard} status={h.status} prior={h.prior:.2f} posterior={h.posterior:.2f}"
                         for h in ctx.hypotheses)
        ev = []
        for e in ctx.evidence:
            met = "; ".join(f"{v.hypothesis_id}: {v.condition} -> {'met' if v.met else 'not met'}"
                            for v in e.verdicts if v.met is not None)
            ev.append(f"- {e.id} {e.tool}: {e.summary if e.ok else 'ERROR ' + str(e.error)} [{met}]")
        out = self._structured(prompts.REPLAN.format(hypotheses=hyps, evidence="\n".join(ev[-40:]) or "- none",
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
        msg = self._chat([{"role": "user", "content": prompts.SUMMARY.format(hypotheses=hyps)}])
        return (msg.content or "").strip()

    def answer(self, question: str, ctx: BrainContext, run_tool: ToolRunner, max_rounds: int = 4) -> Answer:
        """Free text through function calling: the model calls registry tools (run and
        recorded by ``run_tool``), sees their results, and answers."""
        hyps = "; ".join(f"{h.id} {h.hazard} {h.status} ({h.posterior:.2f})" for h in ctx.hypotheses) or "none yet"
        messages: list[dict] = [
            {"role": "system", "content": prompts.CHAT.format(case=ctx.case, roles=", ".join(ctx.roles), time=ctx.time,
                                                              location=ctx.location, hypotheses=hyps)},
            {"role": "user", "content": question}]
        schemas = self._tool_schemas(ctx)
        ids: list[str] = []
        for _round in range(max_rounds):
            msg = self._chat(messages, tools=schemas, tool_choice="auto")
            if not msg.tool_calls:
                return Answer(text=(msg.content or "").strip(), evidence_ids=ids)
            messages.append({"role": "assistant", "content": msg.content or "",
                             "tool_calls": [{"id": c.id, "type": "function",
                                             "function": {"name": c.function.name, "arguments": c.function.arguments}}
                                            for c in msg.tool_calls]})
            for call in msg.tool_calls:
                try:
                    args = json.loads(call.function.arguments or "{}")
                except json.JSONDecodeError as exc:
                    result = {"ok": False, "error": f"arguments are not JSON: {exc}"}
                else:
                    if call.function.name not in ctx.tools:
                        result = {"ok": False, "error": f"unknown tool {call.function.name!r}"}
                    else:
                        ev = run_tool(call.function.name, {k: v for k, v in args.items() if k not in ("case", "data_dir")})
                        ids.append(ev["id"])
                        result = {"evidence_id": ev["id"], "ok": ev["ok"], "error": ev.get("error"),
                                  "summary": ev.get("summary"),
                                  "values": {k: {"value": v.get("value"), "units": v.get("units")}
                                             for k, v in list(ev.get("values", {}).items())[:20]}}
                messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result, default=str)})
        raise BrainError(f"no answer after {max_rounds} rounds of tool calls")
