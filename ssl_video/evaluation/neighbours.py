"""Exact, deterministic nearest-neighbour ranking by cosine similarity, shared by retrieval and kNN.

Tie rule: among gallery items with equal similarity the lower gallery index ranks first.

FAISS (``IndexFlatIP``) proposes candidates with a margin; their similarities are then recomputed
in float64 from the float32 unit vectors and re-sorted on (-similarity, index). A query whose
depth-th similarity is within ``TIE_EPS`` of its last candidate's (so an item FAISS did not return
could tie with or beat a returned one) is re-ranked by brute force over the whole gallery. The
result is therefore exactly the brute-force ranking under the tie rule, whatever FAISS's float32
summation order does to near-ties.
"""

from __future__ import annotations

import faiss
import numpy as np

TIE_EPS = 1e-5  # far above float32 dot-product error for unit vectors, far below real similarity gaps


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """(N, D) rows scaled to unit length (zero rows stay zero): cosine similarity becomes a dot product."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def center_and_normalize(
    query: np.ndarray, gallery: np.ndarray, center: bool, query_ok: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(Q, D), (G, D) -> the same, optionally minus the mean over usable queries + gallery (CoCLR),
    then L2-normalised. Queries with ``query_ok`` False are left out of the mean."""
    if center:
        usable = query if query_ok is None else query[query_ok]
        mean = (
            np.concatenate([usable, gallery]).astype(np.float64).mean(0) if len(usable) + len(gallery) else 0
        )
        query = (query - mean).astype(np.float32)
        gallery = (gallery - mean).astype(np.float32)
    return l2_normalize(query), l2_normalize(gallery)


def _pair_sims(query: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """(Q, D) float64 queries . (Q, K, D) float64 gallery rows -> (Q, K) similarities, computed
    elementwise then summed along D, so equal inputs give bitwise-equal similarities on every path."""
    return (query[:, None, :] * gallery).sum(-1)


def _sorted_rows(sims: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Per row, the order of columns by (-sim, index): (Q, C) -> (Q, C) column positions."""
    return np.lexsort((index, -sims), axis=1)


def rank_neighbours(query: np.ndarray, gallery: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``depth`` most similar gallery rows for every query (dot product of unit vectors).

    query (Q, D), gallery (G, D) float32, already normalised. Returns (similarities (Q, d) float64,
    indices (Q, d) int64) with d = min(depth, G), sorted by (-similarity, gallery index).
    """
    query = np.ascontiguousarray(query, dtype=np.float32)
    gallery = np.ascontiguousarray(gallery, dtype=np.float32)
    n_query, n_gallery = query.shape[0], gallery.shape[0]
    depth = min(depth, n_gallery)
    if depth == 0 or n_query == 0:
        return np.zeros((n_query, depth)), np.zeros((n_query, depth), dtype=np.int64)
    search = min(n_gallery, depth + max(16, depth))
    index = faiss.IndexFlatIP(gallery.shape[1])
    index.add(gallery)
    _, cand = index.search(query, search)  # (Q, search); -1 never appears as search <= G
    q64, g64 = query.astype(np.float64), gallery.astype(np.float64)
    budget = 1 << 22  # float64 products per block (~32 MB)
    sims = np.empty((n_query, depth))
    out = np.empty((n_query, depth), dtype=np.int64)
    block = max(1, budget // (search * gallery.shape[1] or 1))
    for start in range(0, n_query, block):
        rows = slice(start, start + block)
        block_sims = _pair_sims(q64[rows], g64[cand[rows]])
        order = _sorted_rows(block_sims, cand[rows])
        block_sims = np.take_along_axis(block_sims, order, 1)
        sims[rows], out[rows] = block_sims[:, :depth], np.take_along_axis(cand[rows], order, 1)[:, :depth]
        if search < n_gallery:  # a tie may cross the margin: exact brute force for those queries
            for i in start + np.flatnonzero(block_sims[:, depth - 1] - block_sims[:, -1] <= TIE_EPS):
                sims[i], out[i] = _brute_force_row(q64[i], g64, depth, budget)
    return sims, out


def _brute_force_row(query: np.ndarray, gallery: np.ndarray, depth: int, budget: int):
    """One query (D,) against all gallery rows (G, D) float64 -> (sims (depth,), indices (depth,))."""
    chunk = max(1, budget // (gallery.shape[1] or 1))
    full = np.concatenate(
        [_pair_sims(query[None], gallery[None, j : j + chunk])[0] for j in range(0, len(gallery), chunk)]
    )
    order = np.lexsort((np.arange(len(gallery)), -full))[:depth]
    return full[order], order
