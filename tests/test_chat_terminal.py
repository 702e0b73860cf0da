"""``hvrmet chat`` driven in a real terminal: tmux send-keys and capture-pane."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.realdata

HVRMET = str(Path(sys.executable).with_name("hvrmet"))


def _need_tmux() -> str:
    tmux = shutil.which("tmux")
    if tmux is None:
        if os.environ.get("HVRMET_REQUIRE_BROWSER"):  # make test installs it: missing is a failure there
            pytest.fail("tmux is not installed (make test installs Debian's tmux)")
        pytest.skip("tmux is not installed (make test installs it)")
    return tmux


class Pane:
    """One tmux session on a private server, running one command."""

    def __init__(self, command: str, cwd: Path) -> None:
        self.tmux = _need_tmux()
        self.socket = f"hvrmet-test-{uuid.uuid4().hex[:8]}"
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in os.environ.items()
                       if k in ("HVRMET_DATA_DIR", "MPLBACKEND", "PATH", "HOME", "HF_HUB_OFFLINE"))
        self._run("new-session", "-d", "-s", "chat", "-x", "240", "-y", "50", "-c", str(cwd),
                  f"env {env} COLUMNS=240 {command}; sleep 600")
        self._run("set-option", "-t", "chat", "history-limit", "20000")

    def _run(self, *args: str) -> str:
        return subprocess.run([self.tmux, "-L", self.socket, *args], check=True, capture_output=True, text=True).stdout

    def send(self, line: str) -> None:
        self._run("send-keys", "-t", "chat", "-l", line)
        self._run("send-keys", "-t", "chat", "Enter")

    def text(self) -> str:
        """The pane's history, whitespace collapsed (so a wrapped line still matches)."""
        return " ".join(self._run("capture-pane", "-p", "-J", "-t", "chat", "-S", "-20000").split())

    def wait_for(self, needle: str, timeout: float = 240, after: int = 0) -> str:
        """Wait until ``needle`` appears after character ``after`` of the pane's history."""
        t0 = time.time()
        while time.time() - t0 < timeout:
            text = self.text()
            if needle in text[after:]:
                return text
            time.sleep(0.3)
        raise AssertionError(f"{needle!r} did not appear within {timeout:.0f} s; the pane shows:\n{self.text()[-3000:]}")

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.socket, "kill-server"], capture_output=True)


def test_chat_in_tmux_reject_is_in_the_report(tmp_path, data_dir):
    out = tmp_path / "out"
    pane = Pane(f"{HVRMET} chat may1999 --out {out} --no-figures", tmp_path)
    try:
        text = pane.wait_for("/diagnose to start.", timeout=120)
        n = len(text)
        pane.send("/diagnose")
        text = pane.wait_for("Sign off with /accept HYP or /reject HYP", after=n)
        assert "hypothesis H1 tornadic_supercell" in text[n:]      # the loop streamed as it ran
        assert re.search(r"decision loop \d+: stop", text[n:])  # the loop's own decision to stop
        n = len(text)
        pane.send("/why H1")
        text = pane.wait_for("evidence chain of H1", after=n)
        assert "compute_tornado_parameter" in text[n:] and "Why: posterior 1.00" in text[n:]
        n = len(text)
        pane.send("/reject H1 couplet judged range-folded")
        text = pane.wait_for("It will be in the report", after=n)
        assert "H1 tornadic_supercell: rejected by the forecaster (machine: supported, 1.00): couplet judged range-folded" in text
        n = len(text)
        pane.send("/report")
        text = pane.wait_for("report (markdown):", after=n)
        reports = sorted(out.glob("may1999/*/report.md"))
        assert len(reports) == 1
        md = reports[0].read_text()
        assert "| H1 | tornadic_supercell | refuted |" in md
        assert "rejected by the forecaster (machine: supported, 1.00): couplet judged range-folded" in md
        pane.send("/quit")
    finally:
        pane.close()
    # the session persists: --resume shows the history and the run's status
    pane = Pane(f"{HVRMET} chat --resume --out {out}", tmp_path)
    try:
        text = pane.wait_for("resumed: case may1999", timeout=120)
        assert "user: /reject H1 couplet judged range-folded" in text and "status reported" in text
        n = len(text)
        pane.send("/hypotheses")
        text = pane.wait_for("no_severe_hazard", after=n)
        assert "rejected by the forecaster" in text[n:]
        pane.send("/quit")
    finally:
        pane.close()
