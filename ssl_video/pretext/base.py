"""The pretext-task plugin interface and its registry.

A task declares what each sample needs decoded (``plan``), builds the sample and its target on the
data worker (``make_sample``), owns its heads (``build_heads``) and computes its loss (``loss``).
The engine knows nothing else about a task.

Optional look-ahead: a task that must see some pixels before choosing its views (Shuffle&Learn and
OPN sample high-motion windows) names a few frames in ``probe_frames(meta)``; the data layer decodes
them with the same reader and calls ``plan(meta, rng, probe=Probe(indices, frames))``. Tasks that do
not override ``probe_frames`` are planned as ``plan(meta, rng)``, exactly as before.

Shapes: a sample is a dict of tensors; pixel tensors are uint8 and become float in [0, 1] on the
device (the engine converts every uint8 tensor). Clips are (C, T, H, W) per sample, tuples of clips
(K, C, T, H, W); after collation a leading batch dimension B is added.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..config import ConfigError, from_dict
from ..registry import Registry
from ..video import VideoMeta


@dataclass(frozen=True)
class SamplePlan:
    """What to decode for one sample: frame indices per view, in the order the task wants them.

    views: list of int arrays, one per view (clip or frame tuple), each (T_view,).
    The data layer decodes the sorted union of all indices in one pass and hands back one
    (T_view, H, W, 3) uint8 array per view.
    """

    views: list[np.ndarray]
    extras: dict[str, Any] = field(default_factory=dict)

    def union(self) -> np.ndarray:
        """Sorted unique frame indices over all views, (N,)."""
        return np.unique(np.concatenate([np.asarray(v, dtype=np.int64) for v in self.views]))


@dataclass(frozen=True)
class Probe:
    """Frames a task asked to see before planning (``PretextTask.probe_frames``).

    indices: (N,) int64 frame indices, as the task returned them.
    frames: (N, H, W, 3) uint8 RGB, ``frames[i]`` is frame ``indices[i]``.
    """

    indices: np.ndarray
    frames: np.ndarray


@dataclass
class TaskOutput:
    """loss: scalar tensor to minimise; metrics: scalar tensors to log (e.g. ``acc``)."""

    loss: torch.Tensor
    metrics: dict[str, torch.Tensor]


class PretextTask(ABC):
    """Base class of pretext-task plugins. Subclasses set ``name`` and a ``Params`` dataclass."""

    name: ClassVar[str]
    Params: ClassVar[type]
    chance_accuracy: ClassVar[float | None] = None

    def __init__(self, params: Any):
        self.params = params

    @abstractmethod
    def min_frames(self) -> int:
        """Shortest video (in frames) this task can sample from; shorter ones are skipped."""

    def probe_frames(self, meta: VideoMeta) -> np.ndarray | None:
        """Optional look-ahead: frame indices (N,) to decode before ``plan``, or None (the default).

        A function of the video only (not of the sample's random draws), so it stays cheap to reason
        about and cacheable. When it returns indices, the data layer decodes them with the reader that
        then decodes the views and calls ``plan(meta, rng, probe=Probe(indices, frames))``.
        """
        return None

    @abstractmethod
    def plan(self, meta: VideoMeta, rng: np.random.Generator, probe: Probe | None = None) -> SamplePlan:
        """Choose the frames of every view for one sample of the video described by ``meta``.

        ``probe`` holds the frames named by ``probe_frames``; tasks without a probe never receive it and
        may define ``plan(meta, rng)``.
        """

    @abstractmethod
    def make_sample(
        self, views: list[np.ndarray], plan: SamplePlan, rng: np.random.Generator
    ) -> dict[str, torch.Tensor]:
        """Decoded views (each (T_view, H, W, 3) uint8) -> sample tensors including ``target``."""

    @abstractmethod
    def build_heads(self, encoder_dim: int) -> nn.Module:
        """The task's trainable heads on top of a (B, encoder_dim) encoder output."""

    @abstractmethod
    def loss(self, encoder: nn.Module, heads: nn.Module, batch: dict[str, torch.Tensor]) -> TaskOutput:
        """Forward the batch through encoder and heads and return the loss and metrics."""

    def clips_per_sample(self) -> int:
        """Number of encoder clip passes per sample (for clips/s)."""
        return 1

    def on_epoch_start(self, epoch: int) -> None:  # noqa: B027 - optional hook, default does nothing
        """Optional hook (e.g. re-clustering) called by the engine before each epoch."""


def _named(name: str, cls: type[PretextTask]) -> None:
    if not (isinstance(cls, type) and issubclass(cls, PretextTask)):
        raise TypeError(f"pretext task {name!r}: {cls!r} is not a PretextTask subclass")
    cls.name = name


TASKS: Registry[type[PretextTask]] = Registry(
    "pretext task",
    "ssl_video.pretext",
    accept=lambda obj: isinstance(obj, type) and issubclass(obj, PretextTask),
    on_register=_named,
)


def register_task(name: str):
    """Class decorator: ``@register_task("vcop")`` makes the task creatable by name."""
    return TASKS.register(name)


def list_tasks() -> list[str]:
    return TASKS.names()


def create_task(name: str, params: dict[str, Any] | None = None) -> PretextTask:
    """Build a registered task; ``params`` are checked against its ``Params`` dataclass."""
    cls = TASKS.get_or_raise(name, ConfigError, what=f"'task.name={name}'", cutoff=0.4)
    return cls(from_dict(cls.Params, params or {}, "task.params"))
