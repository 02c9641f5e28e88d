"""Evaluation protocols as versioned, declarative, frozen settings objects (PRETEXT_SPEC §12).

A protocol YAML under the repo's ``evaluation/`` folder names its ``kind`` (``retrieval``, ``knn``,
``linear``, ``finetune``, ``lowshot``, or one a third-party package registers:
:data:`PROTOCOL_KINDS`), which selects the :class:`Protocol` subclass; every other key must be a
field of that dataclass (an unknown key is a ``ConfigError`` naming the key and the closest valid
ones). ``protocol_hash`` covers every resolved setting, so it changes whenever anything that could
change a number changes.

Each protocol carries the same feature-extraction fields (``num_clips``, ``windows``, ``clip_len``,
``frame_stride``, ``crop``, ``resize``, ``feature``); ``protocol.extraction`` gathers them into an
``Extraction`` with its own hash. Protocols whose extractions are equal share cached features (see
``cache.py``). ``folds`` lists the official splits the protocol is run on (``[1]``: split 1 only;
``[1, 2, 3]``: each split evaluated and stored, tables average over them).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..config import REPO_ROOT, ConfigError, deep_merge, from_dict, load_yaml
from ..registry import Registry
from .protocol import protocol_hash

PROTOCOL_DIR = REPO_ROOT / "evaluation"
WINDOWS = ("uniform", "dense")
FEATURES = ("pool", "pool5")


@dataclass(frozen=True)
class Extraction:
    """How one video becomes one descriptor: the mean over its clips of the encoder's clip features.

    windows: "uniform" = ``num_clips`` clips with evenly spaced centres (VCOP); "dense" = every
    half-overlapping window of ``clip_len`` frames (CoCLR; ``num_clips`` is then unused and set to 0
    so that equal extractions hash equally). A clip is ``clip_len`` frames ``frame_stride`` apart (1:
    consecutive; SynthMotion's cpu protocols use 8 frames 6 apart, the whole 48-frame video, because its
    classes are defined by the whole motion). feature: "pool" (global average pool, (D,)) or "pool5"
    (VCOP's MaxPool3d (1,2,2) on the last feature map, flattened). Frames are resized to ``resize``
    (H, W) (None = keep) and centre-cropped to ``crop``.
    """

    num_clips: int = 10
    windows: str = "uniform"
    clip_len: int = 16
    frame_stride: int = 1
    crop: int = 112
    resize: tuple[int, int] | None = (128, 171)
    feature: str = "pool"


def extraction_hash(extraction: Extraction) -> str:
    """16 hex digits identifying an extraction (same canonical-JSON sha256 as ``protocol_hash``)."""
    return protocol_hash(extraction)


Split = tuple[np.ndarray, np.ndarray, np.ndarray]  # (features (N, D), labels (N,), usable (N,) bool)


@dataclass(frozen=True)
class Protocol:
    """Base class of every protocol kind: identity plus the extraction fields every kind shares
    (kept flat so YAMLs and ``key=value`` overrides stay one level deep), and what the runner asks
    of a kind (:func:`ssl_video.evaluation.evaluate` never tests for a class).

    A kind registers itself with :func:`register_protocol_kind` (third-party packages: the
    ``ssl_video.protocols`` entry-point group) and implements either :meth:`compute` (metrics from
    cached per-video descriptors) or, with ``uses_cached_features`` False, :meth:`run_on_clips`.
    """

    # Whether results depend on the evaluation seed (training, drawing); False: one seed suffices.
    stochastic: ClassVar[bool] = True

    name: str = ""
    version: int = 1
    kind: str = ""
    num_clips: int = 10
    windows: str = "uniform"
    clip_len: int = 16
    frame_stride: int = 1
    crop: int = 112
    resize: tuple[int, int] | None = (128, 171)
    feature: str = "pool"
    folds: tuple[int, ...] = (1,)

    def __post_init__(self):
        expected = getattr(type(self), "registered_kind", None)
        if expected is None:
            raise ConfigError(f"{type(self).__name__} is not a registered protocol kind")
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
        if not self.folds or min(self.folds) < 1 or len(set(self.folds)) != len(self.folds):
            raise ConfigError(f"protocol.folds: distinct official split numbers >= 1, got {list(self.folds)}")
        if min(self.clip_len, self.frame_stride, self.crop) < 1 or (
            self.windows == "uniform" and self.num_clips < 1
        ):
            raise ConfigError(
                "protocol: clip_len, frame_stride, crop and (uniform windows) num_clips must be >= 1"
            )

    @property
    def extraction(self) -> Extraction:
        """The extraction sub-settings (canonical: num_clips is 0 for dense windows)."""
        return Extraction(
            num_clips=self.num_clips if self.windows == "uniform" else 0,
            windows=self.windows,
            clip_len=self.clip_len,
            frame_stride=self.frame_stride,
            crop=self.crop,
            resize=None if self.resize is None else tuple(self.resize),
            feature=self.feature,
        )

    def uses_cached_features(self) -> bool:
        """True when the protocol works on cached test-time descriptors (no training on clips)."""
        return True

    def default_seeds(self) -> list[int]:
        """Evaluation seeds run when none are requested (a stochastic protocol)."""
        return [0]

    def compute(self, train: Split, test: Split, num_classes: int, seed: int) -> tuple[dict, dict]:
        """Metrics (name -> %) and per-test-video hits (name -> (N_test,) bool) from descriptors:
        ``train`` is the gallery / memory bank / probe training set, ``test`` the evaluation set."""
        raise NotImplementedError(f"protocol kind {self.kind!r} does not work on cached descriptors")

    def run_on_clips(
        self, encoder, train_records, test_records, num_classes: int, *, seed: int, backend: str,
        num_workers: int, device: str,
    ) -> tuple[dict, dict, dict]:  # fmt: skip
        """(metrics, hits, details) of a protocol that trains on decoded clips; ``details`` holds
        ``failed_train`` / ``failed_test`` (paths) and training statistics."""
        raise NotImplementedError(f"protocol kind {self.kind!r} does not train on clips")

    def chance(self, hits: dict, test_labels: list, gallery_labels: list, num_classes: int) -> dict:
        """Chance level (%) of every metric with per-video ``hits``: top-k accuracy with k from the
        metric's name (``top1``, ``top5``, low-shot's ``top1_<regime>``): a uniform random ranking
        of the classes."""
        from .knn import topk_chance

        chance = {}
        for name in hits:
            match = re.match(r"top(\d+)(?:_|$)", name)
            if match is None:
                raise ValueError(f"no chance level is defined for metric {name!r} of {self.name}")
            chance[name] = topk_chance((int(match.group(1)),), num_classes)[f"top{match.group(1)}"]
        return chance


def _set_kind(kind: str, cls: type[Protocol]) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Protocol)):
        raise TypeError(f"protocol kind {kind!r}: {cls!r} is not a Protocol subclass")
    cls.registered_kind = kind


PROTOCOL_KINDS: Registry[type[Protocol]] = Registry(
    "protocol kind",
    "ssl_video.protocols",
    accept=lambda obj: isinstance(obj, type) and issubclass(obj, Protocol),
    on_register=_set_kind,
)


def register_protocol_kind(kind: str):
    """Class decorator: ``@register_protocol_kind("knn")`` makes YAMLs with ``kind: knn`` load as it."""
    return PROTOCOL_KINDS.register(kind)


@register_protocol_kind("retrieval")
@dataclass(frozen=True)
class RetrievalProtocol(Protocol):
    """Nearest-neighbour retrieval (§12.A): test queries vs train gallery, cosine, R@k in %.

    center: before L2 normalisation, centre the queries by the query mean and the gallery by the
    gallery mean, each set by its own mean (CoCLR's ``test_retrieval``).
    """

    name: str = "retrieval_vcop"
    kind: str = "retrieval"
    feature: str = "pool5"
    center: bool = False
    ks: tuple[int, ...] = (1, 5, 10, 20, 50)
    stochastic: ClassVar[bool] = False

    def compute(self, train: Split, test: Split, num_classes: int, seed: int) -> tuple[dict, dict]:
        from .retrieval import retrieval_metrics

        return retrieval_metrics(self, train, test)

    def chance(self, hits: dict, test_labels: list, gallery_labels: list, num_classes: int) -> dict:
        """R@k: the expected hit rate of k gallery videos (the usable train videos) drawn at random."""
        from .retrieval import recall_chance

        return recall_chance(test_labels, gallery_labels, self.ks)


@register_protocol_kind("knn")
@dataclass(frozen=True)
class KnnProtocol(Protocol):
    """Weighted kNN classifier (InstDisc / solo-learn weighting) on L2-normalised features:
    each of the k nearest train videos votes exp(similarity / temperature) for its class;
    top1 / top5 in % on the test split."""

    name: str = "knn"
    kind: str = "knn"
    k: int = 200
    temperature: float = 0.07
    stochastic: ClassVar[bool] = False

    def compute(self, train: Split, test: Split, num_classes: int, seed: int) -> tuple[dict, dict]:
        from .knn import knn_metrics

        return knn_metrics(self, train, test, num_classes)


@dataclass(frozen=True)
class _ClipTrainingFields(Protocol):
    """Fields of the protocols that train on decoded clips (``transfer.py``): test views are
    ``num_clips`` evenly spaced clips x ``spatial_crops`` crops (1 or 3); ``flip`` mirrors training
    clips with probability 1/2 (off by default: it changes the label of direction classes such as
    SynthMotion's TranslateLeft/Right or Something-Something's "left to right")."""

    spatial_crops: int = 1
    flip: bool = False

    def _check_clip_training(self, what: str) -> None:
        if self.spatial_crops not in (1, 3):
            raise ConfigError(f"protocol.spatial_crops: expected 1 or 3, got {self.spatial_crops}")
        if self.windows != "uniform" or self.feature != "pool":
            raise ConfigError(f"protocol: {what} needs windows=uniform and feature=pool")

    def run_on_clips(
        self, encoder, train_records, test_records, num_classes: int, *, seed: int, backend: str,
        num_workers: int, device: str,
    ) -> tuple[dict, dict, dict]:  # fmt: skip
        from .transfer import run_clip_protocol

        return run_clip_protocol(
            self, encoder, train_records, test_records, num_classes, seed=seed, backend=backend,
            num_workers=num_workers, device=device,
        )  # fmt: skip


@register_protocol_kind("linear")
@dataclass(frozen=True)
class LinearProtocol(_ClipTrainingFields):
    """Linear probe on the frozen encoder (§12.B), L2-normalised pooled features -> one nn.Linear
    trained with minibatch SGD (momentum, cosine schedule); top1 / top5 / mean class accuracy in %.

    mode "cached": features of the test-time clips, extracted once and cached (no augmentation).
    mode "end_to_end": one random, augmented clip per video per epoch through the frozen trunk
    (BatchNorm in eval mode), multi-view test (``num_clips`` x ``spatial_crops``), plus clip_top1.
    """

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
        if self.mode not in ("cached", "end_to_end"):
            raise ConfigError(f"protocol.mode: expected 'cached' or 'end_to_end', got {self.mode!r}")
        if self.mode == "end_to_end":
            self._check_clip_training("the end-to-end linear probe")
        elif self.spatial_crops != 1 or self.flip:
            raise ConfigError(
                "protocol: mode 'cached' uses centre crops without flips (spatial_crops=1, flip=false)"
            )

    def uses_cached_features(self) -> bool:
        return self.mode == "cached"

    def compute(self, train: Split, test: Split, num_classes: int, seed: int) -> tuple[dict, dict]:
        from .linear import linear_metrics

        return linear_metrics(self, train, test, num_classes, seed)


@register_protocol_kind("finetune")
@dataclass(frozen=True)
class FinetuneProtocol(_ClipTrainingFields):
    """Full finetuning (§12.C): encoder + dropout + Linear all train on one random clip per video per
    epoch; multi-view test. Metrics: clip_top1, top1, top5, mean_class_acc in %."""

    name: str = "finetune"
    kind: str = "finetune"
    epochs: int = 150
    batch_size: int = 8
    optimizer: str = "sgd"
    lr: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 0.0005
    schedule: str = "constant"
    dropout: float = 0.5

    def __post_init__(self):
        super().__post_init__()
        self._check_clip_training("finetuning")
        if self.optimizer not in ("sgd", "adamw"):
            raise ConfigError(f"protocol.optimizer: expected sgd or adamw, got {self.optimizer!r}")
        if self.schedule not in ("constant", "cosine"):
            raise ConfigError(f"protocol.schedule: expected constant or cosine, got {self.schedule!r}")

    def uses_cached_features(self) -> bool:
        return False


@register_protocol_kind("lowshot")
@dataclass(frozen=True)
class LowshotProtocol(Protocol):
    """Low-shot linear probe on cached features (``lowshot.py``): ``shots`` videos per class and/or
    ``examples`` videos in all (SEVERE: 1000), one draw per evaluation seed; ``draws`` is how many
    seeds (0..draws-1) ``ssl-video eval`` runs by default. Metrics top1_<k>shot / top1_<n>ex in %."""

    name: str = "lowshot"
    kind: str = "lowshot"
    shots: tuple[int, ...] = (1, 5, 10)
    examples: tuple[int, ...] = ()
    draws: int = 5
    epochs: int = 100
    batch_size: int = 256
    lr: float = 1.0
    momentum: float = 0.9
    weight_decay: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        if not (self.shots or self.examples) or min((*self.shots, *self.examples)) < 1:
            raise ConfigError("protocol: lowshot needs shots and/or examples, each >= 1")
        if self.draws < 1:
            raise ConfigError("protocol.draws: must be >= 1")

    def default_seeds(self) -> list[int]:
        return list(range(self.draws))

    def compute(self, train: Split, test: Split, num_classes: int, seed: int) -> tuple[dict, dict]:
        from .lowshot import lowshot_metrics

        return lowshot_metrics(self, train, test, num_classes, seed)


def uses_cached_features(protocol: Protocol) -> bool:
    """True when the protocol works on cached test-time descriptors (no training on clips)."""
    return protocol.uses_cached_features()


def is_stochastic(protocol: Protocol) -> bool:
    """True when the protocol's numbers depend on its seed (training or drawing); retrieval and kNN
    are deterministic, so one seed is all they need."""
    return protocol.stochastic


def evaluation_seeds(protocol: Protocol, requested: list[int] | None) -> list[int]:
    """Seeds under which a protocol's results are run and stored: one (0) for deterministic protocols;
    else ``requested``, or by default :meth:`Protocol.default_seeds` (lowshot: its draws 0..draws-1)."""
    if not protocol.stochastic:
        return [0]
    if requested:
        return sorted(set(requested))
    return protocol.default_seeds()


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
    cls = PROTOCOL_KINDS.get_or_raise(str(kind), ConfigError, what=f"'protocol.kind={kind}' in {path}")
    return from_dict(cls, values, "protocol")
