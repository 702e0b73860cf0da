"""The offline expert policy: deterministic reasoning driven by the knowledge cards.

* **Propose**: every guideline card whose signals the case shows yields a hypothesis for
  its hazard, with a prior that grows with the share of the card's signals present; the
  null hypothesis ("no severe hazard") is always proposed as the competing explanation.
* **Plan**: a hypothesis's checks are its guideline card's checks, then every other tool
  a card's condition on that hazard names, keeping only tools whose data the case has.
  The first loop runs the first few not run yet; later loops run those of the rest whose
  outcome could change a status.
* **Judge**: the verdicts come from the index and guideline cards' conditions (thresholds
  with units); each posterior is a sum kept in a ledger (:mod:`hvrmet.agents.accounting`):
  the prior's log-odds plus one term per measured number, with the weights and status
  thresholds of ``weights.yaml`` in the knowledge store.
* **Stop**: when no hypothesis has checks left to run, or nothing new was learnt.

Same input, same output: no randomness, no network.
"""

from __future__ import annotations

from collections import defaultdict

from hvrmet.agents.state import Evidence, Hypothesis, PlannedCheck
from hvrmet.knowledge import default_store
from hvrmet.agents.brain import Answer, Assessment, BrainContext, Capabilities, Proposal, ReplanPlan, ToolRunner

__all__ = ["ExpertPolicy", "NULL_HAZARD", "FIRST_LOOP_CHECKS", "REPLAN_CHECKS"]

NULL_HAZARD = "no_severe_hazard"
FIRST_LOOP_CHECKS = 3   # a new hypothesis's first checks: its guideline's leading ones
REPLAN_CHECKS = 6       # at most this many checks per hypothesis chosen by what they could decide


