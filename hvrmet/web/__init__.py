"""The web page of the diagnosis chat (``hvrmet serve``)."""

from hvrmet.web.app import allowed_roots, create_app

__all__ = ["create_app", "allowed_roots"]
