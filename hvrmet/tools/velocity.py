"""Doppler-velocity tools: radial-velocity statistics and a VAD wind estimate."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from hvrmet.errors import VariableMissing
from hvrmet.tools.context import ToolContext
from hvrmet.tools.inputs import CaseInput, quantity
from hvrmet.tools.registry import tool
from hvrmet.tools.results import ToolOutput, Value

__all__ = ["vad_fit"]


class VelocityInput(CaseInput):
    """A case, its radar-volume role, and the VAD ring."""

    role: str = Field("radar_volume", description="case role of the Level II volume")
    vad_range: float = quantity(30.0, units="km", description="slant range of the VAD ring", ge=5, le=150)
    min_reflectivity: float = quantity(5.0, units="dBZ", description="gates weaker than this are left out of the VAD", ge=-30, le=40)


def vad_fit(az_deg: np.ndarray, vr: np.ndarray) -> tuple[float, float, float, int]:
    """Least-squares VAD fit ``vr = a0 + a1 cos(az) + b1 sin(az)`` on one ring.

    Returns horizontal wind speed (m/s), the direction it blows from (degree), the RMS
    residual (m/s) and the number of gates used (Browning and Wexler 1968).
    """
    ok = np.isfinite(az_deg) & np.isfinite(vr)
    if ok.sum() < 30:
        return float("nan"), float("nan"), float("nan"), int(ok.sum())
    a = np.deg2rad(az_deg[ok])
    design = np.column_stack([np.ones(a.size), np.cos(a), np.sin(a)])
    coef, *_ = np.linalg.lstsq(design, vr[ok], rcond=None)
    # radial velocity (positive away): vr = u sin(az) + v cos(az) at low elevation
    v, u = coef[1], coef[2]
    speed = float(np.hypot(u, v))
    direction = float((np.rad2deg(np.arctan2(-u, -v))) % 360.0)
    rms = float(np.sqrt(np.mean((design @ coef - vr[ok]) ** 2)))
    return speed, direction, rms, int(ok.sum())


@tool(category="radar", needs=("radar_volume",), example={"case": "katrina2005"},
      outputs={"max_outbound": "m/s", "max_inbound": "m/s", "fraction_over_20ms": "1",
               "vad_wind_speed": "m/s", "vad_wind_direction": "degree", "vad_height": "m",
               "vad_rms": "m/s", "elevation": "degree"})
def summarize_radial_velocity(args: VelocityInput, ctx: ToolContext) -> ToolOutput:
    """Radial-velocity statistics of the lowest sweep with velocity, and a VAD wind.

    Strongest outbound and inbound radial velocity (m/s), the fraction of valid gates
    with speed above 20 m/s, and the horizontal wind from a velocity-azimuth display fit
    on one range ring (Browning and Wexler 1968, J. Appl. Meteor. 7, 105-113). No
    dealiasing is done: speeds near the Nyquist velocity may be folded, and the note says
    so.
    """
    ds = ctx.load(args.role)
    if "radial_velocity" not in ds:
        raise VariableMissing(ds.attrs.get("source_file"), "the volume has no radial velocity")
    vel = ds["radial_velocity"]
    rdim = [d for d in vel.dims if d.startswith("range")][0]
    have = np.isfinite(vel.values).reshape(vel.shape[0], -1).any(axis=1)
    if not have.any():
        raise VariableMissing(ds.attrs.get("source_file"), "no sweep carries radial velocity")
    s = int(np.flatnonzero(have)[np.argmin(ds.fixed_angle.values[have])])
    v = vel.values[s]
    valid = np.isfinite(v)
    rng = ds[rdim].values
    gate = int(np.argmin(np.abs(rng - args.vad_range * 1000.0)))
    ring = v[:, gate].copy()
    if "reflectivity" in ds:
        refd = [d for d in ds.reflectivity.dims if d.startswith("range")][0]
        same = [k for k in range(ds.sizes["sweep"]) if abs(float(ds.fixed_angle[k]) - float(ds.fixed_angle[s])) < 0.3
                and np.isfinite(ds.reflectivity.values[k]).any()]
        if same:
            rg = int(np.argmin(np.abs(ds[refd].values - rng[gate])))
            zring = ds.reflectivity.values[same[0], :, rg]
            az_z = ds.azimuth.values[same[0]]
            zi = np.interp(ds.azimuth.values[s], az_z[np.isfinite(az_z)], zring[np.isfinite(az_z)],
                           period=360.0)
            ring[~(zi >= args.min_reflectivity)] = np.nan
    speed, direction, rms, n = vad_fit(ds.azimuth.values[s], ring)
    el = float(ds.fixed_angle.values[s])
    height = float(rng[gate] * np.sin(np.deg2rad(el)) + rng[gate] ** 2 / (2 * 4 / 3 * 6371008.8))
    nyq = float(ds.nyquist_velocity.values[s]) if "nyquist_velocity" in ds else float("nan")
    out = {
        "max_outbound": Value(value=round(float(np.nanmax(v)), 2), units="m/s"),
        "max_inbound": Value(value=round(float(np.nanmin(v)), 2), units="m/s"),
        "fraction_over_20ms": Value(value=round(float((np.abs(v[valid]) > 20).mean()), 4), units="1"),
        "vad_wind_speed": Value(value=None if np.isnan(speed) else round(speed, 2), units="m/s"),
        "vad_wind_direction": Value(value=None if np.isnan(direction) else round(direction, 1), units="degree"),
        "vad_height": Value(value=round(height, 0), units="m"),
        "vad_rms": Value(value=None if np.isnan(rms) else round(rms, 2), units="m/s"),
        "elevation": Value(value=round(el, 2), units="degree"),
    }
    warnings = [f"velocities are not dealiased (Nyquist {nyq:.1f} m/s)"] if np.isfinite(nyq) and nyq > 0 else []
    if n < 30:
        warnings.append(f"VAD ring has only {n} usable gates: no wind estimate")
    return ToolOutput(values=out, warnings=warnings, summary=(
        f"{ds.attrs.get('radar_site', '')} sweep {s} ({el:.1f} deg): radial velocity {out['max_inbound'].value} to "
        f"{out['max_outbound'].value} m/s; VAD wind {out['vad_wind_speed'].value} m/s from "
        f"{out['vad_wind_direction'].value} deg at {height:.0f} m above the radar"))
