"""Pick the pretraining videos: load the dataset, refuse test-split leakage, skip unusable files."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..config import DataConfig
from ..datasets import check_leakage, dataset_fingerprint, load_dataset
from ..datasets.clips import UsableVideo, scan_videos

log = logging.getLogger(__name__)


@dataclass
class PretrainVideos:
    """The videos a run trains on, its pretext-validation hold-out, and what was left out and why."""

    train: list[UsableVideo]
    val: list[UsableVideo]
    fingerprint: str
    listed: int
    missing: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    overlap: list[tuple[str, str]] = field(default_factory=list)

    def report(self) -> dict:
        return {
            "fingerprint": self.fingerprint,
            "listed": self.listed,
            "train_videos": len(self.train),
            "val_videos": len(self.val),
            "missing": len(self.missing),
            "skipped": len(self.skipped),
            "skipped_videos": [{"path": p, "reason": r} for p, r in self.skipped],
            "missing_videos": self.missing,
            "test_overlap_allowed": len(self.overlap),
        }


def guard_split(cfg: DataConfig):
    """The evaluation test split to guard against, or None when the dataset has no test split."""
    name = cfg.guard_dataset or cfg.dataset
    root = cfg.guard_root or cfg.root
    options = cfg.options if not cfg.guard_dataset else {}
    try:
        return load_dataset(name, root, split="test", fold=cfg.fold, **options)
    except ValueError as e:
        if cfg.guard_dataset:  # asked for explicitly: a failure is an error
            raise
        log.info("no test split to guard against (%s)", e)
        return None


def prepare_pretraining_videos(cfg: DataConfig, min_frames: int, seed: int) -> PretrainVideos:
    """Load ``cfg``'s video set, apply the leakage guard, scan metadata, hold out validation videos."""
    dataset = load_dataset(cfg.dataset, cfg.root, split=cfg.split, fold=cfg.fold, **cfg.options)
    overlap: list[tuple[str, str]] = []
    test = guard_split(cfg)
    if test is not None:
        overlap = check_leakage(dataset, test, allow=cfg.allow_test_overlap)
        if overlap:
            log.warning(
                "data.allow_test_overlap=true: pretraining on %d evaluation test videos", len(overlap)
            )
    usable, skipped = scan_videos(dataset.records, cfg.backend, min_frames)
    for path, reason in skipped:
        log.warning("skipping %s: %s", path, reason)
    if not usable:
        raise ValueError(
            f"no usable videos in {cfg.dataset} at {cfg.root} (split={cfg.split}): "
            f"{len(dataset.records)} listed, "
            f"{len(skipped)} skipped (unreadable or shorter than {min_frames} frames)"
        )
    order = np.random.default_rng([seed, 3]).permutation(len(usable))
    n_val = min(cfg.val_videos, len(usable) // 5)
    if n_val < cfg.val_videos:
        log.warning(
            "data.val_videos=%d would leave too few videos to train on; "
            "holding out %d of %d (at most a fifth)",
            cfg.val_videos,
            n_val,
            len(usable),
        )
    val = [usable[i] for i in sorted(order[:n_val])]
    train = [usable[i] for i in sorted(order[n_val:])]
    return PretrainVideos(
        train=train,
        val=val,
        fingerprint=dataset_fingerprint(dataset),
        listed=len(dataset.records),
        missing=list(dataset.missing),
        skipped=skipped,
        overlap=overlap,
    )
