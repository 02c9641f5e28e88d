"""Typed configs from YAML recipes plus ``key=value`` overrides.

A recipe is a YAML mapping whose keys mirror the dataclasses below. Overrides use dotted keys
(``train.epochs=5``, ``task.params.clip_len=8``); values are parsed with ``yaml.safe_load``, so
``[1,2]``, ``true`` and ``1e-3`` mean what they look like. Every key is checked: an unknown one is
an error that names the key and the closest valid ones. Task parameters are checked against the
chosen task's own ``Params`` dataclass when the task is built.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
RECIPE_DIR = REPO_ROOT / "pretext"


class ConfigError(ValueError):
    """A config key or value the suite cannot use; the message names the key."""


@dataclass
class DataConfig:
    dataset: str = "ucf101"
    root: str = "data/synthmotion"
    split: str = "train"
    fold: int = 1
    backend: str = "decord"
    options: dict[str, Any] = field(default_factory=dict)
    # Pretraining refuses videos that are also in this evaluation test split (leakage guard).
    # Empty guard_dataset means: the same dataset and root as above, when that dataset has a test split.
    guard_dataset: str = ""
    guard_root: str = ""
    allow_test_overlap: bool = False
    # Videos held out of pretraining to measure pretext accuracy on unseen videos (0 = none).
    val_videos: int = 0


@dataclass
class EncoderConfig:
    name: str = "r3d_tiny"
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskConfig:
    name: str = "vcop"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimConfig:
    name: str = "sgd"  # sgd | adamw
    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 0
    schedule: str = "constant"  # constant | cosine
    min_lr_ratio: float = 0.0


@dataclass
class TrainConfig:
    out_dir: str = "runs/pretrain"
    epochs: int = 1
    max_steps: int = 0  # 0 = epochs * steps per epoch
    batch_size: int = 8
    num_workers: int = 2
    threads: int = 2  # torch intra-op threads; pinned because results differ with the thread count
    device: str = "auto"  # auto | cpu | cuda
    amp: bool = True  # mixed precision on CUDA (ignored on CPU)
    clip_grad_norm: float = 0.0  # 0 = off
    checkpoint_every: int = 100  # steps; a checkpoint is also written at the end
    log_every: int = 10
    progress: bool = True


@dataclass
class PretrainConfig:
    seed: int = 0
    task: TaskConfig = field(default_factory=TaskConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def from_dict(cls: type, values: dict[str, Any] | None, where: str = "") -> Any:
    """Build dataclass ``cls`` from a mapping, checking every key and value type.

    Raises ConfigError naming ``where.key`` and the closest valid keys for an unknown key.
    """
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = [k for k in values if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(fields), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(_join(where, c) for c in close)}?" if close else ""
        raise ConfigError(
            f"unknown config key '{_join(where, key)}'{hint} (valid keys: {', '.join(sorted(fields))})"
        )
    kwargs = {name: _coerce(hints[name], values[name], _join(where, name)) for name in values}
    return cls(**kwargs)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else str(key)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    """Check/convert one value to the annotated type (dataclass, dict, tuple, scalars, unions)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if origin in (tuple, list) or tp in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
            return tuple(_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        seq = [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(seq) if (origin is tuple or tp is tuple) else seq
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """``["a.b=1", "c=[2, 3]"]`` -> nested ``{"a": {"b": 1}, "c": [2, 3]}`` (values via yaml.safe_load)."""
    nested: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not of the form key=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as e:
            raise ConfigError(f"override {item!r}: cannot parse value: {e}") from e
        node = nested
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: '{part}' is already set to a value")
        node[parts[-1]] = value
    return nested


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``update`` into a copy of ``base`` (mappings merge, other values replace)."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve_recipe(recipe: str | Path) -> Path:
    """A recipe is a YAML path or the name of one under the repo's ``pretext/`` folder."""
    path = Path(recipe)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    candidate = RECIPE_DIR / f"{recipe}.yaml"
    if candidate.exists():
        return candidate
    known = sorted(p.stem for p in RECIPE_DIR.glob("*.yaml"))
    raise ConfigError(
        f"recipe {recipe!r} not found (not a file; known recipes: {', '.join(known) or 'none'})"
    )


def load_yaml(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe must be a YAML mapping, got {type(data).__name__}")
    return data


def load_pretrain_config(recipe: str | Path | None, overrides: list[str] = ()) -> PretrainConfig:
    """Recipe (optional) + overrides -> checked PretrainConfig."""
    values = load_yaml(resolve_recipe(recipe)) if recipe else {}
    values = deep_merge(values, parse_overrides(list(overrides)))
    return from_dict(PretrainConfig, values)


def to_dict(cfg: Any) -> dict[str, Any]:
    """Dataclass -> plain dict (tuples become lists) for YAML/JSON/checkpoints."""

    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    return plain(dataclasses.asdict(cfg))
