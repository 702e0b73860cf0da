"""Bounded unit parsing: good strings read as pint reads them; hostile strings fail at once,
naming the argument, before pint evaluates anything; a tool call with one returns an error.

No wall-clock assertion: a hostile parse runs in a worker process with a generous limit
only so that a regression hangs neither the suite nor the machine."""

from __future__ import annotations

import multiprocessing as mp

import pytest
from metpy.units import units as pint_units

from hvrmet.errors import HvrmetError, UnitsError
from hvrmet.units import MAX_LENGTH, format_units, parse_quantity, parse_units

GOOD_QUANTITIES = ["3 km", "3km", "500 hPa", "1.5e3 m", "-3 degC", ".5 m", "+2 km", "10 %",
                   "25 kt", "25 knots", "2500 J/kg", "2500 J kg-1", "12 m s-1", "12 m s**-1",
                   "100 m^2/s^2", "100 m2 s-2", "4 g/kg/h", "30 kg/(m^2 s)", "7", "1e-3"]
GOOD_UNITS = ["km", "m/s", "m s-1", "m s**-1", "J/kg", "J kg-1", "degC", "delta_degC", "kt",
              "knots", "%", "percent", "hPa", "1/s", "K/km", "kg/m^2", "m^2/s^2", "(m/s)**2",
              "g/kg/h", "dBZ", "degree_north", "m ** 2"]
DIMENSIONLESS = ["", "1", "dimensionless"]

HOSTILE = {
    "power tower": "9**9**9 km",
    "huge exponent": "1e999999 m",
    "infinite number": "1e400 m",
    "long": "1" * (MAX_LENGTH + 1) + " m",
    "repeated km": "km" * 1000,
    "many units": "km " * 20,
    "python": "__import__('os').system('true')",
    "dunder attribute": "km.__class__",
    "nested parentheses": "((((m))))",
    "big power": "m**999",
    "power of a power": "m**2**3",
    "fractional power": "m**1.5",
    "unknown unit": "furlongs_per_fortnight_x",
    "statement": "m; s",
    "newline": "m\ns",
    "lambda": "lambda x: x",
    "number inside": "2 m 3",
    "dangling operator": "m/",
    "unbalanced": "(m",
}


@pytest.mark.parametrize("text", GOOD_QUANTITIES)
def test_good_quantity_same_as_pint(text):
    q = parse_quantity(text, name="x")
    ref = pint_units.Quantity(text)  # pint directly: the independent reading
    assert q.dimensionality == ref.dimensionality
    assert q.units == ref.units
    assert q.magnitude == pytest.approx(ref.magnitude)


@pytest.mark.parametrize("text", GOOD_UNITS)
def test_good_units_same_as_pint(text):
    u = parse_units(text, name="x")
    ref = pint_units.parse_units(text)
    assert u == ref
    assert (1 * u).to(ref).magnitude == pytest.approx(1.0)


def test_expected_dimensions():
    """Spot checks by meaning, not by comparison with pint's own reading."""
    assert parse_quantity("3 km", name="x").to("m").magnitude == pytest.approx(3000.0)
    assert parse_quantity("500 hPa", name="x").to("Pa").magnitude == pytest.approx(50000.0)
    assert parse_quantity("1.5e3 m", name="x").to("km").magnitude == pytest.approx(1.5)
    assert parse_units("m s-1", name="x") == parse_units("m/s", name="x") == parse_units("m s**-1", name="x")
    assert parse_units("J kg-1", name="x") == parse_units("J/kg", name="x")
    assert parse_units("kt", name="x") == parse_units("knots", name="x")
    assert parse_units("%", name="x") == parse_units("percent", name="x")
    assert parse_quantity("10 %", name="x").to("dimensionless").magnitude == pytest.approx(0.1)


@pytest.mark.parametrize("text", DIMENSIONLESS)
def test_dimensionless_units(text):
    assert parse_units(text, name="x").dimensionless


def test_units_only_where_units_expected():
    with pytest.raises(UnitsError, match="units_arg"):
        parse_units("3 km", name="units_arg")


def test_format_units():
    assert format_units("m s-1") == "m/s"
    assert format_units("J kg-1") == "J/kg"
    assert format_units("1") == ""


@pytest.mark.parametrize("label", sorted(HOSTILE))
def test_hostile_fails_naming_argument(label):
    text = HOSTILE[label]
    with pytest.raises(UnitsError) as info:
        parse_quantity(text, name="resolution")
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, HvrmetError)
    assert str(err).startswith("resolution: ")
    assert err.name == "resolution"
    assert len(str(err)) < 400  # a long input is shortened in the message
    with pytest.raises(UnitsError, match="^depth: "):
        parse_units(text, name="depth")


def test_not_text():
    with pytest.raises(UnitsError, match="^x: "):
        parse_quantity(3.0, name="x")


def _parse_all_hostile(queue) -> None:
    out = []
    for text in HOSTILE.values():
        try:
            parse_quantity(text, name="resolution")
            out.append(f"accepted {text!r}")
        except UnitsError as exc:
            out.append(str(exc))
    queue.put(out)


def test_hostile_does_not_hang():
    """All the hostile strings parse (and fail) in a worker that must finish; the limit is
    a hang guard for a busy machine, not a speed requirement."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_parse_all_hostile, args=(queue,), daemon=True)
    proc.start()
    try:
        out = queue.get(timeout=120)
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
    assert len(out) == len(HOSTILE)
    assert all(line.startswith("resolution: ") for line in out), out


def test_tool_call_with_hostile_resolution():
    from hvrmet.tools import call_tool, get_tool
    from hvrmet.tools.inputs import field_units

    t = get_tool("compute_composite_reflectivity")
    assert field_units(t.input_model, "resolution") == "km"
    res = call_tool("compute_composite_reflectivity", {"case": "may1999", **t.example, "resolution": "9**9**9 km"})
    assert not res.ok
    assert res.error_type == "InvalidArguments"
    assert "resolution" in res.error and "9**9**9 km" in res.error


def test_tool_input_accepts_quantities():
    """The input model converts a string with units to the field's units; wrong
    dimensions and hostile strings are rejected naming the field."""
    from pydantic import ValidationError

    from hvrmet.tools import get_tool

    model = get_tool("compute_composite_reflectivity").input_model
    assert model.model_validate({"case": "may1999", "resolution": "1500 m"}).resolution == pytest.approx(1.5)
    assert model.model_validate({"case": "may1999", "resolution": "2"}).resolution == pytest.approx(2.0)
    for bad in ("3 hPa", "m**999", "1e308 km"):
        with pytest.raises(ValidationError, match="resolution"):
            model.model_validate({"case": "may1999", "resolution": bad})
