"""Supervised baseline: the same encoder trained from scratch on labelled clips.

Not a pretext task: it reads the record's class label, so it belongs only on an evaluation train
split, where it gives every comparison table its "what labels alone achieve" row. One random clip
per video per epoch, a random crop, a linear classifier on the pooled feature, cross-entropy.

``frame_stride`` spaces the clip's frames: a clip then spans ``(clip_len - 1) * frame_stride + 1``
frames. Use it when a class is defined by the whole video rather than by any short window of it
(SynthMotion: an 8-frame window of Bounce looks like TranslateLeft, and SlideToStop at rest like any
static sprite, so the cpu recipe samples 8 frames 6 apart, spanning 43 of 48 frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import ConfigError
from ..transforms import ClipTransform
from ..video import VideoMeta
from .base import PretextTask, SamplePlan, TaskOutput, register_task
from .order import accuracy


@dataclass
class SupervisedParams:
    num_classes: int = 0  # required: the evaluation dataset's number of classes
    clip_len: int = 16
    frame_stride: int = 1  # frames between the clip's frames (span (clip_len - 1) * frame_stride + 1)
    crop: int = 112
    resize: tuple[int, int] | None = (128, 171)
    dropout: float = 0.5


@register_task("supervised")
class Supervised(PretextTask):
    Params = SupervisedParams

    def __init__(self, params: SupervisedParams):
        if params.num_classes < 2:
            raise ConfigError("task.params.num_classes must be set to the dataset's number of classes (>= 2)")
        if params.clip_len < 1 or params.frame_stride < 1:
            raise ConfigError("task.params.clip_len and task.params.frame_stride must be >= 1")
        super().__init__(params)
        self.transform = ClipTransform(crop=params.crop, resize=params.resize, random=True)
        self.chance_accuracy = 1.0 / params.num_classes

    def min_frames(self) -> int:
        return 1  # shorter videos repeat their last frame

    def plan(self, meta: VideoMeta, rng: np.random.Generator) -> SamplePlan:
        """One clip of clip_len frames, frame_stride apart, at a uniform random start (clamped to the
        video: a video shorter than the span repeats its last frame)."""
        offsets = np.arange(self.params.clip_len) * self.params.frame_stride
        start = int(rng.integers(0, max(1, meta.num_frames - int(offsets[-1]))))
        return SamplePlan(views=[np.minimum(start + offsets, meta.num_frames - 1)])

    def make_sample(self, views, plan, rng) -> dict[str, torch.Tensor]:
        """clips (3, clip_len, crop, crop) uint8; the target is the record's ``label`` (data layer)."""
        return {"clips": self.transform(views[0], rng)}

    def build_heads(self, encoder_dim: int) -> nn.Module:
        return nn.Sequential(nn.Dropout(self.params.dropout), nn.Linear(encoder_dim, self.params.num_classes))

    def loss(self, encoder, heads, batch) -> TaskOutput:
        labels = batch["label"]
        if bool((labels < 0).any()) or bool((labels >= self.params.num_classes).any()):
            raise ValueError(
                f"supervised training needs labels in [0, {self.params.num_classes}); got "
                f"{sorted(set(labels.tolist()))[:5]} (unlabeled videos or a wrong task.params.num_classes)"
            )
        logits = heads(encoder(batch["clips"]))
        return TaskOutput(F.cross_entropy(logits, labels), {"acc": accuracy(logits, labels)})
