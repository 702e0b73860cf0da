"""Sounding tools: thermodynamic and kinematic indices of an upper-air sounding (MetPy).

A thin adapter: each tool reads the case's ``sounding`` role (or another role named by
``role``) and returns quantities with units from the science in
:mod:`hvrmet.calc.sounding`, which computes everything once per sounding. The reader's
notes (levels left out, a sounding that may be cut short) come back as warnings.
"""

from __future__ import annotations

import math

from pydantic import Field

from hvrmet.calc.sounding import diagnostics, profile_from_dataset
from hvrmet.tools.context import ToolContext
from hvrmet.tools.inputs import WindowInput
from hvrmet.tools.registry import tool
from hvrmet.tools.results import ToolOutput, Value
from hvrmet.tools.window import Window, windowed

__all__: list[str] = []


class SoundingInput(WindowInput):
    """A case, the role of its sounding, and the window the sounding should lie in."""

    role: str = Field("sounding", description="case role of the sounding to use")


def _sounding_window(args: SoundingInput, ctx: ToolContext, ds) -> tuple[Window, dict[str, Value]]:
    """The sounding's window (kind ``sounding``): its launch time against the case's time
    (flagged outside the time window: its numbers weigh less), and its station's distance
    and bearing from the place (a warning when beyond the radius)."""
    win = ctx.window("sounding", args)
    win.at(ds.attrs.get("time") or None, f"the sounding{' of ' + ds.attrs['station'] if ds.attrs.get('station') else ''}")
    lat, lon = ds.attrs.get("latitude"), ds.attrs.get("longitude")
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        lat = lon = None
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        lat = lon = None
        win.warnings.append("the sounding carries no station position: its distance from the place is unknown")
    where = win.from_place("station", lat, lon)
    where["station_distance"].note = "the sounding's station from the case's place"
    d = where["station_distance"].value
    if d is not None and win.radius_km is not None and d > win.radius_km:
        win.warnings.append(f"the sounding's station lies {d:.0f} km from the place, beyond the "
                            f"{win.radius_km:g} km a sounding stands for: its air mass may not be the place's")
    return win, where


def _output(args: SoundingInput, ctx: ToolContext, keys: tuple[str, ...]) -> ToolOutput:
    ds = ctx.load(args.role)
    win, where_values = _sounding_window(args, ctx, ds)
    prof = profile_from_dataset(ds)
    diag = diagnostics(prof)
    values = {k: Value(value=None if math.isnan(diag[k][0]) else round(diag[k][0], 4),
                       units=diag[k][1]) for k in keys}
    missing = [k for k, v in values.items() if v.value is None]
    notes = list(prof.notes)
    wind = next((n for n in notes if n.startswith("wind reaches only") or "has no wind" in n), "")
    by_reason: dict[str, list[str]] = {}  # one note per reason, naming every quantity it leaves out
    for k in missing:
        need = _NEEDS.get(k)
        why = "; ".join(x for x in (f"it needs {need}" if need else "", wind if need and "wind" in need else "") if x)
        by_reason.setdefault(why, []).append(k)
    for why, keys in by_reason.items():
        notes.append(", ".join(f"{k} not computable" for k in keys) + " from this sounding" + (f": {why}" if why else ""))
    where = f"{ds.attrs.get('station', '')} {ds.attrs.get('time', '')[:16]}".strip()
    shown = ", ".join(f"{k} {v.value:.4g} {v.units}" for k, v in values.items()
                      if isinstance(v.value, float))
    values.update(where_values)
    return win.finish(ToolOutput(values=values, summary=f"{where}: {shown}", warnings=notes))


#: What each kinematic quantity needs from the sounding (said when it cannot be computed).
_NEEDS = {
    "warm_layer_max_temperature": "a subfreezing layer at the ground (the surface is above 0 degC)",
    "warm_layer_depth": "a subfreezing layer at the ground (the surface is above 0 degC)",
    "shear_0_1km": "winds to 1 km above ground", "shear_0_3km": "winds to 3 km above ground",
    "shear_0_6km": "winds to 6 km above ground",
    "bunkers_right_u": "winds to 6 km above ground (Bunkers storm motion)",
    "bunkers_right_v": "winds to 6 km above ground (Bunkers storm motion)",
    "bunkers_right_speed": "winds to 6 km above ground (Bunkers storm motion)",
    "bunkers_right_direction": "winds to 6 km above ground (Bunkers storm motion)",
    "bunkers_left_u": "winds to 6 km above ground (Bunkers storm motion)",
    "bunkers_left_v": "winds to 6 km above ground (Bunkers storm motion)",
    "srh_0_1km": "a storm motion, from winds to 6 km above ground (Bunkers)",
    "srh_0_3km": "a storm motion, from winds to 6 km above ground (Bunkers)",
    "stp": "0-1 km storm-relative helicity and 0-6 km shear (winds to 6 km above ground)",
    "scp": "0-3 km storm-relative helicity and 0-6 km shear (winds to 6 km above ground)",
    "ship": "0-6 km shear (winds to 6 km above ground)",
}


def _sounding_tool(name: str, keys: dict[str, str], doc: str) -> None:
    def run(args: SoundingInput, ctx: ToolContext) -> ToolOutput:
        return _output(args, ctx, tuple(keys))

    run.__doc__ = doc
    run.__name__ = name
    run.__annotations__ = {"args": SoundingInput, "ctx": ToolContext, "return": ToolOutput}
    tool(category="sounding", outputs=windowed({**keys, "station_distance": "km", "station_bearing": "degree"}),
         example={}, needs=("sounding",))(run)


