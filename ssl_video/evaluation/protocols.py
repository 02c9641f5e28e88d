"""Evaluation protocols as versioned, declarative, frozen settings objects (PRETEXT_SPEC §12).

A protocol YAML under the repo's ``evaluation/`` folder names its ``kind`` (``retrieval``, ``knn``,
``linear``), which selects the dataclass below; every other key must be a field of that dataclass
(an unknown key is a ``ConfigError`` naming the key and the closest valid ones). ``protocol_hash``
covers every resolved setting, so it changes whenever anything that could change a number changes.

Each protocol carries the same feature-extraction fields (``num_clips``, ``windows``, ``clip_len``,
``crop``, ``resize``, ``feature``); ``protocol.extraction`` gathers them into an ``Extraction`` with
its own hash. Protocols whose extractions are equal share cached features (see ``cache.py``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import REPO_ROOT, ConfigError, deep_merge, from_dict, load_yaml
from .protocol import protocol_hash

PROTOCOL_DIR = REPO_ROOT / "evaluation"
WINDOWS = ("uniform", "dense")
FEATURES = ("pool", "pool5")


@dataclass(frozen=True)
class Extraction:
    """How one video becomes one descriptor: the mean over its clips of the encoder's clip features.

    windows: "uniform" = ``num_clips`` clips with evenly spaced centres (VCOP); "dense" = every
    half-overlapping window of ``clip_len`` frames (CoCLR; ``num_clips`` is then unused and set to 0
    so that equal extractions hash equally). feature: "pool" (global average pool, (D,)) or "pool5"
    (VCOP's MaxPool3d (1,2,2) on the last feature map, flattened). Frames are resized to ``resize``
    (H, W) (None = keep) and centre-cropped to ``crop``.
    """

    num_clips: int = 10
    windows: str = "uniform"
    clip_len: int = 16
    crop: int = 112
    resize: tuple[int, int] | None = (128, 171)
    feature: str = "pool"


def extraction_hash(extraction: Extraction) -> str:
    """16 hex digits identifying an extraction (same canonical-JSON sha256 as ``protocol_hash``)."""
    return protocol_hash(extraction)


@dataclass(frozen=True)
class _ExtractionFields:
    """Identity plus the extraction fields every protocol kind shares (kept flat so YAMLs and
    ``key=value`` overrides stay one level deep)."""

    name: str = ""
    version: int = 1
    kind: str = ""
    num_clips: int = 10
    windows: str = "uniform"
    clip_len: int = 16
    crop: int = 112
    resize: tuple[int, int] | None = (128, 171)
    feature: str = "pool"

    def __post_init__(self):
        expected = _KIND_OF[type(self)]
        if self.kind != expected:
            raise ConfigError(
                f"protocol.kind: {type(self).__name__} has kind {expected!r}, got {self.kind!r}"
            )
        if self.windows not in WINDOWS:
            raise ConfigError(f"protocol.windows: expected one of {', '.join(WINDOWS)}, got {self.windows!r}")
        if self.feature not in FEATURES:
            raise ConfigError(
                f"protocol.feature: expected one of {', '.join(FEATURES)}, got {self.feature!r}"
            )
        if self.clip_len < 1 or self.crop < 1 or (self.windows == "uniform" and self.num_clips < 1):
            raise ConfigError("protocol: clip_len, crop and (uniform windows) num_clips must be >= 1")

    @property
    def extraction(self) -> Extraction:
        """The extraction sub-settings (canonical: num_clips is 0 for dense windows)."""
        return Extraction(
            num_clips=self.num_clips if self.windows == "uniform" else 0,
            windows=self.windows,
            clip_len=self.clip_len,
            crop=self.crop,
            resize=None if self.resize is None else tuple(self.resize),
            feature=self.feature,
        )


@dataclass(frozen=True)
class RetrievalProtocol(_ExtractionFields):
    """Nearest-neighbour retrieval (§12.A): test queries vs train gallery, cosine, R@k in %.

    center: subtract the mean feature over query + gallery before L2 normalisation (CoCLR).
    """

    name: str = "retrieval_vcop"
    kind: str = "retrieval"
    feature: str = "pool5"
    center: bool = False
    ks: tuple[int, ...] = (1, 5, 10, 20, 50)


@dataclass(frozen=True)
class KnnProtocol(_ExtractionFields):
    """Weighted kNN classifier (InstDisc / solo-learn weighting) on L2-normalised features:
    each of the k nearest train videos votes exp(similarity / temperature) for its class;
    top1 / top5 in % on the test split."""

    name: str = "knn"
    kind: str = "knn"
    k: int = 200
    temperature: float = 0.07


@dataclass(frozen=True)
class LinearProtocol(_ExtractionFields):
    """Linear probe on cached frozen features (§12.B, mode "cached"): L2-normalised features, one
    nn.Linear trained with minibatch SGD (momentum, cosine schedule) on the train split;
    top1 / top5 / mean class accuracy in % on the test split."""

    name: str = "linear_cached"
    kind: str = "linear"
    mode: str = "cached"
    epochs: int = 100
    batch_size: int = 256
    lr: float = 1.0
    momentum: float = 0.9
    weight_decay: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        if self.mode != "cached":
            raise ConfigError(f"protocol.mode: only 'cached' is implemented, got {self.mode!r}")


Protocol = RetrievalProtocol | KnnProtocol | LinearProtocol
PROTOCOL_KINDS: dict[str, type] = {
    "retrieval": RetrievalProtocol,
    "knn": KnnProtocol,
    "linear": LinearProtocol,
}
_KIND_OF = {cls: kind for kind, cls in PROTOCOL_KINDS.items()}


def protocol_identity(protocol: Protocol) -> dict[str, Any]:
    """``{"name", "version", "hash", "settings"}`` as stored beside every number."""
    settings = dataclasses.asdict(protocol)
    settings = {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}
    return {
        "name": protocol.name,
        "version": protocol.version,
        "hash": protocol_hash(protocol),
        "settings": settings,
    }


def list_protocols() -> list[str]:
    """Names of the protocol YAMLs in the repo's ``evaluation/`` folder."""
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml"))


def load_protocol(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> Protocol:
    """Protocol from ``evaluation/<name>.yaml`` or a YAML path, with ``overrides`` merged on top.

    The ``kind`` key selects the dataclass; unknown keys or bad values raise ConfigError.
    """
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = PROTOCOL_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise ConfigError(
                f"protocol {str(name_or_path)!r} not found (not a file; known protocols: "
                f"{', '.join(list_protocols()) or 'none'})"
            )
    values = deep_merge(load_yaml(path), overrides or {})
    kind = values.get("kind")
    if kind not in PROTOCOL_KINDS:
        raise ConfigError(f"{path}: protocol.kind must be one of {', '.join(PROTOCOL_KINDS)}, got {kind!r}")
    return from_dict(PROTOCOL_KINDS[kind], values, "protocol")
