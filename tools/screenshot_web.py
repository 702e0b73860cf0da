"""Screenshot of the web chat for the README: serve, diagnose may1999, reject one
hypothesis, write the report, and save the page.

    HVRMET_DATA_DIR=../shared/data .venv/bin/python tools/screenshot_web.py docs/figures/web_may1999.png

Uses Debian's chromium through Playwright (as the tests do); nothing is downloaded.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from hvrmet.testing.web import browser, diagnose_in_page, serve


def main(target: str = "docs/figures/web_may1999.png") -> None:
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "out") as url, browser(1500, 1250) as ctx:
        page = ctx.new_page()
        t0 = time.time()
        diagnose_in_page(page, url, "may1999", lines=("/reject H1 couplet judged range-folded", "/why H2"))
        page.wait_for_function("[...document.querySelectorAll('#figures img')].every(i => i.complete)")
        page.screenshot(path=target, full_page=False)
        print(f"wrote {target} ({time.time() - t0:.1f} s from page load to report)")


if __name__ == "__main__":
    main(*sys.argv[1:])
