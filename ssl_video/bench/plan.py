"""Expand a matrix into pretraining runs and the evaluation runs that depend on them.

Every run becomes a :class:`ssl_video.slurm.Job` whose argv is an ``ssl-video`` command line, so
the local executor and Slurm run the very same code. Names are deterministic:

* run id ``<task>-<encoder>-<dataset>-s<seed>``; run dir ``<out_root>/<matrix>/<run id>``, where
  the dataset is the one it pretrains on (a task's own ``data``, or each dataset of the matrix);
* pretraining job ``pretrain-<run id>``; evaluation job ``eval-<run id>-<protocol>``, or
  ``eval-<run id>-<dataset>-<protocol>`` when it evaluates on another dataset than it trained on;
* random-init evaluations (``random_init: true``): ``eval-random_init-<encoder>-<dataset>-s<seed>-
  <protocol>``, with no pretraining run;
* checkpoint id in the store ``<matrix>-<task>-<encoder>-s<seed>`` (one per pretraining run; the
  store keeps datasets apart). Tables group rows by the checkpoint's (method, encoder), so the
  pretraining seeds of one row are averaged into mean ± std by :mod:`ssl_video.results.tables`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError, PretrainConfig, load_pretrain_config, parse_overrides, resolve_recipe
from ..results.store import ResultKey
from ..slurm import Job
from .matrix import DatasetEntry, EncoderEntry, Matrix, PretextEntry, format_override_value


@dataclass(frozen=True)
class PretrainRun:
    """One pretraining job of the matrix (task x encoder x dataset x seed)."""

    run_id: str
    task: str  # the pretext entry's label
    method: str  # the task's registered name (what tables call the method)
    encoder: EncoderEntry
    dataset: DatasetEntry
    seed: int
    out_dir: Path
    config: PretrainConfig  # resolved, for the "already trained with these settings?" check
    job: Job

    @property
    def encoder_path(self) -> Path:
        return self.out_dir / "encoder.pt"


@dataclass(frozen=True)
class EvalRun:
    """One evaluation job: a protocol on ``dataset`` of the encoder one :class:`PretrainRun` exports,
    or (``run`` None) of a random-init encoder."""

    run: PretrainRun | None
    dataset: DatasetEntry
    protocol: str
    version: int
    protocol_hash: str
    checkpoint_id: str
    keys: tuple[ResultKey, ...]  # where its results live in the store (one per evaluation seed)
    job: Job


@dataclass(frozen=True)
class BenchPlan:
    """Everything a matrix expands to, in a fixed order (task, encoder, dataset, seed, protocol)."""

    matrix: Matrix
    pretrain: list[PretrainRun]
    evals: list[EvalRun]

    def evals_of(self, run: PretrainRun | None) -> list[EvalRun]:
        """The evaluations of ``run``'s encoder; with None, the random-init evaluations."""
        if run is None:
            return [e for e in self.evals if e.run is None]
        return [e for e in self.evals if e.run is not None and e.run.run_id == run.run_id]


def _abs(path: str | Path) -> Path:
    return Path(path).expanduser().absolute()


def _task_name(recipe: str, overrides: list[str], where: str) -> str:
    """The registered task a recipe (plus overrides) trains, checked against the registry."""
    from ..pretext import create_task

    cfg = load_pretrain_config(recipe, overrides)
    try:
        create_task(cfg.task.name, cfg.task.params)  # validates the task's own params now, not in a job
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    return cfg.task.name


def _controlled_overrides(
    encoder: EncoderEntry, dataset: DatasetEntry, seed: int, out_dir: Path
) -> list[str]:
    items = [
        f"seed={seed}",
        f"encoder.name={encoder.name}",
        f"encoder.kwargs={format_override_value(encoder.kwargs, 'encoder.kwargs')}",
        f"data.dataset={dataset.name}",
        f"data.root={_abs(dataset.root)}",
        f"data.fold={dataset.fold}",
        f"train.out_dir={out_dir}",
    ]
    if dataset.options:
        items.append(f"data.options={format_override_value(dataset.options, 'data.options')}")
    return items


def _checked_protocols(matrix: Matrix) -> list:
    from ..evaluation import load_protocol

    protocols = []
    for i, entry in enumerate(matrix.protocols):
        try:
            protocols.append(load_protocol(entry.name, parse_overrides(entry.overrides)))
        except ConfigError as e:
            raise ConfigError(f"protocols[{i}]: {e}") from None
    return protocols


def _checked_tasks(matrix: Matrix) -> list[tuple[str, str, str, list[str], PretextEntry]]:
    """(label, task name, recipe path, overrides, entry) per pretext entry; labels unique, and task
    names unique among the entries that pretrain on the matrix's datasets with the same variant."""
    tasks = []
    for i, entry in enumerate(matrix.pretext):
        where = f"pretext[{i}]"
        try:
            recipe = str(resolve_recipe(entry.recipe))
            overrides = [*matrix.pretrain_overrides, *entry.overrides]
            method = _task_name(recipe, overrides, where)
        except ConfigError as e:
            raise ConfigError(e if str(e).startswith(where) else f"{where}: {e}") from None
        tasks.append((entry.label or method, method, recipe, overrides, entry))
    for key, what, why in (
        (lambda t: (t[1], t[4].variant, t[4].data.label if t[4].data else ""), "task",
         "; one setting per task in a matrix (its runs and table rows are named by the task): "
         "give a variant its own 'variant' (and 'label'), or run it as a separate matrix"),
        (lambda t: t[0], "label", ""),
    ):  # fmt: skip
        names = [key(t) for t in tasks]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup is not None:
            shown = dup[0] if isinstance(dup, tuple) else dup
            raise ConfigError(f"pretext: two entries have the {what} {shown!r}{why}")
    return tasks


