"""A storm's structure from one radar volume: the velocity couplet and the weak-echo region
under its echo overhang, drawn on the low-layer and mid-layer reflectivity around them.

    python examples/storm_structure.py [CASE] [--out DIR]
"""

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import hvrmet
from hvrmet.calc import radar as rc

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("case", nargs="?", default="may1999")
ap.add_argument("--out", default=".")
args = ap.parse_args()

wer = hvrmet.call_tool("detect_weak_echo_region", {"case": args.case})
rot = hvrmet.call_tool("detect_rotation", {"case": args.case})
for res in (wer, rot):
    print(res.summary if res.ok else f"{res.tool}: {res.error}")
if not (wer.ok and wer.values["wer_flag"].value):
    raise SystemExit(0)

vol = hvrmet.load_case(args.case)["radar_volume"]
grid = rc.weak_echo_regions(vol, max_range_m=230000.0)
lat, lon = grid["lat"], grid["lon"]
c_lat, c_lon = wer.value("wer_lat"), wer.value("wer_lon")
# a 60 km box around the region
near = (np.abs(lat - c_lat) < 0.3) & (np.abs(lon - c_lon) < 0.3 / np.cos(np.radians(c_lat)))
rows, cols = np.nonzero(near)
box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
fig, axes = plt.subplots(1, 2, figsize=(11, 5), sharey=True, layout="constrained")
for ax, key, title in zip(axes, ("low_max", "mid_max"), ("below 2 km", "4-7 km above the radar")):
    mesh = ax.pcolormesh(lon[box], lat[box], grid[key][box], vmin=0, vmax=70, cmap="turbo", shading="nearest")
    ax.contour(lon[box], lat[box], (grid["labels"][box] > 0).astype(float), levels=[0.5], colors="white",
               linewidths=2)
    if rot.ok and rot.values["couplet_lat"].value is not None:
        ax.plot(rot.value("couplet_lon"), rot.value("couplet_lat"), marker="o", mfc="none", mec="k", ms=14, mew=2)
    ax.set_title(f"strongest echo {title}")
    ax.set_xlabel("longitude (degree east)")
axes[0].set_ylabel("latitude (degree north)")
fig.colorbar(mesh, ax=axes, label="reflectivity (dBZ)")
fig.suptitle(f"{args.case}: weak-echo region (white) and velocity couplet (circle)")
out = Path(args.out) / f"{args.case}_storm_structure.png"
fig.savefig(out, dpi=100)
print(f"wrote {out}")
