"""Helpers to drive ``hvrmet serve`` in headless Chromium with Playwright (tests and the
README screenshot, ``tools/screenshot_web.py``).

Debian's ``chromium`` is used as it is (``executable_path``), with the flags a closed
network needs, and a fresh profile folder per launch; no browser is downloaded.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = ["CHROMIUM_ARGS", "find_chromium", "free_port", "serve", "browser", "diagnose_in_page"]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def find_chromium() -> str | None:
    """Chromium's executable: ``HVRMET_CHROMIUM``, or ``chromium`` on the PATH."""
    return os.environ.get("HVRMET_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(out_dir: Path, *args: str, port: int | None = None, timeout: float = 90) -> Iterator[str]:
    """Run ``hvrmet serve`` (in ``out_dir``'s parent) until the block ends; yields its URL."""
    port = port or free_port()
    hvrmet = str(Path(sys.executable).with_name("hvrmet"))
    log = open(Path(out_dir).parent / f"serve-{port}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([hvrmet, "serve", "--port", str(port), "--out", str(out_dir), *args],
                            cwd=Path(out_dir).parent, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.time()
        while True:
            try:
                urllib.request.urlopen(url + "/api/cases", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.time() - t0 > timeout:
                    raise RuntimeError(f"hvrmet serve did not start; its log:\n{Path(log.name).read_text()}") from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def browser(width: int = 1500, height: int = 1400, *, bypass_csp: bool = True) -> Iterator:
    """A Playwright browser context in headless Debian Chromium with a fresh profile.

    The page's Content-Security-Policy forbids ``eval``, which Playwright's
    ``wait_for_function`` needs, so the context bypasses it by default; the escaping
    under test is the page's own (``textContent`` only), which does not rely on the
    policy. ``bypass_csp=False`` keeps the policy (to check the page works under it)."""
    from playwright.sync_api import sync_playwright

    exe = find_chromium()
    if exe is None:
        raise RuntimeError("no chromium: install Debian's chromium (make test does) or set HVRMET_CHROMIUM")
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=exe, headless=True, args=CHROMIUM_ARGS,
                                                   bypass_csp=bypass_csp, viewport={"width": width, "height": height})
        try:
            yield ctx
        finally:
            ctx.close()


def _wait_idle(page, timeout_ms: float) -> None:
    page.wait_for_function("document.getElementById('busy').hidden", timeout=timeout_ms)


def diagnose_in_page(page, url: str, case: str, *, lines: tuple[str, ...] = (), report: bool = True,
                     timeout_s: float = 300) -> None:
    """Open the page, pick ``case``, run the diagnosis, send ``lines`` (e.g. a sign-off)
    and write the report, waiting for each step to finish."""
    ms = timeout_s * 1000
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=ms)
    page.select_option("#case", case)
    page.click("#load")
    page.wait_for_selector("#diagnose:not([disabled])", timeout=ms)
    page.click("#diagnose")
    page.wait_for_selector("#hypotheses tbody tr", timeout=ms)
    _wait_idle(page, ms)
    for line in lines:
        page.fill("#line", line)
        page.press("#line", "Enter")
        echo = json.dumps("> " + line)  # the page echoes the line once the server has taken it
        page.wait_for_function(f"[...document.querySelectorAll('#log .user')].some(e => e.textContent === {echo})",
                               timeout=ms)
        _wait_idle(page, ms)
    if report:
        page.click("#report-btn")
        page.wait_for_selector("#report-links a", timeout=ms)
        _wait_idle(page, ms)
