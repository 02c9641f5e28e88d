"""Dataset fingerprint: one hash that changes whenever the data an evaluation sees changes.

Results and feature caches are keyed by it, so a number can be traced to the exact set of files.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

from .record import VideoDataset, VideoRecord

# v2 added the content digest; a version change gives every dataset a new fingerprint, so feature cache
# entries keyed by a v1 fingerprint are no longer found (extracted again) and stored results keep theirs.
FINGERPRINT_VERSION = "ssl-video-dataset-fingerprint-v2"
EDGE_BYTES = 64 * 1024  # bytes hashed at each end of a file
_THREADS = 8  # reads overlap on network file systems; hashlib releases the GIL on large buffers

FileDigest = tuple[int, str | None]  # (size in bytes or -1 if unreadable, sha256 hex of the edges or None)


def file_digest(path: str) -> FileDigest:
    """(size, sha256 hex of the file's first and last EDGE_BYTES) of ``path``; the whole file when it is
    at most 2 * EDGE_BYTES. (-1, None) when it cannot be read. Two reads per file, never more."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            digest = hashlib.sha256(f.read(EDGE_BYTES))
            if size > 2 * EDGE_BYTES:
                f.seek(size - EDGE_BYTES)
            digest.update(f.read(EDGE_BYTES))
            return size, digest.hexdigest()
    except OSError:
        return -1, None


def file_digests(records: Iterable[VideoRecord]) -> dict[str, FileDigest]:
    """``file_digest`` of every record's path, keyed by path (read in a few threads)."""
    paths = sorted({r.path for r in records})
    with ThreadPoolExecutor(min(_THREADS, max(1, len(paths)))) as pool:
        return dict(zip(paths, pool.map(file_digest, paths), strict=True))


def dataset_fingerprint(ds: VideoDataset, digests: Mapping[str, FileDigest] | None = None) -> str:
    """sha256 hex over the class list and the sorted (rel_path, size, content digest, label, split) of
    every record.

    Independent of where the dataset root is and of record order; changes when a file's size, its
    first or last 64 KiB (see ``file_digest``), its label or split change, or a record is added or
    removed. A change that keeps the size and touches only the middle of a file over 128 KiB is not
    seen: the price of reading at most 128 KiB per video. A record whose file has disappeared counts
    with size -1. ``digests`` (from ``file_digests``) lets several fingerprints over the same files
    (a combined set and its splits) read each file once.
    """
    if digests is None:
        digests = file_digests(ds.records)
    rows = []
    for r in ds.records:
        size, content = digests[r.path] if r.path in digests else file_digest(r.path)
        rows.append(json.dumps([r.rel_path, size, content, r.label, r.split], ensure_ascii=False))
    digest = hashlib.sha256()
    digest.update(FINGERPRINT_VERSION.encode() + b"\n")
    digest.update(json.dumps(list(ds.classes), ensure_ascii=False).encode() + b"\n")
    for row in sorted(rows):
        digest.update(row.encode() + b"\n")
    return digest.hexdigest()
