"""Benchmark matrices: pretext x encoder x dataset x seed pretraining runs, each followed by its
evaluation jobs, submitted locally or to Slurm as ``ssl-video`` commands, idempotently, with tables
rendered from the result store (``ssl-video bench run | status | collect``)."""

from .check import BenchError, Decision, decide, pretrain_status
from .matrix import Matrix, load_matrix, matrix_from_dict
from .plan import BenchPlan, EvalRun, PretrainRun, expand
from .run import collect, print_status, run_bench

__all__ = [
    "BenchError",
    "BenchPlan",
    "Decision",
    "EvalRun",
    "Matrix",
    "PretrainRun",
    "collect",
    "decide",
    "expand",
    "load_matrix",
    "matrix_from_dict",
    "pretrain_status",
    "print_status",
    "run_bench",
]
