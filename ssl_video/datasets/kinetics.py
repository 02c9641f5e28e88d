"""Kinetics-400/600/700 (Kay et al. 2017; Carreira et al. 2018, 2019).

Official CSVs ``train.csv``, ``validate.csv`` (split "val") and ``test.csv`` with columns
``label,youtube_id,time_start,time_end,split`` (extra columns ignored; test may lack ``label``).
Videos are ``<split_dir>/<label>/<youtube_id>_<time_start:06d>_<time_end:06d>.<ext>`` or the same
name directly in ``<split_dir>``, with split dirs ``train``, ``val`` (or ``validate``) and ``test`` in
the video folder: the one of ``video_dirs(variant)`` (under root: the CVDF download folder ``k400`` /
``k600`` / ``k700`` / ``k700-2020``, ``kinetics400`` ..., ``videos``, root) holding the most listed
videos, the first on a tie (see ``locate``).
YouTube takedowns make every copy incomplete, so listed videos not on disk go to ``missing``.
Classes are the sorted unique labels of ``train.csv``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .annotations import find_file, first_dir, scan_videos
from .locate import missing_hint, option_path, search_video_dir
from .record import DatasetError, VideoDataset, VideoRecord
from .registry import register_dataset

CSV_NAMES = {"train": ["train.csv"], "val": ["validate.csv", "val.csv"], "test": ["test.csv"]}
SPLIT_DIRS = {"train": ["train"], "val": ["val", "validate"], "test": ["test"]}
_REQUIRED = ("youtube_id", "time_start", "time_end")


def video_dirs(variant: int) -> tuple[str, ...]:
    """Folders (under root) tried for the split folders when no video_dir is given, in tie-break order:
    the CVDF download script's folder, the dataset's name, the common "videos", the root itself."""
    cvdf = (f"k{variant}", "k700-2020") if variant == 700 else (f"k{variant}",)
    return (*cvdf, f"kinetics{variant}", "videos", "")


def read_kinetics_csv(path: Path, require_label: bool) -> list[dict]:
    """Rows of an official Kinetics CSV as dicts with ``line``, ``label`` (str or None), ``youtube_id``,
    ``time_start`` and ``time_end`` (ints); malformed rows raise DatasetError with file and line."""
    rows = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        absent = [c for c in _REQUIRED + (("label",) if require_label else ()) if c not in header]
        if absent:
            raise DatasetError(f"missing column(s) {', '.join(absent)}; header is {header}", str(path), 1)
        for row in reader:
            line = reader.line_num
            if None in row or any(row.get(c) is None for c in header):
                raise DatasetError(f"expected {len(header)} columns like the header", str(path), line)
            label = (row.get("label") or "").strip() or None
            if require_label and label is None:
                raise DatasetError("empty label", str(path), line)
            youtube_id = row["youtube_id"].strip()
            if not youtube_id:
                raise DatasetError("empty youtube_id", str(path), line)
            times = []
            for column in ("time_start", "time_end"):
                try:
                    value = float(row[column])
                except ValueError:
                    raise DatasetError(
                        f"{column} must be a number, got {row[column]!r}", str(path), line
                    ) from None
                times.append(int(value))
            rows.append(
                {
                    "line": line,
                    "label": label,
                    "youtube_id": youtube_id,
                    "time_start": times[0],
                    "time_end": times[1],
                }
            )
    return rows


def _index_split_dir(split_dir: Path) -> dict[str, str]:
    """Video file stem -> path relative to ``split_dir`` for every video in it (any depth)."""
    return (
        {p.stem: p.relative_to(split_dir).as_posix() for p in scan_videos(split_dir)}
        if split_dir.is_dir()
        else {}
    )


def load_kinetics(
    name: str,
    root: Path,
    split: str,
    annotation_dir: str | None = None,
    csv_path: str | None = None,
    video_dir: str | None = None,
    candidates: tuple[str, ...] = ("",),
) -> VideoDataset:
    """Load one split (or "all") of a Kinetics variant; see the module docstring for the layout.

    Path options relative to root are read there (``locate.option_path``); ``candidates`` are the
    video folders tried when ``video_dir`` is None.
    """
    if csv_path is not None and split == "all":
        raise DatasetError("option csv= names the CSV of one split; it cannot be used with split='all'")
    ann_dirs = [option_path(root, annotation_dir)] if annotation_dir else [root, root / "annotations"]
    csv_option = option_path(root, csv_path) if csv_path is not None else None
    if csv_option is not None:
        ann_dirs = ann_dirs + [csv_option.parent]
    if csv_option is not None and split == "train":
        train_csv = csv_option
    else:
        train_csv = find_file(CSV_NAMES["train"], ann_dirs, f"{name} train.csv (needed for the class list)")
    classes = sorted({row["label"] for row in read_kinetics_csv(train_csv, require_label=True)})
    index = {c: i for i, c in enumerate(classes)}
    parts = ("train", "val", "test") if split == "all" else (split,)
    listed: list[tuple[str, dict, str]] = []  # (split, CSV row, file stem)
    for part in parts:
        if csv_option is not None:
            csv_file = csv_option
            if not csv_file.is_file():
                raise DatasetError(f"{name} {part} CSV not found: {csv_file}")
        else:
            csv_file = find_file(CSV_NAMES[part], ann_dirs, f"{name} {part} CSV")
        for row in read_kinetics_csv(csv_file, require_label=part != "test"):
            label = row["label"]
            if label is not None and label not in index:
                raise DatasetError(
                    f"label {label!r} is not a class of {train_csv}", str(csv_file), row["line"]
                )
            listed.append((part, row, f"{row['youtube_id']}_{row['time_start']:06d}_{row['time_end']:06d}"))

    def split_dirs(base: Path) -> dict[str, Path]:
        return {p: first_dir([base / d for d in SPLIT_DIRS[p]], base / SPLIT_DIRS[p][0]) for p in parts}

    def locate(base: Path) -> list[str | None]:
        """'<split_dir name>/<path under it>' of each listed video under ``base``, or None."""
        dirs = split_dirs(base)
        on_disk = {p: _index_split_dir(d) for p, d in dirs.items()}
        out: list[str | None] = []
        for part, row, stem in listed:
            rel = on_disk[part].get(stem) or on_disk[part].get(row["youtube_id"])
            out.append(f"{dirs[part].name}/{rel}" if rel is not None else None)
        return out

    search = search_video_dir(root, video_dir, candidates, locate)
    dirs = split_dirs(search.base)
    records: list[VideoRecord] = []
    missing: list[str] = []
    for (part, row, stem), found in zip(listed, search.located, strict=True):
        label = row["label"]
        if found is None:
            split_name = dirs[part].name
            missing.append(f"{split_name}/{label}/{stem}.mp4" if label else f"{split_name}/{stem}.mp4")
            continue
        meta = {k: row[k] for k in ("youtube_id", "time_start", "time_end")}
        label_index = index[label] if label is not None else None
        records.append(VideoRecord(str(search.base / found), found, label_index, part, meta=meta))
    split_names = {d for p in parts for d in SPLIT_DIRS[p]}
    kind = "split folders (" + ", ".join(f"{d}/" for p in parts for d in SPLIT_DIRS[p]) + ")"
    hint = missing_hint(name, root, search, locate, kind, folder_names=split_names)
    return VideoDataset(
        name, str(root), split, None, classes, records, missing,
        str(search.base), [str(p) for p in search.tried], hint,
    )  # fmt: skip


def _register(variant: int) -> None:
    name = f"kinetics{variant}"

    @register_dataset(name, splits=("train", "val", "test", "all"))
    def factory(
        root: Path,
        split: str,
        fold: int,
        annotation_dir: str | None = None,
        csv: str | None = None,
        video_dir: str | None = None,
    ) -> VideoDataset:
        return load_kinetics(name, root, split, annotation_dir, csv, video_dir, video_dirs(variant))

    factory.__name__ = factory.__qualname__ = name
    folders = ", ".join(f"root/{d}" if d else "root" for d in video_dirs(variant))
    factory.__doc__ = (
        f"Kinetics-{variant}. Options: ``annotation_dir`` (folder with the CSVs; default root, then "
        f"root/annotations), ``csv`` (the CSV of the one requested split), ``video_dir`` (folder holding "
        f"train/, val/, test/; default: the one of {folders} holding the most listed videos). A relative "
        "path is read under root (``locate.option_path``)."
    )


for _variant in (400, 600, 700):
    _register(_variant)
