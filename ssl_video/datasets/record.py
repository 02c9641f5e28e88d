"""The two types every adapter produces: one ``VideoRecord`` per video, gathered in a ``VideoDataset``.

A record says where a video is and what is known about it (label, split, UCF101 group); it never
holds pixels. Adapters fill ``VideoDataset.missing`` with the videos their annotation files list but
that are not on disk, so a partially downloaded dataset still loads and the gap is reported; when
most are missing, ``VideoDataset.hint`` says where the adapter looked and where the videos seem to be.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

SPLITS = ("train", "val", "test", "unlabeled")


class DatasetError(ValueError):
    """A dataset cannot be loaded: malformed or missing annotation file, bad option, unknown name.

    When the problem sits in a file, ``path`` and ``line`` are set and the message starts with
    ``path:line:`` (editor-clickable).
    """

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        if path is not None:
            message = f"{path}:{line}: {message}" if line is not None else f"{path}: {message}"
        super().__init__(message)


@dataclass(frozen=True)
class VideoRecord:
    """One video of a dataset.

    ``rel_path`` is relative to the adapter's video folder and '/'-separated, so it is the same on
    every machine (fingerprints use it). ``label`` is a 0-based index into ``VideoDataset.classes``
    or None when unknown. ``group`` is the UCF101 ``gXX`` group (videos that share actor and scene).
    """

    path: str
    rel_path: str
    label: int | None
    split: str
    group: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict, hash=False)  # records stay hashable


@dataclass
class VideoDataset:
    """The records of one split (or ``"all"``) of one dataset, plus its class list.

    ``missing``: listed videos not on disk (paths as listed). ``video_dir``: the folder the records'
    ``rel_path`` is relative to, None when the adapter has none. ``searched``: the folders it tried for
    the videos, in order. ``hint``: set when more than half of the listed videos are missing; says
    where it looked and where the videos seem to be (``load_dataset`` logs it, or raises it when no
    listed video was found).
    """

    name: str
    root: str
    split: str
    fold: int | None
    classes: list[str]
    records: list[VideoRecord]
    missing: list[str] = field(default_factory=list)
    video_dir: str | None = None
    searched: list[str] = field(default_factory=list)
    hint: str | None = None

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> VideoRecord:
        return self.records[index]

    def __iter__(self) -> Iterator[VideoRecord]:
        return iter(self.records)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def exclude(self, paths: Iterable[str]) -> VideoDataset:
        """A copy without the records whose ``path`` is in ``paths`` (e.g. ``CheckReport.bad_paths()``)."""
        drop = set(paths)
        kept = [r for r in self.records if r.path not in drop]
        return dataclasses.replace(
            self,
            classes=list(self.classes),
            records=kept,
            missing=list(self.missing),
            searched=list(self.searched),
        )

    def summary(self) -> dict[str, Any]:
        """Counts for logs and dataset cards: videos per split and per class, unlabeled, missing; where
        the videos were looked for (``video_dir``, ``searched``) and the ``hint`` (None unless most
        listed videos are missing)."""
        per_class = Counter(self.classes[r.label] for r in self.records if r.label is not None)
        return {
            "name": self.name,
            "root": self.root,
            "split": self.split,
            "fold": self.fold,
            "num_classes": len(self.classes),
            "num_videos": len(self.records),
            "per_split": dict(sorted(Counter(r.split for r in self.records).items())),
            "per_class": {c: per_class.get(c, 0) for c in self.classes},
            "unlabeled": sum(r.label is None for r in self.records),
            "groups": len({r.group for r in self.records if r.group is not None}),
            "missing": len(self.missing),
            "video_dir": self.video_dir,
            "searched": list(self.searched),
            "hint": self.hint,
        }