J = "J/kg"
_sounding_tool("summarize_sounding", {
    "sbcape": J, "sbcin": J, "mlcape": J, "mlcin": J, "mucape": J, "lcl_height": "m",
    "lifted_index": "delta_degC", "precipitable_water": "mm", "shear_0_1km": "m/s",
    "shear_0_6km": "m/s", "srh_0_1km": "m^2/s^2", "srh_0_3km": "m^2/s^2", "stp": "1", "scp": "1",
    "ship": "1", "dcape": J, "lapse_rate_700_500": "K/km", "freezing_level": "m"},
    """Screen a sounding: the main instability, moisture and shear indices in one call.

    Surface-based, mixed-layer (100 hPa) and most-unstable CAPE, CIN, LCL height, lifted
    index, precipitable water, 0-1 and 0-6 km bulk shear, 0-1 and 0-3 km storm-relative
    helicity (Bunkers right mover), significant tornado parameter (fixed layer),
    supercell composite parameter, significant hail parameter, downdraft CAPE, 700-500 hPa
    lapse rate and freezing level, all computed with MetPy.""")
_sounding_tool("compute_sbcape", {"sbcape": J, "sbcin": J, "lcl_pressure": "hPa", "lcl_height": "m",
                                  "lfc_pressure": "hPa", "lfc_height": "m", "el_pressure": "hPa",
                                  "el_height": "m"},
    """Surface-based CAPE and CIN, with the parcel's LCL, LFC and EL (pressure, height AGL).

    metpy.calc.surface_based_cape_cin, lcl, lfc and el on the surface parcel.""")
_sounding_tool("compute_mlcape", {"mlcape": J, "mlcin": J},
    """Mixed-layer CAPE and CIN of a parcel mixed over the lowest 100 hPa.

    metpy.calc.mixed_layer_cape_cin with depth 100 hPa.""")
_sounding_tool("compute_mucape", {"mucape": J, "mucin": J, "mu_parcel_pressure": "hPa",
                                  "mu_mixing_ratio": "g/kg"},
    """Most-unstable CAPE and CIN, with the most-unstable parcel's level and mixing ratio.

    metpy.calc.most_unstable_cape_cin over the lowest 300 hPa.""")
_sounding_tool("compute_stability_indices", {"lifted_index": "delta_degC", "k_index": "degC",
                                             "total_totals": "delta_degC", "showalter_index": "delta_degC"},
    """Classic stability indices: lifted index, K index, total totals and Showalter index.

    Need the sounding to reach 500 hPa; NaN with a note otherwise.""")
_sounding_tool("compute_precipitable_water", {"precipitable_water": "mm"},
    """Precipitable water of the sounding column (mm), metpy.calc.precipitable_water.""")
_sounding_tool("compute_bulk_shear", {"shear_0_1km": "m/s", "shear_0_3km": "m/s", "shear_0_6km": "m/s"},
    """Bulk wind shear magnitude over 0-1, 0-3 and 0-6 km above ground (m/s).

    metpy.calc.bulk_shear on the wind levels; a layer the wind data do not reach is NaN.""")
_sounding_tool("compute_storm_motion", {"bunkers_right_u": "m/s", "bunkers_right_v": "m/s",
                                        "bunkers_right_speed": "m/s", "bunkers_right_direction": "degree",
                                        "bunkers_left_u": "m/s", "bunkers_left_v": "m/s"},
    """Bunkers right- and left-mover supercell motion (m/s; direction the storm comes from).

    metpy.calc.bunkers_storm_motion (Bunkers et al. 2000).""")
_sounding_tool("compute_helicity", {"srh_0_1km": "m^2/s^2", "srh_0_3km": "m^2/s^2"},
    """Storm-relative helicity over 0-1 and 0-3 km for the Bunkers right mover (m2/s2).

    metpy.calc.storm_relative_helicity, total (positive plus negative) helicity.""")
_sounding_tool("compute_tornado_parameter", {"stp": "1"},
    """Significant tornado parameter, fixed-layer form (Thompson et al. 2003).

    metpy.calc.significant_tornado from SBCAPE, LCL height, 0-1 km SRH and 0-6 km shear.""")
_sounding_tool("compute_supercell_composite", {"scp": "1"},
    """Supercell composite parameter (Thompson et al. 2003, 2004).

    metpy.calc.supercell_composite from MUCAPE, 0-3 km SRH and 0-6 km bulk shear.""")
_sounding_tool("compute_hail_parameter", {"ship": "1"},
    """Significant hail parameter SHIP (SPC; Johnson and Sugden 2014).

    From MUCAPE, the most-unstable parcel's mixing ratio, the 700-500 hPa lapse rate, the
    500 hPa temperature, 0-6 km shear and the freezing level.""")
_sounding_tool("compute_downdraft_cape", {"dcape": J},
    """Downdraft CAPE (J/kg): the negative buoyancy of a saturated downdraft.

    metpy.calc.downdraft_cape.""")
_sounding_tool("compute_lapse_rate", {"lapse_rate_700_500": "K/km", "t500": "degC"},
    """700-500 hPa temperature lapse rate (K/km) and the 500 hPa temperature (degC).""")
_sounding_tool("compute_freezing_level", {"freezing_level": "m", "wet_bulb_zero_height": "m",
                                          "surface_cold_layer_depth": "m", "warm_layer_max_temperature": "degC",
                                          "warm_layer_depth": "m"},
    """Heights above ground of the 0 degC isotherm and of the 0 degC wet-bulb temperature, and the warm nose.

    The lowest crossing going up; 0 m when the surface is at or below 0 degC. Over a
    subfreezing layer at the ground (its depth), the highest temperature above it (the warm
    nose: above 0 degC, snow melts there and the drops refreeze below, the freezing-rain and
    ice-pellet profile) and the depth of that melting layer
    (:func:`hvrmet.calc.sounding.warm_nose`); not computable when the surface is above 0 degC.""")
