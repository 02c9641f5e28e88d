"""R@k against an independent brute-force ranking (scikit-learn cosine distances)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics.pairwise import cosine_distances

from ssl_video.evaluation import multi_clip_indices, recall_at_k


def brute_force_recall(q, ql, g, gl, k, ok=None):
    order = np.argsort(cosine_distances(q, g), axis=1, kind="stable")[:, :k]
    hits = (gl[order] == ql[:, None]).any(1)
    if ok is not None:
        hits &= ok
    return 100.0 * hits.mean()


@pytest.mark.parametrize("n_query,n_gallery,n_classes", [(37, 53, 5), (11, 7, 3), (50, 101, 20), (1, 1, 1)])
def test_recall_matches_brute_force(n_query, n_gallery, n_classes):
    rng = np.random.default_rng(n_query * 1000 + n_gallery)
    q = rng.normal(size=(n_query, 16)).astype(np.float32)
    g = rng.normal(size=(n_gallery, 16)).astype(np.float32)
    ql = rng.integers(0, n_classes, n_query)
    gl = rng.integers(0, n_classes, n_gallery)
    ks = (1, 5, 10, 20, 50, 200)
    got = recall_at_k(q, ql, g, gl, ks)
    for k in ks:
        assert got[f"R@{k}"] == pytest.approx(brute_force_recall(q, ql, g, gl, k)), k


def test_k_larger_than_gallery_uses_whole_gallery():
    g = np.array([[1, 0], [0, 1]], dtype=np.float32)  # labels 1, 0
    q = np.array([[1, 0.1], [0.1, 1], [1, 0]], dtype=np.float32)  # labels 0, 0, 2
    got = recall_at_k(q, np.array([0, 0, 2]), g, np.array([1, 0]), ks=(1, 2, 50))
    # query 0 finds its class second, query 1 first, query 2 never (its class is not in the gallery)
    assert got == {
        "R@1": pytest.approx(100 / 3),
        "R@2": pytest.approx(200 / 3),
        "R@50": pytest.approx(200 / 3),
    }


def test_failed_queries_count_as_misses():
    rng = np.random.default_rng(0)
    g = rng.normal(size=(10, 8)).astype(np.float32)
    gl = np.arange(10) % 2
    q, ql = g[:4].copy(), gl[:4].copy()  # each query's nearest neighbour is itself: R@1 = 100%
    ok = np.array([True, True, False, True])
    assert recall_at_k(q, ql, g, gl, (1,))["R@1"] == pytest.approx(100.0)
    assert recall_at_k(q, ql, g, gl, (1,), query_ok=ok)["R@1"] == pytest.approx(75.0)


def test_multi_clip_indices():
    idx = multi_clip_indices(100, 10, 16)
    assert idx.shape == (10, 16)
    assert idx[0, 0] == 0 and idx[-1, -1] == 99
    assert np.all(np.diff(idx, axis=1) == 1)
    assert np.all(np.diff(idx[:, 0]) >= 0)
    short = multi_clip_indices(5, 10, 16)  # shorter than a clip: still 10 clips, frames clamped
    assert short.shape == (10, 16) and short.min() == 0 and short.max() == 4
