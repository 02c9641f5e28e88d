"""Optimizer (a registry: sgd, adamw, entry points) and learning-rate schedule (linear warmup + cosine)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..config import ConfigError, OptimConfig
from ..registry import Registry

# ``factory(params, cfg: OptimConfig) -> torch.optim.Optimizer``; third-party optimizers register
# through the ``ssl_video.optimizers`` entry-point group and read their settings from ``cfg``.
OPTIMIZERS: Registry[Callable[..., torch.optim.Optimizer]] = Registry("optimizer", "ssl_video.optimizers")


@OPTIMIZERS.register("sgd")
def sgd(params, cfg: OptimConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay
    )


@OPTIMIZERS.register("adamw")
def adamw(params, cfg: OptimConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)


def build_optimizer(params, cfg: OptimConfig) -> torch.optim.Optimizer:
    """The optimizer registered as ``cfg.name`` over ``params``."""
    return OPTIMIZERS.get_or_raise(cfg.name, ConfigError, what=f"'optim.name={cfg.name}'")(params, cfg)


def lr_factor(step: int, total_steps: int, cfg: OptimConfig) -> float:
    """Multiplier of the base lr at ``step``: linear warmup, then constant or cosine to min_lr_ratio."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return 1.0
    if cfg.schedule == "cosine":
        span = max(1, total_steps - cfg.warmup_steps)
        progress = min(1.0, (step - cfg.warmup_steps) / span)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    raise ConfigError(f"optim.schedule={cfg.schedule!r} is not supported (use constant or cosine)")


def build_scheduler(optimizer, total_steps: int, cfg: OptimConfig) -> torch.optim.lr_scheduler.LambdaLR:
    lr_factor(0, total_steps, cfg)  # validates the schedule name up front
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total_steps, cfg))
