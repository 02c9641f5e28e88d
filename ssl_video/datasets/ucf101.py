"""UCF101 (Soomro et al. 2012): 101 classes, 13,320 videos, 3 official train/test splits.

Annotation files (``ucfTrainTestlist/`` of the official release, in root or root/ucfTrainTestlist):
``classInd.txt`` ("1 ApplyEyeMakeup", 1-based), ``trainlist0{k}.txt`` ("Class/v_Class_g08_c01.avi 1")
and ``testlist0{k}.txt`` ("Class/v_Class_g01_c01.avi"; the label comes from the class folder).
Videos at <video_dir>/Class/name, video_dir being the one of ``VIDEO_DIRS`` (under root: UCF-101/,
UCF101/, videos/, root) holding the most listed videos, the first on a tie (see ``locate``). ``group``
is the ``gXX`` part of the name: videos of one group share actor and background, and the official
splits keep a group on one side.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .annotations import find_file, parse_int, read_split_file
from .locate import missing_hint, option_path, resolve_videos, search_video_dir
from .record import DatasetError, VideoDataset, VideoRecord
from .registry import register_dataset

_GROUP = re.compile(r"_(g\d+)_c\d+", re.IGNORECASE)
# Folders (under root) tried for the class folders when no video_dir is given, in tie-break order:
# the archive's folder, its name without the dash, the common "videos", the root itself.
VIDEO_DIRS = ("UCF-101", "UCF101", "videos", "")


def read_class_index(path: Path) -> list[str]:
    """Class names of ``classInd.txt`` in index order; indices must be exactly 1..N, names unique."""
    by_index: dict[int, tuple[str, int]] = {}
    for lineno, (num, name) in read_split_file(path, 2, 2):
        index = parse_int(num, path, lineno, "class index")
        if index in by_index:
            raise DatasetError(
                f"class index {index} repeated (first on line {by_index[index][1]})", str(path), lineno
            )
        if any(name == n for n, _ in by_index.values()):
            raise DatasetError(f"class name {name!r} repeated", str(path), lineno)
        by_index[index] = (name, lineno)
    for expected, index in enumerate(sorted(by_index), start=1):
        if index != expected:
            raise DatasetError(
                f"class indices must be 1..N without gaps; index {index} where {expected} was expected",
                str(path),
                by_index[index][1],
            )
    if not by_index:
        raise DatasetError("no classes", str(path))
    return [by_index[i][0] for i in sorted(by_index)]


def _read_list(path: Path, classes: list[str], class_file: Path) -> list[tuple[int, str, int]]:
    """(line, 'Class/file', 0-based label) for each entry of a train or test list, validated."""
    index = {name: i for i, name in enumerate(classes)}
    entries = []
    for lineno, fields in read_split_file(path, 1, 2):
        rel = fields[0].replace("\\", "/")
        parts = rel.split("/")
        if len(parts) != 2 or not all(parts):
            raise DatasetError(f"expected 'Class/video.avi', got {fields[0]!r}", str(path), lineno)
        folder = parts[0]
        if folder not in index:
            raise DatasetError(f"unknown class {folder!r} (not in {class_file})", str(path), lineno)
        if len(fields) == 2:
            number = parse_int(fields[1], path, lineno, "label")
            if not 1 <= number <= len(classes):
                raise DatasetError(f"label {number} out of range 1..{len(classes)}", str(path), lineno)
            if number - 1 != index[folder]:
                raise DatasetError(
                    f"label {number} ({classes[number - 1]}) disagrees with class folder {folder!r} "
                    f"(label {index[folder] + 1})",
                    str(path),
                    lineno,
                )
        entries.append((lineno, rel, index[folder]))
    return entries


@register_dataset("ucf101", splits=("train", "test", "all"), folds=(1, 2, 3))
def ucf101(
    root: Path, split: str, fold: int, annotation_dir: str | None = None, video_dir: str | None = None
) -> VideoDataset:
    """Load UCF101 fold ``fold``.

    ``annotation_dir``: folder holding classInd.txt and the lists (default: root, then
    root/ucfTrainTestlist). ``video_dir``: folder holding the class folders (default: the one of
    root/UCF-101, root/UCF101, root/videos, root holding the most listed videos). A relative path is
    read under root (``locate.option_path``).
    """
    ann_dirs = [option_path(root, annotation_dir)] if annotation_dir else [root, root / "ucfTrainTestlist"]
    class_file = find_file(["classInd.txt"], ann_dirs, "UCF101 class index classInd.txt")
    classes = read_class_index(class_file)
    list_dirs = [class_file.parent] + [d for d in ann_dirs if d != class_file.parent]
    listed: list[tuple[str, int, str]] = []  # (rel path as listed, label, split)
    for part in ("train", "test") if split == "all" else (split,):
        list_file = find_file([f"{part}list0{fold}.txt"], list_dirs, f"UCF101 {part} list")
        listed += [(rel, label, part) for _, rel, label in _read_list(list_file, classes, class_file)]
    rels = [rel for rel, _, _ in listed]

    def locate(base: Path) -> list[str | None]:
        return resolve_videos(base, rels)

    search = search_video_dir(root, video_dir, VIDEO_DIRS, locate)
    records: list[VideoRecord] = []
    missing: list[str] = []
    for (rel, label, part), found in zip(listed, search.located, strict=True):
        if found is None:
            missing.append(rel)
            continue
        match = _GROUP.search(rel)
        group = match.group(1).lower() if match else None
        records.append(VideoRecord(os.path.join(search.base, found), found, label, part, group))
    hint = missing_hint("ucf101", root, search, locate, "class folders", folder_names=classes)
    return VideoDataset(
        "ucf101", str(root), split, fold, classes, records, missing,
        str(search.base), [str(p) for p in search.tried], hint,
    )  # fmt: skip