class ExpertPolicy:
    """The deterministic, card-driven brain (the default everywhere)."""

    name = "offline"
    capabilities = Capabilities(free_text=False, deterministic=True, tool_calling=False)

    def __init__(self, store=None) -> None:
        self.store = store or default_store()
        self.tokens_used = 0

    # -- planning -------------------------------------------------------------------
    def runnable(self, tool_name: str, ctx: BrainContext) -> bool:
        """Whether the case has data the tool needs (and the tool is registered)."""
        from hvrmet.tools import find_tool

        t = find_tool(tool_name)
        if t is None or t.category == "plot":
            return False
        return not t.needs or bool(set(t.needs) & set(ctx.roles))

    def _on_case_data(self, tool_name: str, args: dict, ctx: BrainContext) -> dict:
        """``args`` with ``role`` set to a role of the case the tool can read, when its
        default role is not one (e.g. the deepening rate from hourly station pressures
        when the case has no series of analyses)."""
        from hvrmet.tools import REGISTRY

        t = REGISTRY.get(tool_name)
        field = t.input_model.model_fields.get("role") if t is not None else None
        if field is None or "role" in args or field.default in ctx.roles:
            return args
        other = next((r for r in t.needs if r in ctx.roles), None)
        return {**args, "role": other} if other else args

    def plan(self, hazard: str, ctx: BrainContext) -> list[PlannedCheck]:
        """All checks that bear on ``hazard``, in the order an expert runs them."""
        checks: list[PlannedCheck] = []
        seen: set[str] = set()

        def add(tool_name: str, args: dict, reason: str) -> None:
            pc = PlannedCheck(tool=tool_name, args=self._on_case_data(tool_name, dict(args), ctx), reason=reason)
            if pc.key() not in seen and self.runnable(tool_name, ctx):
                seen.add(pc.key())
                checks.append(pc)

        guide = self.store.guideline(hazard)
        if guide is not None:
            for name in guide.checks:
                args = next((c.args for c in guide.conditions if c.tool == name), {})
                add(name, args, f"{guide.id}: check in the guideline's order")
        from hvrmet.agents.evidence import bears_on

        for card in sorted(self.store.cards, key=lambda c: (c.library != "guideline", c.id)):
            for cond in card.conditions:
                if bears_on(hazard, cond.hazard):
                    add(cond.tool, cond.args, f"{card.id}: {cond.describe()}")
        return checks

    def first_checks(self, checks: list[PlannedCheck], ctx: BrainContext) -> list[PlannedCheck]:
        """A new hypothesis's first checks: the leading :data:`FIRST_LOOP_CHECKS` of its plan
        that no evidence of the run holds yet (screening already ran some of them)."""
        from hvrmet.agents.evidence import check_key

        run = {check_key(e.tool, e.arguments) for e in ctx.evidence}
        return [c for c in checks if c.key() not in run][:FIRST_LOOP_CHECKS]

    # -- the three steps --------------------------------------------------------------
    def propose(self, ctx: BrainContext) -> list[Proposal]:
        """Hypotheses from the signals and the guideline cards, ranked by prior."""
        found = {s.id for s in ctx.signals}
        best: dict[str, Proposal] = {}
        for card in self.store.cards:
            if card.library != "guideline" or not card.signals:
                continue
            matched = sorted(found & set(card.signals))
            if not matched:
                continue
            prior = round(min(0.85, 0.15 + 0.6 * len(matched) / len(card.signals)), 3)
            for hazard, p in [(card.hazards[0], prior)] + [(m, round(prior * 0.6, 3)) for m in self._questions(card)]:
                if hazard in best and best[hazard].prior >= p:
                    continue
                checks = self.plan(hazard, ctx)
                best[hazard] = Proposal(hazard=hazard, statement=card.title if hazard == card.hazards[0]
                                        else f"{self.store.hazards[hazard].description}", prior=p,
                                        checks=self.first_checks(checks, ctx), cards=[card.id],
                                        rationale=f"signals {', '.join(matched)} match {card.id}")
        if NULL_HAZARD not in best:
            guide = self.store.guideline(NULL_HAZARD)
            nulls = sorted(found & set(guide.signals)) if guide else []
            prior = 0.5 if not best else round(max(0.1, 0.5 - 0.1 * len(best)) + 0.1 * len(nulls), 3)
            best[NULL_HAZARD] = Proposal(
                hazard=NULL_HAZARD, prior=min(prior, 0.8),
                statement="No severe weather hazard: the data support no warning-level hazard",
                checks=self.first_checks(self.plan(NULL_HAZARD, ctx), ctx),
                cards=[guide.id] if guide else [],
                rationale="the null hypothesis, always weighed against the hazards"
                          + (f"; null signals {', '.join(nulls)}" if nulls else ""))
        return sorted(best.values(), key=lambda p: (-p.prior, p.hazard))

    def widened(self, hazard: str, ctx: BrainContext) -> list[PlannedCheck]:
        """Checks that look again, wider, for the storm-scale features of ``hazard``: each
        radar or Level III check of its plan that already ran in its default window, with
        the radius :data:`~hvrmet.tools.window.WIDER_FACTOR` times the kind's storm-scale
        radius (a place given as a town or a region may lie that far from the storm).
        Their numbers weigh ``wider_window`` of weights.yaml; the replanner runs one only
        when its outcome could change a status."""
        from hvrmet.tools import REGISTRY
        from hvrmet.tools.window import DEFAULTS, WIDER_FACTOR

        ran: dict[str, float | None] = {}  # tool -> the radius its default window searched (None: not said)
        for e in ctx.evidence:
            if e.ok and e.arguments.get("radius") is None:
                used = ((e.values or {}).get("window_radius") or {}).get("value")
                ran.setdefault(e.tool, float(used) if isinstance(used, (int, float)) else None)
        out = []
        for c in self.plan(hazard, ctx):
            t = REGISTRY.get(c.tool)
            kind = DEFAULTS.get(t.category) if t is not None else None
            if (kind is None or kind.scale != "storm" or "radius" not in t.input_model.model_fields
                    or c.tool not in ran or c.args.get("radius") is not None):
                continue
            # the radius the check searched: the kind's, or the case's area when its place is a region
            base = ran[c.tool] or kind.radius_km
            wide = base * WIDER_FACTOR
            out.append(PlannedCheck(tool=c.tool, args={**c.args, "radius": wide}, widened_from=base,
                                    reason=f"{c.reason}; looked for again within {wide:g} km (the window searched "
                                           f"was {base:g} km)"))
        return out

    def _null_outcome(self, hazard: str) -> bool:
        """Whether a label is one of the null outcomes (ordinary convection, stratiform
        rain): weather below warning level, which does not compete with the null hypothesis."""
        hz = self.store.hazards.get(hazard)
        return bool(hz and hz.family == "null")

    def _questions(self, card) -> list[str]:
        """Labels a guideline card poses as questions of their own: its further hazards and
        mechanisms (not of the null family) that a condition of any card supports directly
        (e.g. extreme short-duration rain and training echoes beside a flash flood)."""
        out = []
        for label in card.hazards[1:]:
            hz = self.store.hazards.get(label)
            if hz and hz.kind in ("mechanism", "hazard") and hz.family != "null" and any(
                    c.hazard == label and c.meaning == "supports" for k in self.store.cards for c in k.conditions):
                out.append(label)
        return out

    def relevant_aspects(self, hazard: str, ctx: BrainContext) -> set[str]:
        """The independent aspects the case has data for that bear on ``hazard`` (the
        aspects of the runnable tools named by conditions on it)."""
        from hvrmet.agents.accounting import aspect_of
        from hvrmet.agents.evidence import bears_on

        w = self.store.weights
        out = set()
        for card in self.store.cards:
            for cond in card.conditions:
                if bears_on(hazard, cond.hazard) and self.runnable(cond.tool, ctx):
                    out.add(aspect_of(cond.tool, w))
        return out & set(w.independent_aspects)

    def _status(self, h: Hypothesis, led, ctx: BrainContext, pending: list) -> tuple[str, str]:
        w = self.store.weights
        post = led.posterior
        avail = self.relevant_aspects(h.hazard, ctx)
        need = max(1, min(w.min_aspects, len(avail)))
        nc = f"; not computable: {'; '.join(led.not_computable)}" if led.not_computable else ""
        if led.refuting and post < w.refuted_below:
            return "refuted", f"a refuting condition is met ({', '.join(led.refuting)}); posterior {post:.2f}{nc}"
        if led.tested == 0 and not pending:
            return "not_assessed", "no check could test it with the data of this case" + nc
        if post >= w.supported_at and led.pieces >= w.min_pieces and led.strong_pieces >= 1 and len(led.aspects) >= need:
            scope = (f" from one aspect only ({led.aspects[0]})" if len(led.aspects) == 1 else
                     f" from {len(led.aspects)} aspects ({', '.join(led.aspects)})")
            return "supported", f"posterior {post:.2f} from {led.pieces:g} supporting pieces{scope}{nc}"
        if pending:
            return "proposed", f"posterior {post:.2f}; {len(pending)} check(s) still to run{nc}"
        short = []
        if post < w.supported_at:
            short.append(f"posterior {post:.2f} below {w.supported_at}")
        if led.pieces < w.min_pieces:
            short.append(f"{led.pieces:g} supporting pieces of the {w.min_pieces:g} needed")
        if led.strong_pieces < 1:
            short.append("no full supporting condition met")
        if len(led.aspects) < need:
            short.append(f"support from {len(led.aspects)} aspect(s) ({', '.join(led.aspects) or 'none'}) of the "
                         f"{need} the case has ({', '.join(sorted(avail))})")
        return "inconclusive", f"posterior {post:.2f}; no check left that could settle it: {'; '.join(short)}{nc}"

    def outcomes(self, check: PlannedCheck, h: Hypothesis, ctx: BrainContext) -> dict[str, Evidence]:
        """The check's best and worst possible outcomes for ``h``, as hypothetical evidence:
        every supporting condition on it met (``best``), every refuting one met and the
        supporting ones not (``worst``). Used to ask whether a check could change a status."""
        from hvrmet.agents.evidence import _args_match, bears_on
        from hvrmet.agents.state import Verdict

        best, worst = [], []
        for card in self.store.cards:
            for cond in card.conditions:
                if (cond.tool != check.tool or not bears_on(h.hazard, cond.hazard, cond.meaning)
                        or not _args_match(cond.args, check.args, check.tool,
                                           standin=check.widened_from is not None)):
                    continue
                base = dict(hypothesis_id=h.id, hazard=h.hazard, card=card.id, condition=cond.describe(),
                            field=cond.field, op=cond.op, meaning=cond.meaning, weight=cond.weight)
                sup = cond.meaning != "refutes"
                best.append(Verdict(**base, met=sup))
                worst.append(Verdict(**base, met=not sup))
        ev = dict(id=f"E{ctx.loop}-{h.id}-0", loop=ctx.loop, tool=check.tool, arguments=dict(check.args), ok=True,
                  files=[{"path": "(planned)", "sha256": f"planned:{check.key()}", "role": ""}],
                  widened_from=check.widened_from)
        return {"best": Evidence(**ev, verdicts=best), "worst": Evidence(**ev, verdicts=worst)}

    def expected(self, check: PlannedCheck, h: Hypothesis, ctx: BrainContext, led, status: str) -> tuple[float, str]:
        """What a check could decide for ``h``: the largest change of its log-odds that
        would also change its status, with the statuses it could lead to (0 and '' when no
        outcome of the check can change the status)."""
        from hvrmet.agents.accounting import ledger

        w = self.store.weights
        gain, could = 0.0, []
        for name, ev in self.outcomes(check, h, ctx).items():
            if not ev.verdicts:
                continue
            after = ledger(h, [*ctx.evidence, ev], w)
            new_status, _ = self._status(h, after, ctx, [])
            if new_status != status and new_status != "not_assessed":
                gain = max(gain, abs(after.total - led.total))
                could.append(f"{new_status} ({after.total - led.total:+.2f} if {'all its conditions go for' if name == 'best' else 'its refuting conditions are met against'} {h.id})")
        return gain, "; ".join(could)

    def replan(self, ctx: BrainContext) -> ReplanPlan:
        """Posteriors from the ledgers; statuses; checks chosen by what they could decide
        (expected change of status); sibling hypotheses. Stops when no check can change a
        status."""
        from hvrmet.agents.accounting import ledger

        w = self.store.weights
        run = {PlannedCheck(tool=e.tool, args={k: v for k, v in e.arguments.items()
                                                  if k not in ("case", "data_dir", "files")}).key()
               for e in ctx.evidence}
        assessments: dict[str, Assessment] = {}
        new_checks: dict[str, list[PlannedCheck]] = {}
        ledgers: dict[str, dict] = {}
        # warning-level hazards first: the null hypothesis and the null outcomes (ordinary
        # convection, stratiform rain) are weighed against the hazards already assessed
        order = sorted(ctx.hypotheses, key=lambda h: (h.hazard == NULL_HAZARD, self._null_outcome(h.hazard)))
        for h in order:
            if h.signoff:  # the forecaster's word stands
                assessments[h.id] = Assessment(hypothesis_id=h.id, posterior=h.posterior, status=h.status,
                                               rationale=f"forecaster: {h.signoff}")
                continue
            competing = None
            if h.hazard == NULL_HAZARD or self._null_outcome(h.hazard):
                competing = [x.model_copy(update={"status": a.status}) for x in ctx.hypotheses
                             if (a := assessments.get(x.id)) is not None and a.status == "supported"
                             and x.hazard != NULL_HAZARD and not self._null_outcome(x.hazard)]
                competing = [x.model_copy(update={"evidence_ids": sorted({c.evidence_id for c in
                             ledger(x, ctx.evidence, w).counted() if c.met and c.meaning != "refutes"})})
                             for x in competing]
            led = ledger(h, ctx.evidence, w, competing=competing)
            pending = [c for c in self.plan(h.hazard, ctx) + self.widened(h.hazard, ctx) if c.key() not in run]
            status, why = self._status(h, led, ctx, pending)
            if status == "proposed":
                settled, _ = self._status(h, led, ctx, [])  # what it would be with no further check
                scored = []
                for c in pending:
                    gain, could = self.expected(c, h, ctx, led, settled)
                    if gain > 0:
                        scored.append((-gain, len(scored), c.model_copy(update={
                            "reason": f"{c.reason}; expected to decide {h.id}: could make it {could}"})))
                if scored:
                    new_checks[h.id] = [c for _, _, c in sorted(scored)[:REPLAN_CHECKS]]
                else:
                    status, why = settled, why.split(";")[0] + f"; none of its {len(pending)} remaining check(s) " \
                        f"could change its status ({settled})"
            assessments[h.id] = Assessment(hypothesis_id=h.id, posterior=led.posterior, status=status, rationale=why,
                                           ledger=led.model_dump())
            ledgers[h.id] = led.model_dump()
        self._lead_checks(ctx, assessments, new_checks, run)
        out = [assessments[h.id] for h in ctx.hypotheses]
        new = self._siblings(ctx, {a.hypothesis_id: a.status for a in out})
        stop = not new_checks and not new
        reason = ("every hypothesis is settled or has no check left" if stop else
                  f"{sum(len(v) for v in new_checks.values())} new check(s), {len(new)} new hypothesis(es)")
        return ReplanPlan(assessments=out, new_checks=new_checks, new_hypotheses=new, stop=stop, reason=reason)

    def _lead_checks(self, ctx: BrainContext, assessments: dict[str, Assessment],
                     new_checks: dict[str, list[PlannedCheck]], run: set[str]) -> None:
        """Which supported hazard leads the diagnosis is a question too: a supported
        warning-level hypothesis that its remaining checks, all going its way, could lift
        above the leading one runs them (largest change first), each saying so."""
        from hvrmet.agents.accounting import ledger

        w = self.store.weights
        sup = [h for h in ctx.hypotheses if not h.signoff and h.hazard != NULL_HAZARD
               and not self._null_outcome(h.hazard) and assessments[h.id].status == "supported"]
        if len(sup) < 2:
            return
        total = {h.id: (assessments[h.id].ledger or {}).get("total", 0.0) for h in sup}
        lead = max(sup, key=lambda h: (total[h.id], h.id))
        for h in sup:
            if h.id == lead.id or h.id in new_checks:
                continue
            pending = [c for c in self.plan(h.hazard, ctx) if c.key() not in run]
            best = [ev for c in pending if (ev := self.outcomes(c, h, ctx)["best"]).verdicts]
            for i, ev in enumerate(best):  # distinct ids: the outcomes are hypothetical evidence
                ev.id = f"{ev.id}{i}"
            if not best or ledger(h, [*ctx.evidence, *best], w).total <= total[lead.id]:
                continue
            scored = []
            for c, ev in zip([c for c in pending if self.outcomes(c, h, ctx)["best"].verdicts], best):
                gain = ledger(h, [*ctx.evidence, ev], w).total - total[h.id]
                if gain > 0:
                    scored.append((-gain, len(scored), c.model_copy(update={
                        "reason": f"{c.reason}; expected to decide which hazard leads: with its remaining checks "
                                  f"{h.id} could overtake {lead.id} ({gain:+.2f} of the {total[lead.id] - total[h.id]:.2f} "
                                  f"log-odds between them)"})))
            if scored:
                new_checks[h.id] = [c for _, _, c in sorted(scored)[:REPLAN_CHECKS]]

    def _siblings(self, ctx: BrainContext, status: dict[str, str]) -> list[Proposal]:
        """When a hypothesis is refuted, weigh the other hazards of its family that the
        signals also point to (e.g. large hail when a tornado is refuted)."""
        proposed = {h.hazard for h in ctx.hypotheses}
        found = {s.id for s in ctx.signals}
        out = []
        fam = defaultdict(list)
        for hz in self.store.hazards.values():
            fam[hz.family].append(hz.id)
        for h in ctx.hypotheses:
            if status.get(h.id) != "refuted" or h.hazard == NULL_HAZARD:
                continue
            family = self.store.hazards[h.hazard].family if h.hazard in self.store.hazards else None
            for other in fam.get(family, []):
                if self.store.hazards[other].kind != "hazard":
                    continue
                guide = self.store.guideline(other)
                if other in proposed or guide is None or not (found & set(guide.signals)):
                    continue
                proposed.add(other)
                out.append(Proposal(hazard=other, statement=guide.title, prior=0.3,
                                    checks=self.first_checks(self.plan(other, ctx), ctx), cards=[guide.id],
                                    rationale=f"{h.id} ({h.hazard}) refuted; {other} shares its family and signals"))
        return out

    def summarize(self, ctx: BrainContext) -> str:
        """The diagnosis in a few sentences, citing evidence ids."""
        sup = sorted([h for h in ctx.hypotheses if h.status == "supported" and h.hazard != NULL_HAZARD],
                     key=lambda h: (self._null_outcome(h.hazard), -h.posterior))
        null = next((h for h in ctx.hypotheses if h.hazard == NULL_HAZARD), None)
        ref = [h for h in ctx.hypotheses if h.status == "refuted"]
        inc = [h for h in ctx.hypotheses if h.status in ("inconclusive", "proposed")]
        parts = []
        if sup:
            for h in sup:  # warning-level hazards before the null outcomes
                parts.append(f"{h.hazard.replace('_', ' ')} is supported (posterior {h.posterior:.2f}; "
                             f"evidence {', '.join(h.evidence_ids[:6])}).")
        elif null is not None and null.status == "supported":
            parts.append(f"No severe hazard: the null hypothesis is supported (posterior {null.posterior:.2f}; "
                         f"evidence {', '.join(null.evidence_ids[:6])}).")
        else:
            parts.append("Insufficient evidence: no hypothesis could be confirmed with the data of this case.")
        if ref:
            parts.append("Refuted: " + ", ".join(h.hazard.replace("_", " ") for h in ref) + ".")
        signed = [h for h in ctx.hypotheses if h.signoff]
        if signed:
            parts.append("Forecaster sign-off: " + "; ".join(f"{h.id} {h.hazard.replace('_', ' ')} "
                                                              f"{h.signoff.split(' (', 1)[0]}" for h in signed) + ".")
        if inc:
            parts.append("Left open: " + ", ".join(f"{h.hazard.replace('_', ' ')} ({h.posterior:.2f})" for h in inc) + ".")
        return " ".join(parts)

    def answer(self, question: str, ctx: BrainContext, run_tool: ToolRunner) -> Answer:
        """The offline policy does not compose free text: it returns the knowledge cards
        closest to the question (hybrid search), each with its statement, and runs nothing."""
        hits = self.store.search(question, k=3)
        if not hits:
            return Answer(text="No knowledge card matches that question. Type /help for the commands.")
        lines = ["Closest knowledge cards (offline brain: a knowledge search, not a composed answer):"]
        for card, score in hits:
            lines.append(f"- {card.id} ({score:.2f}) {card.title}: {card.statement.strip()}")
        return Answer(text="\n".join(lines), cards=[c.id for c, _ in hits])
