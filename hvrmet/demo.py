"""``make demo``: load the 3 May 1999 case and summarise what the data show.

At this stage of the project the demo decodes the KTLX volume and the OUN sounding and
reports the first facts a forecaster would look at: the strongest echo and where it is,
and the sounding's surface conditions and depth. The full diagnosis builds on this.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from hvrmet.cases import get_case, load_role

__all__ = ["run_demo", "volume_summary", "sounding_summary"]


def volume_summary(ds) -> dict:
    """Maximum reflectivity of a Level II volume, its gate position and sweep."""
    ref = ds["reflectivity"]
    idx = np.unravel_index(int(np.nanargmax(ref.values)), ref.shape)
    sweep, ray, gate = idx
    return {
        "radar_site": ds.attrs["radar_site"],
        "volume_start_time": ds.attrs["volume_start_time"],
        "sweeps": int(ds.sizes["sweep"]),
        "max_reflectivity_dBZ": float(ref.values[idx]),
        "lat": float(ds["lat"].values[idx]), "lon": float(ds["lon"].values[idx]),
        "azimuth_deg": float(ds["azimuth"].values[sweep, ray]),
        "range_km": float(ds["range"].values[gate]) / 1000.0,
        "elevation_deg": float(ds["fixed_angle"].values[sweep]),
        "gates_over_50dBZ": int((ref.values >= 50).sum()),
    }


def sounding_summary(ds) -> dict:
    """Surface pressure, temperature, dew point, wind and the sounding's top."""
    ok = ds["temperature"].notnull().values
    i = int(np.argmax(ok))
    return {
        "station": ds.attrs.get("station", ""), "time": ds.attrs.get("time", ""),
        "surface_pressure_hPa": float(ds["pressure"].values[i]),
        "surface_height_m": float(ds["height"].values[i]),
        "surface_temperature_degC": float(ds["temperature"].values[i]),
        "surface_dewpoint_degC": float(ds["dewpoint"].values[i]),
        "surface_wind": f"{ds['wind_direction'].values[i]:.0f} deg / {ds['wind_speed'].values[i]:.0f} kt",
        "top_pressure_hPa": float(ds.attrs["top_pressure_hPa"]),
        "levels": int(ds.sizes["level"]),
    }


def run_demo(out: Path, console: Console) -> dict:
    """Load ``may1999``, print a summary and write it to ``out/may1999_summary.json``."""
    case = get_case("may1999")
    console.rule(f"[bold]{case.id}[/bold]: {case.title}")
    t0 = time.perf_counter()
    vol = load_role(case, "radar_volume")
    t1 = time.perf_counter()
    snd = load_role(case, "sounding")
    t2 = time.perf_counter()
    v, s = volume_summary(vol), sounding_summary(snd)
    table = Table(title="KTLX Level II volume", title_justify="left")
    table.add_column("quantity")
    table.add_column("value")
    for k, val in v.items():
        table.add_row(k, f"{val:.3f}" if isinstance(val, float) else str(val))
    console.print(table)
    table = Table(title="OUN sounding", title_justify="left")
    table.add_column("quantity")
    table.add_column("value")
    for k, val in s.items():
        table.add_row(k, f"{val:.1f}" if isinstance(val, float) else str(val))
    console.print(table)
    console.print(f"decoded the volume in {t1 - t0:.2f} s and the sounding in {t2 - t1:.2f} s; "
                  f"volume sha256 {vol.attrs['sha256'][:16]}…")
    out.mkdir(parents=True, exist_ok=True)
    result = {"case": case.id, "radar_volume": v, "sounding": s,
              "sources": {"radar_volume": vol.attrs["sha256"], "sounding": snd.attrs["sha256"]}}
    (out / "may1999_summary.json").write_text(json.dumps(result, indent=1))
    console.print(f"wrote {out / 'may1999_summary.json'}")
    return result
