"""The training engine: one loop for every pretext task (checkpoints, resume, AMP, DDP, logging)."""

from .checkpoint import export_encoder, latest_checkpoint, load_encoder
from .trainer import Trainer, pretrain

__all__ = ["Trainer", "export_encoder", "latest_checkpoint", "load_encoder", "pretrain"]
