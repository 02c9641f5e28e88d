"""Turn one evaluation's output into a result record (``ssl_video.result/1``) with its provenance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .store import SCHEMA, code_version


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
        return out


def checkpoint_info_from_export(
    path: str | Path, export: dict, sha256: str, checkpoint_id: str | None = None
):
    """CheckpointInfo of a loaded encoder export (``load_encoder``'s second value)."""
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
    )


def random_init_info(encoder: str, seed: int) -> CheckpointInfo:
    """CheckpointInfo of ``create_encoder(encoder)`` after ``torch.manual_seed(seed)``."""
    return CheckpointInfo(
        id=f"random_init-{encoder}-s{seed}", method="random_init", encoder=encoder, pretrain_seed=seed
    )


def make_record(
    evaluation: dict, checkpoint: CheckpointInfo, dataset_name: str, adapter: str, config: dict
) -> dict:
    """A result record from ``evaluate``'s output; ``config`` holds the resolved run settings."""
    return {
        "schema": SCHEMA,
        "checkpoint": checkpoint.as_dict(),
        "protocol": evaluation["protocol"],
        "dataset": {
            "name": dataset_name,
            "adapter": adapter,
            "fold": evaluation["dataset"]["fold"],
            "fingerprint": evaluation["dataset_fingerprint"],
        },
        "seed": evaluation["seed"],
        "metrics": evaluation["metrics"],
        "code_version": code_version(),
        "config": {
            **config,
            "n_train": evaluation["n_train"],
            "n_test": evaluation["n_test"],
            "failed": evaluation["failed"],
            "checkpoint_hash": evaluation["checkpoint_hash"],
        },
        "wall_time_s": evaluation["seconds"],
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
