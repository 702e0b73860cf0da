"""Doppler-velocity tools: radial-velocity statistics and a VAD wind estimate, on a radar
volume of any format (a short adapter over :func:`hvrmet.calc.radar.radial_velocity_summary`;
needs a PPI with radial velocity)."""

from __future__ import annotations

import math

from pydantic import Field

from hvrmet.calc.radar import radial_velocity_summary, vad_fit
from hvrmet.errors import VariableMissing
from hvrmet.tools.context import ToolContext
from hvrmet.tools.inputs import WindowInput, quantity
from hvrmet.tools.radar import _window, _within  # the radar tools' window: the volume's time, the circle
from hvrmet.tools.registry import tool
from hvrmet.tools.results import ToolOutput, Value
from hvrmet.tools.window import windowed

__all__ = ["vad_fit"]


class VelocityInput(WindowInput):
    """A case, its radar-volume role, the window of the statistics and the VAD ring."""

    role: str = Field("radar_volume", description="case role of the radar volume (any radar format)")
    vad_range: float = quantity(30.0, units="km", description="slant range of the VAD ring", ge=5, le=150)
    min_reflectivity: float = quantity(5.0, units="dBZ", description="gates weaker than this are left out of the VAD", ge=-30, le=40)


@tool(category="radar", needs=("radar_volume",), example={},
      outputs=windowed({"max_outbound": "m/s", "max_inbound": "m/s", "fraction_over_20ms": "1",
                        "vad_wind_speed": "m/s", "vad_wind_direction": "degree", "vad_height": "m",
                        "vad_rms": "m/s", "elevation": "degree"}))
def summarize_radial_velocity(args: VelocityInput, ctx: ToolContext) -> ToolOutput:
    """Radial-velocity statistics of the lowest sweep with velocity, and a VAD wind.

    Strongest outbound and inbound radial velocity (m/s) and the fraction of valid gates
    with speed above 20 m/s, over the gates inside the window (the storm scale around the
    case's place by default; ``radius`` 230 takes the radar's view), and the horizontal
    wind over the radar from a velocity-azimuth display fit on one whole range ring
    (Browning and Wexler 1968, J. Appl. Meteor. 7, 105-113). No
    dealiasing is done: speeds near the Nyquist velocity may be folded, and the note says
    so.
    """
    import xarray as xr

    vol = ctx.load(args.role)
    if not isinstance(vol, xr.DataTree):
        raise VariableMissing(vol.attrs.get("source_file"), f"role {args.role!r} is not a radar volume (no sweeps)")
    win = _window(ctx, args, vol)
    res = radial_velocity_summary(vol, args.vad_range * 1000.0, args.min_reflectivity, within=_within(win))

    def num(x: float, nd: int):
        return None if not math.isfinite(x) else round(float(x), nd)

    out = {
        "max_outbound": Value(value=num(res["max_outbound"], 2), units="m/s"),
        "max_inbound": Value(value=num(res["max_inbound"], 2), units="m/s"),
        "fraction_over_20ms": Value(value=num(res["fraction_over_20ms"], 4), units="1"),
        "vad_wind_speed": Value(value=num(res["vad_speed"], 2), units="m/s"),
        "vad_wind_direction": Value(value=num(res["vad_direction"], 1), units="degree"),
        "vad_height": Value(value=round(res["vad_height_m"], 0), units="m"),
        "vad_rms": Value(value=num(res["vad_rms"], 2), units="m/s"),
        "elevation": Value(value=round(res["elevation"], 2), units="degree"),
    }
    nyq, s, el, height = res["nyquist"], res["sweep"], res["elevation"], res["vad_height_m"]
    warnings = ([f"velocities are not dealiased (Nyquist {nyq:.1f} m/s)"] if math.isfinite(nyq) and nyq > 0 else
                ["velocities are not dealiased (the file gives no Nyquist velocity)"])
    if not res["n_gates"]:
        warnings.append(f"no valid radial velocity {win.area_text()} on the lowest velocity sweep")
    if res["vad_gates"] < 30:
        warnings.append(f"VAD ring has only {res['vad_gates']} usable gates: no wind estimate")
    return win.finish(ToolOutput(values=out, warnings=warnings, summary=(
        f"{vol.attrs.get('instrument_name', '')} sweep {s} ({el:.1f} deg) {win.area_text()}: radial velocity "
        f"{out['max_inbound'].value} to {out['max_outbound'].value} m/s; VAD wind {out['vad_wind_speed'].value} m/s "
        f"from {out['vad_wind_direction'].value} deg at {height:.0f} m above the radar")))
