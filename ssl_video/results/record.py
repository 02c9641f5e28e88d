"""Turn one evaluation's output into a result record (``ssl_video.result/2``) with its provenance."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .store import SCHEMA, code_version

# Fields of the resolved pretraining config (``ssl_video.config.PretrainConfig``, dotted) that say
# where or how a run was executed, not what it learned: runs that differ only in these are runs of
# one experiment, so :func:`pretrain_config_hash` leaves them out.
RUN_FIELDS: tuple[str, ...] = (
    "seed",  # what varies between the runs of one experiment (recorded as checkpoint.pretrain_seed)
    "train.out_dir",  # where the run wrote its files
    "train.num_workers",  # randomness is drawn per (seed, epoch, sample): workers do not change results
    "train.threads",  # CPU threads: ~1e-4 numeric noise, like the machine the run happened to use
    "train.device",  # where it ran (auto | cpu | cuda)
    "train.checkpoint_every",  # how often it saved (resume points), not what it trained
    "train.log_every",  # logging
    "train.progress",  # progress bar
    "data.root",  # a path: the data is identified by its fingerprint (below) instead
    "data.guard_root",  # a path of the leakage guard's dataset
)


@dataclass(frozen=True)
class CheckpointInfo:
    """What was evaluated: an encoder export (or training checkpoint) file, or a random init."""

    id: str
    method: str
    encoder: str
    path: str | None = None
    sha256: str | None = None
    pretrain_seed: int | None = None
    step: int | None = None
    pretrain_config_hash: str | None = None  # the experiment, see :func:`pretrain_config_hash`
    # What tables show after the method name, e.g. "contrast fusion" or "transfer classes": a recipe
    # that is not the paper's, or a baseline trained on other data. Part of the row's identity.
    variant: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "path": self.path,
            "sha256": self.sha256,
            "method": self.method,
            "encoder": self.encoder,
            "pretrain_seed": self.pretrain_seed,
        }
        if self.step is not None:
            out["step"] = self.step
        if self.pretrain_config_hash is not None:
            out["pretrain_config_hash"] = self.pretrain_config_hash
        if self.variant:
            out["variant"] = self.variant
        return out


def _short_hash(identity: Mapping[str, Any]) -> str:
    """16 hex digits of the SHA-256 of ``identity`` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def pretrain_config_hash(config: Mapping[str, Any], data_fingerprint: str | None = None) -> str:
    """The experiment a pretraining run belongs to: a short stable hash of what it learned from.

    ``config`` is the run's resolved pretraining config as a plain mapping (the export's
    ``info.config``); the fields of :data:`RUN_FIELDS` are removed (the seed, paths, workers,
    threads, device, logging and checkpoint cadence), so the runs of one recipe under different
    seeds, folders or machines share a hash. The pretraining data is the config's ``data`` section
    (adapter, split, fold, backend, held-out videos...) plus ``data_fingerprint`` (the fingerprint of
    the dataset the run read); without a fingerprint the data root stays in as the data's only name.
    A config key added by a later code version changes the hash: the hash names a recipe exactly.
    Returns 16 lowercase hex digits; ``config`` is not modified.
    """
    identity = copy.deepcopy(dict(config))
    removed = RUN_FIELDS if data_fingerprint else tuple(f for f in RUN_FIELDS if f != "data.root")
    for dotted in removed:
        *parents, last = dotted.split(".")
        node: Any = identity
        for part in parents:
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return _short_hash({"pretraining": identity, "data_fingerprint": data_fingerprint})


def checkpoint_info_from_export(
    path: str | Path, export: dict, sha256: str, checkpoint_id: str | None = None, variant: str | None = None
):
    """CheckpointInfo of a loaded encoder export (``load_encoder``'s second value); ``variant``: see
    :class:`CheckpointInfo`.

    The experiment (``pretrain_config_hash``) comes from the export's ``info.config`` and
    ``info.data_fingerprint``; an export without a config has none (None).
    """
    info = export.get("info", {})
    config = info.get("config", {})
    method = info.get("task") or config.get("task", {}).get("name") or "unknown"
    encoder = export["encoder"]["name"]
    seed = config.get("seed")
    return CheckpointInfo(
        id=checkpoint_id or f"{method}-{encoder}-s{seed if seed is not None else 'x'}-{sha256[:8]}",
        method=method,
        encoder=encoder,
        path=str(path),
        sha256=sha256,
        pretrain_seed=seed,
        step=info.get("step"),
        pretrain_config_hash=pretrain_config_hash(config, info.get("data_fingerprint")) if config else None,
        variant=variant or None,
    )


def random_init_info(encoder: str, seed: int, kwargs: Mapping[str, Any] | None = None) -> CheckpointInfo:
    """CheckpointInfo of ``create_encoder(encoder, **kwargs)`` after ``torch.manual_seed(seed)``.

    Its experiment is the architecture alone (name and keyword arguments, no pretraining): every
    seed of one architecture shares a ``pretrain_config_hash``.
    """
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise TypeError(f"random init of {encoder}: encoder kwargs must be a mapping, got {kwargs!r}")
    identity = {"random_init": {"encoder": {"name": encoder, "kwargs": dict(kwargs or {})}}}
    return CheckpointInfo(
        id=f"random_init-{encoder}-s{seed}",
        method="random_init",
        encoder=encoder,
        pretrain_seed=seed,
        pretrain_config_hash=_short_hash(identity),
    )


def portable_path(path: str | Path) -> str:
    """``path`` relative to the working directory when it lies under it (a record committed with a
    repository then names no machine folder); other paths as given."""
    absolute = Path(os.path.abspath(Path(path).expanduser()))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def make_record(
    evaluation: dict, checkpoint: CheckpointInfo, dataset_name: str, adapter: str, config: dict
) -> dict:
    """A result record from ``evaluate``'s output; ``config`` holds the resolved run settings.

    Paths (the checkpoint's, failed videos') under the working directory are stored relative to it
    (:func:`portable_path`). The record carries the evaluation's per-video outcomes (``per_video``)
    and chance levels (``chance``) as they are: see :mod:`ssl_video.results.outcomes`.
    """
    ckpt = checkpoint.as_dict()
    if ckpt["path"] is not None:
        ckpt["path"] = portable_path(ckpt["path"])
    return {
        "schema": SCHEMA,
        "checkpoint": ckpt,
        "protocol": evaluation["protocol"],
        "dataset": {
            "name": dataset_name,
            "adapter": adapter,
            "fold": evaluation["dataset"]["fold"],
            "fingerprint": evaluation["dataset_fingerprint"],
            # each split's own fingerprint ({"train": ..., "test": ...}; ``evaluate`` always gives them)
            **{k: v for k, v in evaluation["dataset"].items() if k == "fingerprints"},
        },
        "seed": evaluation["seed"],
        "metrics": evaluation["metrics"],
        "per_video": evaluation["per_video"],
        "chance": evaluation["chance"],
        "code_version": code_version(),
        "config": {
            **config,
            "n_train": evaluation["n_train"],
            "n_test": evaluation["n_test"],
            "failed": [portable_path(p) for p in evaluation["failed"]],
            "checkpoint_hash": evaluation["checkpoint_hash"],
        },
        "wall_time_s": evaluation["seconds"],
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
