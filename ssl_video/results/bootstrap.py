"""Paired two-level bootstrap of the difference between two table rows, from per-video outcomes.

A table cell (:mod:`ssl_video.results.tables`) averages results over pretraining seeds, evaluation
seeds and folds; each result stores which test videos were hits (:mod:`ssl_video.results.outcomes`).
Two sources of noise separate two cells: the pretraining seed (another run of the same recipe gives
another encoder) and the test sample (another draw of test videos gives other hits). One bootstrap
resample redraws both:

1. the row's pretraining seeds, with replacement (S draws from its S seeds; every fold of the row must
   have the same seeds, since one pretraining run is evaluated on every fold). A seed's evaluation
   seeds (low-shot draws, linear probe seeds) stay together: their hits are summed per video;
2. within each fold, the test videos, with replacement (N draws from its N videos), **the same videos
   for both rows** (paired): a video that is hard for one encoder is usually hard for the other, and
   pairing removes that shared difficulty from the difference.

The resampled cell mean is, per fold, the hits of the drawn seeds' results on the drawn videos over
the number of (result, video) pairs drawn, then the mean over folds, in %: with every draw the
identity it is the cell's mean (the mean over the results of a fold of their hit rate, then over
folds). The difference of two rows' resampled means, over :data:`RESAMPLES` resamples, gives a
percentile interval (NumPy's linear interpolation between order statistics).

Draws are reproducible and independent of everything else in the table: the video draws of a column
come from a generator seeded by (:data:`SEED`, column, fold, video ids), a row's seed draws from one
seeded by (:data:`SEED`, column, row), so adding a row or reordering records changes no interval.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ssl_video.results.outcomes import decode_hits

RESAMPLES = 10_000  # Monte-Carlo std of a bound: ~0.04 x the differences' std (0.08 at 2,000; measured)
CHUNK = 1000  # resamples drawn at once (memory: CHUNK x test videos float64 per fold)
SEED = 0
LEVEL = 0.95

# Why a row has no resampling data in a column (see :func:`row_hits`).
NO_OUTCOMES = "results without per-video outcomes (written before schema ssl_video.result/2)"
MIXED_VIDEOS = "results of one fold on different test videos"
SEEDS_DIFFER = "pretraining seeds that differ between folds"
NO_VIDEOS = "no test videos"


class FoldHits(NamedTuple):
    """One fold of a row's cell: ``hits`` (S, N) float64, per pretraining seed (in the row's seed
    order) the number of its results that hit each test video; ``results`` (S,) how many results
    (evaluation seeds) each pretraining seed has; ``ids`` the test videos' ``ids_sha256``."""

    fold: int
    ids: str
    hits: np.ndarray
    results: np.ndarray

    @property
    def videos(self) -> tuple[int, str, int]:
        """What identifies the fold's test videos: (fold, ids_sha256, n)."""
        return (self.fold, self.ids, self.hits.shape[1])


class RowHits(NamedTuple):
    """A row's per-video outcomes in one column: its pretraining seeds and each fold's hits."""

    seeds: tuple
    folds: tuple[FoldHits, ...]

    @property
    def videos(self) -> tuple[tuple[int, str, int], ...]:
        """The test videos of every fold; two rows can be paired only when theirs are equal."""
        return tuple(f.videos for f in self.folds)


def _seed_key(seed: Any) -> tuple:
    return (seed is None, seed if seed is not None else 0)


