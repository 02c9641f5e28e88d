"""Pretext-task plugins. Importing this package registers the built-in tasks."""

from . import o3n, opn, shuffle_learn, speednet, supervised, vcop  # noqa: F401  (register the tasks)
from .base import TASKS, PretextTask, Probe, SamplePlan, TaskOutput, create_task, list_tasks, register_task
from .order import PairwiseOrderHead, permutation_label, permutation_table

__all__ = [
    "TASKS",
    "PairwiseOrderHead",
    "PretextTask",
    "Probe",
    "SamplePlan",
    "TaskOutput",
    "create_task",
    "list_tasks",
    "permutation_label",
    "permutation_table",
    "register_task",
]
