"""One entry point for every protocol kind: descriptors once (through the cache), then the kind's
``compute``; or, for the kinds that train on clips (end-to-end linear probe, finetuning), their
``run_on_clips``. The runner asks each protocol what to do; it never tests for a class.

``evaluate`` extracts the descriptors of the train and test splits together, as one cache entry
keyed by the combined (train + test) dataset fingerprint, so retrieval, kNN and the cached linear
probe on one checkpoint decode every video once in total when their extraction settings agree.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..datasets import VideoDataset, dataset_fingerprint, load_dataset
from ..datasets.fingerprint import file_digests
from ..results.outcomes import per_video_section
from .cache import FeatureCache, extract_features, state_dict_hash
from .protocols import Protocol, protocol_identity


def evaluate(
    protocol: Protocol,
    encoder: torch.nn.Module,
    checkpoint_hash: str | None,
    dataset: str,
    root: str,
    fold: int = 1,
    cache: FeatureCache | None = None,
    backend: str = "decord",
    num_workers: int = 2,
    device: str = "cpu",
    seed: int = 0,
    options: dict | None = None,
) -> dict:
    """Evaluate ``encoder`` with ``protocol`` on ``dataset``'s fold (train split = gallery / memory
    bank / probe training set, test split = queries / evaluation set).

    checkpoint_hash: cache key of the weights (e.g. ``file_sha256`` of the export); None means
    ``state_dict_hash(encoder)``. cache: a FeatureCache, or None to extract without caching.
    seed: the seed of training and drawing (linear, finetune, lowshot; retrieval and kNN are
    deterministic). Protocols that train on clips never use the cache.
    Returns {"metrics", "n_train", "n_test", "failed" (paths, train then test), "failed_train",
    "failed_test", "dataset_fingerprint" (train + test combined), "dataset" (name, fold,
    "fingerprints": {"train": ..., "test": ...}, each split's own), "protocol" (name, version, hash,
    settings), "checkpoint_hash", "seed", "details" (training statistics of clip protocols),
    "per_video" ({"n", "ids_sha256", "outcomes"}: each test video's hit, in test-split order, for every
    metric that is a percentage of per-video hits, see :mod:`ssl_video.results.outcomes`), "chance"
    (those metrics' chance levels in %: :func:`topk_chance`, :func:`recall_chance`), "seconds"}.
    """
    start = time.time()
    options = options or {}
    sets = {s: load_dataset(dataset, root, split=s, fold=fold, **options) for s in ("train", "test")}
    train, test = sets["train"], sets["test"]
    combined = VideoDataset(
        dataset, train.root, "all", fold, list(train.classes), train.records + test.records
    )
    digests = file_digests(combined.records)  # each file read once for the three fingerprints
    fingerprint = dataset_fingerprint(combined, digests)
    unlabeled = [r.path for r in combined.records if r.label is None]
    if unlabeled:
        raise ValueError(f"{dataset}: {len(unlabeled)} video(s) have no label (e.g. {unlabeled[0]})")
    if checkpoint_hash is None:
        checkpoint_hash = state_dict_hash(encoder)
    num_classes = len(train.classes)
    n_train = len(train.records)
    details: dict = {}
    if protocol.uses_cached_features():
        metrics, hits, ok = _cached_protocol(
            protocol, encoder, checkpoint_hash, dataset, combined.records, fingerprint, n_train,
            num_classes, cache, backend, num_workers, device, seed,
        )  # fmt: skip
    else:
        metrics, hits, details = protocol.run_on_clips(
            encoder, train.records, test.records, num_classes, seed=seed, backend=backend,
            num_workers=num_workers, device=device,
        )  # fmt: skip
        failed = set(details.pop("failed_train")) | set(details.pop("failed_test"))
        ok = np.array([r.path not in failed for r in combined.records], dtype=bool)
    gallery = [r.label for r, good in zip(train.records, ok[:n_train]) if good]  # train videos with features
    chance = protocol.chance(hits, [r.label for r in test.records], gallery, num_classes)
    failed_train = [r.path for r, good in zip(train.records, ok[:n_train]) if not good]
    failed_test = [r.path for r, good in zip(test.records, ok[n_train:]) if not good]
    return {
        "metrics": metrics,
        "n_train": n_train,
        "n_test": len(test.records),
        "failed": failed_train + failed_test,
        "failed_train": failed_train,
        "failed_test": failed_test,
        "dataset_fingerprint": fingerprint,
        "dataset": {
            "name": dataset,
            "fold": fold,
            "fingerprints": {s: dataset_fingerprint(sets[s], digests) for s in ("train", "test")},
        },
        "protocol": protocol_identity(protocol),
        "checkpoint_hash": checkpoint_hash,
        "seed": seed,
        "details": details,
        "per_video": per_video_section([r.rel_path for r in test.records], hits),
        "chance": chance,
        "seconds": round(time.time() - start, 2),
    }


def _cached_protocol(
    protocol, encoder, checkpoint_hash, dataset, records, fingerprint, n_train, num_classes, cache,
    backend, num_workers, device, seed,
) -> tuple[dict, dict, np.ndarray]:  # fmt: skip
    """Metrics of a protocol on cached descriptors (train rows first, then test), their per-test-video
    hits and the ok flags."""
    extraction = protocol.extraction
    if cache is None:
        features, ok = extract_features(encoder, extraction, records, backend, num_workers, device)
    else:
        features, ok = cache.get_or_extract(
            encoder, checkpoint_hash, extraction, dataset, records, fingerprint,
            backend=backend, num_workers=num_workers, device=device,
        )  # fmt: skip
    labels = np.array([r.label for r in records], dtype=np.int64)
    split_train = (features[:n_train], labels[:n_train], ok[:n_train])
    split_test = (features[n_train:], labels[n_train:], ok[n_train:])
    return (*protocol.compute(split_train, split_test, num_classes, seed), ok)