def row_hits(records: Sequence[Mapping[str, Any]], metric: str) -> RowHits | str:
    """The :class:`RowHits` of one cell's ``records`` for ``metric``, or why there are none (one of
    :data:`NO_OUTCOMES`, :data:`MIXED_VIDEOS`, :data:`SEEDS_DIFFER`, :data:`NO_VIDEOS`).

    Records are grouped by fold, then by the checkpoint's ``pretrain_seed``; a seed's records (its
    evaluation seeds) are summed per video. The result does not depend on the records' order.
    """
    by_fold: dict[int, dict[Any, list[Mapping[str, Any]]]] = {}
    for record in records:
        outcomes = record.get("per_video", {}).get("outcomes", {})
        if metric not in outcomes:
            return NO_OUTCOMES
        seed = record["checkpoint"]["pretrain_seed"]
        by_fold.setdefault(record["dataset"]["fold"], {}).setdefault(seed, []).append(record)
    seed_sets = {tuple(sorted(seeds, key=_seed_key)) for seeds in by_fold.values()}
    if len(seed_sets) != 1:
        return SEEDS_DIFFER
    (seeds,) = seed_sets
    folds = []
    for fold in sorted(by_fold):
        group = [r for seed in seeds for r in by_fold[fold][seed]]
        videos = {(r["per_video"]["ids_sha256"], r["per_video"]["n"]) for r in group}
        if len(videos) != 1:
            return MIXED_VIDEOS
        ((ids, n),) = videos
        if n == 0:
            return NO_VIDEOS
        hits = np.zeros((len(seeds), n))
        for i, seed in enumerate(seeds):
            for record in by_fold[fold][seed]:
                hits[i] += decode_hits(record["per_video"]["outcomes"][metric])
        results = np.array([len(by_fold[fold][seed]) for seed in seeds], dtype=np.float64)
        folds.append(FoldHits(fold, ids, hits, results))
    return RowHits(seeds, tuple(folds))


def rng_for(*parts: Hashable) -> np.random.Generator:
    """A generator seeded by :data:`SEED` and ``parts`` (through SHA-256 of their ``repr``s)."""
    digest = hashlib.sha256(repr((SEED, *parts)).encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def draw_counts(rng: np.random.Generator, n: int, resamples: int) -> np.ndarray:
    """(resamples, n) float64: how often each of ``n`` items is drawn in ``n`` draws with replacement,
    one row per resample (``rng.integers(0, n, (resamples, n))``, counted)."""
    idx = rng.integers(0, n, size=(resamples, n))
    flat = (np.arange(resamples)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def resampled_means(
    row: RowHits, video_counts: Mapping[tuple[int, str, int], np.ndarray], seed_counts: np.ndarray
) -> np.ndarray:
    """(B,) the row's cell mean in % under B resamples.

    ``video_counts[fold.videos]``: (B, N) how often each test video of the fold is drawn;
    ``seed_counts``: (B, S) how often each pretraining seed is drawn. Per fold: hits of the drawn
    seeds' results on the drawn videos / (N x the drawn seeds' number of results); then the mean over
    folds.
    """
    fold_means = []
    for fold in row.folds:
        counts = video_counts[fold.videos]
        per_seed = counts @ fold.hits.T  # (B, S): hits among the drawn videos, summed over results
        drawn = (seed_counts * per_seed).sum(axis=1)
        pairs = fold.hits.shape[1] * (seed_counts @ fold.results)
        fold_means.append(drawn / pairs)
    return 100.0 * np.mean(fold_means, axis=0)


def column_resamples(
    rows: Mapping[Hashable, RowHits], column: Hashable, resamples: int = RESAMPLES
) -> dict[Hashable, np.ndarray]:
    """(B,) resampled means of every row of one column, keyed like ``rows``; rows on the same test
    videos share the video draws, so the difference of two of them is a paired resample.

    The resamples are drawn in chunks of :data:`CHUNK` (each generator continues from chunk to chunk),
    so memory stays at CHUNK x N draws whatever B is.
    """
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    videos = sorted({v for row in rows.values() for v in row.videos})
    video_rngs = {v: rng_for(column, "videos", v) for v in videos}
    seed_rngs = {key: rng_for(column, "seeds", key) for key in rows}
    chunks: dict[Hashable, list[np.ndarray]] = {key: [] for key in rows}
    for start in range(0, resamples, CHUNK):
        size = min(CHUNK, resamples - start)
        video_counts = {v: draw_counts(video_rngs[v], v[2], size) for v in videos}
        for key, row in rows.items():
            seed_counts = draw_counts(seed_rngs[key], len(row.seeds), size)
            chunks[key].append(resampled_means(row, video_counts, seed_counts))
    return {key: np.concatenate(parts) for key, parts in chunks.items()}


def percentile_interval(differences: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The central ``level`` percentile interval of resampled differences (low, high)."""
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(differences, [tail, 100.0 - tail])
    return float(low), float(high)
