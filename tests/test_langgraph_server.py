"""The LangGraph server entry: ``langgraph dev --config <repo>/langgraph.json`` serves the
diagnosis graph from any working directory, offline, and two served runs never share a
report folder.

The server runs in-memory (``langgraph-cli[inmem]``) from a temporary working directory, so
its ``.langgraph_api/`` store lands there; the repository's copy of that folder is ignored.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import contextlib

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "langgraph.json"
GRAPH_ID = "hvrmet"

# Nothing phones home: CLI analytics, the PyPI version check, LangSmith tracing.
OFFLINE_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "MPLBACKEND": "Agg",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _langgraph_exe() -> str:
    exe = Path(sys.executable).with_name("langgraph")
    if exe.is_file():
        return str(exe)
    found = shutil.which("langgraph")
    if not found:
        pytest.fail("the langgraph CLI is not installed (pip install 'langgraph-cli[inmem]')")
    return found


def _untracked_langgraph_api() -> str:
    """What ``git status`` reports for ``.langgraph_api`` in the repository root."""
    res = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", ".langgraph_api"],
                         cwd=REPO, capture_output=True, text=True, check=True)
    return res.stdout.strip()


@contextlib.contextmanager
def serve(tmp_path: Path, data_dir: Path):
    """``langgraph dev`` started from a temporary cwd on the repository's config; yields
    ``(url, cwd)`` and stops the server (its whole process group) on leaving."""
    pytest.importorskip("langgraph_api", reason="needs langgraph-cli[inmem] (the test extra)")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **OFFLINE_ENV, "HVRMET_DATA_DIR": str(data_dir)}
    log = (tmp_path / "server.log").open("w")
    cmd = [_langgraph_exe(), "dev", "--config", str(CONFIG), "--host", "127.0.0.1", "--port", str(port),
           "--no-browser", "--no-reload", "--n-jobs-per-worker", "2"]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def tail() -> str:
        log.flush()
        return (tmp_path / "server.log").read_text(errors="replace")[-4000:]

    try:
        import httpx

        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"langgraph dev exited with {proc.returncode}:\n{tail()}")
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"langgraph dev did not answer at {url} within 180 s:\n{tail()}")
            time.sleep(0.5)
        yield url, cwd
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        log.close()


@pytest.mark.realdata
@pytest.mark.timeout(600)
def test_langgraph_dev_serves_the_graph_from_any_cwd(tmp_path, data_dir):
    from langgraph_sdk import get_sync_client

    had_store = (REPO / ".langgraph_api").exists()
    with serve(tmp_path, data_dir) as (url, cwd):
        assert cwd != REPO and REPO not in cwd.parents
        folders, runs = _two_runs(get_sync_client(url=url), tmp_path / "out")
    assert folders[0] != folders[1], "two served runs wrote the same report folder"
    assert {f.name for f in folders} == {t for t, _ in runs}, "a served run's folder is not its thread id"
    assert all(f.is_dir() for f in folders)

    # Stopped: its store is in its own cwd, and the repository's copy is ignored by git.
    assert (cwd / ".langgraph_api").is_dir()
    assert had_store or not (REPO / ".langgraph_api").exists(), "the server wrote .langgraph_api/ into the repo"
    assert _untracked_langgraph_api() == "", "a .langgraph_api/ in the repository root shows as untracked"
    assert subprocess.run(["git", "check-ignore", "-q", ".langgraph_api/"], cwd=REPO).returncode == 0


def _two_runs(client, out_dir: Path):
    """Two threads, a diagnosis of may1999 on each; returns their report folders and
    ``(thread_id, run_id)`` pairs."""
    assistants = client.assistants.search(graph_id=GRAPH_ID)
    assert assistants, f"no assistant for graph {GRAPH_ID!r}"
    assistant_id = assistants[0]["assistant_id"]

    schema = client.assistants.get_schemas(assistant_id)["input_schema"]
    assert schema.get("required") == ["case"], schema

    config = {"configurable": {"figures": False, "out_dir": str(out_dir)}}
    # Both runs are queued before either is joined (the server runs two jobs at a time).
    runs = []
    for _ in range(2):
        thread = client.threads.create()
        run = client.runs.create(thread["thread_id"], assistant_id, input={"case": "may1999"}, config=config)
        runs.append((thread["thread_id"], run["run_id"]))

    folders = []
    for thread_id, run_id in runs:
        state = client.runs.join(thread_id, run_id)
        status = client.runs.get(thread_id, run_id)["status"]
        assert status == "success", (status, state)
        assert state.get("hypotheses"), state
        assert state.get("outcome"), state
        report = state.get("report") or {}
        folder = Path(report["folder"])
        assert folder.is_dir() and (folder / "report.md").is_file(), report
        assert out_dir in folder.parents, folder
        folders.append(folder)
    return folders, runs


def test_langgraph_json_names_an_importable_graph():
    """The graph is given as a module path (resolved by import, not against the cwd)."""
    import importlib
    import json

    spec = json.loads(CONFIG.read_text())["graphs"][GRAPH_ID]
    module, _, attr = spec.partition(":")
    assert "/" not in module, "a file path in langgraph.json resolves against the cwd of `langgraph dev`"
    assert hasattr(importlib.import_module(module), attr)