def _eval_argv(matrix: Matrix, entry, ds: DatasetEntry, source: tuple, checkpoint_id: str) -> tuple:
    """``ssl-video eval`` arguments of one protocol entry on one encoder; ``source`` names it
    (``--checkpoint PATH [--variant TEXT]`` or ``--random-init NAME --encoder-kwargs ... --seed S``)."""
    ev = matrix.eval
    options = [f"{k}={format_override_value(v, f'options.{k}')}" for k, v in ds.options.items()]
    return (
        "eval", entry.name, *entry.overrides,
        *source, "--checkpoint-id", checkpoint_id,
        "--dataset", ds.name, "--root", str(_abs(ds.root)), "--fold", str(ds.fold), "--name", ds.label,
        "--store", str(_abs(matrix.store_dir)), "--cache", str(_abs(matrix.cache_dir)),
        *(arg for s in ev.seeds for arg in ("--eval-seed", str(s))),
        "--workers", str(ev.workers), "--backend", ev.backend, "--device", ev.device,
        *(arg for o in options for arg in ("--option", o)),
    )  # fmt: skip


def expand(matrix: Matrix) -> BenchPlan:
    """All pretraining and evaluation runs of ``matrix``; every config and protocol is resolved and
    checked here, so a bad override fails before anything is submitted."""
    from ..encoders import list_encoders
    from ..evaluation import protocol_identity
    from ..evaluation.protocols import evaluation_seeds  # the seeds `ssl-video eval` stores results under

    known = list_encoders()
    for i, enc in enumerate(matrix.encoders):
        if enc.name not in known:
            raise ConfigError(f"encoders[{i}].name: unknown encoder {enc.name!r} (known: {', '.join(known)})")
    protocols = _checked_protocols(matrix)
    tasks = _checked_tasks(matrix)

    pretrain: list[PretrainRun] = []
    evals: list[EvalRun] = []

    def add_evals(run: PretrainRun | None, name: str, eval_datasets, source: tuple, checkpoint_id: str):
        for ds in eval_datasets:
            job_stem = name if run is None or ds.label == run.dataset.label else f"{name}-{ds.label}"
            for entry, protocol in zip(matrix.protocols, protocols):
                identity = (ds.label, ds.fold, checkpoint_id, protocol.name, protocol.version)
                eval_seeds = evaluation_seeds(protocol, list(matrix.eval.seeds) or None)
                evals.append(
                    EvalRun(
                        run=run,
                        dataset=ds,
                        protocol=protocol.name,
                        version=protocol.version,
                        protocol_hash=protocol_identity(protocol)["hash"],
                        checkpoint_id=checkpoint_id,
                        keys=tuple(ResultKey(*identity, s) for s in eval_seeds),
                        job=Job(
                            f"eval-{job_stem}-{protocol.name}",
                            _eval_argv(matrix, entry, ds, source, checkpoint_id),
                        ),
                    )
                )

    for label, method, recipe, overrides, entry in tasks:
        for enc in matrix.encoders:
            # A task with its own data trains once on it and is evaluated on every dataset.
            trainings = [(entry.data, matrix.datasets)] if entry.data else [(d, [d]) for d in matrix.datasets]
            for ds, eval_datasets in trainings:
                for seed in matrix.seeds:
                    run_id = f"{label}-{enc.label}-{ds.label}-s{seed}"
                    out_dir = _abs(matrix.bench_dir) / run_id
                    argv = [*overrides, *_controlled_overrides(enc, ds, seed, out_dir)]
                    run = PretrainRun(
                        run_id=run_id, task=label, method=method, encoder=enc, dataset=ds, seed=seed,
                        out_dir=out_dir, config=load_pretrain_config(recipe, argv),
                        job=Job(f"pretrain-{run_id}", ("pretrain", recipe, *argv, "--resume", "auto")),
                    )  # fmt: skip
                    pretrain.append(run)
                    source = ("--checkpoint", str(run.encoder_path))
                    if entry.variant:
                        source += ("--variant", entry.variant)
                    checkpoint_id = f"{matrix.name}-{label}-{enc.label}-s{seed}"
                    add_evals(run, run_id, eval_datasets, source, checkpoint_id)
    if matrix.random_init:
        for enc in matrix.encoders:
            kwargs = format_override_value(enc.kwargs, "encoder.kwargs")
            for ds in matrix.datasets:
                for seed in matrix.seeds:
                    source = ("--random-init", enc.name, "--encoder-kwargs", kwargs, "--seed", str(seed))
                    name = f"random_init-{enc.label}-{ds.label}-s{seed}"
                    add_evals(None, name, [ds], source, f"{matrix.name}-random_init-{enc.label}-s{seed}")
    return BenchPlan(matrix, pretrain, evals)
