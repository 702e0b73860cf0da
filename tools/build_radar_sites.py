#!/usr/bin/env python3
"""Build ``hvrmet/data/radar_sites.csv``, the WSR-88D and TDWR site table, from Py-ART.

Where the numbers come from
---------------------------
Coordinates and elevations: Py-ART, PyPI distribution ``arm_pyart`` version 2.3.0
(BSD-3-Clause licence, https://github.com/ARM-DOE/pyart), file
``pyart/io/nexrad_common.py``, dict ``NEXRAD_LOCATIONS`` (``{"KTLX": {"lat": ..., "lon":
..., "elev": ...}, ...}``). Py-ART's comment says the WSR-88D rows were taken from NOAA's
Historical Observing Metadata Repository (HOMR) on 2014-03-27, and KHDC by hand from NWS
SCN 24-11; the source of its TDWR rows is not stated. ``elev`` is in feet (Py-ART's own
``get_nexrad_location`` multiplies it by 0.3048); it is written here in metres, to 0.1 m.
Py-ART marks an unknown elevation with ``-99999``; such rows get ``nan``.

Names (optional): the source distribution of ``recast-radar`` 0.1.3 (PyPI; MIT OR
Apache-2.0 licence), file ``crates/recast-radar-data/src/embedded_sites.rs``, whose
``EMBEDDED_SITES`` table was generated from the NWS API ``api.weather.gov/radar/stations``
(US Government work) on 2026-06-11. Only its names are used; a site it lacks gets an empty
name. Its coordinates are used only for a cross-check, printed to stderr when they differ
from Py-ART's by more than 1 km.

Network: Py-ART does not say which network a site belongs to. TDWR ids are ``T`` plus
the airport code; every ``T`` id is taken as TDWR except ``TJUA`` (the San Juan WSR-88D).
Every other id (``K``, ``P``, ``R``, ``L``...) is WSR-88D.

Getting the sources (Python 3.11, standard library only; Py-ART is never imported)::

    pip install --no-deps arm_pyart==2.3.0     # any environment; or instead:
    pip download --no-deps arm_pyart==2.3.0 -d /tmp/pyart_dl   # and pass --pyart the wheel
    # the sdist (recast_radar-0.1.3.tar.gz), on a machine that also reaches crates.io:
    pip download --no-deps --no-binary recast-radar recast-radar==0.1.3 -d /tmp/rr_dl
    # (without crates.io, pip stops after unpacking: add --no-clean and pass the kept
    #  /tmp/pip-download-*/recast-radar_*/crates/recast-radar-data/src/embedded_sites.rs)

Usage::

    python tools/build_radar_sites.py [--pyart WHEEL|SDIST|nexrad_common.py]
        [--names SDIST|embedded_sites.rs] [--output hvrmet/data/radar_sites.csv]

Without ``--pyart`` the file is found in the installed ``arm_pyart`` distribution.
This script is a maintainer tool: hvrmet never imports it.
"""

from __future__ import annotations

import argparse
import ast
import csv
import importlib.metadata
import math
import re
import sys
import tarfile
import zipfile
from pathlib import Path

PYART_DIST = "arm_pyart"
PYART_MEMBER = "pyart/io/nexrad_common.py"
PYART_DICT = "NEXRAD_LOCATIONS"
NAMES_MEMBER = "crates/recast-radar-data/src/embedded_sites.rs"
FEET_TO_METRES = 0.3048
MISSING_ELEVATION = -99999
WSR88D_WITH_T_ID = frozenset({"TJUA"})
CROSS_CHECK_KM = 1.0
COLUMNS = ["site", "name", "network", "latitude", "longitude", "elevation_m"]
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "hvrmet" / "data" / "radar_sites.csv"

#: One ``("ID", "Name", lat, lon),`` row of recast-radar's ``EMBEDDED_SITES``.
_NAME_ROW = re.compile(
    r'\(\s*"([A-Z0-9]+)"\s*,\s*"((?:[^"\\]|\\.)*)"\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)'
)


