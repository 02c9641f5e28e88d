"""CSV manifest adapter (``csv``): any dataset described by one CSV file.

Header ``path,label[,split][,group]`` plus any extra columns (kept in ``record.meta``). ``path`` is
relative to the CSV's folder or absolute; ``label`` is empty (unknown), a class name, or an integer
index. Without a ``classes`` option the class list is the sorted unique names of the whole manifest
(all splits), or ``0..max`` when every label is an integer. ``classes`` (a text file with one name a
line, or a list of names) fixes the list and its order. The options ``manifest`` and ``classes`` are
read under root when relative (``locate.option_path``). Without a ``split`` column every row is in the
requested split ("train" when "all" is requested).
"""

from __future__ import annotations

import csv
import os
import posixpath
from collections.abc import Sequence
from pathlib import Path

from .annotations import resolve_video
from .locate import VideoSearch, missing_hint, option_path, resolve_videos
from .record import SPLITS, DatasetError, VideoDataset, VideoRecord
from .registry import register_dataset

_KNOWN_COLUMNS = ("path", "label", "split", "group")


def _read_class_list(classes: str | Sequence[str], root: Path) -> list[str]:
    if not isinstance(classes, str):
        return [str(c) for c in classes]
    path = option_path(root, classes)
    if not path.is_file():
        raise DatasetError(f"class list file not found: {path}")
    names = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    if len(set(names)) != len(names):
        raise DatasetError("class list has repeated names", str(path))
    return names


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        absent = [c for c in ("path", "label") if c not in header]
        if absent:
            raise DatasetError(f"missing column(s) {', '.join(absent)}; header is {header}", str(path), 1)
        rows = []
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                raise DatasetError(
                    f"expected {len(header)} columns like the header", str(path), reader.line_num
                )
            rows.append((reader.line_num, {k: v.strip() for k, v in row.items()}))
    return header, rows


def _label_mapper(rows, path: Path, classes: list[str] | None):
    """Build the class list (if not given) and a function (label text, line) -> index or None."""
    texts = {r["label"] for _, r in rows if r["label"]}
    if classes is None:
        if texts and all(t.lstrip("-").isdigit() for t in texts):
            classes = [str(i) for i in range(max(int(t) for t in texts) + 1)]
        else:
            classes = sorted(texts)
    index = {c: i for i, c in enumerate(classes)}

    def to_label(text: str, line: int) -> int | None:
        if not text:
            return None
        if text in index:
            return index[text]
        if text.lstrip("-").isdigit():
            number = int(text)
            if not 0 <= number < len(classes):
                raise DatasetError(f"label {number} out of range 0..{len(classes) - 1}", str(path), line)
            return number
        raise DatasetError(f"unknown class {text!r}", str(path), line)

    return classes, to_label


@register_dataset("csv", splits=("train", "val", "test", "unlabeled", "all"))
def csv_manifest(
    root: Path, split: str, fold: int, manifest: str | None = None, classes: str | Sequence[str] | None = None
) -> VideoDataset:
    """Load the videos listed in ``manifest`` (default root/manifest.csv).

    ``manifest`` and ``classes`` (when a file name) are read under root when relative
    (``locate.option_path``); the paths in the manifest are relative to its folder.
    """
    path = option_path(root, manifest) if manifest else root / "manifest.csv"
    if not path.is_file():
        raise DatasetError(f"CSV manifest not found: {path}")
    header, rows = _read_rows(path)
    class_list, to_label = _label_mapper(rows, path, _read_class_list(classes, root) if classes else None)
    base = path.parent
    records, missing = [], []
    located: list[str | None] = []  # per row in the split: rel path found, or None (for the hint)
    relative: list[str] = []  # the relative paths listed in the split (for the hint)
    for line, row in rows:
        if "split" in header:
            part = row["split"]
            if part not in SPLITS:
                raise DatasetError(f"split must be one of {', '.join(SPLITS)}, got {part!r}", str(path), line)
            if split != "all" and part != split:
                continue
        else:
            part = split if split != "all" else "train"
        if not row["path"]:
            raise DatasetError("empty path", str(path), line)
        label = to_label(row["label"], line)
        listed = os.path.expanduser(row["path"])
        if os.path.isabs(listed):
            folder, rel = Path(listed).parent, Path(listed).name
        else:
            folder, rel = base, posixpath.normpath(listed.replace("\\", "/"))
        found = resolve_video([folder], rel)
        if not os.path.isabs(listed):
            relative.append(rel)
        located.append(found[1] if found is not None else None)
        if found is None:
            missing.append(row["path"])
            continue
        full = Path(os.path.abspath(found[0] / found[1]))
        rel_path = full.relative_to(base).as_posix() if full.is_relative_to(base) else full.as_posix()
        meta = {k: v for k, v in row.items() if k not in _KNOWN_COLUMNS}
        records.append(VideoRecord(str(full), rel_path, label, part, row.get("group") or None, meta))
    search = VideoSearch(base, [base], located)
    hint = missing_hint(
        "csv", root, search, lambda folder: resolve_videos(folder, relative),
        "folders or files named like the listed paths",
        folder_names={r.split("/")[0] for r in relative if "/" in r},
        file_stems={os.path.splitext(r)[0] for r in relative if "/" not in r},
        option=None,
        advice=f"paths in a manifest are relative to its folder ({base})",
    )  # fmt: skip
    return VideoDataset(
        "csv", str(root), split, None, class_list, records, missing, str(base), [str(base)], hint
    )
