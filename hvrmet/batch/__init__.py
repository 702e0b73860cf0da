"""Batch case studies: many diagnoses in parallel on Dask (see :mod:`hvrmet.batch.runner`)."""

from hvrmet.batch.runner import run_batch, summary_rows

__all__ = ["run_batch", "summary_rows"]
