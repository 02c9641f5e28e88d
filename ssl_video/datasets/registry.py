"""Dataset adapter registry and ``load_dataset``.

An adapter is a factory ``fn(root: Path, split: str, fold: int, **options) -> VideoDataset``. Its
keyword options are read from its signature, so ``load_dataset`` can reject unknown options with the
list of valid ones. Third-party packages register adapters through the entry-point group
``ssl_video.datasets`` (``name = "package.module:factory"``); the factory may or may not already be
decorated with ``register_dataset``. Path-valued options are the adapter's to read: the built-in ones
read a relative path under the root with ``locate.option_path`` (see ``ssl_video.datasets.locate``).
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..registry import Registry
from .locate import mostly_missing
from .record import DatasetError, VideoDataset

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ssl_video.datasets"
DEFAULT_SPLITS = ("train", "val", "test", "all")


@dataclass(frozen=True)
class _Adapter:
    factory: Callable[..., VideoDataset]
    splits: tuple[str, ...]
    folds: tuple[int, ...] | None


_ADAPTERS: Registry[_Adapter] = Registry(
    "dataset",
    ENTRY_POINT_GROUP,
    wrap=lambda factory: _Adapter(factory, DEFAULT_SPLITS, None),  # an entry point's bare factory
)


def register_dataset(
    name: str, *, splits: Sequence[str] = DEFAULT_SPLITS, folds: Sequence[int] | None = None
):
    """Decorator registering an adapter factory under ``name``.

    ``splits`` are the split names it accepts; ``folds`` the official folds (None: no folds, the
    dataset's ``fold`` is None and the ``fold`` argument is ignored).
    """

    def decorator(factory: Callable[..., VideoDataset]) -> Callable[..., VideoDataset]:
        if name in _ADAPTERS and _ADAPTERS[name].factory is not factory:
            raise ValueError(f"dataset adapter {name!r} is already registered")
        if name not in _ADAPTERS:
            _ADAPTERS.add(name, _Adapter(factory, tuple(splits), tuple(folds) if folds is not None else None))
        return factory

    return decorator


def list_datasets() -> list[str]:
    """Names accepted by ``load_dataset`` (built-in and entry-point adapters), sorted."""
    return _ADAPTERS.names()


def _option_names(factory: Callable) -> tuple[list[str], bool]:
    params = list(inspect.signature(factory).parameters.values())[3:]  # after root, split, fold
    names = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def load_dataset(name: str, root: str | Path, split: str = "train", fold: int = 1, **options) -> VideoDataset:
    """Load the records of ``split`` (``"all"``: every split of the fold) of dataset ``name`` under ``root``.

    Raises DatasetError for an unknown name, split, fold or option (listing the valid ones), a root
    that does not exist, malformed annotation files (naming file and line), and annotation files none
    of whose listed videos is on disk (with the adapter's ``hint``: where it looked, where the videos
    seem to be). When more than half of the listed videos are missing the hint is logged as a warning
    and the dataset loads (``missing`` lists them).
    """
    if not _ADAPTERS.knows(name):
        raise DatasetError(_ADAPTERS.unknown(name))
    adapter = _ADAPTERS[name]
    if split not in adapter.splits:
        raise DatasetError(
            f"dataset {name!r} has no split {split!r}; valid splits: {', '.join(adapter.splits)}"
        )
    if adapter.folds is not None and fold not in adapter.folds:
        raise DatasetError(f"dataset {name!r} has no fold {fold!r}; valid folds: {list(adapter.folds)}")
    valid, takes_any = _option_names(adapter.factory)
    unknown = sorted(set(options) - set(valid))
    if unknown and not takes_any:
        raise DatasetError(
            f"unknown option(s) {', '.join(unknown)} for dataset {name!r}; valid options: "
            + (", ".join(valid) if valid else "none")
        )
    root_path = Path(os.path.abspath(Path(root).expanduser()))
    if not root_path.is_dir():
        raise DatasetError(f"dataset root {str(root_path)!r} is not a directory")
    ds = adapter.factory(root_path, split, fold, **options)
    total = len(ds.records) + len(ds.missing)
    if ds.hint is None and total and mostly_missing(len(ds.records), total):  # an adapter without hints
        ds.hint = f"{name}: {len(ds.records)} of {total} listed videos found under {root_path}"
    if ds.missing and not ds.records:
        raise DatasetError(ds.hint)
    if ds.hint:
        log.warning("%s", ds.hint)
    return ds
