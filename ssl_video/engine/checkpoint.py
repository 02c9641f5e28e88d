"""Atomic checkpoint files and the encoder-only export that evaluation consumes.

Files are written to a temporary name in the same folder, fsynced, then renamed over the target,
so a crash or SIGKILL leaves either the old file or the new one, never a torn one. Loading uses
``torch.load(weights_only=True)``: checkpoints hold tensors and plain Python values only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from ..io_utils import atomic_path

ENCODER_FORMAT = "ssl_video.encoder/1"
CHECKPOINT_FORMAT = "ssl_video.checkpoint/1"


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """torch.save to ``path`` atomically (unique temp file + fsync + rename + directory fsync, see
    :func:`ssl_video.io_utils.atomic_path`)."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)
    return path


def load_file(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint or export safely (weights_only=True) onto the CPU."""
    return torch.load(path, map_location="cpu", weights_only=True)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The run's resumable checkpoint (``checkpoints/last.pt``), if any."""
    path = Path(out_dir) / "checkpoints" / "last.pt"
    return path if path.exists() else None


def export_encoder(path: str | Path, encoder: torch.nn.Module, name: str, kwargs: dict, info: dict) -> Path:
    """Write the encoder-only file: architecture (name + kwargs), weights and provenance ``info``."""
    return atomic_torch_save(
        {
            "format": ENCODER_FORMAT,
            "encoder": {"name": name, "kwargs": dict(kwargs)},
            "state_dict": {k: v.detach().cpu() for k, v in encoder.state_dict().items()},
            "info": info,
        },
        path,
    )


def load_encoder(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """Rebuild an exported encoder (or the encoder inside a training checkpoint); returns (encoder, file)."""
    from ..encoders import create_encoder

    data = load_file(path)
    if data.get("format") == CHECKPOINT_FORMAT:
        enc = data["config"]["encoder"]
        prefix = "encoder."
        state = {k[len(prefix) :]: v for k, v in data["model"].items() if k.startswith(prefix)}
        # the same provenance an export carries, so results name the checkpoint's task and experiment
        config = data["config"]
        info = {"task": config.get("task", {}).get("name"), "step": data["step"], "config": config}
        if data.get("data_fingerprint"):
            info["data_fingerprint"] = data["data_fingerprint"]
        data = {"format": ENCODER_FORMAT, "encoder": enc, "state_dict": state, "info": info}
    if data.get("format") != ENCODER_FORMAT:
        raise ValueError(
            f"{path}: not an ssl-video encoder export or checkpoint (format={data.get('format')!r})"
        )
    encoder = create_encoder(data["encoder"]["name"], **data["encoder"]["kwargs"])
    encoder.load_state_dict(data["state_dict"])
    return encoder, data
