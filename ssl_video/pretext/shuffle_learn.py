"""Shuffle and Learn: temporal order verification (Misra, Zitnick, Hebert, ECCV 2016), PRETEXT_SPEC §1.

Five elements a < b < c < d < e are drawn from one window of a video. The positive tuple is
(b, c, d); the negatives (b, a, d) and (b, e, d) keep its first and last element and replace the
middle one by an element from outside, so only the middle element's place in time decides the
label. Any tuple is fed forward or time-reversed with p = 0.5 (both directions of a valid order are
positive), 25% of the samples are positive, and a binary head on the concatenated element features
says "in order" (1) or "not in order" (0).

Elements: clips of ``clip_len`` frames on the shared 3D encoder (the default, so results compare
with VCOP and the other clip tasks), or with ``clip_len: 1`` and a 2D frame encoder (e.g.
``r2d_tiny``, ``caffenet_2d``) the paper's single frames. Reversing a tuple reverses the element
order and the frames inside every element, i.e. it is the tuple played backwards.

Distances (start to start, in frames): ``d - b <= tau_max`` (paper 60); ``b - a`` and ``e - d`` in
[tau_min, neg_max] (paper tau_min 15; neg_max is ours, the paper only says large negative windows
hurt); consecutive elements are at least ``clip_len + min_gap`` apart, so clips never overlap and
``min_gap`` frames separate their borders. The layout is drawn before the label, so positives and
negatives share the distribution of their first and last elements.

Deviation from the paper (logged here and in pretext/shuffle_learn.yaml): the paper weights frames by
their mean Farnebäck optical-flow magnitude to sample high-motion windows. Flow is too expensive per
sample, so we probe ``motion_probes`` pairs of consecutive frames (``probe_frames``), take their
mean absolute grey-level difference as a motion profile, and draw the window with probability
proportional to its mean profile. Frame differences also respond to flicker and exposure changes,
which flow largely ignores. The paper's SSD filter against near-duplicate middle frames is not
implemented (it would need the pixels of all five elements before the label is drawn).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import ConfigError
from ..transforms.frames import TupleTransform
from ..video import VideoMeta
from .base import PretextTask, Probe, SamplePlan, TaskOutput, register_task
from .order import (
    ConcatHead,
    accuracy,
    encode_elements,
    motion_probe_indices,
    motion_profile,
    weighted_window_start,
)

POSITIVE, NEGATIVE = 1, 0


@dataclass
class ShuffleLearnParams:
    clip_len: int = 16  # frames per element; 1 = the paper's single frames
    min_gap: int = 4  # frames between the borders of consecutive elements (at least)
    tau_max: int = 60  # largest start distance d - b of the positive's first and last element
    tau_min: int = 15  # smallest start distance b - a and e - d of a negative's middle element
    neg_max: int = 30  # largest start distance b - a and e - d (ours)
    positive_ratio: float = 0.25
    motion_probes: int = 8  # frame pairs probed for motion-weighted windows; 0 = uniform windows
    crop: int = 112
    resize: tuple[int, int] | None = (128, 171)
    flip: bool = True  # one horizontal mirror per tuple, p = 0.5
    channel_split: bool = False
    hidden: int = 512  # 0 = the paper's single linear layer on the concatenated features
    dropout: float = 0.5


@register_task("shuffle_learn")
class ShuffleLearn(PretextTask):
    Params = ShuffleLearnParams

    def __init__(self, params: ShuffleLearnParams):
        p = params
        if p.clip_len < 1 or p.min_gap < 0:
            raise ConfigError(
                f"task.params.clip_len must be >= 1 and min_gap >= 0, got {p.clip_len}, {p.min_gap}"
            )
        if not 0.0 < p.positive_ratio < 1.0:
            raise ConfigError(f"task.params.positive_ratio must be in (0, 1), got {p.positive_ratio}")
        super().__init__(params)
        self.step = p.clip_len + p.min_gap  # smallest start distance of consecutive elements
        self.neg_min = max(p.tau_min, self.step)
        if p.tau_max < 2 * self.step:
            raise ConfigError(
                f"task.params.tau_max={p.tau_max} must be >= 2 x (clip_len + min_gap) = {2 * self.step}"
            )
        if p.neg_max < self.neg_min:
            raise ConfigError(
                f"task.params.neg_max={p.neg_max} must be >= max(tau_min, clip_len + min_gap) "
                f"= {self.neg_min}"
            )
        self.transform = TupleTransform(
            crop=p.crop, resize=p.resize, jitter=None, flip=p.flip, channel_split=p.channel_split
        )
        self.chance_accuracy = max(p.positive_ratio, 1.0 - p.positive_ratio)  # always "negative"

    def min_frames(self) -> int:
        return 2 * self.neg_min + 2 * self.step + self.params.clip_len

    def clips_per_sample(self) -> int:
        return 3

    def probe_frames(self, meta: VideoMeta) -> np.ndarray | None:
        if self.params.motion_probes <= 0:
            return None
        return motion_probe_indices(meta.num_frames, self.params.motion_probes)

    def layout(self, num_frames: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """Relative starts of (b - a, c - b, d - b, e - d), drawn uniformly among the layouts that fit
        ``num_frames`` (rejection sampling; the minimal layout always fits)."""
        p = self.params
        for _ in range(100):
            bd = int(rng.integers(2 * self.step, p.tau_max + 1))
            bc = int(rng.integers(self.step, bd - self.step + 1))
            ab, de = (int(x) for x in rng.integers(self.neg_min, p.neg_max + 1, size=2))
            if ab + bd + de + p.clip_len <= num_frames:
                return ab, bc, bd, de
        return self.neg_min, self.step, 2 * self.step, self.neg_min

    def plan(self, meta: VideoMeta, rng: np.random.Generator, probe: Probe | None = None) -> SamplePlan:
        """Five element starts in one (motion-weighted) window; the fed tuple and its label.

        views: the 3 fed elements in feeding order, each (clip_len,) frame indices (descending when the
        tuple is time-reversed). extras: ``starts`` (a, b, c, d, e), ``middle`` ("c", "a" or "e"),
        ``reversed`` and ``target`` (1 = in order, 0 = not).
        """
        p = self.params
        n = meta.num_frames
        ab, bc, bd, de = self.layout(n, rng)
        span = ab + bd + de + p.clip_len
        profile = None if probe is None else motion_profile(n, probe.indices, probe.frames)
        a = weighted_window_start(n, span, rng, profile)
        b = a + ab
        starts = {"a": a, "b": b, "c": b + bc, "d": b + bd, "e": b + bd + de}
        positive = bool(rng.random() < p.positive_ratio)
        middle = "c" if positive else ("a" if rng.integers(2) == 0 else "e")
        reverse = bool(rng.integers(2))
        names = ["b", middle, "d"]
        views = [starts[k] + np.arange(p.clip_len) for k in names]
        if reverse:
            views = [v[::-1].copy() for v in views[::-1]]
        extras = {
            "starts": tuple(starts[k] for k in "abcde"),
            "middle": middle,
            "reversed": reverse,
            "target": POSITIVE if positive else NEGATIVE,
        }
        return SamplePlan(views=views, extras=extras)

    def make_sample(self, views, plan, rng) -> dict[str, torch.Tensor]:
        """clips (3, 3, clip_len, crop, crop) uint8 in feeding order; target () int64 (1 = in order)."""
        clips = self.transform(views, rng)
        return {"clips": torch.stack(clips), "target": torch.tensor(plan.extras["target"], dtype=torch.int64)}

    def build_heads(self, encoder_dim: int) -> nn.Module:
        return ConcatHead(encoder_dim, 3, 2, self.params.hidden, self.params.dropout)

    def loss(self, encoder, heads, batch) -> TaskOutput:
        logits = heads(encode_elements(encoder, batch["clips"]))
        target = batch["target"]
        return TaskOutput(
            F.cross_entropy(logits, target),
            {"acc": accuracy(logits, target), "bal_acc": balanced_accuracy(logits, target)},
        )


def balanced_accuracy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-class recall over the classes present in the batch, 0-d float (chance 0.5 for 2 classes)."""
    pred = logits.argmax(dim=1)
    recalls = [(pred[target == c] == c).float().mean() for c in target.unique()]
    return torch.stack(recalls).mean()
