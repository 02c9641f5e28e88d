"""What of a plan is already done: finished pretraining runs and stored results are never resubmitted.

* A pretraining run is done when its ``encoder.pt`` (written only at the end of a run) and
  ``summary.json`` exist, agree on the step, and the export was made with the run's resolved config
  (ignoring keys that cannot change the weights, such as ``train.num_workers``). A run trained for
  fewer epochs or steps is submitted again and ``--resume auto`` continues it; one whose checkpoint
  has other settings still (a learning rate, say) is an error, since the resume would refuse it.
* An evaluation is done when the store holds its result(s). A stored result must match the
  protocol's current hash and, when the run's ``encoder.pt`` exists, the run must be done and the
  result made from that very file (sha256). Anything else is an error, not a skip: skipping would
  publish a number made with other settings or weights, and retraining would mix two trainings.
* A pretraining run whose evaluations are all stored is not needed, even without its files (then
  the store is trusted as it is).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import torch

from ..config import to_dict
from ..engine.checkpoint import ENCODER_FORMAT, file_sha256
from ..results import ResultStore
from .plan import BenchPlan, EvalRun, PretrainRun

# Config keys that change how a run executes, never the weights it produces.
IRRELEVANT_KEYS = {
    "train.out_dir",
    "train.num_workers",
    "train.progress",
    "train.log_every",
    "train.checkpoint_every",
}


class BenchError(ValueError):
    """The store or the run dirs contradict the matrix; the message says what to remove or change."""


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and not name.startswith(("task.params", "encoder.kwargs")):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def config_differences(saved: dict, current: dict) -> list[str]:
    """Dotted keys whose values differ between two ``to_dict`` configs (ignoring IRRELEVANT_KEYS)."""
    a, b = _flatten(saved), _flatten(current)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in IRRELEVANT_KEYS)


def pretrain_status(run: PretrainRun) -> tuple[bool, str]:
    """(done, why not / what was found) for one pretraining run's output folder."""
    export, summary_path = run.encoder_path, run.out_dir / "summary.json"
    if not export.is_file():
        return False, "no encoder.pt yet"
    if not summary_path.is_file():
        return False, "encoder.pt without summary.json (run interrupted?)"
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        return False, f"summary.json unreadable ({e})"
    try:
        data = torch.load(export, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # a torn or foreign file: train again rather than evaluate it
        return False, f"encoder.pt unreadable ({type(e).__name__}: {e})"
    if not isinstance(data, dict) or data.get("format") != ENCODER_FORMAT:
        return False, "encoder.pt is not an ssl-video encoder export"
    info = data.get("info") or {}
    if summary.get("steps") != info.get("step"):
        return (
            False,
            f"summary.json (step {summary.get('steps')}) and encoder.pt (step {info.get('step')}) differ",
        )
    differing = config_differences(info.get("config") or {}, to_dict(run.config))
    if differing:
        return False, f"trained with other settings ({', '.join(differing[:4])})"
    return True, f"trained ({info.get('step')} steps)"


def check_resumable(run: PretrainRun) -> None:
    """BenchError when the run's ``checkpoints/last.pt`` was made with settings that ``--resume auto``
    refuses (anything but the length of training and how it runs): the job would only fail."""
    from ..engine.checkpoint import latest_checkpoint
    from ..engine.trainer import RESUMABLE_CHANGES

    path = latest_checkpoint(run.out_dir)
    if path is None:
        return
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("config") or {}
    except Exception:  # unreadable: the job itself reports it
        return
    blocking = [k for k in config_differences(saved, to_dict(run.config)) if k not in RESUMABLE_CHANGES]
    if blocking:
        raise BenchError(
            f"{run.run_id}: {path} was trained with other settings ({', '.join(blocking[:4])}), which "
            f"--resume auto refuses; delete {run.out_dir} to train it from scratch (and its stored results)"
        )


def stored_results(store: ResultStore, ev: EvalRun) -> list[dict]:
    """The stored records of an evaluation (one per seed; those present); BenchError if one was made
    with another protocol hash than the matrix's (settings changed without a version bump)."""
    records = []
    for key in ev.keys:
        if not store.exists(key):
            continue
        path = store.path_for(key)
        record = store.read(path)
        if record["protocol"]["hash"] != ev.protocol_hash:
            raise BenchError(
                f"{path} was made with other {ev.protocol}@v{ev.version} settings (hash "
                f"{record['protocol']['hash']}, the matrix gives {ev.protocol_hash}); delete it to "
                "re-evaluate, or bump the protocol version"
            )
        records.append(record)
    return records


@dataclass
class Decision:
    """What ``bench run`` submits: pretraining runs, and evaluations (with the run they wait for)."""

    pretrain: list[PretrainRun] = field(default_factory=list)
    evals: list[tuple[EvalRun, PretrainRun | None]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (job name, why)

    @property
    def empty(self) -> bool:
        return not self.pretrain and not self.evals


def _check_stored_against_run(store: ResultStore, run: PretrainRun, done: bool, why: str, present) -> None:
    """Stored results of ``run`` must come from its current, finished encoder.pt; when the run must
    be trained (again), no result of it may be stored yet."""
    if done:
        sha = file_sha256(run.encoder_path)
        for record in present:
            if record["checkpoint"]["sha256"] != sha:
                raise BenchError(
                    f"{store.path_for(record)} was made from another {run.encoder_path} (sha256 "
                    f"{record['checkpoint']['sha256']}, the file is now {sha}); delete the stale "
                    f"result(s) of {run.run_id} to re-evaluate"
                )
    else:
        paths = ", ".join(str(store.path_for(r)) for r in present[:3])
        raise BenchError(
            f"{run.run_id}: the store holds {len(present)} result(s) of it ({paths}) but its encoder must "
            f"be trained again ({why}); delete them so that no table mixes two trainings"
        )


def decide(plan: BenchPlan) -> Decision:
    """Split ``plan`` into what must be submitted and what is already done (with the reason).

    Raises BenchError when stored results contradict the run dirs or the matrix (see the module
    docstring); nothing is submitted then.
    """
    store = ResultStore(plan.matrix.store_dir)
    decision = Decision()
    for run in plan.pretrain:
        evals = plan.evals_of(run)
        stored = {ev.job.name: stored_results(store, ev) for ev in evals}
        complete = {ev.job.name for ev in evals if len(stored[ev.job.name]) == len(ev.keys)}
        missing = [ev for ev in evals if ev.job.name not in complete]
        present = [r for ev in evals for r in stored[ev.job.name]]
        done, why = pretrain_status(run)
        if present and (done or run.encoder_path.exists() or missing):
            _check_stored_against_run(store, run, done, why, present)
        if not missing:
            decision.skipped.append((run.job.name, "not needed: every result is stored"))
        elif done:
            decision.skipped.append((run.job.name, why))
        else:
            check_resumable(run)
            decision.pretrain.append(run)
        decision.skipped += [(ev.job.name, "result stored") for ev in evals if ev.job.name in complete]
        decision.evals += [(ev, None if done else run) for ev in missing]
    for ev in plan.evals_of(None):  # random init: nothing to train, only results to store
        if len(stored_results(store, ev)) == len(ev.keys):
            decision.skipped.append((ev.job.name, "result stored"))
        else:
            decision.evals.append((ev, None))
    return decision
