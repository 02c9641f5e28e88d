"""Weighted kNN classification on frozen features (InstDisc / solo-learn / lightly weighting).

Each test video's k nearest train videos (cosine on L2-normalised features, ranked by FAISS with
the lower-index-first tie rule of ``neighbours.py``) vote for their class with weight
exp(similarity / temperature); classes are ranked by summed weight (ties: lower class index first).
"""

from __future__ import annotations

import numpy as np

from .neighbours import l2_normalize, rank_neighbours
from .protocols import KnnProtocol


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, ks=(1, 5), ok: np.ndarray | None = None) -> dict:
    """Top-k accuracy in % from class scores (N, C) and labels (N,); classes are ranked by
    (-score, class index); rows with ``ok`` False count as misses. k above C means all classes."""
    n, c = scores.shape
    order = np.lexsort((np.broadcast_to(np.arange(c), scores.shape), -scores), axis=1)
    hits = order == np.asarray(labels)[:, None]  # (N, C): at most one True per row
    if ok is not None:
        hits &= np.asarray(ok, dtype=bool)[:, None]
    rank = np.where(hits.any(1), hits.argmax(1), c)
    return {f"top{k}": float(100.0 * np.mean(rank < min(k, c))) if n else 0.0 for k in ks}


def knn_scores(
    train: np.ndarray,
    train_labels: np.ndarray,
    test: np.ndarray,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.07,
) -> np.ndarray:
    """Class scores (M, C): for each test row, sum over its min(k, N) nearest train rows of
    exp(cosine similarity / temperature), per class. train (N, D), train_labels (N,), test (M, D)."""
    scores = np.zeros((test.shape[0], num_classes))
    if train.shape[0] == 0 or test.shape[0] == 0:
        return scores
    sims, idx = rank_neighbours(l2_normalize(test), l2_normalize(train), k)
    weights = np.exp(sims / temperature)
    rows = np.repeat(np.arange(test.shape[0]), idx.shape[1])
    np.add.at(scores, (rows, np.asarray(train_labels)[idx].ravel()), weights.ravel())
    return scores


def knn_metrics(
    protocol: KnnProtocol,
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray, np.ndarray],
    num_classes: int,
) -> dict[str, float]:
    """top1 / top5 (%) on the test split with the usable train videos as memory bank; inputs are
    (features (N, D), labels (N,), ok (N,)) per split; failed test videos count as misses."""
    (x, y, x_ok), (t, ty, t_ok) = train, test
    scores = knn_scores(x[x_ok], y[x_ok], t, num_classes, protocol.k, protocol.temperature)
    return topk_accuracy(scores, ty, (1, 5), t_ok)
