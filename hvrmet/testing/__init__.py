"""Testing helpers shipped with hvrmet (as ``xarray.testing`` is)."""
