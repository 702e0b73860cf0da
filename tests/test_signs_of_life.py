"""Signs of life: spinners on a terminal only, each tool call heard as it runs, search
timings that say what they measure, and the libraries' log noise in a file instead of
the user's terminal."""

from __future__ import annotations

import logging
import re
import warnings
from io import StringIO

import pytest
from rich.console import Console

from hvrmet.chat.progress import Busy, tool_events


def test_the_spinner_draws_on_a_terminal_only_and_clears():
    term = StringIO()
    con = Console(file=term, force_terminal=True, width=80)
    out = StringIO()
    printed = Console(file=out, width=80)
    with Busy("decoding radar_volume (1 file)", con) as spin:
        assert spin.shown
        spin.printer(printed).print("a line printed while it spins")
        spin.update("decoding sounding")
    assert not spin.shown
    assert "decoding radar_volume (1 file)" in term.getvalue()
    assert out.getvalue() == "a line printed while it spins\n"  # the other stream untouched
    plain = StringIO()
    with Busy("decoding", Console(file=plain, width=80)) as spin:  # not a terminal: nothing drawn
        assert not spin.shown
    assert plain.getvalue() == ""


def test_each_tool_call_is_heard_as_it_runs(data_dir):
    from hvrmet.agents.evidence import run_check
    from hvrmet.agents.state import PlannedCheck

    heard = []
    with tool_events(lambda phase, tool, args, res: heard.append((phase, tool, None if res is None else res.ok))):
        ev = run_check(PlannedCheck(tool="describe_case_setting", args={}), "may1999", None, origin="screen", loop=0,
                       seq=1)
    assert ev.ok and heard == [("start", "describe_case_setting", None), ("end", "describe_case_setting", True)]
    run_check(PlannedCheck(tool="describe_case_setting", args={}), "may1999", None, origin="screen", loop=0, seq=2)
    assert len(heard) == 2  # outside the block nobody listens


def test_knowledge_search_reports_the_query_apart_from_the_loading():
    from typer.testing import CliRunner

    from hvrmet.cli import app

    r = CliRunner().invoke(app, ["knowledge", "search", "large hail aloft", "--mode", "bm25"])
    assert r.exit_code == 0, r.output
    assert re.search(r"\(bm25; query \d+ ms, loading \d+\.\d s\)", r.output), r.output


@pytest.mark.filterwarnings("always::RuntimeWarning")
def test_noisy_library_loggers_go_to_the_file_not_stderr(tmp_path, capfd):
    from hvrmet.batch.runner import library_logs

    path = tmp_path / "out" / "batch.log"
    before = list(logging.getLogger("distributed").handlers)
    with library_logs(path) as count:
        logging.getLogger("distributed.nanny").warning("Worker process still alive after 3.2 seconds, killing")
        try:
            raise OSError("Stream is closed")
        except OSError:
            logging.getLogger("distributed.comm.tcp").exception("CommClosedError in <TCP (closed) ConnectionPool>")
        logging.getLogger("tornado.application").error("Exception in callback")
        warnings.warn("a library's RuntimeWarning", RuntimeWarning, stacklevel=1)
        logging.getLogger("hvrmet.tools.registry").error("a real error of hvrmet")
    err = capfd.readouterr().err
    assert "CommClosedError" not in err and "still alive" not in err and "Exception in callback" not in err
    assert "RuntimeWarning" not in err and "Traceback" not in err
    text = path.read_text()
    assert "still alive" in text and "CommClosedError" in text and "Traceback" in text and "OSError: Stream is closed" in text
    assert "a library's RuntimeWarning" in text and "a real error of hvrmet" not in text  # hvrmet's own are not routed
    assert count.errors == 2
    assert logging.getLogger("distributed").handlers == before  # the loggers are as they were


def test_the_cli_keeps_cfgrib_tracebacks_in_the_out_folder(tmp_path, monkeypatch, capfd):
    import hvrmet.cli as cli
    from hvrmet.errors import HvrmetError

    def noisy_app(prog_name):
        try:
            raise KeyError("shortName")
        except KeyError:
            logging.getLogger("cfgrib.dataset").exception("skipping variable: paramId==130 shortName='t'")
        logging.getLogger("cfgrib.messages").warning("Ignoring index file")
        raise SystemExit(0)

    monkeypatch.setattr(cli, "app", noisy_app)
    monkeypatch.setenv("HVRMET_OUT_DIR", str(tmp_path / "o"))
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 0
    err = capfd.readouterr().err
    assert "skipping variable" not in err and "Traceback" not in err and "Ignoring index file" not in err
    assert f"1 error message(s) of the libraries written to {tmp_path / 'o' / 'hvrmet.log'}" in err
    log = (tmp_path / "o" / "hvrmet.log").read_text()
    assert "skipping variable" in log and "KeyError: 'shortName'" in log and "Ignoring index file" in log

    def failing_app(prog_name):  # a real error is still one line on the terminal
        raise HvrmetError("the file is truncated")

    monkeypatch.setattr(cli, "app", failing_app)
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 2 and "error: the file is truncated" in capfd.readouterr().err


def test_a_failing_listener_is_logged_and_the_check_still_runs(caplog):
    from hvrmet.agents.evidence import run_check, tool_events
    from hvrmet.agents.state import PlannedCheck

    def broken(phase, tool, args, res):
        raise RuntimeError("display gone")

    with caplog.at_level("WARNING", logger="hvrmet.agents.evidence"), tool_events(broken):
        ev = run_check(PlannedCheck(tool="describe_case_setting"), "may1999", None, origin="screen", loop=0, seq=1)
    assert ev.ok
    assert sum("tool event listener" in r.getMessage() for r in caplog.records) == 2  # start and end
    # outside the block nobody hears of calls
    heard = []
    with tool_events(lambda *a: heard.append(a[0])):
        pass
    run_check(PlannedCheck(tool="describe_case_setting"), "may1999", None, origin="screen", loop=0, seq=2)
    assert heard == []
