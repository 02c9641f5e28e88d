"""Per-video outcomes of a result: what each headline metric is the mean of, stored compactly.

A metric such as kNN top-1 or retrieval R@5 is the percentage of test videos that are a hit (correct
class in the top k; a same-class video among the k nearest). A result record (schema
``ssl_video.result/2``) keeps each video's hit as one character, ``"1"`` or ``"0"``, in the order of
the test split's records (``load_dataset(..., split="test")``), so that tables can resample the test
videos (see :mod:`ssl_video.results.bootstrap`). The record says which videos these are without
listing them: ``ids_sha256`` hashes their relative paths in that order, and two records can be paired
video by video only when their hashes are equal.

:func:`hit_rate` is the one definition of a metric from its hits: the evaluation computes its metrics
with it and the store checks, for every stored outcome string, that the metric equals it exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


def hit_rate(hits: np.ndarray | Sequence[bool]) -> float:
    """Percentage of hits among ``hits`` ((N,) bool or 0/1): ``100 * (count / N)``; 0.0 when N is 0."""
    hits = np.asarray(hits)
    if hits.size == 0:
        return 0.0
    return 100.0 * (int(np.count_nonzero(hits)) / hits.size)


def encode_hits(hits: np.ndarray | Sequence[bool]) -> str:
    """(N,) bool or 0/1 -> a string of N characters ``"1"`` (hit) or ``"0"`` (miss)."""
    hits = np.asarray(hits)
    if hits.ndim != 1:
        raise ValueError(f"per-video hits must be one-dimensional, got shape {hits.shape}")
    if hits.size and not np.isin(hits, (0, 1)).all():
        raise ValueError("per-video hits must be booleans or 0/1")
    return "".join("1" if h else "0" for h in hits.astype(bool).tolist())


def decode_hits(text: str) -> np.ndarray:
    """A string of ``"0"``/``"1"`` -> (N,) int8 array of 0/1; ValueError on any other character."""
    if not isinstance(text, str):
        raise ValueError(f"per-video outcomes must be a string of 0/1, got {type(text).__name__}")
    data = np.frombuffer(text.encode("ascii", errors="replace"), dtype=np.uint8) - ord("0")
    if data.size and data.max() > 1:
        bad = text[int(np.argmax(data > 1))]
        raise ValueError(f"per-video outcomes must contain only '0' and '1', found {bad!r}")
    return data.astype(np.int8)


def video_ids_hash(ids: Sequence[str]) -> str:
    """SHA-256 (64 hex digits) of the video ids (relative paths) joined by newlines, in their order."""
    for video_id in ids:
        if "\n" in video_id:
            raise ValueError(f"a video id may not contain a newline: {video_id!r}")
    return hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()


def per_video_section(ids: Sequence[str], hits: dict[str, np.ndarray]) -> dict:
    """The record's ``per_video`` section: ``{"n", "ids_sha256", "outcomes": {metric: "0110..."}}``.

    ``ids``: the test videos' ids in order; ``hits``: per metric, (N,) hits in the same order.
    """
    for name, value in hits.items():
        if len(value) != len(ids):
            raise ValueError(f"per-video hits of {name!r}: {len(value)} values for {len(ids)} test videos")
    return {
        "n": len(ids),
        "ids_sha256": video_ids_hash(ids),
        "outcomes": {name: encode_hits(value) for name, value in sorted(hits.items())},
    }
