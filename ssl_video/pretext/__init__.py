"""Pretext-task plugins. Importing this package registers the built-in tasks."""

from . import supervised, vcop  # noqa: F401  (registers "supervised", "vcop")
from .base import TASKS, PretextTask, SamplePlan, TaskOutput, create_task, list_tasks, register_task
from .order import PairwiseOrderHead, permutation_label, permutation_table

__all__ = [
    "TASKS",
    "PairwiseOrderHead",
    "PretextTask",
    "SamplePlan",
    "TaskOutput",
    "create_task",
    "list_tasks",
    "permutation_label",
    "permutation_table",
    "register_task",
]
