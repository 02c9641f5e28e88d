"""Arrow of time (Wei et al., CVPR 2018, in its simplest form): one clip, played forwards or
backwards with probability 1/2; a linear head on the pooled feature says which (chance 1/2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssl_video.pretext import PretextTask, SamplePlan, TaskOutput
from ssl_video.transforms import ClipTransform


@dataclass
class ArrowOfTimeParams:
    clip_len: int = 8
    crop: int = 56
    resize: tuple[int, int] | None = None


class ArrowOfTime(PretextTask):
    """Registered by its entry point (``ssl_video.pretext``: ``arrow_of_time``)."""

    Params = ArrowOfTimeParams

    def __init__(self, params: ArrowOfTimeParams):
        super().__init__(params)
        self.transform = ClipTransform(crop=params.crop, resize=params.resize, random=True)
        self.chance_accuracy = 0.5

    def min_frames(self) -> int:
        return self.params.clip_len

    def plan(self, meta, rng: np.random.Generator) -> SamplePlan:
        """clip_len consecutive frames at a random start; reversed (label 1) with probability 1/2."""
        start = int(rng.integers(0, meta.num_frames - self.params.clip_len + 1))
        frames = np.arange(start, start + self.params.clip_len)
        backwards = bool(rng.random() < 0.5)
        return SamplePlan(
            views=[frames[::-1].copy() if backwards else frames], extras={"backwards": backwards}
        )

    def make_sample(self, views, plan, rng) -> dict[str, torch.Tensor]:
        """clips (3, clip_len, crop, crop) uint8, target () int64."""
        target = torch.tensor(int(plan.extras["backwards"]), dtype=torch.int64)
        return {"clips": self.transform(views[0], rng), "target": target}

    def build_heads(self, encoder_dim: int) -> nn.Module:
        return nn.Linear(encoder_dim, 2)

    def loss(self, encoder, heads, batch) -> TaskOutput:
        logits = heads(encoder(batch["clips"]))
        target = batch["target"]
        acc = (logits.argmax(dim=1) == target).float().mean()
        return TaskOutput(F.cross_entropy(logits, target), {"acc": acc})
