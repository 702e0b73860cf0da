"""The contract every registered tool keeps: a valid OpenAI function schema, documented
inputs with units, a successful run on real data, and errors returned as results."""

import re

import pytest
from pydantic import Field

from hvrmet.cases import get_case, list_cases
from hvrmet.tools import ToolDefinitionError, ToolOutput, call_tool, get_tool, list_tools, tool
from hvrmet.tools.adapters import langchain_tools, openai_schema, openai_schemas
from hvrmet.tools.inputs import CaseInput, field_units, quantity
from hvrmet.tools.registry import _is_numeric

TOOLS = [t.name for t in list_tools()]
OPENAI_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

#: The real case each tool's example runs on here (the registry's examples name no case:
#: they fit any case with the tool's data). summarize_spc_outlook runs on a written case.
EXAMPLE_CASES = {
    **dict.fromkeys(("compute_divergence", "compute_frontogenesis", "compute_gridded_precipitable_water",
                     "compute_moisture_advection", "compute_moisture_flux_convergence", "compute_qvector_convergence",
                     "compute_temperature_advection", "compute_vorticity", "find_jet_maxima", "find_pressure_minimum",
                     "plot_field_map"), "cyclone2010"),
    **dict.fromkeys(("plot_nowcast_panels", "plot_nowcast_scores"), "fmi"),
    **dict.fromkeys(("plot_composite_sequence", "run_nowcast"), "fmi20170509"),
    **dict.fromkeys(("compute_field_anomaly",), "gfs20210130"),
    **dict.fromkeys(("locate_fronts",), "heatdome2021"),
    **dict.fromkeys(("summarize_wind_probability",), "henri2021"),
    **dict.fromkeys(("describe_case_setting", "summarize_radial_velocity"), "katrina2005"),
    **dict.fromkeys(("detect_debris_signature",), "klbb20160601"),
    **dict.fromkeys(("compute_bulk_shear", "compute_composite_reflectivity", "compute_downdraft_cape", "compute_echo_tops",
                     "compute_freezing_level", "compute_hail_parameter", "compute_helicity", "compute_lapse_rate",
                     "compute_mlcape", "compute_mucape", "compute_precipitable_water", "compute_sbcape",
                     "compute_stability_indices", "compute_storm_motion", "compute_supercell_composite",
                     "compute_tornado_parameter", "compute_vil", "detect_convective_line", "detect_rotation", "detect_weak_echo_region",
                     "detect_storm_cells", "estimate_hail_proxy", "find_max_reflectivity", "plot_composite_reflectivity",
                     "plot_hodograph", "plot_radar_ppi", "plot_skewt", "summarize_sounding"), "may1999"),
    **dict.fromkeys(("classify_heavy_rain", "compute_accumulation", "compute_area_over_threshold", "compute_motion_field",
                     "compute_rain_rate_stats", "compute_training_index", "classify_convective_stratiform"), "mch20150515"),
    **dict.fromkeys(("get_hail_index", "get_mesocyclones", "get_storm_structure", "get_storm_tracks", "get_tvs_detections",
                     "summarize_level3_field"), "mci20160526"),
    **dict.fromkeys(("compute_deepening_rate", "compute_pressure_tendency", "find_pressure_minimum_station",
                     "find_strongest_winds", "summarize_upper_air", "summarize_present_weather",
                     "summarize_station_temperatures"), "superstorm1993"),
}


def _example(name: str) -> dict:
    """A tool's example arguments on its test case."""
    return {"case": EXAMPLE_CASES.get(name, "no-case-for-this-tool"), **get_tool(name).example}


def test_registry_size():
    assert len(TOOLS) >= 35, TOOLS


def test_examples_name_no_case_and_each_has_a_test_case():
    """A registered example holds only the tool's own arguments: declaring one with a case
    is refused. Every tool has a case here that holds one of the roles it needs."""
    for name in TOOLS:
        t = get_tool(name)
        assert "case" not in t.example, name
        if name not in WRITTEN_CASES:
            assert set(t.needs) & set(get_case(EXAMPLE_CASES[name]).roles) or not t.needs, name
    assert set(EXAMPLE_CASES) | set(WRITTEN_CASES) == set(TOOLS)

    class In(CaseInput):
        """test model"""

    with pytest.raises(ToolDefinitionError, match="names a case"):
        @tool(category="context", outputs={"x": "1"}, example={"case": "may1999"})
        def report_nothing_here(args: In, ctx) -> ToolOutput:
            """A tool declared only to be refused."""


