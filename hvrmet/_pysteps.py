"""Import pysteps once, quietly: it prints the path of its configuration file on import,
which would corrupt the JSON that ``hvrmet ... --json`` writes to standard output."""

import contextlib
import io

with contextlib.redirect_stdout(io.StringIO()):
    import pysteps  # noqa: F401
