#!/usr/bin/env python3
"""Screenshot of the HTML diagnosis report for the README: diagnose a case (figures on,
offline brain) into a temporary folder, open its ``report.html`` in headless Chromium and
save the top of the page.

    HVRMET_DATA_DIR=../shared/data .venv/bin/python tools/screenshot_report.py docs/figures/report_may1999.png
    .venv/bin/python tools/screenshot_report.py out.png --case null-jan20 --height 1600
    .venv/bin/python tools/screenshot_report.py out.png --report out/may1999/RUN/report.html

Uses Debian's chromium through Playwright (as the tests do); nothing is downloaded and the
page is a local file (the report is self-contained: its figures are embedded).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", nargs="?", default="docs/figures/report_may1999.png", help="PNG to write")
    ap.add_argument("--case", default="may1999", help="case to diagnose")
    ap.add_argument("--report", type=Path, default=None, help="an existing report.html instead of a new run")
    ap.add_argument("--width", type=int, default=1250)
    ap.add_argument("--height", type=int, default=1700, help="height of the page's top that is saved (pixels)")
    a = ap.parse_args(argv)

    from hvrmet.testing.web import browser

    with tempfile.TemporaryDirectory() as tmp:
        report = a.report
        if report is None:
            from hvrmet.agents.configuration import Configuration
            from hvrmet.runs import diagnose

            state = diagnose(a.case, Configuration(out_dir=str(Path(tmp) / "out"), figures=True))
            report = Path(state["report"]["html"])
        with browser(a.width, a.height) as ctx:
            page = ctx.new_page()
            page.goto(report.resolve().as_uri())
            page.wait_for_function("[...document.images].every(i => i.complete)")
            page.screenshot(path=a.target, full_page=False)
    print(f"wrote {a.target} from {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
