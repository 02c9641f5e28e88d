"""Building blocks shared by the order-based tasks (VCOP, OPN, Shuffle&Learn, O3N).

Permutation labels follow PRETEXT_SPEC §0.2: all permutations of (0..n-1) in lexicographic order;
a sample whose elements were fed in the order ``(o_0, ..., o_{n-1})`` (original temporal indices)
has the label ``permutation_table(n).index(order)``.

Folded labels (OPN, PRETEXT_SPEC §2): an order and its reversal are one class. The class
representative is the member in which the temporally first element (0) is fed before the last one
(n-1); the n!/2 representatives in lexicographic order give the class index.

Motion-weighted windows (Shuffle&Learn, OPN): a few probed frame pairs give a cheap per-frame motion
profile (mean absolute grey-level difference of consecutive frames, a stand-in for the papers'
optical-flow magnitude), and a window is drawn with probability proportional to its mean motion.
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import torch
from torch import nn


@cache
def permutation_table(n: int) -> tuple[tuple[int, ...], ...]:
    """All n! permutations of range(n) in lexicographic order; the index is the class label."""
    return tuple(itertools.permutations(range(n)))


def permutation_label(order: tuple[int, ...] | list[int]) -> int:
    """Class label of a feeding order, e.g. (0, 2, 1) -> 1 for n = 3."""
    return permutation_table(len(order)).index(tuple(int(i) for i in order))


def canonical_order(order: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """The representative of {order, reversed(order)}: the one feeding element 0 before element n-1."""
    order = tuple(int(i) for i in order)
    return order if order.index(0) < order.index(len(order) - 1) else order[::-1]


@cache
def folded_permutation_table(n: int) -> tuple[tuple[int, ...], ...]:
    """The n!/2 class representatives (element 0 fed before element n-1), lexicographic; n >= 2."""
    if n < 2:
        raise ValueError(f"folding needs at least 2 elements, got {n}")
    return tuple(p for p in permutation_table(n) if p.index(0) < p.index(n - 1))


def folded_permutation_label(order: tuple[int, ...] | list[int]) -> int:
    """Folded class of a feeding order: ``order`` and ``order[::-1]`` get the same label."""
    return folded_permutation_table(len(order)).index(canonical_order(order))


class ConcatHead(nn.Module):
    """Classifier on the concatenated element features (Shuffle&Learn's fc8 on [fc7_1; fc7_2; fc7_3]).

    hidden = 0: one Linear(K D -> num_classes), as in the paper. hidden > 0: Linear(K D -> hidden) +
    ReLU + dropout first, which lets the head compare elements (the paper's per-frame fc6/fc7 cannot).
    Input (B, K, D) element features -> logits (B, num_classes).
    """

    def __init__(self, dim: int, num_elements: int, num_classes: int, hidden: int = 0, dropout: float = 0.5):
        super().__init__()
        in_features = dim * num_elements
        if hidden > 0:
            self.net = nn.Sequential(
                nn.Linear(in_features, hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
                nn.Linear(hidden, num_classes),
            )
        else:
            self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, num_classes))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features.flatten(1))


def motion_probe_indices(num_frames: int, points: int) -> np.ndarray:
    """Frame pairs (t, t+1) at ``points`` evenly spaced t in [0, num_frames - 2]: sorted unique (N,)."""
    if points < 1 or num_frames < 2:
        return np.zeros(0, dtype=np.int64)
    starts = np.unique(np.linspace(0, num_frames - 2, min(points, num_frames - 1)).round().astype(np.int64))
    return np.unique(np.concatenate([starts, starts + 1]))


def motion_profile(num_frames: int, indices: np.ndarray, frames: np.ndarray) -> np.ndarray | None:
    """Per-frame motion (num_frames,) float64 from probed frames, or None if no pair was probed.

    Every probed pair (t, t+1) gives the mean absolute difference of its grey levels (0..255); the
    profile interpolates these values linearly over all frames (constant beyond the first/last pair).
    """
    indices = np.asarray(indices, dtype=np.int64)
    position = {int(t): i for i, t in enumerate(indices)}
    starts = [t for t in sorted(position) if t + 1 in position]
    if not starts:
        return None
    grey = frames.astype(np.float32).mean(axis=-1)  # (N, H, W)
    values = [float(np.abs(grey[position[t + 1]] - grey[position[t]]).mean()) for t in starts]
    return np.interp(np.arange(num_frames), np.asarray(starts, dtype=np.float64) + 0.5, values)


def weighted_window_start(
    num_frames: int, span: int, rng: np.random.Generator, profile: np.ndarray | None = None
) -> int:
    """Start s of a window [s, s + span) inside the video, drawn with probability proportional to the
    window's mean ``profile`` (uniform when the profile is None or zero everywhere)."""
    last = num_frames - span
    if last < 0:
        raise ValueError(f"a window of {span} frames does not fit a video of {num_frames} frames")
    if profile is None:
        return int(rng.integers(0, last + 1))
    sums = np.concatenate([[0.0], np.cumsum(profile, dtype=np.float64)])
    weights = np.clip(sums[span : span + last + 1] - sums[: last + 1], 0.0, None)
    total = weights.sum()
    if not np.isfinite(total) or total <= 0:
        return int(rng.integers(0, last + 1))
    return int(rng.choice(last + 1, p=weights / total))


class PairwiseOrderHead(nn.Module):
    """Pairwise order head (OPN/VCOP): shared Linear+ReLU on every pair [f_i; f_j] (i < j),
    concatenate the pairs, dropout, Linear to the number of order classes.

    Input (B, K, D) element features -> logits (B, num_classes).
    """

    def __init__(
        self, dim: int, num_elements: int, num_classes: int, hidden: int = 512, dropout: float = 0.5
    ):
        super().__init__()
        self.pairs = list(itertools.combinations(range(num_elements), 2))
        self.pair_fc = nn.Sequential(nn.Linear(2 * dim, hidden), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden * len(self.pairs), num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        pair_inputs = torch.stack(
            [torch.cat([features[:, i], features[:, j]], dim=1) for i, j in self.pairs], 1
        )
        pair_features = self.pair_fc(pair_inputs)  # (B, P, hidden)
        return self.classifier(self.dropout(pair_features.flatten(1)))


def encode_elements(encoder: nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """Run the encoder on every element of a tuple: (B, K, C, T, H, W) -> (B, K, D)."""
    b, k = clips.shape[:2]
    return encoder(clips.flatten(0, 1)).view(b, k, -1)


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Top-1 accuracy of (B, C) logits against (B,) targets, as a 0-d float tensor."""
    return (logits.argmax(dim=1) == target).float().mean()
