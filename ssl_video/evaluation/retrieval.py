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
from .neighbours import center_and_normalize, l2_normalize, rank_neighbours
from .protocols import RetrievalProtocol

__all__ = ["RetrievalProtocol", "l2_normalize", "recall_at_k", "retrieval_metrics", "run_retrieval"]


def recall_at_k(
    query: np.ndarray,
    query_labels: np.ndarray,
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    ks=(1, 5, 10, 20, 50),
    query_ok: np.ndarray | None = None,
    center: bool = False,
) -> dict[str, float]:
    """R@k (in %) for every k; k above the gallery size means the whole gallery.

    query (Q, D), gallery (G, D) float; labels (Q,), (G,) ints; query_ok (Q,) bool marks queries
    that have features (the others count as misses and are left out of the centring mean).
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
    return {f"R@{k}": float(100.0 * np.mean(first_hit < min(k, depth))) for k in ks}


def retrieval_metrics(
    protocol: RetrievalProtocol,
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> dict[str, float]:
    """R@k of ``protocol`` from (features (N, D), labels (N,), ok (N,)) of the train (gallery) and
    test (query) splits; gallery videos without features are left out, failed queries are misses."""
    (g, gl, g_ok), (q, ql, q_ok) = train, test
    return recall_at_k(q, ql, g[g_ok], gl[g_ok], protocol.ks, q_ok, center=protocol.center)


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
