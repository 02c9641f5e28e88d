"""Nearest class centroid on frozen features: each test video takes the class whose mean
(L2-normalised) train descriptor is most cosine-similar to its own. Metric: top1 in %."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ssl_video.evaluation import Protocol


@dataclass(frozen=True)
class CentroidProtocol(Protocol):
    """Registered by its entry point (``ssl_video.protocols``: ``centroid``); YAMLs say ``kind: centroid``."""

    name: str = "centroid"
    kind: str = "centroid"
    stochastic: ClassVar[bool] = False  # no training, no draws: one seed

    def compute(self, train, test, num_classes, seed):
        """train / test: (features (N, D), labels (N,), usable (N,) bool) -> ({"top1"}, {"top1": hits})."""
        (xtr, ytr, oktr), (xte, yte, okte) = train, test
        xtr = xtr[oktr] / np.linalg.norm(xtr[oktr], axis=1, keepdims=True).clip(1e-12)
        centroids = np.stack([xtr[ytr[oktr] == c].mean(axis=0) for c in range(num_classes)])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True).clip(1e-12)
        predicted = np.argmax(xte @ centroids.T, axis=1)
        hits = (predicted == yte) & okte  # a video without features counts as a miss
        return {"top1": 100.0 * float(hits.mean())}, {"top1": hits}
