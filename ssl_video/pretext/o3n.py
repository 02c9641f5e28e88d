"""O3N: Odd-One-Out Networks (Fernando, Bilen, Gavves, Gould, CVPR 2017), PRETEXT_SPEC §4.

A question is ``num_elements`` = N+1 subsequences of ``clip_len`` frames from one video, all drawn by
one identical sampler. One of them, the odd one, has its frames permuted (never the identity; by
default not the exact reversal either, which looks valid for reversible motion). Each subsequence is
a clip on the shared encoder, with its own random crop (shared by its frames); the branch features
are fused (the paper's sum of differences or concatenation, or our permutation-equivariant
``contrast``) and an (N+1)-way classifier says which is odd.

Only the odd element's frame order depends on the label: which frames are decoded, their number, the
crops and the tensor shapes are drawn the same way for every element, before or independently of the
label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import ConfigError
from ..transforms import ClipTransform
from ..video import VideoMeta
from .base import PretextTask, SamplePlan, TaskOutput, register_task
from .order import accuracy, encode_elements

SAMPLERS = ("constrained", "consecutive", "random")
FUSIONS = ("sdf", "concat", "contrast")


def subsequence_span(length: int, sampler: str, window: int) -> int:
    """Frames a video needs so that ``sampler`` can draw ``length`` ordered frames from it."""
    return window if sampler == "constrained" else length


def sample_subsequence(
    num_frames: int, length: int, sampler: str, window: int, rng: np.random.Generator
) -> np.ndarray:
    """``length`` distinct frame indices in increasing order from a video of ``num_frames`` frames.

    sampler: ``consecutive`` (a run of ``length`` frames at a uniform start), ``constrained``
    (``length`` of the ``window`` frames of a window at a uniform start, uniformly without
    replacement; O3N's "constrained consecutive") or ``random`` (``length`` of all frames).
    Returns (length,) int64.
    """
    span = subsequence_span(length, sampler, window)
    if num_frames < span:
        raise ValueError(f"{sampler} sampler needs {span} frames, the video has {num_frames}")
    if sampler == "consecutive":
        return int(rng.integers(0, num_frames - length + 1)) + np.arange(length, dtype=np.int64)
    if sampler == "constrained":
        start = int(rng.integers(0, num_frames - window + 1))
        return start + np.sort(rng.choice(window, size=length, replace=False)).astype(np.int64)
    if sampler == "random":
        return np.sort(rng.choice(num_frames, size=length, replace=False)).astype(np.int64)
    raise ValueError(f"unknown sampler {sampler!r} (known: {', '.join(SAMPLERS)})")


def draw_disorder(length: int, rng: np.random.Generator, allow_reversal: bool = False) -> np.ndarray:
    """A uniformly random permutation of range(length) that is not the identity (nor, unless
    ``allow_reversal``, the reversal). Returns (length,) int64: new frame k is old frame perm[k]."""
    if length < (2 if allow_reversal else 3):
        raise ValueError(
            f"no disorder of {length} frames exists"
            + ("" if allow_reversal else " besides the reversal (allow_reversal=false)")
        )
    identity = np.arange(length)
    while True:
        perm = rng.permutation(length)
        if np.array_equal(perm, identity) or (not allow_reversal and np.array_equal(perm, identity[::-1])):
            continue
        return perm.astype(np.int64)


class OddOneOutHead(nn.Module):
    """O3N head: a shared branch layer (Linear + ReLU, the paper's 128-unit fc6) on every element,
    a fusion, then Linear + ReLU, dropout and a Linear to the logits.

    The paper's fusions feed one classifier with K outputs:

    * ``sdf`` (sum of differences): o = sum_{i<j} (v_j - v_i) = sum_k (2k - K + 1) v_k, a fixed,
      position-weighted sum whose weights add to zero, so what all elements share cancels and the
      odd one's deviation is scaled by a weight unique to its position (the classifier must decode
      the position from that scale);
    * ``concat``: all K branch vectors side by side (K * hidden).

    ``contrast`` [OURS, not in the paper]: every element's branch vector minus the question's mean,
    scored by one shared classifier with a single output, so the head is permutation-equivariant
    (permuting the elements permutes the logits) and every position shares one odd-ness detector.

    Input (B, K, D) element features -> logits (B, K).
    """

    def __init__(
        self, dim: int, num_elements: int, hidden: int = 128, fusion: str = "sdf", dropout: float = 0.5
    ):
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r} (known: {', '.join(FUSIONS)})")
        self.fusion = fusion
        self.num_elements = num_elements
        self.branch = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(inplace=True))
        weights = 2.0 * torch.arange(num_elements, dtype=torch.float32) - (num_elements - 1)
        self.register_buffer("sdf_weights", weights, persistent=False)
        fused = {"sdf": hidden, "concat": hidden * num_elements, "contrast": hidden}[fusion]
        self.classifier = nn.Sequential(
            nn.Linear(fused, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1 if fusion == "contrast" else num_elements),
        )

    def fuse(self, branch_features: torch.Tensor) -> torch.Tensor:
        """(B, K, H) -> (B, H) for sdf, (B, K * H) for concat, (B, K, H) for contrast."""
        if self.fusion == "sdf":
            return torch.einsum("k,bkh->bh", self.sdf_weights.to(branch_features.dtype), branch_features)
        if self.fusion == "contrast":
            return branch_features - branch_features.mean(dim=1, keepdim=True)
        return branch_features.flatten(1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.dim() != 3 or features.shape[1] != self.num_elements:
            raise ValueError(f"expected (B, {self.num_elements}, D) features, got {tuple(features.shape)}")
        logits = self.classifier(self.fuse(self.branch(features)))
        return logits.squeeze(-1) if self.fusion == "contrast" else logits


@dataclass
class O3NParams:
    num_elements: int = 6  # N + 1 subsequences per question
    clip_len: int = 6  # W frames per subsequence
    sampler: str = "constrained"  # constrained | consecutive | random
    window: int | None = None  # constrained sampler's window; None = ceil(1.5 * clip_len)
    allow_reversal: bool = False  # may the odd element be the exact reversal?
    crop: int = 112
    resize: tuple[int, int] | None = (128, 171)
    fusion: str = "sdf"  # sdf | concat | contrast (ours)
    hidden: int = 128
    dropout: float = 0.5


@register_task("o3n")
class O3N(PretextTask):
    Params = O3NParams

    def __init__(self, params: O3NParams):
        if params.sampler not in SAMPLERS:
            raise ConfigError(f"task.params.sampler={params.sampler!r}: use one of {', '.join(SAMPLERS)}")
        if params.fusion not in FUSIONS:
            raise ConfigError(f"task.params.fusion={params.fusion!r}: use one of {', '.join(FUSIONS)}")
        if params.num_elements < 2:
            raise ConfigError(f"task.params.num_elements must be >= 2, got {params.num_elements}")
        min_len = 2 if params.allow_reversal else 3
        if params.clip_len < min_len:
            raise ConfigError(
                f"task.params.clip_len={params.clip_len}: a disordered subsequence needs >= {min_len} "
                f"frames{'' if params.allow_reversal else ' (the reversal is excluded)'}"
            )
        window = math.ceil(1.5 * params.clip_len) if params.window is None else params.window
        if window < params.clip_len:
            raise ConfigError(f"task.params.window={window} is shorter than clip_len={params.clip_len}")
        super().__init__(params)
        self.window = window
        self.transform = ClipTransform(crop=params.crop, resize=params.resize, random=True)
        self.chance_accuracy = 1.0 / params.num_elements

    def min_frames(self) -> int:
        return subsequence_span(self.params.clip_len, self.params.sampler, self.window)

    def clips_per_sample(self) -> int:
        return self.params.num_elements

    def plan(self, meta: VideoMeta, rng: np.random.Generator) -> SamplePlan:
        """N+1 ordered subsequences, each drawn independently by the same sampler (label-free)."""
        p = self.params
        return SamplePlan(
            views=[
                sample_subsequence(meta.num_frames, p.clip_len, p.sampler, self.window, rng)
                for _ in range(p.num_elements)
            ]
        )

    def make_sample(self, views, plan, rng) -> dict[str, torch.Tensor]:
        """Pick the odd position, permute its frames, crop every element independently.

        Returns clips (N+1, 3, clip_len, crop, crop) uint8 and target () int64 = the odd position.
        """
        p = self.params
        odd = int(rng.integers(p.num_elements))
        frames = list(views)
        frames[odd] = frames[odd][draw_disorder(p.clip_len, rng, p.allow_reversal)]
        clips = [self.transform(f, rng) for f in frames]
        return {"clips": torch.stack(clips), "target": torch.tensor(odd, dtype=torch.int64)}

    def build_heads(self, encoder_dim: int) -> nn.Module:
        p = self.params
        return OddOneOutHead(encoder_dim, p.num_elements, p.hidden, p.fusion, p.dropout)

    def loss(self, encoder, heads, batch) -> TaskOutput:
        logits = heads(encode_elements(encoder, batch["clips"]))
        target = batch["target"]
        return TaskOutput(F.cross_entropy(logits, target), {"acc": accuracy(logits, target)})
