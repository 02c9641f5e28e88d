"""Protocol identity: a stable hash of a protocol's resolved settings, stored beside every number."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

# Settings added after protocols were first stored, with the value that reproduces the earlier
# behaviour: at that value they are left out of the hash, so every protocol (and extraction) hash
# computed before they existed stays the same, and stored results keep matching their protocol.
ADDED_SETTINGS: dict[str, Any] = {"frame_stride": 1}


def protocol_hash(protocol: Any) -> str:
    """sha256 (first 16 hex digits) of the protocol's settings as canonical JSON (settings of
    :data:`ADDED_SETTINGS` at their earlier-behaviour value left out)."""
    settings = {
        k: v
        for k, v in dataclasses.asdict(protocol).items()
        if not (k in ADDED_SETTINGS and v == ADDED_SETTINGS[k])
    }
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
