"""SpeedNet: is this clip playing at normal speed or sped up? (Benaim et al., CVPR 2020), PRETEXT_SPEC §5.

Every sample is a pair cut around the same moment of one video: a normal clip (frame step
f ~ U(normal_speed), about 1x) and a sped-up clip (f ~ U(fast_speed), about 2x), each ``clip_len``
frames on a float grid rounded to frames (``resample_indices``), so neither class has a perfectly
regular skip pattern. Both clips go through one spatial draw (``RandomRescaleCrop``: a random rescale
then a crop), so they differ only in their motion, and the rescale makes absolute pixel displacement
an unreliable speed cue. Pairs give the paper's same-batch training: every batch holds both speeds of
the same source clips, so appearance cannot decide. The slot order is random.

The binary head (PRETEXT_SPEC §5 [OURS]) sees one clip at a time: the encoder's feature map is
max-pooled over space, a 1x1x1 conv gives one logit per time step, and their mean is the clip's
logit; loss BCE-with-logits, target 1 = sped up.

Independent of the label: the clip's centre (drawn for the pair before any speed), its number of
frames, the spatial draw and every tensor shape and dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import ConfigError
from ..transforms import RandomRescaleCrop, resample_indices
from ..video import VideoMeta
from .base import PretextTask, SamplePlan, TaskOutput, register_task
from .order import accuracy


class SpeedHead(nn.Module):
    """Feature map (B, D, T', H', W') -> one logit per clip (B,): global max over H', W', a 1x1x1
    conv (D -> 1) per time step, mean over T'."""

    def __init__(self, dim: int):
        super().__init__()
        self.step_logit = nn.Conv1d(dim, 1, kernel_size=1)

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        if feature_map.dim() != 5:
            raise ValueError(f"expected a (B, D, T', H', W') feature map, got {tuple(feature_map.shape)}")
        per_step = self.step_logit(feature_map.amax(dim=(3, 4)))  # (B, 1, T')
        return per_step.mean(dim=(1, 2))


@dataclass
class SpeedNetParams:
    clip_len: int = 64
    normal_speed: tuple[float, float] = (1.0, 1.2)  # frame step of label-0 clips, U[lo, hi)
    fast_speed: tuple[float, float] = (1.8, 2.2)  # frame step of label-1 (sped-up) clips, U[lo, hi)
    crop: int = 224
    scale: tuple[float, float] = (1.0, 1.5)  # shorter side rescaled to crop * U(scale) before the crop


@register_task("speednet")
class SpeedNet(PretextTask):
    Params = SpeedNetParams
    chance_accuracy = 0.5

    def __init__(self, params: SpeedNetParams):
        (n_lo, n_hi), (f_lo, f_hi) = params.normal_speed, params.fast_speed
        if not 1.0 <= n_lo <= n_hi < f_lo <= f_hi:
            raise ConfigError(
                f"task.params.normal_speed={list(params.normal_speed)} and task.params.fast_speed="
                f"{list(params.fast_speed)} must be ranges with 1 <= normal lo <= normal hi < fast lo "
                "<= fast hi"
            )
        if params.clip_len < 2:
            raise ConfigError(f"task.params.clip_len must be >= 2 to show motion, got {params.clip_len}")
        try:
            self.spatial = RandomRescaleCrop(params.crop, tuple(params.scale))
        except ValueError as e:
            raise ConfigError(f"task.params.crop/scale: {e}") from None
        super().__init__(params)

    def reach(self) -> float:
        """Half the longest span a clip can cover, in frames: (clip_len - 1) * fast hi / 2."""
        return (self.params.clip_len - 1) * self.params.fast_speed[1] / 2.0

    def min_frames(self) -> int:
        return math.ceil(2 * self.reach()) + 1

    def clips_per_sample(self) -> int:
        return 2

    def plan(self, meta: VideoMeta, rng: np.random.Generator) -> SamplePlan:
        """views [normal, sped-up], both centred on one float position drawn for the pair."""
        p = self.params
        reach = self.reach()
        center = float(rng.uniform(reach, meta.num_frames - 1 - reach))
        normal = resample_indices(center, p.clip_len, float(rng.uniform(*p.normal_speed)))
        fast = resample_indices(center, p.clip_len, float(rng.uniform(*p.fast_speed)))
        return SamplePlan(views=[normal, fast])

    def make_sample(self, views, plan, rng) -> dict[str, torch.Tensor]:
        """One spatial draw for both clips, random slot order.

        Returns clips (2, 3, clip_len, crop, crop) uint8 and target (2,) int64, 1 = sped up.
        """
        t = self.params.clip_len
        pair = self.spatial(np.concatenate([views[0], views[1]]), rng)  # (3, 2T, crop, crop)
        clips = [pair[:, :t], pair[:, t:]]
        target = [0, 1]
        if rng.integers(2):
            clips.reverse()
            target.reverse()
        return {"clips": torch.stack(clips), "target": torch.tensor(target, dtype=torch.int64)}

    def build_heads(self, encoder_dim: int) -> nn.Module:
        return SpeedHead(encoder_dim)

    def loss(self, encoder, heads, batch) -> TaskOutput:
        clips = batch["clips"]  # (B, 2, 3, T, H, W)
        logits = heads(encoder.forward_features(clips.flatten(0, 1)))  # (2B,)
        target = batch["target"].flatten()
        loss = F.binary_cross_entropy_with_logits(logits.float(), target.float())
        # class 1 wins the argmax of (0, logit) iff logit > 0
        acc = accuracy(torch.stack([torch.zeros_like(logits), logits], dim=1), target)
        return TaskOutput(loss, {"acc": acc})
