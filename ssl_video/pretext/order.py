"""Building blocks shared by the order-based tasks (VCOP, OPN, Shuffle&Learn, O3N).

Permutation labels follow PRETEXT_SPEC §0.2: all permutations of (0..n-1) in lexicographic order;
a sample whose elements were fed in the order ``(o_0, ..., o_{n-1})`` (original temporal indices)
has the label ``permutation_table(n).index(order)``.
"""

from __future__ import annotations

import itertools
from functools import cache

import torch
from torch import nn


@cache
def permutation_table(n: int) -> tuple[tuple[int, ...], ...]:
    """All n! permutations of range(n) in lexicographic order; the index is the class label."""
    return tuple(itertools.permutations(range(n)))


def permutation_label(order: tuple[int, ...] | list[int]) -> int:
    """Class label of a feeding order, e.g. (0, 2, 1) -> 1 for n = 3."""
    return permutation_table(len(order)).index(tuple(int(i) for i in order))


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
