"""The Python API: diagnose a case, load a case, call a tool.

>>> import hvrmet
>>> result = hvrmet.diagnose("mycase.yaml", figures=False)          # doctest: +SKIP
>>> result.outcome, [(h.hazard, h.status) for h in result.hypotheses]  # doctest: +SKIP
>>> case = hvrmet.load_case("mycase.yaml")                         # doctest: +SKIP
>>> hvrmet.call_tool("compute_sbcape", {"case": "mycase.yaml"}).values["sbcape"]  # doctest: +SKIP

Every function takes the same settings as the command line: the defaults, then the
environment (``HVRMET_<FIELD>``), then a TOML ``config`` file, then the keyword arguments
(see :class:`~hvrmet.agents.configuration.Configuration`).
"""

from __future__ import annotations

import os
from typing import Any

from hvrmet.agents.configuration import Configuration
from hvrmet.runs import DiagnosisResult, OnUpdate, Run
from hvrmet.tools.results import ToolResult

__all__ = ["diagnose", "load_case", "call_tool", "DiagnosisResult", "LoadedCase"]


def diagnose(case: str, *, data_dir: str | os.PathLike | None = None, out_dir: str | os.PathLike | None = None,
             brain: str | None = None, figures: bool | None = None, config: str | os.PathLike | None = None,
             thread_id: str | None = None, on_update: OnUpdate | None = None, **settings: Any) -> DiagnosisResult:
    """Diagnose a case with the H-V-R loop and return its result.

    Parameters
    ----------
    case
        A catalogue id (``hvrmet cases list``) or the path of a case file.
    data_dir
        The folder the case's relative file paths are read from.
    out_dir
        Where the runs database, the report and the figures go (``out`` by default).
    brain
        ``"offline"`` (the deterministic expert policy, default) or ``"openai"``.
    figures
        Draw the report's figures.
    config
        A TOML file of settings (after the environment, before the keyword arguments).
    thread_id
        The thread of the run (a new one when ``None``).
    on_update
        Called with ``(node, update)`` at every step, for live display.
    **settings
        Any other :class:`~hvrmet.agents.configuration.Configuration` field
        (``max_loops``, ``base_url``, ``model``, ``api_key`` ...).

    Returns
    -------
    DiagnosisResult
        The hypotheses with their statuses and posteriors, the evidence, the report's
        paths, and ``failure`` when the brain could not finish.
    """
    cfg = Configuration.resolve(config, brain=brain, figures=figures,
                                out_dir=str(out_dir) if out_dir is not None else None, **settings)
    with Run(cfg, thread_id=thread_id) as run:
        state = run.start(case, str(data_dir) if data_dir is not None else None, on_update)
        return DiagnosisResult.from_state(state, run.thread_id)


class LoadedCase:
    """A case and its data: ``case`` (the model: time, place, files and roles) and
    ``data[role]`` (the decoded xarray object of each role, decoded on first use)."""

    def __init__(self, case: str, data_dir: str | None = None) -> None:
        from hvrmet.tools.context import ToolContext

        self._ctx = ToolContext(case, data_dir)
        self.case = self._ctx.case

    @property
    def roles(self) -> list[str]:
        return list(self.case.roles)

    def __getitem__(self, role: str) -> Any:
        return self._ctx.load(role)

    @property
    def data(self) -> dict[str, Any]:
        """Every role decoded (each file read once per process)."""
        return {role: self._ctx.load(role) for role in self.case.roles}

    def __repr__(self) -> str:
        return f"LoadedCase({self.case.id!r}, roles={self.roles})"


def load_case(case: str, data_dir: str | os.PathLike | None = None) -> LoadedCase:
    """A case (catalogue id or case-file path) with its data, decoded on first use
    (``loaded["radar"]``); unknown or unreadable inputs raise :class:`~hvrmet.errors.HvrmetError`."""
    return LoadedCase(case, str(data_dir) if data_dir is not None else None)


def call_tool(name: str, args: dict[str, Any] | None = None, *, out_dir: str | os.PathLike | None = None) -> ToolResult:
    """Run one registry tool (``hvrmet tools list``) with its arguments; errors come back in
    the result (``result.ok`` false, ``result.error`` the reason), never raised."""
    from hvrmet.tools import call_tool as _call

    return _call(name, dict(args or {}), out_dir=str(out_dir) if out_dir is not None else None)
