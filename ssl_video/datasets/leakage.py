"""Pretrain/test overlap check: evaluation test videos must not have been seen during pretraining.

Typical cause: pretraining on UCF101 "all" (or on a folder that holds a copy of the test videos)
and then evaluating on UCF101 test. The check is cheap: paths and file sizes only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .record import DatasetError, VideoDataset, VideoRecord

OVERRIDE_KEY = "data.allow_test_overlap"


class LeakageError(DatasetError):
    """Pretraining videos overlap the evaluation test set; ``pairs`` holds the (pretrain, test) paths."""

    def __init__(self, message: str, pairs: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.pairs = list(pairs or [])


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def check_leakage(
    pretrain: VideoDataset | Iterable[VideoRecord],
    test: VideoDataset | Iterable[VideoRecord],
    allow: bool = False,
) -> list[tuple[str, str]]:
    """(pretrain path, test path) pairs that are the same video.

    Same video = the same resolved real path, or the same file-name stem with the same size in bytes
    (a copy in another folder). Raises LeakageError when any pair is found unless ``allow`` is True,
    in which case the pairs are returned for the caller to log.
    """
    test_records = list(test)
    by_real = {os.path.realpath(r.path): r.path for r in test_records}
    by_stem: dict[str, list[str]] = {}
    for r in test_records:
        by_stem.setdefault(_stem(r.path), []).append(r.path)
    sizes: dict[str, int | None] = {}

    def size(path: str) -> int | None:
        if path not in sizes:
            sizes[path] = _size(path)
        return sizes[path]

    pairs: list[tuple[str, str]] = []
    for r in pretrain:
        real = os.path.realpath(r.path)
        if real in by_real:
            pairs.append((r.path, by_real[real]))
            continue
        candidates = by_stem.get(_stem(r.path), [])
        if candidates and size(r.path) is not None:
            match = next((t for t in candidates if size(t) == size(r.path)), None)
            if match is not None:
                pairs.append((r.path, match))
    if pairs and not allow:
        examples = "\n".join(f"  {p} == {t}" for p, t in pairs[:5])
        raise LeakageError(
            f"{len(pairs)} pretraining video(s) are also evaluation test videos (same file, or same name "
            f"and size), e.g.:\n{examples}\nPretrain on the train split only, or set {OVERRIDE_KEY}=true "
            "to proceed anyway (the overlap is then logged as a warning).",
            pairs,
        )
    return pairs
