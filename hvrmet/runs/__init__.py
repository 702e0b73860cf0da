"""The run lifecycle: one object that starts, streams, resumes, pauses for review, takes
sign-offs, forks, adds a forecaster's check and writes the report, over one SQLite store.
Used by ``hvrmet diagnose``, the chat, the web page, batch, the benchmark and the
LangGraph-server entry."""
