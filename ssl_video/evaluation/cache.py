"""On-disk cache of video descriptors, shared by every protocol with the same extraction settings.

An entry is keyed by (checkpoint hash, extraction hash, dataset name, dataset fingerprint) and is
one ``.npz`` holding ``features`` (N, D) float32, ``ok`` (N,) bool, ``rel_paths`` (N,) (the
records' order), the key as JSON and a sha256 over the array bytes. It is written atomically
(temporary file, fsync, rename) and validated on every read: an entry whose key, shapes, record
set or checksum do not match is discarded with a warning and recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..datasets import VideoRecord
from ..io_utils import atomic_path
from .features import extract_video_features
from .protocols import Extraction, extraction_hash

log = logging.getLogger(__name__)

CACHE_FORMAT = "ssl_video.feature_cache/1"


def state_dict_hash(module: torch.nn.Module) -> str:
    """sha256 hex over a module's state_dict (sorted names, dtypes, shapes and tensor bytes), so any
    encoder, a random-init one included, has a key that changes with any weight or buffer."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(json.dumps([name, str(t.dtype), list(t.shape)]).encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def _checksum(features: np.ndarray, ok: np.ndarray, rel_paths: np.ndarray) -> str:
    digest = hashlib.sha256()
    for arr in (features, ok, rel_paths):
        digest.update(str(arr.dtype).encode() + str(arr.shape).encode())
        digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()


class CacheEntryError(ValueError):
    """A cache file that cannot be trusted (torn, corrupted, or for another key)."""


class FeatureCache:
    """Descriptor cache under ``root``; ``stats`` counts hits, misses and videos decoded."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.stats = {"hits": 0, "misses": 0, "invalid": 0, "videos_decoded": 0}

    def key(
        self, checkpoint_hash: str, extraction: Extraction, dataset_name: str, dataset_fingerprint: str
    ) -> dict:
        """The entry's identity as a JSON-able dict."""
        return {
            "format": CACHE_FORMAT,
            "checkpoint": checkpoint_hash,
            "extraction": extraction_hash(extraction),
            "extraction_settings": {
                k: list(v) if isinstance(v, tuple) else v for k, v in asdict(extraction).items()
            },
            "dataset": dataset_name,
            "dataset_fingerprint": dataset_fingerprint,
        }

    def path(self, key: dict) -> Path:
        """``root/<sha256 of the key JSON, 32 hex>.npz``."""
        blob = json.dumps(key, sort_keys=True, separators=(",", ":"))
        return self.root / f"{hashlib.sha256(blob.encode()).hexdigest()[:32]}.npz"

    def load(self, path: Path, key: dict, records: Sequence[VideoRecord]) -> tuple[np.ndarray, np.ndarray]:
        """Read and validate one entry; returns (features (N, D), ok (N,)) in ``records``' order.

        Raises CacheEntryError when anything does not match."""
        try:
            with np.load(path, allow_pickle=False) as data:
                features, ok = data["features"], data["ok"]
                rel_paths, stored_key, checksum = data["rel_paths"], str(data["key"]), str(data["checksum"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise CacheEntryError(f"unreadable ({type(e).__name__}: {e})") from e
        if json.loads(stored_key) != key:
            raise CacheEntryError("key mismatch")
        n = len(records)
        if features.dtype != np.float32 or features.ndim != 2 or features.shape[0] != n:
            raise CacheEntryError(f"features have shape {features.shape} {features.dtype}, expected ({n}, D)")
        if ok.dtype != np.bool_ or ok.shape != (n,) or rel_paths.shape != (n,):
            raise CacheEntryError("ok / rel_paths have the wrong shape or dtype")
        if _checksum(features, ok, rel_paths) != checksum:
            raise CacheEntryError("checksum mismatch")
        position = {p: i for i, p in enumerate(rel_paths.tolist())}
        wanted = [r.rel_path for r in records]
        if len(position) != n or any(p not in position for p in wanted):
            raise CacheEntryError("the entry's videos differ from the requested records")
        order = np.array([position[p] for p in wanted], dtype=np.int64)
        return features[order], ok[order]

    def save(self, path: Path, key: dict, records, features: np.ndarray, ok: np.ndarray) -> None:
        """Write one entry atomically (unique temporary file + fsync + rename + directory fsync, see
        :func:`ssl_video.io_utils.atomic_path`); concurrent writers of one entry leave one of theirs."""
        rel_paths = np.array([r.rel_path for r in records], dtype=np.str_)
        features, ok = np.ascontiguousarray(features, dtype=np.float32), np.asarray(ok, dtype=bool)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(
                f,
                features=features,
                ok=ok,
                rel_paths=rel_paths,
                key=np.array(json.dumps(key, sort_keys=True)),
                checksum=np.array(_checksum(features, ok, rel_paths)),
            )

    def get_or_extract(
        self,
        encoder: torch.nn.Module,
        checkpoint_hash: str,
        extraction: Extraction,
        dataset_name: str,
        records: Sequence[VideoRecord],
        dataset_fingerprint: str,
        backend: str = "decord",
        num_workers: int = 2,
        device: str = "cpu",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Descriptors of ``records`` (features (N, D) float32, ok (N,) bool), from the cache when a
        valid entry exists, else extracted (each video decoded once) and stored."""
        key = self.key(checkpoint_hash, extraction, dataset_name, dataset_fingerprint)
        path = self.path(key)
        if path.exists():
            try:
                features, ok = self.load(path, key, records)
                self.stats["hits"] += 1
                return features, ok
            except CacheEntryError as e:
                log.warning("discarding feature cache entry %s: %s; recomputing", path, e)
                self.stats["invalid"] += 1
                path.unlink(missing_ok=True)
        self.stats["misses"] += 1
        features, ok = extract_features(encoder, extraction, records, backend, num_workers, device)
        self.stats["videos_decoded"] += len(records)
        self.save(path, key, records, features, ok)
        return features, ok


def extract_features(
    encoder: torch.nn.Module,
    extraction: Extraction,
    records: Sequence[VideoRecord],
    backend: str = "decord",
    num_workers: int = 2,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Uncached descriptors of ``records`` with ``extraction``: (features (N, D) float32, ok (N,) bool)."""
    return extract_video_features(
        encoder,
        [r.path for r in records],
        backend=backend,
        num_clips=extraction.num_clips,
        windows=extraction.windows,
        clip_len=extraction.clip_len,
        frame_stride=extraction.frame_stride,
        crop=extraction.crop,
        resize=extraction.resize,
        feature=extraction.feature,
        num_workers=num_workers,
        device=device,
    )
