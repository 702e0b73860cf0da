"""The run lifecycle: one configuration path, no secrets at rest, one driver per thread,
the typed result and the Python API."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import hvrmet
from hvrmet.agents.configuration import Configuration
from hvrmet.errors import HvrmetError
from hvrmet.runs import DiagnosisResult, Run, RunStore, ThreadBusy
from hvrmet.testing.openai_server import ScriptedOpenAIServer

KEY = "sk-hvrmet-test-SECRET-4f9a2c"


# -- configuration ---------------------------------------------------------------------------
def test_configuration_order_defaults_env_file_flags(tmp_path, monkeypatch):
    monkeypatch.delenv("HVRMET_CONFIG", raising=False)
    assert Configuration.resolve().max_loops == 4  # the default
    monkeypatch.setenv("HVRMET_MAX_LOOPS", "3")
    monkeypatch.setenv("HVRMET_MODEL", "env-model")
    assert Configuration.resolve().max_loops == 3  # environment over default
    f = tmp_path / "hvrmet.toml"
    f.write_text('[hvrmet]\nmax_loops = 2\nout_dir = "from-file"\n')
    cfg = Configuration.resolve(f)
    assert (cfg.max_loops, cfg.out_dir, cfg.model) == (2, "from-file", "env-model")  # file over environment
    cfg = Configuration.resolve(f, max_loops=5, out_dir=None)
    assert (cfg.max_loops, cfg.out_dir) == (5, "from-file")  # a given flag wins; None is not given
    monkeypatch.setenv("HVRMET_CONFIG", str(f))
    assert Configuration.resolve().max_loops == 2  # the file named by the environment


def test_configuration_file_errors_name_the_setting(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("max_loop = 2\n")
    with pytest.raises(HvrmetError, match="unknown settings max_loop"):
        Configuration.resolve(f)
    f.write_text("max_loops = [\n")
    with pytest.raises(HvrmetError, match="not valid TOML"):
        Configuration.resolve(f)
    with pytest.raises(ValueError, match="known brains: offline, openai"):
        Configuration.resolve(brain="gpt")


def test_the_key_never_enters_configurable_or_a_dump():
    cfg = Configuration(brain="openai", base_url="http://127.0.0.1:9/v1", api_key=KEY)
    assert KEY not in json.dumps(cfg.configurable()) and KEY not in cfg.model_dump_json() and KEY not in repr(cfg)
    back = Configuration.from_runnable_config({"configurable": cfg.configurable()})
    assert back.key() == KEY  # the reference resolves in this process only


# -- no secrets at rest -------------------------------------------------------------------------
def _every_byte_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]


def test_a_key_given_in_configurable_is_scrubbed_from_checkpoints(tmp_path, data_dir):
    """The measured leak: LangGraph copies string ``configurable`` keys into checkpoint
    metadata. A key handed straight in (as a LangGraph client would) never reaches disk."""
    from hvrmet.agents.graph import build_graph

    with RunStore(tmp_path) as store:
        graph = build_graph(store.saver)
        graph.invoke({"case": "may1999", "run_id": "t1"},
                     {"configurable": {"thread_id": "t1", "api_key": KEY, "figures": False, "out_dir": str(tmp_path),
                                       "my_token": KEY}, "recursion_limit": 200})
    assert (tmp_path / "runs.sqlite").stat().st_size > 0
    assert _every_byte_under(tmp_path) == []


def test_openai_run_leaves_no_key_under_the_output(tmp_path, data_dir):
    """A whole run with the OpenAI brain (scripted server) and a chat sign-off: the key is
    in no byte under the output folder (runs.sqlite, trace, reports, figures)."""
    from test_llm_brain import _responder

    from hvrmet.chat.session import ChatSession

    with ScriptedOpenAIServer(responder=_responder) as srv:
        res = hvrmet.diagnose("may1999", brain="openai", base_url=srv.base_url, model="m", api_key=KEY,
                              out_dir=tmp_path, figures=True)
        cfg = Configuration(brain="openai", base_url=srv.base_url, model="m", api_key=KEY, out_dir=str(tmp_path),
                            figures=False)
        s = ChatSession(cfg)
        s.load_case("may1999")
        s.diagnose()
        s.signoff("H1", "accepted", "fine")
        s.write_report()
        s.close()
        assert any(r.get("authorization") == f"Bearer {KEY}" for r in srv.requests) or srv.requests
    assert res.hypotheses and Path(res.report.html).is_file()
    assert (tmp_path / "runs.sqlite").is_file()
    assert _every_byte_under(tmp_path) == []


# -- one driver per thread ----------------------------------------------------------------------
def test_a_second_process_on_a_running_thread_is_refused(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with RunStore(tmp_path) as store:
            store.conn.execute("INSERT INTO hvrmet_claims VALUES (?, ?, ?, ?)",
                               ("busy1", os.uname().nodename, other.pid, 0.0))
            store.conn.commit()
            with pytest.raises(ThreadBusy, match=f"process {other.pid}"):
                with store.claim("busy1"):
                    pass
            other.kill()
            other.wait()
            with store.claim("busy1"):  # the holder died: the claim is taken over
                row = store.conn.execute("SELECT pid FROM hvrmet_claims WHERE thread_id='busy1'").fetchone()
                assert row[0] == os.getpid()
            assert store.conn.execute("SELECT COUNT(*) FROM hvrmet_claims").fetchone()[0] == 0
    finally:
        other.kill()


def test_two_processes_on_one_thread(tmp_path, data_dir):
    """A real second process asking to resume a thread this process is driving fails with
    the one-line error and exit status 2; after the run it can resume (nothing left to do)."""
    cfg = Configuration(out_dir=str(tmp_path), figures=False)
    env = {**os.environ, "HVRMET_DATA_DIR": str(data_dir)}
    cmd = [sys.executable, "-m", "hvrmet.cli", "diagnose", "--resume", "th1", "--out", str(tmp_path), "--no-figures"]
    seen = {}

    def on_update(node, update):
        if node == "screen" and not seen:
            seen["second"] = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)

    with Run(cfg, thread_id="th1") as run:
        state = run.start("may1999", on_update=on_update)
    second = seen["second"]
    assert second.returncode == 2, second.stderr
    assert "being driven by process" in second.stderr and "Traceback" not in second.stderr
    assert state["report"]
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr


# -- the result and the API ----------------------------------------------------------------------
def test_python_api(tmp_path, data_dir):
    res = hvrmet.diagnose("may1999", out_dir=tmp_path, figures=False)
    assert isinstance(res, DiagnosisResult) and res.case == "may1999" and not res.failed
    assert res.leading() is not None and res.leading().hazard == "tornadic_supercell"
    assert Path(res.report.markdown).is_file() and Path(res.report.folder).resolve().parent.parent == tmp_path.resolve()
    ev = {e.id: e for e in res.evidence}
    assert all(eid in ev for h in res.hypotheses for eid in h.evidence_ids)
    assert {e.origin for e in res.evidence} >= {"screen", "check"}
    with sqlite3.connect(tmp_path / "runs.sqlite") as conn:
        assert conn.execute("SELECT outcome FROM hvrmet_runs WHERE thread_id=?", (res.thread_id,)).fetchone()[0]
    case = hvrmet.load_case("may1999")
    assert "sounding" in case.roles and float(case["sounding"]["pressure"].max()) > 900
    cape = hvrmet.call_tool("compute_sbcape", {"case": "may1999"})
    assert cape.ok and cape.values["sbcape"].units
    bad = hvrmet.call_tool("compute_sbcape", {"case": "no-such-case"})
    assert not bad.ok and "no-such-case" in bad.error
    assert hvrmet.__version__ and hvrmet.__version__ != "0+unknown"


def test_readme_api_snippet_runs(tmp_path, data_dir):
    """The README's Python API section, run as it is written (from the output's folder)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("<!-- api-snippet -->", 2)[1].split("```python", 1)[1].split("```", 1)[0]
    r = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "HVRMET_DATA_DIR": str(data_dir)})
    assert r.returncode == 0, r.stderr
    assert "tornadic_supercell" in r.stdout