def _read_member(path: Path, member: str) -> str:
    """Text of ``member`` (a path ending) inside a wheel/zip or sdist tarball, or of
    ``path`` itself when it is a plain file."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.endswith(member)]
            if len(names) == 1:
                return zf.read(names[0]).decode("utf-8-sig")
    elif tarfile.is_tarfile(path):
        with tarfile.open(path) as tf:
            infos = [m for m in tf.getmembers() if m.isfile() and m.name.endswith(member)]
            if len(infos) == 1:
                fh = tf.extractfile(infos[0])
                assert fh is not None
                return fh.read().decode("utf-8-sig")
    else:
        return path.read_text(encoding="utf-8-sig")
    raise SystemExit(f"{path}: expected exactly one member ending in {member}")


def _installed_pyart_file() -> Path:
    """``nexrad_common.py`` of the installed ``arm_pyart``, located without importing it."""
    try:
        dist = importlib.metadata.distribution(PYART_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(f"{PYART_DIST} is not installed; pip install it or pass --pyart") from None
    path = Path(str(dist.locate_file(PYART_MEMBER)))
    print(f"source: {PYART_DIST} {dist.version} ({path})", file=sys.stderr)
    return path


def read_pyart_locations(source: str) -> dict[str, dict[str, float]]:
    """``NEXRAD_LOCATIONS`` from Py-ART's source text, read with ``ast`` (never imported)."""
    tree = ast.parse(source)
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == PYART_DICT):
            value = ast.literal_eval(node.value)
            if not isinstance(value, dict):
                raise SystemExit(f"{PYART_DICT} is not a dict")
            return value
    raise SystemExit(f"no {PYART_DICT} assignment in Py-ART's {PYART_MEMBER}")


def read_names(source: str) -> dict[str, tuple[str, float, float]]:
    """``{id: (name, lat, lon)}`` from recast-radar's ``embedded_sites.rs``."""
    rows = {m[1]: (m[2].replace('\\"', '"'), float(m[3]), float(m[4]))
            for m in _NAME_ROW.finditer(source)}
    if not rows:
        raise SystemExit("no site rows found in the names file")
    return rows


def network_of(site: str) -> str:
    """``TDWR`` for ``T`` ids other than ``TJUA``, else ``WSR-88D``."""
    return "TDWR" if site.startswith("T") and site not in WSR88D_WITH_T_ID else "WSR-88D"


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on a 6371 km sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def build_rows(locations: dict[str, dict[str, float]],
               names: dict[str, tuple[str, float, float]] | None) -> list[dict[str, str]]:
    """CSV rows, sorted by site id; cross-check notes go to stderr."""
    rows = []
    for site in sorted(locations):
        loc = locations[site]
        lat, lon, elev_ft = float(loc["lat"]), float(loc["lon"]), loc["elev"]
        if not (-90 <= lat <= 90 and -180 <= lon <= 180 and len(site) == 4):
            raise SystemExit(f"{site}: implausible entry {loc}")
        elevation = "nan" if elev_ft == MISSING_ELEVATION else f"{elev_ft * FEET_TO_METRES:.1f}"
        name = ""
        if names is not None:
            if site in names:
                name, nlat, nlon = names[site]
                km = _distance_km(lat, lon, nlat, nlon)
                if km > CROSS_CHECK_KM:
                    print(f"note: {site} Py-ART ({lat}, {lon}) and names source ({nlat}, {nlon})"
                          f" are {km:.1f} km apart", file=sys.stderr)
            else:
                print(f"note: {site} has no name in the names source", file=sys.stderr)
        if elevation == "nan":
            print(f"note: {site} has no elevation in Py-ART (-99999)", file=sys.stderr)
        rows.append({"site": site, "name": name, "network": network_of(site),
                     "latitude": repr(lat), "longitude": repr(lon), "elevation_m": elevation})
    return rows


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build the table and write it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pyart", type=Path, help="arm_pyart wheel/sdist or nexrad_common.py")
    parser.add_argument("--names", type=Path, help="recast-radar sdist or embedded_sites.rs")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    pyart_path = args.pyart if args.pyart is not None else _installed_pyart_file()
    locations = read_pyart_locations(_read_member(pyart_path, PYART_MEMBER))
    names = read_names(_read_member(args.names, NAMES_MEMBER)) if args.names else None
    if names is None:
        print("note: no --names given; the name column is left empty", file=sys.stderr)
    rows = build_rows(locations, names)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    counts = {net: sum(r["network"] == net for r in rows) for net in ("WSR-88D", "TDWR")}
    print(f"wrote {len(rows)} sites {counts} to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
