"""The run lifecycle: one object (:class:`Run`) that starts, streams, resumes, pauses for
review, takes sign-offs, forks, adds a forecaster's check and writes the report, over one
SQLite store (:class:`RunStore`). Used by ``hvrmet diagnose``, the chat (terminal and web),
batch, the benchmark and the Python API."""

from __future__ import annotations

from hvrmet.runs.lifecycle import OnUpdate, Run, diagnose
from hvrmet.runs.result import DiagnosisResult
from hvrmet.runs.store import RunStore, ThreadBusy

__all__ = ["Run", "RunStore", "ThreadBusy", "DiagnosisResult", "OnUpdate", "diagnose", "list_runs"]


def list_runs(out_dir: str) -> list[dict]:
    """Past runs in ``<out_dir>/runs.sqlite``, newest first."""
    with RunStore(out_dir) as store:
        return store.list_runs()
