"""OPN: Order Prediction Network, sorting sequences (Lee, Huang, Singh, Yang, ICCV 2017), PRETEXT_SPEC §2.

Take ``tuple_len`` = 4 elements of one video, ``interval`` frames apart, shuffle them, and classify
the permutation. A sequence and its reversal are one class (4!/2 = 12 classes): the class
representative feeds the temporally first element before the last one, and with p = 0.5 the reversed
tuple is fed under the same label. Reversing a tuple reverses the element order and the frames inside
every element, i.e. it is the shuffled tuple played backwards, so for single frames this is exactly
the paper's reversal. Features are combined by the pairwise order head shared with VCOP.

Against low-level shortcuts (the paper's data layer): one crop origin per tuple with an independent
offset in [-jitter, jitter] px for every element (spatial jittering), one random RGB channel per
element replicated to all three (channel splitting), and one horizontal mirror per tuple.

Elements: clips of ``clip_len`` frames on the shared 3D encoder (the default, comparable with VCOP),
or with ``clip_len: 1`` and a 2D frame encoder the paper's single frames.

Deviation from the paper (also in pretext/opn.yaml): its tuples were precomputed in high-motion
windows and regions by optical-flow magnitude. We probe ``motion_probes`` pairs of consecutive frames
and draw the tuple's window with probability proportional to its mean absolute grey-level frame
difference (see ``order.motion_profile``); the crop region is not motion-selected.
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
    PairwiseOrderHead,
    accuracy,
    encode_elements,
    folded_permutation_table,
    motion_probe_indices,
    motion_profile,
    weighted_window_start,
)


@dataclass
class OPNParams:
    clip_len: int = 16  # frames per element; 1 = the paper's single frames
    interval: int = 8  # frames between consecutive elements
    tuple_len: int = 4
    motion_probes: int = 8  # frame pairs probed for motion-weighted windows; 0 = uniform windows
    crop: int = 112
    resize: tuple[int, int] | None = (128, 171)
    jitter: int = 5  # per-element crop offset in [-jitter, jitter] px
    flip: bool = True
    channel_split: bool = True
    hidden: int = 512
    dropout: float = 0.5


@register_task("opn")
class OPN(PretextTask):
    Params = OPNParams

    def __init__(self, params: OPNParams):
        p = params
        if p.tuple_len < 3 or p.clip_len < 1 or p.interval < 0 or p.jitter < 0:
            raise ConfigError(
                "task.params needs tuple_len >= 3, clip_len >= 1, interval >= 0 and jitter >= 0, got "
                f"{p.tuple_len}, {p.clip_len}, {p.interval}, {p.jitter}"
            )
        super().__init__(params)
        self.orders = folded_permutation_table(p.tuple_len)
        self.transform = TupleTransform(
            crop=p.crop, resize=p.resize, jitter=p.jitter, flip=p.flip, channel_split=p.channel_split
        )
        self.chance_accuracy = 1.0 / len(self.orders)

    def min_frames(self) -> int:
        p = self.params
        return p.tuple_len * p.clip_len + (p.tuple_len - 1) * p.interval

    def clips_per_sample(self) -> int:
        return self.params.tuple_len

    def probe_frames(self, meta: VideoMeta) -> np.ndarray | None:
        if self.params.motion_probes <= 0:
            return None
        return motion_probe_indices(meta.num_frames, self.params.motion_probes)

    def plan(self, meta: VideoMeta, rng: np.random.Generator, probe: Probe | None = None) -> SamplePlan:
        """Elements in temporal order, every clip_len + interval frames, in a motion-weighted window."""
        p = self.params
        profile = None if probe is None else motion_profile(meta.num_frames, probe.indices, probe.frames)
        start = weighted_window_start(meta.num_frames, self.min_frames(), rng, profile)
        step = p.clip_len + p.interval
        return SamplePlan(views=[start + k * step + np.arange(p.clip_len) for k in range(p.tuple_len)])

    def make_sample(self, views, plan, rng) -> dict[str, torch.Tensor]:
        """Shuffle to a class representative, reverse the tuple with p = 0.5; target = folded class.

        Returns clips (K, 3, clip_len, crop, crop) uint8 and target () int64 in [0, K!/2).
        """
        label = int(rng.integers(len(self.orders)))
        order = self.orders[label]
        elements = [views[i] for i in order]
        if rng.integers(2):
            elements = [e[::-1] for e in elements[::-1]]
        clips = self.transform(elements, rng)
        return {"clips": torch.stack(clips), "target": torch.tensor(label, dtype=torch.int64)}

    def build_heads(self, encoder_dim: int) -> nn.Module:
        p = self.params
        return PairwiseOrderHead(encoder_dim, p.tuple_len, len(self.orders), p.hidden, p.dropout)

    def loss(self, encoder, heads, batch) -> TaskOutput:
        logits = heads(encode_elements(encoder, batch["clips"]))
        target = batch["target"]
        return TaskOutput(F.cross_entropy(logits, target), {"acc": accuracy(logits, target)})