@pytest.mark.parametrize("name", TOOLS)
def test_schema_and_docs(name):
    t = get_tool(name)
    schema = openai_schema(t)
    fn = schema["function"]
    assert OPENAI_NAME.match(fn["name"]) and fn["name"] == name
    assert len(fn["description"]) > 20
    params = fn["parameters"]
    assert params["type"] == "object" and "case" in params["properties"]
    assert "$ref" not in str(params) and "$defs" not in params
    for fname, prop in params["properties"].items():
        assert prop.get("description"), f"{name}.{fname} undocumented"
    for fname, finfo in t.input_model.model_fields.items():
        if _is_numeric(finfo.annotation):
            units = field_units(t.input_model, fname)
            assert units is not None and f"[{units}]" in params["properties"][fname]["description"]
    assert t.outputs and all(isinstance(u, str) for u in t.outputs.values())


def _written_spc_case(tmp_path) -> str:
    """A case of an SPC outlook written here in SPC's GeoJSON layout (categorical and
    tornado layers): no real outlook is in the data folder (docs/data-scope.md)."""
    import json

    from hvrmet.cases.assemble import assemble_case, write_case

    def layer(name, feats):
        features = [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                     "properties": {"DN": dn, "VALID": "202105261300", "EXPIRE": "202105271200",
                                    "ISSUE": "202105260545", "LABEL": label, "LABEL2": label2}}
                    for dn, label, label2, ring in feats]
        (tmp_path / f"day1otlk_20210526_1300_{name}.lyr.geojson").write_text(
            json.dumps({"type": "FeatureCollection", "features": features}))

    box = [[-100, 33], [-95, 33], [-95, 38], [-100, 38], [-100, 33]]
    layer("cat", [(4, "SLGT", "Slight Risk", box)])
    layer("torn", [(5, "0.05", "5% Tornado Risk", box)])
    asm = assemble_case([tmp_path], case_id="spc-written", lat=35.3, lon=-97.5, time="2021-05-26T20:00:00Z")
    return str(write_case(asm.case, tmp_path / "spc.yaml"))


#: Tools whose input no file of the data folder holds: their run uses a case written by the
#: test (the tool's own values are tested in tests/test_spc_tool.py against shapely).
WRITTEN_CASES = {"summarize_spc_outlook": _written_spc_case}


@pytest.mark.parametrize("name", TOOLS)
def test_runs_on_real_data(data_dir, name, tmp_path):
    t = get_tool(name)
    args = _example(name)
    if name in WRITTEN_CASES:
        args["case"] = WRITTEN_CASES[name](tmp_path)
    res = call_tool(name, args)
    assert res.ok, res.error
    assert set(res.values) == set(t.outputs)
    assert res.files and all(len(f.sha256) == 64 for f in res.files)
    assert any(v.value is not None for v in res.values.values())
    for fig in res.figures:
        from pathlib import Path
        assert Path(fig.png).is_file() and Path(fig.sidecar).is_file()


def _case_without(needs: tuple[str, ...]) -> str:
    for c in list_cases():
        if not set(needs) & set(c.roles):
            return c.id
    raise AssertionError(f"every case has one of {needs}")


@pytest.mark.parametrize("name", TOOLS)
def test_bad_arguments_return_errors(data_dir, name):
    t = get_tool(name)
    res = call_tool(name, {**_example(name), "case": "no-such-case"})
    assert not res.ok and "unknown case" in res.error
    res = call_tool(name, {**_example(name), "bogus_argument": 1})
    assert not res.ok and res.error_type == "InvalidArguments"
    if t.needs:
        res = call_tool(name, {**_example(name), "case": _case_without(t.needs)})
        assert not res.ok and res.error, f"{name} ran on a case without {t.needs}"
    for fname, finfo in t.input_model.model_fields.items():
        units = field_units(t.input_model, fname)
        if units is None:
            continue
        wrong = "3 kg" if units not in ("kg", "g") else "3 m"
        res = call_tool(name, {**_example(name), fname: wrong})
        assert not res.ok and res.error_type == "InvalidArguments", (name, fname, res.error)
        hi = next((m.le for m in finfo.metadata if hasattr(m, "le")), None)
        if hi is not None:
            res = call_tool(name, {**_example(name), fname: hi * 10 + 1000})
            assert not res.ok and res.error_type == "InvalidArguments", (name, fname)


