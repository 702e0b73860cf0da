"""Units for people: no raw pint spellings in what a person reads (the report, the chat's
tables and replies): no ``1`` as a unit, no ``delta_degC``, no ``**`` powers, no ``^``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hvrmet.units import format_units, units_in_text

RAW = [re.compile(p) for p in (r"delta_deg", r"[A-Za-z)]\*\*-?\d", r"[A-Za-z]\^-?\d", r"(?<![\w.])[-+]?\d[\d.e+-]* 1(?=[\s,;)|\]]|$)",
                               r"\bdimensionless\b")]


def _raw(text: str) -> list[str]:
    return [m.group(0) for r in RAW for m in r.finditer(text)]


@pytest.mark.parametrize("raw, human", [("m^2/s^2", "m²/s²"), ("delta_degC", "K"), ("delta_degC/km", "K/km"),
                                        ("1", ""), ("dimensionless", ""), ("knot", "kt"), ("percent", "%"),
                                        ("kg m-2", "kg/m²"), ("m s**-1", "m/s"), ("degree_north", "°N"),
                                        ("J/kg", "J/kg"), ("degC", "°C")])
def test_format_units(raw, human):
    assert format_units(raw) == human


def test_units_in_text():
    assert units_in_text("stp 2.668 1, lifted_index -8.85 delta_degC; srh 227.6 m^2/s^2") == \
        "stp 2.668, lifted_index -8.85 K; srh 227.6 m²/s²"
    assert units_in_text("5 storms in 10 min") == "5 storms in 10 min"


def test_no_raw_pint_in_the_report_and_the_chat(tmp_path, data_dir):
    from hvrmet.agents.configuration import Configuration
    from hvrmet.chat.commands import handle
    from hvrmet.chat.session import ChatSession

    s = ChatSession(Configuration(out_dir=str(tmp_path), figures=False))
    texts = []
    for line in ("/case may1999", "/diagnose", "/hypotheses", "/evidence", "/why H1", "/evidence E1-H1-1", "/report"):
        r = handle(s, line)
        texts.append(r.text)
        texts += [" | ".join(map(str, row)) for t in r.tables for row in t.rows]
    rep = s.state()["report"]
    md, html = Path(rep["markdown"]).read_text(), Path(rep["html"]).read_text()
    s.close()
    assert "2470 J/kg" in md and "m²/s²" in md
    # the parts a forecaster reads first: the summary, what decided each hypothesis, /why's lead
    summary = md.split("## Summary\n", 1)[1].split("\n## ", 1)[0]
    decided = [line for line in md.splitlines() if re.match(r"^\d\. \*\*", line)]
    why = next(t for t in texts if "\nWhy: " in t)
    assert "J/kg" in summary and decided and "What decided it:" in why
    assert _raw(summary) == [] and _raw("\n".join(decided)) == [] and _raw(why) == []
    assert not re.search(r"\d \)|\s1\s*$", "\n".join(decided))  # no dangling unit-less space or bare 1
    assert _raw(md) == []
    assert _raw(re.sub(r"<[^>]+>", " ", html)) == []
    assert _raw("\n".join(texts)) == []
