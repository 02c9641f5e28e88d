"""Weighted kNN classification on frozen features (InstDisc / solo-learn / lightly weighting).

Each test video's k nearest train videos (cosine on L2-normalised features; the set of the k nearest is
exactly the brute force's, lower index first among equal similarities, see ``neighbours.py``) vote for
their class with weight exp(similarity / temperature); classes are ranked by summed weight (ties: lower
class index first).

Scores come from the float32 similarities of the matrix product, each within ``error_bound`` of the
exact one, so a class score is within score * expm1(bound / temperature) of its exact value. Where that
could change which classes are in the top r (r in ``exact_ranks``), the classes in contention get
their exact scores (exact similarities, summed in exact neighbour order): top-1 / top-5 equal a
float64 brute force's.
"""

from __future__ import annotations

import numpy as np

from ..results.outcomes import hit_rate
from .neighbours import error_bound, exact_pair_sims, l2_normalize, rank_neighbours
from .protocols import KnnProtocol


def topk_hits(
    scores: np.ndarray, labels: np.ndarray, ks=(1, 5), ok: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per-video top-k correctness ``{"top<k>": (N,) bool}`` from class scores (N, C) and labels (N,);
    classes are ranked by (-score, class index); rows with ``ok`` False are misses. k above C means
    all classes."""
    n, c = scores.shape
    order = _class_order(scores)
    hits = order == np.asarray(labels)[:, None]  # (N, C): at most one True per row
    if ok is not None:
        hits &= np.asarray(ok, dtype=bool)[:, None]
    rank = np.where(hits.any(1), hits.argmax(1), c)
    return {f"top{k}": rank < min(k, c) for k in ks}


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, ks=(1, 5), ok: np.ndarray | None = None) -> dict:
    """Top-k accuracy in %: the :func:`~ssl_video.results.outcomes.hit_rate` of :func:`topk_hits`."""
    return {name: hit_rate(hits) for name, hits in topk_hits(scores, labels, ks, ok).items()}


def topk_chance(ks, num_classes: int) -> dict[str, float]:
    """Chance level of top-k accuracy in %: ``100 * min(k, C) / C``, the expected accuracy of a
    classifier that ranks the C classes uniformly at random (the same for every video, whatever the
    class frequencies; unlike the majority-class rate it needs no knowledge of the labels)."""
    if num_classes < 1:
        raise ValueError(f"top-k chance needs at least one class, got {num_classes}")
    return {f"top{k}": 100.0 * (min(k, num_classes) / num_classes) for k in ks}


def _class_order(scores: np.ndarray) -> np.ndarray:
    """(N, C) scores -> (N, C) class indices by (-score, class index) (a stable sort keeps equal scores
    in class order)."""
    return np.argsort(-scores, axis=1, kind="stable")


def _vote(sims: np.ndarray, idx: np.ndarray, labels: np.ndarray, num_classes: int, temperature: float):
    """(M, k) similarities and train indices -> (M, C) summed exp(sim / T) per class, in column order."""
    n = sims.shape[0]
    cells = (np.arange(n)[:, None] * num_classes + labels[idx]).ravel()  # (M * k,) flat (row, class)
    weights = np.exp(sims / temperature).ravel()
    return np.bincount(cells, weights, minlength=n * num_classes).reshape(n, num_classes)


def _contested(scores: np.ndarray, tolerance: np.ndarray, ranks) -> np.ndarray:
    """(M, C) bool: the classes whose exact score is needed to know each row's top-r class set
    (r in ``ranks``); a score may be off by up to score * tolerance (tolerance (M,)).

    At a cut r the set is certain when the lowest possible value of the r-th class is above the
    highest possible value of the (r+1)-th (values sorted, intervals shrink with the value). Otherwise
    the contested classes are those whose interval reaches across: classes certainly in or certainly
    out keep their place whatever the others' exact values, so the top-r set of the scores with the
    contested ones made exact is the exact top-r set.
    """
    order = _class_order(scores)
    ordered = np.take_along_axis(scores, order, 1)
    low, high = ordered * (1 - tolerance[:, None]), ordered * (1 + tolerance[:, None])
    contested = np.zeros(scores.shape, dtype=bool)
    for r in ranks:
        if not 0 < r < scores.shape[1]:
            continue
        floor, ceiling = low[:, r - 1 : r], high[:, r : r + 1]  # lowest in-set, highest out-of-set
        exact = high[:, r - 1] == low[:, r - 1]  # both sides exact (no tolerance or no votes): certain
        unsure = (ceiling[:, 0] >= floor[:, 0]) & ~(exact & (high[:, r] == low[:, r]))
        positions = np.arange(scores.shape[1])
        reach = np.where(positions < r, low <= ceiling, high >= floor) & unsure[:, None]
        rows, cols = np.nonzero(reach)
        contested[rows, order[rows, cols]] = True
    return contested


def _exact_class_scores(query, gallery, idx, labels, contested, temperature) -> tuple[np.ndarray, ...]:
    """Exact scores of the contested (row, class) pairs: (rows, classes, scores), each summed over the
    row's neighbours of that class in exact neighbour order (as a float64 brute force sums them)."""
    rows, cols = np.nonzero(contested[np.arange(len(idx))[:, None], labels[idx]])
    gallery_rows = idx[rows, cols]
    exact = exact_pair_sims(query, gallery, rows, gallery_rows)
    order = np.lexsort((gallery_rows, -exact, rows))  # per row: exact neighbour order
    rows, gallery_rows, exact = rows[order], gallery_rows[order], exact[order]
    pair_rows, pair_classes = np.nonzero(contested)
    totals = np.zeros(contested.shape)
    np.add.at(totals, (rows, labels[gallery_rows]), np.exp(exact / temperature))  # sequential, in order
    return pair_rows, pair_classes, totals[pair_rows, pair_classes]


def knn_scores(
    train: np.ndarray,
    train_labels: np.ndarray,
    test: np.ndarray,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.07,
    exact_ranks=(1, 5),
) -> np.ndarray:
    """Class scores (M, C): for each test row, sum over its min(k, N) nearest train rows of
    exp(cosine similarity / temperature), per class. train (N, D), train_labels (N,), test (M, D).

    The top-r class set of every row, r in ``exact_ranks``, is that of exact float64 scores; the
    scores that decide it are exact, the others within score * expm1(error_bound / temperature) of
    exact (see the module docstring).
    """
    scores = np.zeros((test.shape[0], num_classes))
    if train.shape[0] == 0 or test.shape[0] == 0:
        return scores
    labels = np.asarray(train_labels)
    query, gallery = l2_normalize(test), l2_normalize(train)
    sims, idx = rank_neighbours(query, gallery, k, cuts=(k,))
    scores = _vote(sims, idx, labels, num_classes, temperature)
    tolerance = np.expm1(error_bound(query, gallery) / temperature)
    contested = _contested(scores, tolerance, exact_ranks)
    if contested.any():
        rows, classes, exact = _exact_class_scores(query, gallery, idx, labels, contested, temperature)
        scores[rows, classes] = exact
    return scores


def knn_metrics(
    protocol: KnnProtocol,
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray, np.ndarray],
    num_classes: int,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """(metrics, hits): top1 / top5 (%) on the test split with the usable train videos as memory bank,
    and each metric's per-test-video hits ((M,) bool, the metric is their hit rate). Inputs are
    (features (N, D), labels (N,), ok (N,)) per split; failed test videos count as misses."""
    (x, y, x_ok), (t, ty, t_ok) = train, test
    scores = knn_scores(x[x_ok], y[x_ok], t, num_classes, protocol.k, protocol.temperature)
    hits = topk_hits(scores, ty, (1, 5), t_ok)
    return {name: hit_rate(h) for name, h in hits.items()}, hits