def test_units_are_converted(data_dir):
    """A quantity given with other units is converted, one without units taken as declared."""
    from hvrmet.tools.inputs import CaseInput, quantity

    class Depth(CaseInput):
        """test model"""
        depth: float = quantity(1.0, units="km", description="layer depth", ge=0, le=20)

    assert Depth(case="may1999", depth="3000 m").depth == pytest.approx(3.0)
    assert Depth(case="may1999", depth="2").depth == 2.0
    with pytest.raises(ValueError, match="depth"):
        Depth(case="may1999", depth="3 kg")


def test_bad_declarations_fail_at_definition():
    class NoUnits(CaseInput):
        """input model"""
        depth: float = Field(1.0, description="a depth")

    class Undocumented(CaseInput):
        """input model"""
        depth: float = quantity(1.0, units="km", description="")
        flag: bool = False

    def ok_doc(args: CaseInput, ctx) -> ToolOutput:
        """Compute something useful for the tests here."""
        return ToolOutput()

    def no_doc(args: CaseInput, ctx) -> ToolOutput:
        return ToolOutput()

    with pytest.raises(ToolDefinitionError, match="no docstring"):
        tool(category="sounding", outputs={"x": "1"}, example={}, name="make_nodoc")(no_doc)

    def units_missing(args: NoUnits, ctx) -> ToolOutput:
        """Compute something useful for the tests here."""
        return ToolOutput()

    with pytest.raises(ToolDefinitionError, match="states no units"):
        tool(category="sounding", outputs={"x": "1"}, example={}, name="make_nounits")(units_missing)

    def undocumented(args: Undocumented, ctx) -> ToolOutput:
        """Compute something useful for the tests here."""
        return ToolOutput()

    with pytest.raises(ToolDefinitionError, match="has no description"):
        tool(category="sounding", outputs={"x": "1"}, example={}, name="make_undoc")(undocumented)
    with pytest.raises(ToolDefinitionError, match="verb_noun"):
        tool(category="sounding", outputs={"x": "1"}, example={}, name="Bad-Name")(ok_doc)
    with pytest.raises(ToolDefinitionError, match="example arguments invalid"):
        tool(category="sounding", outputs={"x": "1"}, example={"bogus_argument": 1}, name="make_noexample")(ok_doc)
    assert "make_nodoc" not in TOOLS


def test_shared_quantities_are_checked_at_definition():
    def ok_doc(args: CaseInput, ctx) -> ToolOutput:
        """Compute something useful for the tests here."""
        return ToolOutput()

    with pytest.raises(ToolDefinitionError, match="'y', which is not among its outputs"):
        tool(category="radar", outputs={"x": "dBZ"}, example={}, name="make_noquantity",
             quantities={"y": "volume_max_reflectivity"})(ok_doc)
    with pytest.raises(ToolDefinitionError, match="snake_case"):
        tool(category="radar", outputs={"x": "dBZ"}, example={}, name="make_badquantity",
             quantities={"x": "Volume max"})(ok_doc)
    # the composite's maximum and the strongest gate are one quantity, in dBZ: not in mm/h
    with pytest.raises(ToolDefinitionError, match=r"is in 'mm/h', but \w+\.max_\w*reflectivity measures it in 'dBZ'"):
        tool(category="radar", outputs={"x": "mm/h"}, example={}, name="make_otherunits",
             quantities={"x": "volume_max_reflectivity"})(ok_doc)
    assert get_tool("find_max_reflectivity").quantities == {"max_reflectivity": "volume_max_reflectivity"}
    assert get_tool("compute_composite_reflectivity").quantities == {
        "max_composite_reflectivity": "volume_max_reflectivity"}
    assert not {"make_noquantity", "make_badquantity", "make_otherunits"} & {t.name for t in list_tools()}


def test_unknown_tool_is_an_error_result():
    res = call_tool("compute_everything", {"case": "may1999"})
    assert not res.ok and "known tools" in res.error


def test_adapters():
    schemas = openai_schemas()
    assert len(schemas) == len(TOOLS)
    lc = {t.name: t for t in langchain_tools("sounding")}
    assert "compute_sbcape" in lc
    import json
    out = json.loads(lc["compute_sbcape"].invoke({"case": "null-jan20"}))
    assert out["ok"] and out["values"]["sbcape"]["value"] == 0.0


def test_find_tool_returns_none_for_an_unknown_name():
    from hvrmet.tools import find_tool, get_tool

    assert find_tool("detect_rotation") is get_tool("detect_rotation")
    assert find_tool("detect_rotations") is None
    with pytest.raises(KeyError, match="known tools"):
        get_tool("detect_rotations")
