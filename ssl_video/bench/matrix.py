"""The benchmark matrix: a YAML file naming pretext tasks x encoders x datasets x seeds x protocols.

Example (``benchmarks/matrices/synthmotion_small.yaml`` is a complete one)::

    name: synthmotion_small          # default: the file's stem
    out_root: runs/bench             # run dirs: <out_root>/<name>/<task>-<encoder>-<dataset>-s<seed>
    pretrain_overrides: [train.epochs=3, train.num_workers=2]   # every pretraining run
    pretext:
      - recipe: vcop                 # pretext/vcop.yaml (or a YAML path)
        overrides: [task.params.clip_len=8]
      - {recipe: supervised, overrides: {task.params.num_classes: 12}}
      - recipe: supervised           # a baseline trained on other classes, evaluated on the datasets
        label: supervised_transfer
        variant: transfer classes    # tables: "supervised (transfer classes)"
        data: {name: ucf101, root: data/synthmotion_transfer, label: transfer}
        overrides: {task.params.num_classes: 8}
    encoders:
      - {name: r3d_tiny, kwargs: {width: 16}}
    datasets:
      - {name: ucf101, root: data/synthmotion, fold: 1, label: synthmotion}
    random_init: true                # evaluate each encoder at random init too (once per seed)
    seeds: [0, 1]
    protocols:
      - {name: retrieval_vcop, overrides: [clip_len=8, crop=56, resize=null]}
      - knn

Overrides are ``key=value`` strings exactly as on the command line, or a mapping of dotted key to
value. Every key of the matrix is checked: an unknown one is an error naming it and the closest
valid ones (:func:`ssl_video.config.from_dict`). The keys the matrix itself controls (``seed``,
``encoder.*``, ``data.dataset``/``root``/``fold``/``options``, ``train.out_dir``) may not be
overridden. Relative paths are relative to the working directory, like the CLI's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config import ConfigError, from_dict, load_yaml, parse_overrides

SAFE_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=]*$")  # no "-": it separates the parts of run ids
EXECUTORS = ("local", "slurm")
# Pretraining keys whose values come from the matrix's axes, never from overrides.
CONTROLLED_KEYS = (
    "seed",
    "encoder",
    "data.dataset",
    "data.root",
    "data.fold",
    "data.options",
    "train.out_dir",
)


@dataclass
class PretextEntry:
    """One pretext task: a recipe under ``pretext/`` (or a YAML path) plus its own overrides.

    ``variant``: shown after the method name in the tables (``o3n (contrast fusion)``), for a recipe
    or data other than the paper's. ``data``: pretrain on this dataset (its fold's train split)
    instead of each dataset of the matrix, once per encoder and seed, and evaluate that run on every
    dataset of the matrix: a baseline trained on other classes, say.
    """

    recipe: str = ""
    label: str = ""  # name in run dirs and checkpoint ids; default: the recipe's task name
    overrides: Any = field(default_factory=list)
    variant: str = ""
    data: DatasetEntry | None = None


@dataclass
class EncoderEntry:
    """One encoder of the registry with its constructor kwargs (``encoder.kwargs``)."""

    name: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str = ""  # name in run dirs and checkpoint ids; default: ``name``


@dataclass
class DatasetEntry:
    """A dataset to pretrain on (its fold's train split) and to evaluate on (that fold)."""

    name: str = "ucf101"  # adapter (``ssl-video list``)
    root: str = ""
    fold: int = 1
    label: str = ""  # display name in the store and tables (``eval --name``); default: ``name``
    options: dict[str, Any] = field(default_factory=dict)  # adapter options


@dataclass
class ProtocolEntry:
    """An evaluation protocol under ``evaluation/`` (or a YAML path) plus its overrides."""

    name: str = ""
    overrides: Any = field(default_factory=list)


@dataclass
class EvalSettings:
    """How every evaluation job runs (``ssl-video eval`` flags)."""

    # --eval-seed values for protocols that train or draw (linear, finetune, lowshot); [] = the eval
    # command's default. Retrieval and kNN are deterministic and always store seed 0.
    seeds: list[int] = field(default_factory=lambda: [0])
    workers: int = 2
    backend: str = "decord"
    device: str = "cpu"
    cache: str = ""  # feature cache folder; default <out_root>/<name>/feature_cache


@dataclass
class Matrix:
    """A checked benchmark matrix; list fields hold the entries of each axis."""

    name: str = ""
    pretext: list[PretextEntry] = field(default_factory=list)
    encoders: list[EncoderEntry] = field(default_factory=list)
    datasets: list[DatasetEntry] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    protocols: list[ProtocolEntry] = field(default_factory=list)
    pretrain_overrides: Any = field(default_factory=list)  # every pretraining run, before the task's
    eval: EvalSettings = field(default_factory=EvalSettings)
    # Also evaluate each encoder at random init, once per seed (``ssl-video eval --random-init``):
    # the row every other row's difference and significance is measured against.
    random_init: bool = False
    out_root: str = "runs/bench"
    store: str = ""  # result store; default <out_root>/<name>/store
    tables: str = ""  # folder of collected tables; default <out_root>/<name>/tables
    executor: str = "local"  # local | slurm (``bench run --executor`` overrides)
    profile: str = ""  # cluster profile for slurm (``bench run --profile`` overrides)

    @property
    def bench_dir(self) -> Path:
        """``<out_root>/<name>``: run dirs, logs, the state file and (by default) store and tables."""
        return Path(self.out_root) / self.name

    @property
    def store_dir(self) -> Path:
        return Path(self.store) if self.store else self.bench_dir / "store"

    @property
    def tables_dir(self) -> Path:
        return Path(self.tables) if self.tables else self.bench_dir / "tables"

    @property
    def cache_dir(self) -> Path:
        return Path(self.eval.cache) if self.eval.cache else self.bench_dir / "feature_cache"


def format_override_value(value: Any, where: str) -> str:
    """A value as the YAML text ``parse_overrides`` reads back to the same value."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 30).strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")].strip()
    if "\n" in text or yaml.safe_load(text) != value:
        raise ConfigError(f"{where}: value {value!r} cannot be written as a one-line override")
    return text


def normalize_overrides(value: Any, where: str) -> list[str]:
    """``key=value`` strings from a list of them or a mapping ``{dotted.key: value}``; each is parsed
    once here so that a malformed override fails when the matrix is loaded."""
    if value is None:
        return []
    if isinstance(value, dict):
        items = [f"{k}={format_override_value(v, f'{where}.{k}')}" for k, v in value.items()]
    elif isinstance(value, list):
        bad = [v for v in value if not isinstance(v, str)]
        if bad:
            raise ConfigError(f"{where}: overrides must be 'key=value' strings, got {bad[0]!r}")
        items = list(value)
    else:
        raise ConfigError(f"{where}: expected a list of 'key=value' strings or a mapping, got {value!r}")
    for item in items:
        try:
            parse_overrides([item])
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from None
    return items


def _check_not_controlled(overrides: list[str], where: str) -> None:
    for item in overrides:
        key = item.partition("=")[0].strip()
        for controlled in CONTROLLED_KEYS:
            if key == controlled or key.startswith(controlled + "."):
                raise ConfigError(
                    f"{where}: '{key}' is set by the matrix itself (seeds, encoders, datasets, out_root); "
                    "remove the override"
                )


def _shorthand(items: Any, key: str, where: str) -> Any:
    """Allow ``- vcop`` for ``- {<key>: vcop}`` in a list axis."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise ConfigError(f"{where}: expected a list, got {items!r}")
    return [{key: item} if isinstance(item, str) else item for item in items]


def _check_label(label: str, where: str) -> None:
    if not SAFE_LABEL.match(label):
        raise ConfigError(
            f"{where}: {label!r} is not a usable name (letters, digits and ._+=, not starting with ._+=; "
            "'-' separates the parts of run ids)"
        )


def _check_dataset(ds: DatasetEntry, where: str) -> None:
    if not ds.root:
        raise ConfigError(f"{where}.root is required")
    ds.label = ds.label or ds.name
    _check_label(ds.label, f"{where}.label")


def _check_unique(values: list[str], what: str, why: str = "") -> None:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise ConfigError(f"matrix lists {what} {v!r} twice{why}")
        seen.add(v)


def matrix_from_dict(values: dict[str, Any], default_name: str = "") -> Matrix:
    """Check a parsed matrix mapping and fill in the defaults; raises ConfigError naming the key."""
    if not isinstance(values, dict):
        raise ConfigError(f"a benchmark matrix must be a YAML mapping, got {type(values).__name__}")
    values = dict(values)
    for key, short in (("pretext", "recipe"), ("encoders", "name"), ("datasets", "root")):
        if key in values:
            values[key] = _shorthand(values[key], short, key)
    if "protocols" in values:
        values["protocols"] = _shorthand(values["protocols"], "name", "protocols")
    matrix: Matrix = from_dict(Matrix, values)
    matrix.name = matrix.name or default_name
    if not matrix.name:
        raise ConfigError("matrix: 'name' is required (or load it from a file, whose stem is the default)")
    _check_label(matrix.name, "name")
    for axis in ("pretext", "encoders", "datasets", "seeds", "protocols"):
        if not getattr(matrix, axis):
            raise ConfigError(f"matrix {matrix.name!r}: '{axis}' must list at least one entry")
    if matrix.executor not in EXECUTORS:
        raise ConfigError(f"executor: expected one of {', '.join(EXECUTORS)}, got {matrix.executor!r}")

    matrix.pretrain_overrides = normalize_overrides(matrix.pretrain_overrides, "pretrain_overrides")
    _check_not_controlled(matrix.pretrain_overrides, "pretrain_overrides")
    for i, task in enumerate(matrix.pretext):
        if not task.recipe:
            raise ConfigError(f"pretext[{i}].recipe is required")
        task.overrides = normalize_overrides(task.overrides, f"pretext[{i}].overrides")
        _check_not_controlled(task.overrides, f"pretext[{i}].overrides")
        if task.label:
            _check_label(task.label, f"pretext[{i}].label")
        if task.data is not None:
            _check_dataset(task.data, f"pretext[{i}].data")
    for i, enc in enumerate(matrix.encoders):
        if not enc.name:
            raise ConfigError(f"encoders[{i}].name is required")
        enc.label = enc.label or enc.name
        _check_label(enc.label, f"encoders[{i}].label")
    for i, ds in enumerate(matrix.datasets):
        _check_dataset(ds, f"datasets[{i}]")
    for i, seed in enumerate(matrix.seeds):
        if seed < 0:
            raise ConfigError(f"seeds[{i}]: expected an integer >= 0, got {seed}")
    _check_unique([str(s) for s in matrix.eval.seeds], "eval seed")
    for i, proto in enumerate(matrix.protocols):
        if not proto.name:
            raise ConfigError(f"protocols[{i}].name is required")
        proto.overrides = normalize_overrides(proto.overrides, f"protocols[{i}].overrides")

    # One setting per encoder name in a matrix: its runs, checkpoint ids and table rows are named by
    # it (tables would tell two settings apart by their config hash, not by a readable name).
    _check_unique(
        [e.name for e in matrix.encoders],
        "encoder",
        " (one setting per encoder in a matrix: run other settings as a separate matrix)",
    )
    _check_unique([e.label for e in matrix.encoders], "encoder label")
    _check_unique([d.label for d in matrix.datasets], "dataset label")
    _check_unique([str(s) for s in matrix.seeds], "seed")
    _check_unique([p.name for p in matrix.protocols], "protocol")
    return matrix


def load_matrix(path: str | Path) -> Matrix:
    """Read and check a matrix YAML (``yaml.safe_load``); the name defaults to the file's stem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"benchmark matrix {str(path)!r} not found")
    try:
        return matrix_from_dict(load_yaml(path), default_name=path.stem)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
