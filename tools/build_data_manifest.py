#!/usr/bin/env python3
"""Build ``hvrmet/data/registry.tsv``, the project's data registry, from a data folder.

The data folder's ``MANIFEST.tsv`` names each file's public repository, the commit it
was taken from, its path there and its sha256. This script turns every data file in it
into a registry row: the key (the file's path inside the data folder), the public URL
it is fetched from on a connected machine, its sha256 and size, and what it is.

Licence files, READMEs and upstream checksum lists are left out: they are not data.

Usage::

    python tools/build_data_manifest.py ../shared/data/MANIFEST.tsv hvrmet/data/registry.tsv
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

#: Raw-file address of each upstream repository. MetPy's test data are fetched by tag,
#: as MetPy's own pooch does; the others by the commit recorded in the manifest.
URL_TEMPLATES = {
    "Unidata/MetPy": "https://github.com/Unidata/MetPy/raw/v1.7.1/{path}",
    "pySTEPS/pysteps-data": "https://raw.githubusercontent.com/pySTEPS/pysteps-data/{commit}/{path}",
    "openradar/open-radar-data": "https://raw.githubusercontent.com/openradar/open-radar-data/{commit}/{path}",
    "pydata/xarray-data": "https://raw.githubusercontent.com/pydata/xarray-data/{commit}/{path}",
}
SKIP_SUFFIXES = (".md", ".md5", "LICENSE", "registry.txt", "static-data-manifest.txt", ".xml")
COLUMNS = ["key", "url", "sha256", "size_bytes", "what", "event_date", "format", "license"]


def build(manifest: Path, out: Path) -> int:
    """Write the registry; return the number of rows written."""
    rows = []
    with manifest.open(newline="") as fh:
        for rec in csv.DictReader(fh, delimiter="\t"):
            key = rec["path"]
            if key.endswith(SKIP_SUFFIXES):
                continue
            repo = rec["source_repo"].split(" ")[0]
            template = URL_TEMPLATES[repo]
            url = template.format(commit=rec["commit"], path=rec["path_in_repo"])
            rows.append({
                "key": key, "url": url, "sha256": rec["sha256"],
                "size_bytes": rec["size_bytes"], "what": rec["what"],
                "event_date": rec["event_date"], "format": rec["format"],
                "license": rec["license"],
            })
    rows.sort(key=lambda r: r["key"])
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    n = build(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"wrote {n} rows to {sys.argv[2]}")
