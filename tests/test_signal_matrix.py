"""Hypotheses from any data subset: each kind of data alone raises the hypotheses it
bears on (``signals.yaml``), and on a catalogue case cut down to that kind's files the
right hypothesis leads.

The right answer comes from the case's recorded events (``events:`` of the catalogue
YAML, mapped to hazard labels by ``hvrmet/benchmark/data/events.yaml``), never from
hvrmet's own output. Where one kind of data cannot support the recorded hazard, the test
says why with the numbers measured on the file (an ``xfail(strict=True)``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from hvrmet.agents.configuration import Configuration
from hvrmet.agents.signals import (
    find_signals,
    role_matches,
    screening_entries,
    screening_plan,
    signal_defs,
)
from hvrmet.benchmark.calibration import event_table
from hvrmet.runs import diagnose

CATALOGUE = Path(__file__).resolve().parents[1] / "hvrmet" / "cases" / "catalogue"
NULL = "no_severe_hazard"
#: Tools a signal or screening entry may name before they are registered (their module
#: exists but is not among the built-in tool modules yet): they stay out of the plan.
# -- the definitions ---------------------------------------------------------------------
def _tools():
    from hvrmet.tools import list_tools

    return {t.name: t for t in list_tools()}


def test_every_signal_names_a_real_tool_output_with_convertible_units():
    from hvrmet.units import parse_units

    tools = _tools()
    screened = {name for e in screening_entries() for c in e.tools
                for name in [c if isinstance(c, str) else c["tool"]]}
    for name in screened:
        assert name in tools, f"screening names unknown tool {name}"
    for sd in signal_defs():
        t = tools.get(sd.tool)
        assert t is not None, f"signal {sd.id}: unknown tool {sd.tool}"
        assert sd.tool in screened, f"signal {sd.id}: {sd.tool} is not a screening tool, so it never fires"
        assert sd.field in t.outputs, f"signal {sd.id}: {sd.tool} has no output {sd.field}"
        assert set(sd.args) <= set(t.input_model.model_fields), f"signal {sd.id}: bad args {sd.args}"
        declared = t.outputs[sd.field]
        if not isinstance(sd.value, (bool, str)) and declared:
            assert parse_units(sd.units or "", name="units").dimensionality == parse_units(declared, name="units").dimensionality, \
                f"signal {sd.id}: {sd.units!r} vs the tool's {declared!r}"
        for r in sd.requires:
            assert any(d.id == r for d in signal_defs()), f"signal {sd.id} requires unknown {r}"


def test_card_signals_are_defined_or_unmeasured():
    """Every signal a guideline card lists has a detector, except those no screening tool
    measures (listed here, so a new one cannot slip in unnoticed)."""
    from hvrmet.knowledge import default_store

    unmeasured = {"hook_echo", "dry_midlevels", "bowing_line", "rear_inflow_jet", "descending_core",
                  "surface_divergence", "back_building", "subfreezing_surface_layer",
                  "warm_advection_aloft", "cold_air_damming",
                  "qvector_convergence", "banded_precipitation", "eyewall_ring", "slow_motion", "blocking_ridge",
                  "subsidence", "record_temperatures", "warm_nights", "persistence",
                  "deep_50dbz_core"}  # the hail proxy needs a sounding's freezing level too: a check
    defined = {sd.id for sd in signal_defs()}
    listed = {s for c in default_store().cards if c.library == "guideline" for s in c.signals}
    assert listed - defined == unmeasured
    # and every detector points to some card, except the setting flags (requirements of
    # others) and a radar rain-area line that is reported but bears on no card alone
    assert defined - listed == {"warm_season", "cold_season", "tropical_cyclone_season", "widespread_heavy_rain_area"}


def test_screening_per_kind_of_data():
    only = lambda roles: [name for name, _ in screening_plan(roles)]
    radar = only(["radar_volume"])
    assert {"detect_debris_signature", "detect_rotation", "compute_vil", "compute_echo_tops"} <= set(radar)
    assert "estimate_hail_proxy" not in only(["radar_volume", "sounding"])  # a check: it needs both
    l3 = screening_plan(["level3_vil", "level3_echo_tops_2", "level3_hail_index", "level3_tornado_vortex_signature"])
    assert ("summarize_level3_field", {"role": "level3_vil"}) in l3
    assert ("summarize_level3_field", {"role": "level3_echo_tops_2"}) in l3  # a numbered product too
    assert ("get_hail_index", {}) in l3 and ("get_tvs_detections", {}) in l3
    assert {"compute_frontogenesis", "compute_deepening_rate"} <= set(only(["analysis"]))
    assert {"classify_heavy_rain", "compute_area_over_threshold", "compute_motion_field"} <= set(only(["composite_sequence"]))
    assert {"compute_freezing_level", "compute_storm_motion"} <= set(only(["sounding"]))
    assert role_matches("level3_vil_2", "level3_vil") and not role_matches("level3_vilx", "level3_vil")


_SEQ = itertools.count(1)


def _ev(tool: str, values: dict, **args):
    from hvrmet.agents.state import Evidence

    seq = next(_SEQ)
    return Evidence(id=f"E0-S{seq}", loop=0, origin="screen", seq=seq,
                    tool=tool, arguments={"case": "x", **args}, ok=True,
                    values={k: {"value": v, "units": u} for k, (v, u) in values.items()})


def test_signal_requirements_and_product_roles():
    setting = lambda warm: _ev("describe_case_setting", {"warm_season": (warm, "")})
    sounding = _ev("summarize_sounding", {"precipitable_water": (16.0, "mm")})
    ids = lambda evs: {s["id"] for s in find_signals(evs)}
    assert "cold_season_moisture" in ids([setting(False), sounding])
    assert "cold_season_moisture" not in ids([setting(True), sounding])  # 16 mm is nothing in summer
    # a warm nose counts with cold-season moisture only (dec9's dry one, 11 mm, brings no rain to freeze)
    nose = _ev("compute_freezing_level", {"warm_layer_max_temperature": (4.0, "degC")})
    dry = _ev("summarize_sounding", {"precipitable_water": (11.0, "mm")})
    assert "warm_nose" in ids([setting(False), sounding, nose])
    assert "warm_nose" not in ids([setting(False), dry, nose]) and "warm_nose" not in ids([setting(True), sounding, nose])
    cool = _ev("compute_freezing_level", {"warm_layer_max_temperature": (34.0, "degF")})  # 1.1 degC
    assert "warm_nose" in ids([setting(False), sounding, cool])
    tops = _ev("summarize_level3_field", {"max_value": (45.0, "kft")}, role="level3_echo_tops_2")
    vil_as_tops = _ev("summarize_level3_field", {"max_value": (45.0, "kg/m^2")}, role="level3_vil")
    assert "tall_echo_tops" in ids([tops]) and "tall_echo_tops" not in ids([vil_as_tops])


# -- the matrix: one kind of data alone, on a real case ------------------------------------
@dataclass(frozen=True)
class Row:
    kind: str
    case: str
    roles: tuple[str, ...]
    supported: bool = True  # whether this kind alone can make the recorded hazard accepted
    leads: bool = True      # whether the recorded hazard must lead (else: be proposed)
    why_not: str = ""       # the measured reason when it cannot
    signals: tuple[str, ...] = field(default_factory=tuple)  # detectors this kind must fire
    screened: tuple[str, ...] = field(default_factory=tuple)  # screening tools that must have read the data

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.case}"


MATRIX = [
    Row("level3", "mci20160526", ("level3_*",), signals=("high_posh", "large_hail_size", "high_vil")),
    # radar alone: the 21.8 m/s couplet (the mesocyclone, a full piece that reaches the hazard), the
    # core above 55 dBZ and the weak-echo region beside it (weak pieces), from the storm-scale radar
    # aspect only, which the status says; no correlation coefficient in a 1999 volume for debris
    Row("radar_volume", "may1999", ("radar_volume",),
        signals=("intense_reflectivity_core", "velocity_couplet", "tall_echo_tops", "weak_echo_region")),
    # radar alone: a tropical cyclone's banded rain shield in the radar's view; thunderstorms below
    # severe limits (cells and cores, no mesocyclone, low VIL)
    Row("radar_volume", "katrina2005", ("radar_volume",), signals=("spiral_rainbands", "widespread_heavy_rain_area")),
    Row("radar_volume", "kvwx20050626", ("radar_volume",), signals=("convective_cells", "no_rotation", "low_vil")),
    # an NHC product alone
    Row("wind_probability", "henri2021", ("wind_probability",), signals=("high_wind_probability",)),
    # a composite sequence alone: an hour of 20 mm and an hour of 10 mm/h rain at one place
    Row("composite_sequence", "fmi", ("composite_sequence",), signals=("hourly_heavy_rain", "training_echoes")),
    # a dual-pol volume: the debris signature is screened (and found absent)
    Row("radar_volume", "kftg20150430", ("radar_volume",), signals=("low_vil",), screened=("detect_debris_signature",)),
    Row("sounding", "may1999", ("sounding",), signals=("high_cape", "strong_low_level_helicity", "high_stp")),
    Row("sounding", "oun20110522", ("sounding",), signals=("high_stp", "high_scp", "low_lcl")),
    Row("sounding", "null-jan20", ("sounding",), signals=("no_cape", "positive_lifted_index")),
    Row("analysis", "cyclone2010", ("analysis",), signals=("deep_low", "strong_frontogenesis", "jet_streak")),
    Row("composite_sequence", "mch20150515", ("composite_sequence",),
        signals=("heavy_rain_rates", "guidance_exceeded", "hourly_heavy_rain")),
    Row("composite_sequence", "mrms20190610", ("composite_sequence",),
        signals=("heavy_rain_rates", "guidance_exceeded", "heavy_rain_area", "slow_storm_motion")),
    # one WPC surface analysis alone: the pattern of a heat wave, not its temperatures
    Row("fronts", "heatdome2021", ("fronts",), supported=False,
        why_not="one surface analysis shows the pattern, not the heat: a 1002 hPa low 105 km from Portland "
                "with no front within 300 km of it, in June (a thermal low), gives heat_wave one weak piece "
                "(posterior 0.30) of the 3 it needs; the nearest high of 1020 hPa or more is 1447 km away",
        signals=("thermal_low",), screened=("locate_fronts",)),
    # the radiosonde network alone: the trough and the jet, 12 h after the case time
    Row("upper_air", "superstorm1993", ("upper_air",), supported=False,
        why_not="radiosondes alone give extratropical_cyclone 1 of the 3 supporting pieces it needs (posterior "
                "0.44): two weak ones, the 61 m/s wind at 300 hPa (a jet streak) and at 500 hPa (a vigorous "
                "trough); station heights and winds aloft show the trough, not the surface low's depth or "
                "deepening",
        signals=("raob_jet_streak", "strong_500hpa_winds"), screened=("summarize_upper_air",)),
    # which hypothesis leads depends on the stations read: over the whole file the strongest
    # gust (92 kt) is Mount Washington's summit, which puts convective damaging wind ahead
    Row("surface_obs", "superstorm1993", ("surface_obs",), supported=False, leads=False,
        why_not="the stations end at 16 UTC 12 March 1993, before the low deepened: no station reports "
                "980 hPa or less (the whole file's lowest sea-level pressure is 993.1 hPa, at Shemya, Alaska) "
                "and no 3-h fall reaches the 6 hPa of idx-pressure-tendency (the largest is 5.3 hPa, at "
                "McAllen, Texas); the deepening rate from the hourly station minima within 1500 km is negative (1007.3 to "
                "1010.7 hPa in 10 h: the network's lowest report is not the low's centre, and the reports end before "
                "the deepening)",
        signals=("strong_gradient_winds",)),
]


def _subset(row: Row, tmp_path: Path, data_dir: Path) -> Path:
    src = yaml.safe_load((CATALOGUE / f"{row.case}.yaml").read_text())
    files = [f for f in src["files"] if any(role_matches(f["role"], p) for p in row.roles)]
    assert files and len(files) <= len(src["files"])
    case = {"id": f"{row.case}-{row.kind.replace('_', '-')}-only", "title": f"{src['title']} ({row.kind} only)",
            "time": str(src["time"]), "location": src["location"], "files": files, "data_dir": str(data_dir)}
    path = tmp_path / f"{case['id']}.yaml"
    path.write_text(yaml.safe_dump(case, sort_keys=False))
    return path


def _expected(case: str) -> tuple[set[str], bool]:
    """The hazard labels that name the case's recorded events, and whether the record is
    'none' (the right answer accepts no severe hazard)."""
    table, _ = event_table()
    events = [e["type"] for e in yaml.safe_load((CATALOGUE / f"{case}.yaml").read_text())["events"]]
    severe = [e for e in events if e != "none"]
    return set().union(*(table[e] for e in severe)) if severe else {NULL}, not severe


_RUNS: dict = {}


@pytest.fixture(scope="module")
def matrix_run(tmp_path_factory, data_dir):
    def run(row: Row) -> dict:
        if row.id not in _RUNS:
            tmp = tmp_path_factory.mktemp(row.id)
            _RUNS[row.id] = diagnose(str(_subset(row, tmp, data_dir)),
                                     Configuration(out_dir=str(tmp / "out"), figures=False))
        return _RUNS[row.id]

    return run


def _leading(state: dict) -> dict:
    """The hypothesis the run ranks first among those it could weigh: accepted ones first,
    then by posterior (a hypothesis no check could test is not a contender)."""
    weighed = [h for h in state["hypotheses"] if h["status"] != "not_assessed"]
    assert weighed, "no hypothesis could be weighed"
    return max(weighed, key=lambda h: (h["status"] == "supported", h["posterior"]))


@pytest.mark.parametrize("row", MATRIX, ids=[r.id for r in MATRIX])
def test_one_kind_of_data_raises_and_leads_with_the_recorded_hazard(row, matrix_run):
    state = matrix_run(row)
    read = {f["role"] for e in state["evidence"] for f in e.get("files", []) if f.get("role") not in (None, "", "case")}
    assert read and all(any(role_matches(r, p) for p in row.roles) for r in read), read  # that kind only
    ok = {e["tool"] for e in state["evidence"] if e["origin"] == "screen" and e["ok"]}
    assert set(row.screened) <= ok, f"not screened: {set(row.screened) - ok}"
    found = {s["id"] for s in state["signals"]}
    assert set(row.signals) <= found, f"missing detectors: {set(row.signals) - found}"
    expected, null_record = _expected(row.case)
    proposed = {h["hazard"] for h in state["hypotheses"]}
    if not null_record:
        assert proposed & expected, f"none of {sorted(expected)} proposed; got {sorted(proposed)}"
        assert not row.leads or _leading(state)["hazard"] in expected, [(h["hazard"], h["posterior"], h["status"])
                                                       for h in state["hypotheses"]]
    else:  # a null record: whatever is weighed, no warning-level hazard is accepted
        assert not [h for h in state["hypotheses"] if h["status"] == "supported" and h["hazard"] != NULL]


@pytest.mark.parametrize("row", [pytest.param(r, marks=pytest.mark.xfail(strict=True, reason=r.why_not))
                                 if not r.supported else r for r in MATRIX], ids=[r.id for r in MATRIX])
def test_one_kind_of_data_accepts_the_recorded_hazard(row, matrix_run):
    state = matrix_run(row)
    expected, null_record = _expected(row.case)
    supported = {h["hazard"] for h in state["hypotheses"] if h["status"] == "supported"}
    lead = _leading(state)
    if null_record and row.kind != "sounding":
        # radar alone cannot show a stable column: accepting no hazard is the right answer
        assert not supported - {NULL}, supported
        return
    assert lead["status"] == "supported" and lead["hazard"] in expected, \
        [(h["hazard"], round(h["posterior"], 3), h["status"]) for h in state["hypotheses"]]
    if not null_record:
        assert not supported & {NULL}