# -- a brain that fails ends the run with a reason and a non-zero exit status ----------------
def test_a_failed_brain_exits_3_and_the_report_says_why(tmp_path, data_dir):
    """An endpoint that answers every request with 500 (after the retries): the command
    exits 3 with one line, no traceback, and the report says why."""
    from hvrmet.testing.openai_server import http_error

    with ScriptedOpenAIServer(responder=lambda req: http_error(500, '{"error": "down"}')) as srv:
        r = subprocess.run([sys.executable, "-m", "hvrmet.cli", "diagnose", "may1999", "--llm", "openai",
                            "--base-url", srv.base_url, "--model", "m", "--out", str(tmp_path), "--no-figures"],
                           capture_output=True, text=True, timeout=600,
                           env={**os.environ, "HVRMET_DATA_DIR": str(data_dir), "OPENAI_API_KEY": KEY,
                                "HVRMET_LLM_RETRIES": "1", "HVRMET_LLM_TIMEOUT_S": "5", "HVRMET_LLM_BACKOFF_S": "0.05"})
    assert r.returncode == 3, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "the brain failed at the hypothesis step (http)" in r.stderr
    assert "500" in r.stderr and KEY not in r.stdout + r.stderr
    md = next(tmp_path.glob("may1999/*/report.md")).read_text()
    assert "500" in md and "hypothesis" in md.lower()
    assert _every_byte_under(tmp_path) == []
