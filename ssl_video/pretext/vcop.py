"""VCOP: Video Clip Order Prediction (Xu et al., CVPR 2019).

Sample ``tuple_len`` clips of ``clip_len`` frames, ``interval`` frames apart, from one video. Shuffle
them, encode each with the shared 3D encoder, and predict which of the ``tuple_len!`` permutations
was applied with the pairwise order head. Forward and backward orders are distinct classes. Each clip
gets its own random crop, so crop positions cannot be used to chain the clips together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..transforms import ClipTransform
from ..video import VideoMeta
from .base import PretextTask, SamplePlan, TaskOutput, register_task
from .order import PairwiseOrderHead, accuracy, encode_elements, permutation_table


@dataclass
class VCOPParams:
    clip_len: int = 16
    interval: int = 8
    tuple_len: int = 3
    crop: int = 112
    resize: tuple[int, int] | None = (128, 171)
    hidden: int = 512
    dropout: float = 0.5


@register_task("vcop")
class VCOP(PretextTask):
    Params = VCOPParams

    def __init__(self, params: VCOPParams):
        super().__init__(params)
        self.orders = permutation_table(params.tuple_len)
        self.transform = ClipTransform(crop=params.crop, resize=params.resize, random=True)
        self.chance_accuracy = 1.0 / len(self.orders)

    def min_frames(self) -> int:
        p = self.params
        return p.clip_len * p.tuple_len + p.interval * (p.tuple_len - 1)

    def clips_per_sample(self) -> int:
        return self.params.tuple_len

    def plan(self, meta: VideoMeta, rng: np.random.Generator) -> SamplePlan:
        """Clips in temporal order: start uniform in [0, L - span], then every clip_len + interval."""
        p = self.params
        start = int(rng.integers(0, meta.num_frames - self.min_frames() + 1))
        step = p.clip_len + p.interval
        return SamplePlan(views=[start + k * step + np.arange(p.clip_len) for k in range(p.tuple_len)])

    def make_sample(self, views, plan, rng) -> dict[str, torch.Tensor]:
        """Shuffle the clips; target = lexicographic index of the feeding order.

        Returns clips (K, 3, clip_len, crop, crop) uint8 and target () int64.
        """
        label = int(rng.integers(len(self.orders)))
        clips = [self.transform(views[i], rng) for i in self.orders[label]]
        return {"clips": torch.stack(clips), "target": torch.tensor(label, dtype=torch.int64)}

    def build_heads(self, encoder_dim: int) -> nn.Module:
        p = self.params
        return PairwiseOrderHead(encoder_dim, p.tuple_len, math.factorial(p.tuple_len), p.hidden, p.dropout)

    def loss(self, encoder, heads, batch) -> TaskOutput:
        logits = heads(encode_elements(encoder, batch["clips"]))
        target = batch["target"]
        return TaskOutput(F.cross_entropy(logits, target), {"acc": accuracy(logits, target)})
