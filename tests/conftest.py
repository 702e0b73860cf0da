"""Shared fixtures: the real data folder and decoded real cases (cached per session)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


def _data_dir() -> Path | None:
    env = os.environ.get("HVRMET_DATA_DIR")
    if env and Path(env, "MANIFEST.tsv").is_file():
        return Path(env)
    here = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    if (here / "MANIFEST.tsv").is_file():
        os.environ["HVRMET_DATA_DIR"] = str(here.resolve())
        return here.resolve()
    return None


DATA_DIR = _data_dir()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data folder (``HVRMET_DATA_DIR``, or ``../shared/data`` beside the repo)."""
    if DATA_DIR is None:
        pytest.fail("the real data are not available: set HVRMET_DATA_DIR to a folder laid "
                    "out like the data registry (../shared/data beside the repository)")
    return DATA_DIR


_CACHE: dict = {}


@pytest.fixture(scope="session")
def load():
    """``load(case_id, role)`` -> decoded dataset, decoded once per test session and
    shared with the tools (the same per-process cache the tools read through)."""
    from hvrmet.tools.context import ToolContext

    def _load(case_id: str, role: str):
        key = (case_id, role)
        if key not in _CACHE:
            _CACHE[key] = ToolContext(case_id).load(role)
        return _CACHE[key]

    return _load
