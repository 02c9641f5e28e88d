"""Nearest-neighbour video retrieval (PRETEXT_SPEC §12.A).

Queries are the test-split videos, the gallery the train-split videos. R@k is the fraction of
queries with at least one same-class video among their k nearest gallery videos (cosine; among
equal similarities the lower gallery index ranks first). Every query counts: one whose features
could not be extracted is a miss, and the result says how many.
"""

from __future__ import annotations

import numpy as np
import torch

from ..config import from_dict
from ..results.outcomes import hit_rate
from .neighbours import center_and_normalize, l2_normalize, rank_neighbours
from .protocols import RetrievalProtocol

__all__ = [
    "RetrievalProtocol",
    "l2_normalize",
    "recall_at_k",
    "recall_chance",
    "recall_hits",
    "retrieval_metrics",
    "run_retrieval",
]


def recall_hits(
    query: np.ndarray,
    query_labels: np.ndarray,
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    ks=(1, 5, 10, 20, 50),
    query_ok: np.ndarray | None = None,
    center: bool = False,
) -> dict[str, np.ndarray]:
    """Per-query hits ``{"R@<k>": (Q,) bool}``: a same-class gallery video among the k nearest; k above
    the gallery size means the whole gallery.

    query (Q, D), gallery (G, D) float; labels (Q,), (G,) ints; query_ok (Q,) bool marks queries
    that have features (the others are misses and are left out of the centring mean).
    center: before L2 normalisation, subtract from the queries the mean of the usable queries and
    from the gallery the gallery mean (CoCLR's ``test_retrieval``). Only the set of the k nearest
    matters for R@k, so the ranking is exact at each k (``rank_neighbours(..., cuts=ks)``).
    """
    q, g = center_and_normalize(query, gallery, center, query_ok)
    depth = min(max(ks), g.shape[0])
    _, neighbours = rank_neighbours(q, g, depth, cuts=ks)
    hits = np.asarray(gallery_labels)[neighbours] == np.asarray(query_labels)[:, None]  # (Q, depth)
    if query_ok is not None:
        hits &= np.asarray(query_ok, dtype=bool)[:, None]
    first_hit = np.where(hits.any(1), hits.argmax(1), depth)  # rank of the first same-class neighbour
    return {f"R@{k}": first_hit < min(k, depth) for k in ks}


def recall_at_k(
    query: np.ndarray,
    query_labels: np.ndarray,
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    ks=(1, 5, 10, 20, 50),
    query_ok: np.ndarray | None = None,
    center: bool = False,
) -> dict[str, float]:
    """R@k (in %) for every k: the :func:`~ssl_video.results.outcomes.hit_rate` of :func:`recall_hits`
    (same arguments)."""
    hits = recall_hits(query, query_labels, gallery, gallery_labels, ks, query_ok, center)
    return {name: hit_rate(h) for name, h in hits.items()}


def recall_chance(query_labels: np.ndarray, gallery_labels: np.ndarray, ks) -> dict[str, float]:
    """Chance level of R@k in %: the expected R@k when each query retrieves k gallery videos drawn
    uniformly at random without replacement (k above the gallery size G: the whole gallery).

    A query whose class has n_c of the G gallery videos misses with probability
    C(G - n_c, k) / C(G, k) = prod_{i<k} (G - n_c - i) / (G - i) (a product of factors in [0, 1], exact
    zero once G - n_c - i reaches 0); the chance level is 100 x the mean over queries of one minus it.
    """
    gallery_labels = np.asarray(gallery_labels)
    g = gallery_labels.shape[0]
    classes, counts = np.unique(gallery_labels, return_counts=True)
    per_class = dict(zip(classes.tolist(), counts.tolist()))
    n_c = np.array([per_class.get(label, 0) for label in np.asarray(query_labels).tolist()], dtype=np.float64)
    chance = {}
    for k in ks:
        if n_c.size == 0:
            chance[f"R@{k}"] = 0.0
            continue
        i = np.arange(min(k, g), dtype=np.float64)
        factors = np.maximum(g - n_c[:, None] - i, 0.0) / (g - i)  # (Q, min(k, G))
        chance[f"R@{k}"] = float(100.0 * np.mean(1.0 - np.prod(factors, axis=1)))
    return chance


def retrieval_metrics(
    protocol: RetrievalProtocol,
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """(metrics, hits): R@k of ``protocol`` (%) and each R@k's per-query hits ((Q,) bool), from
    (features (N, D), labels (N,), ok (N,)) of the train (gallery) and test (query) splits; gallery
    videos without features are left out, failed queries are misses."""
    (g, gl, g_ok), (q, ql, q_ok) = train, test
    hits = recall_hits(q, ql, g[g_ok], gl[g_ok], protocol.ks, q_ok, center=protocol.center)
    return {name: hit_rate(h) for name, h in hits.items()}, hits


def run_retrieval(
    encoder: torch.nn.Module,
    dataset: str,
    root: str,
    protocol: RetrievalProtocol | dict | None = None,
    fold: int = 1,
    backend: str = "decord",
    num_workers: int = 2,
    device: str = "cpu",
    options: dict | None = None,
    cache=None,
    checkpoint_hash: str | None = None,
) -> dict:
    """Evaluate ``encoder`` with a retrieval ``protocol`` on ``dataset``'s fold (thin wrapper over
    ``evaluate``); returns protocol/dataset/n_queries/n_gallery/failed_queries/failed_gallery/
    metrics/seconds. ``cache`` (a FeatureCache) and ``checkpoint_hash`` are optional."""
    from .runner import evaluate

    if not isinstance(protocol, RetrievalProtocol):
        protocol = from_dict(RetrievalProtocol, protocol or {}, "protocol")
    result = evaluate(
        protocol,
        encoder,
        checkpoint_hash,
        dataset,
        root,
        fold=fold,
        cache=cache,
        backend=backend,
        num_workers=num_workers,
        device=device,
        options=options,
    )
    return {
        "protocol": result["protocol"],
        "dataset": result["dataset"],
        "n_queries": result["n_test"],
        "n_gallery": result["n_train"] - len(result["failed_train"]),
        "failed_queries": result["failed_test"],
        "failed_gallery": result["failed_train"],
        "metrics": result["metrics"],
        "seconds": result["seconds"],
    }
