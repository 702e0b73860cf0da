"""The web page of the diagnosis chat (``hvrmet serve``; the ``web`` extra: fastapi, uvicorn)."""

from hvrmet.extras import require

require("fastapi", "the web page (hvrmet serve)", extra="web")

from hvrmet.web.app import allowed_roots, create_app  # noqa: E402

__all__ = ["create_app", "allowed_roots"]
