"""Dataset fingerprint: one hash that changes whenever the data an evaluation sees changes.

Results and feature caches are keyed by it, so a number can be traced to the exact set of files.
"""

from __future__ import annotations

import hashlib
import json
import os

from .record import VideoDataset

FINGERPRINT_VERSION = "ssl-video-dataset-fingerprint-v1"


def dataset_fingerprint(ds: VideoDataset) -> str:
    """sha256 hex over the class list and the sorted (rel_path, size in bytes, label, split) of every record.

    Independent of where the dataset root is and of record order; changes when a file's size,
    label or split changes, or a record is added or removed. A record whose file has disappeared
    counts with size -1. Reads file sizes only (one ``stat`` per video), never file contents.
    """
    rows = []
    for r in ds.records:
        try:
            size = os.path.getsize(r.path)
        except OSError:
            size = -1
        rows.append(json.dumps([r.rel_path, size, r.label, r.split], ensure_ascii=False))
    digest = hashlib.sha256()
    digest.update(FINGERPRINT_VERSION.encode() + b"\n")
    digest.update(json.dumps(list(ds.classes), ensure_ascii=False).encode() + b"\n")
    for row in sorted(rows):
        digest.update(row.encode() + b"\n")
    return digest.hexdigest()
