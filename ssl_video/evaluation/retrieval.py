"""Nearest-neighbour video retrieval (PRETEXT_SPEC §12.A), ranked with FAISS.

Queries are the test-split videos, the gallery the train-split videos. R@k is the fraction of
queries with at least one same-class video among their k nearest gallery videos (cosine). Every
query counts: one whose features could not be extracted is a miss, and the result says how many.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import faiss
import numpy as np
import torch

from ..config import from_dict
from ..datasets import dataset_fingerprint, load_dataset
from .features import extract_video_features
from .protocol import protocol_hash


@dataclass
class RetrievalProtocol:
    """Settings of a retrieval protocol; ``protocol_hash`` covers all of them."""

    name: str = "retrieval_vcop"
    version: int = 1
    num_clips: int = 10
    clip_len: int = 16
    crop: int = 112
    resize: tuple[int, int] | None = (128, 171)
    feature: str = "pool5"  # pool5 (VCOP, 9216-d at 16x112²) | pool (global average pool)
    ks: tuple[int, ...] = (1, 5, 10, 20, 50)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero): cosine similarity becomes a dot product."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def recall_at_k(
    query: np.ndarray,
    query_labels: np.ndarray,
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    ks=(1, 5, 10, 20, 50),
    query_ok: np.ndarray | None = None,
) -> dict[str, float]:
    """R@k (in %) for every k; k above the gallery size means the whole gallery.

    query (Q, D), gallery (G, D) float; labels (Q,), (G,) ints; query_ok (Q,) bool marks queries
    that have features (the others count as misses).
    """
    q = l2_normalize(query)
    g = l2_normalize(gallery)
    index = faiss.IndexFlatIP(g.shape[1])
    index.add(g)
    depth = min(max(ks), g.shape[0])
    _, neighbours = index.search(q, depth)
    hits = gallery_labels[neighbours] == query_labels[:, None]  # (Q, depth)
    if query_ok is not None:
        hits &= query_ok[:, None]
    first_hit = np.where(hits.any(1), hits.argmax(1), depth)  # rank of the first same-class neighbour
    return {f"R@{k}": float(100.0 * np.mean(first_hit < min(k, depth))) for k in ks}


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
) -> dict:
    """Evaluate ``encoder`` with ``protocol`` on ``dataset``'s fold; returns metrics and provenance."""
    if not isinstance(protocol, RetrievalProtocol):
        protocol = from_dict(RetrievalProtocol, protocol or {}, "protocol")
    start = time.time()
    options = options or {}
    sets = {
        split: load_dataset(dataset, root, split=split, fold=fold, **options) for split in ("train", "test")
    }
    kwargs = dict(
        backend=backend,
        num_clips=protocol.num_clips,
        clip_len=protocol.clip_len,
        crop=protocol.crop,
        resize=protocol.resize,
        feature=protocol.feature,
        num_workers=num_workers,
        device=device,
    )
    feats = {
        split: extract_video_features(encoder, [r.path for r in ds.records], **kwargs)
        for split, ds in sets.items()
    }
    labels = {split: np.array([r.label for r in ds.records], dtype=np.int64) for split, ds in sets.items()}
    (gallery, gallery_ok), (query, query_ok) = feats["train"], feats["test"]
    metrics = recall_at_k(
        query, labels["test"], gallery[gallery_ok], labels["train"][gallery_ok], protocol.ks, query_ok
    )
    return {
        "protocol": {"name": protocol.name, "version": protocol.version, "hash": protocol_hash(protocol)},
        "dataset": {
            "name": dataset,
            "fold": fold,
            "fingerprint_train": dataset_fingerprint(sets["train"]),
            "fingerprint_test": dataset_fingerprint(sets["test"]),
        },
        "n_queries": int(len(query)),
        "n_gallery": int(gallery_ok.sum()),
        "failed_queries": [r.path for r, ok in zip(sets["test"].records, query_ok) if not ok],
        "failed_gallery": [r.path for r, ok in zip(sets["train"].records, gallery_ok) if not ok],
        "metrics": metrics,
        "seconds": round(time.time() - start, 2),
    }
