"""The bench state file: which jobs of a matrix were submitted, where, with which ids.

``<out_root>/<matrix>/bench_state.json``, rewritten atomically after every submission::

    {"schema": "ssl_video.bench_state/1", "matrix": "synthmotion_small",
     "submissions": [{"submitted": "2025-01-01T12:00:00Z", "executor": "slurm", "profile": "local",
                      "jobs": [{"name": "pretrain-vcop-r3d_tiny-synthmotion-s0", "kind": "pretrain",
                                "job_id": "12_0", "after": [], "state": null}, ...]}]}

``state`` is the final state for local runs (they finish before the file is written) and null for
Slurm jobs, whose state is asked from Slurm when ``bench status`` runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..io_utils import atomic_write_json

SCHEMA = "ssl_video.bench_state/1"
STATE_FILE = "bench_state.json"


@dataclass
class JobRecord:
    name: str
    kind: str  # pretrain | eval
    job_id: str
    after: list[str] = field(default_factory=list)  # job ids it waits for (afterok)
    state: str | None = None


@dataclass
class Submission:
    submitted: str
    executor: str
    profile: str | None
    jobs: list[JobRecord]


def state_path(bench_dir: str | Path) -> Path:
    return Path(bench_dir) / STATE_FILE


def load_state(bench_dir: str | Path, matrix: str) -> list[Submission]:
    """Every recorded submission, oldest first ([] when the matrix never ran)."""
    path = state_path(bench_dir)
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e}); delete it to forget earlier submissions") from None
    if data.get("schema") != SCHEMA or data.get("matrix") != matrix:
        raise ValueError(
            f"{path}: not the state file of matrix {matrix!r} (schema {data.get('schema')!r}, "
            f"matrix {data.get('matrix')!r})"
        )
    return [
        Submission(s["submitted"], s["executor"], s.get("profile"), [JobRecord(**j) for j in s["jobs"]])
        for s in data["submissions"]
    ]


def append_submission(
    bench_dir: str | Path, matrix: str, executor: str, profile: str | None, jobs: list[JobRecord]
) -> Path:
    """Add one submission to the state file (atomic rewrite)."""
    submissions = load_state(bench_dir, matrix)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    submissions.append(Submission(now, executor, profile, jobs))
    return atomic_write_json(
        state_path(bench_dir),
        {"schema": SCHEMA, "matrix": matrix, "submissions": [asdict(s) for s in submissions]},
    )


def latest_jobs(submissions: list[Submission]) -> dict[str, tuple[Submission, JobRecord]]:
    """For every job name, its most recent submission and record."""
    latest: dict[str, tuple[Submission, JobRecord]] = {}
    for submission in submissions:
        for job in submission.jobs:
            latest[job.name] = (submission, job)
    return latest
