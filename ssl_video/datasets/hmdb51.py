"""HMDB51 (Kuehne et al. 2011): 51 classes, 3 splits of 3,570 train / 1,530 test videos.

Split files ``<class>_test_split<k>.txt`` (the ``testTrainMulti_7030_splits`` release, in root or
root/testTrainMulti_7030_splits) hold "video_name.avi 1" lines: 1 = train, 2 = test, 0 = unused in
this split (excluded from every split). Videos at <video_dir>/<class>/<video_name>, video_dir being the
one of ``VIDEO_DIRS`` (under root: hmdb51_org/, HMDB51/, videos/, root) holding the most listed videos,
the first on a tie (see ``locate``). Classes = sorted class names of the split files.
"""

from __future__ import annotations

import os
from pathlib import Path

from .annotations import parse_int, read_split_file
from .locate import missing_hint, option_path, resolve_videos, search_video_dir
from .record import DatasetError, VideoDataset, VideoRecord
from .registry import register_dataset

_CODE_TO_SPLIT = {1: "train", 2: "test"}
# Folders (under root) tried for the class folders when no video_dir is given, in tie-break order:
# the archive's name, as unpacked by hand, the common "videos", the root itself.
VIDEO_DIRS = ("hmdb51_org", "HMDB51", "videos", "")


def find_split_files(dirs: list[Path], fold: int) -> list[Path]:
    """The ``*_test_split<fold>.txt`` files of the first folder that has any, sorted by name."""
    pattern = f"*_test_split{fold}.txt"
    for folder in dirs:
        files = sorted(p for p in folder.glob(pattern) if p.is_file())
        if files:
            return files
    raise DatasetError(f"HMDB51 split files {pattern} not found in: " + ", ".join(str(d) for d in dirs))


@register_dataset("hmdb51", splits=("train", "test", "all"), folds=(1, 2, 3))
def hmdb51(
    root: Path, split: str, fold: int, annotation_dir: str | None = None, video_dir: str | None = None
) -> VideoDataset:
    """Load HMDB51 fold ``fold``.

    ``annotation_dir``: folder holding the split files (default: root, then
    root/testTrainMulti_7030_splits). ``video_dir``: folder holding the class folders (default: the
    one of root/hmdb51_org, root/HMDB51, root/videos, root holding the most listed videos). A
    relative path is read under root (``locate.option_path``).
    """
    ann_dirs = (
        [option_path(root, annotation_dir)] if annotation_dir else [root, root / "testTrainMulti_7030_splits"]
    )
    files = find_split_files(ann_dirs, fold)
    suffix = f"_test_split{fold}.txt"
    classes = [f.name[: -len(suffix)] for f in files]
    wanted = {"train", "test"} if split == "all" else {split}
    listed: list[tuple[str, int, str]] = []  # (rel path as listed, label, split)
    for label, (name, path) in enumerate(zip(classes, files, strict=True)):
        for lineno, (video, code_text) in read_split_file(path, 2, 2):
            code = parse_int(code_text, path, lineno, "split code")
            if code not in (0, 1, 2):
                raise DatasetError(
                    f"split code must be 0 (unused), 1 (train) or 2 (test), got {code}", str(path), lineno
                )
            if "/" in video or "\\" in video:
                raise DatasetError(f"expected a bare video file name, got {video!r}", str(path), lineno)
            part = _CODE_TO_SPLIT.get(code)
            if part in wanted:
                listed.append((f"{name}/{video}", label, part))
    rels = [rel for rel, _, _ in listed]

    def locate(base: Path) -> list[str | None]:
        return resolve_videos(base, rels)

    search = search_video_dir(root, video_dir, VIDEO_DIRS, locate)
    records: list[VideoRecord] = []
    missing: list[str] = []
    for (rel, label, part), found in zip(listed, search.located, strict=True):
        if found is None:
            missing.append(rel)
        else:
            records.append(VideoRecord(os.path.join(search.base, found), found, label, part))
    hint = missing_hint("hmdb51", root, search, locate, "class folders", folder_names=classes)
    return VideoDataset(
        "hmdb51", str(root), split, fold, classes, records, missing,
        str(search.base), [str(p) for p in search.tried], hint,
    )  # fmt: skip
