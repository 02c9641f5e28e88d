"""Protocol identity: a stable hash of a protocol's resolved settings, stored beside every number."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any


def protocol_hash(protocol: Any) -> str:
    """sha256 (first 16 hex digits) of the protocol's settings as canonical JSON."""
    settings = dataclasses.asdict(protocol)
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
