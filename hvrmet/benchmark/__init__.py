"""The atomic-subtask benchmark: task format, scorers, harness and report."""

from hvrmet.benchmark.runner import run_benchmark, run_task, summarize
from hvrmet.benchmark.scorers import score
from hvrmet.benchmark.tasks import CATEGORIES, Task, load_tasks

__all__ = ["run_benchmark", "run_task", "summarize", "score", "CATEGORIES", "Task", "load_tasks"]
