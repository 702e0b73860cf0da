"""The package's data files as real paths, through :mod:`importlib.resources`.

Cards, vocabularies and task sets ship inside the package (see ``[tool.setuptools.package-data]``
in pyproject.toml). In an ordinary install or a source tree the resource *is* a folder on
disk and its path is returned as it is; from a zip import it is extracted once per process
into a temporary folder (removed at exit).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["package_path", "load_yaml"]


def _copy(src: Traversable, dest: Path) -> None:
    if src.is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        for child in src.iterdir():
            _copy(child, dest / child.name)
    else:
        dest.write_bytes(src.read_bytes())


@functools.cache
def package_path(package: str, *parts: str) -> Path:
    """The path of ``parts`` inside ``package`` (a file or a folder)."""
    res = resources.files(package).joinpath(*parts)
    if isinstance(res, Path):
        return res
    tmp = Path(tempfile.mkdtemp(prefix="hvrmet-res-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    dest = tmp.joinpath(*parts) if parts else tmp / "root"
    _copy(res, dest)
    return dest


def load_yaml(text: str):
    """``yaml.safe_load`` through libyaml's C loader when PyYAML was built with it (the same
    safe subset, several times faster on the knowledge cards), else the pure-Python one."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
