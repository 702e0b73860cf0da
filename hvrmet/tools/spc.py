"""SPC convective outlooks at the case's place: categorical risk and hazard probabilities."""

from __future__ import annotations

from pydantic import Field

from hvrmet.data.readers.spc_outlook import outlook_at
from hvrmet.errors import VariableMissing
from hvrmet.tools.context import ToolContext
from hvrmet.tools.inputs import CaseInput, quantity
from hvrmet.tools.registry import tool
from hvrmet.tools.results import ToolOutput, Value
from hvrmet.tools.window import utc_timestamp

__all__: list[str] = []

_HAZARDS = ("tornado", "wind", "hail")


class OutlookInput(CaseInput):
    """A case, its SPC outlook role, and a point to read the outlook at."""

    role: str = Field("spc_outlook", description="case role of the SPC outlook; its numbered layers "
                                                 "(spc_outlook_2, ...) are read with it")
    lat: float | None = quantity(None, units="degree_north", description="latitude of the point (default: the case location)", ge=-90, le=90)
    lon: float | None = quantity(None, units="degree_east", description="longitude of the point (default: the case location)", ge=-360, le=360)


def _outlook_roles(ctx: ToolContext, role: str) -> list[str]:
    roles = [r for r in list(ctx.case.roles) + list(ctx.explicit)
             if r == role or (r.startswith(role + "_") and r[len(role) + 1:].isdigit())]
    return sorted(set(roles), key=lambda r: (len(r), r))


@tool(category="context", needs=("spc_outlook",), example={},
      outputs={"categorical_risk": "", "categorical_rank": "1", "highest_categorical_risk": "",
               "tornado_probability": "percent", "wind_probability": "percent", "hail_probability": "percent",
               "any_severe_probability": "percent", "significant_tornado": "", "significant_wind": "",
               "significant_hail": "", "covering_polygons": "", "valid_start": "", "valid_end": "",
               "outside_time_window": "", "data_time_offset": "hour"})
def summarize_spc_outlook(args: OutlookInput, ctx: ToolContext) -> ToolOutput:
    """The SPC convective outlook at the case's place (or a given point).

    The categorical risk (TSTM, MRGL, SLGT, ENH, MDT, HIGH; NONE outside every polygon)
    and its rank 1-6, the highest categorical risk anywhere in the outlook, the tornado,
    wind, hail (and day-3+ any-severe) probabilities of the polygons covering the point
    (percent; 0 outside every polygon of a layer the outlook has, null for a layer it
    lacks), whether a significant (hatched) area covers it, and the covering polygons as
    SPC labels them (LABEL/LABEL2). The case's role and its numbered roles
    (spc_outlook_2, ...) are read together, as SPC publishes one layer a file.

    An outlook speaks for its valid period (a day-1 outlook 12-12 UTC): when the case's
    time lies outside it, the result says ``outside_time_window`` (its numbers weigh less
    in the ledger), ``data_time_offset`` gives the hours from the case time to the nearer
    end of the period, and a warning says which period the outlook is for.
    """
    roles = _outlook_roles(ctx, args.role)
    if not roles:
        raise VariableMissing(ctx.case.source_path or ctx.case.id,
                              f"case {ctx.case.id!r} has no SPC outlook (role {args.role!r})")
    datasets = [ctx.load(r) for r in roles]
    lat = args.lat if args.lat is not None else ctx.case.location.lat
    lon = args.lon if args.lon is not None else ctx.case.location.lon
    at = outlook_at(datasets, lat, lon)
    starts = sorted(str(d.attrs["valid_start"]) for d in datasets if d.attrs.get("valid_start"))
    ends = sorted(str(d.attrs["valid_end"]) for d in datasets if d.attrs.get("valid_end"))
    values = {
        "categorical_risk": Value(value=at["categorical"], units=""),
        "categorical_rank": Value(value=at["rank"], units="1"),
        "highest_categorical_risk": Value(value=at["highest_anywhere"], units=""),
        "covering_polygons": Value(value=at["covering"], units=""),
        "valid_start": Value(value=starts[0] if starts else None, units=""),
        "valid_end": Value(value=ends[-1] if ends else None, units=""),
    }
    for h in _HAZARDS + ("any_severe",):
        values[f"{h}_probability"] = Value(value=at[f"{h}_probability"], units="percent")
    for h in _HAZARDS:
        values[f"significant_{h}"] = Value(value=at[f"{h}_significant"], units="")
    when = _period_check(ctx.case_time, starts[0] if starts else None, ends[-1] if ends else None)
    values["outside_time_window"] = Value(value=when[0], units="")
    values["data_time_offset"] = Value(value=when[1], units="hour", note="from the case time to the outlook's "
                                       "valid period (0 inside it)")
    probs = ", ".join(f"{h} {at[f'{h}_probability']:.0f} %" for h in _HAZARDS if at[f"{h}_probability"] is not None)
    warnings = [when[2]] if when[2] else []
    if at["categorical"] is None:
        warnings.append("the outlook has no categorical layer")
    summary = (f"SPC outlook at ({lat:.2f}, {lon:.2f}): "
               f"{at['categorical'] if at['categorical'] is not None else 'no categorical layer'}"
               + (f"; {probs}" if probs else "")
               + (f"; highest risk in the outlook {at['highest_anywhere']}" if at["highest_anywhere"] else ""))
    if when[0]:
        summary += f" [outside its valid period: {abs(when[1]):.1f} h {'before' if when[1] > 0 else 'after'} it]"
    return ToolOutput(values=values, summary=summary, warnings=warnings)


def _period_check(case_time, start: str | None, end: str | None) -> tuple[bool, float | None, str]:
    """``(outside, offset_h, warning)``: whether the case time lies outside the outlook's
    valid period, the hours from the case time to the period (positive: the period starts
    later; negative: it ended before; 0 inside), and the warning ('' inside or unknown)."""
    t, t0, t1 = utc_timestamp(case_time), utc_timestamp(start), utc_timestamp(end)
    if t is None or t0 is None or t1 is None:
        return False, None, ("" if t is None else
                             "the outlook gives no valid period: whether it holds the case time cannot be checked")
    if t0 <= t <= t1:
        return False, 0.0, ""
    off = round(((t0 - t) if t < t0 else (t1 - t)).total_seconds() / 3600.0, 2)
    return True, off, (f"the outlook is valid {start} to {end} UTC and the case time {t:%Y-%m-%dT%H:%M} lies "
                       f"{abs(off):.1f} h {'before' if off > 0 else 'after'} that period: it is the outlook of another "
                       "period, used, and weighs less in the ledger")
