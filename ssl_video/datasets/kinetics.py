"""Kinetics-400/600/700 (Kay et al. 2017; Carreira et al. 2018, 2019).

Official CSVs ``train.csv``, ``validate.csv`` (split "val") and ``test.csv`` with columns
``label,youtube_id,time_start,time_end,split`` (extra columns ignored; test may lack ``label``).
Videos are ``<split_dir>/<label>/<youtube_id>_<time_start:06d>_<time_end:06d>.<ext>`` or the same
name directly in ``<split_dir>``, with split dirs ``train``, ``val`` (or ``validate``) and ``test``.
YouTube takedowns make every copy incomplete, so listed videos not on disk go to ``missing``.
Classes are the sorted unique labels of ``train.csv``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .annotations import find_file, first_dir, scan_videos
from .record import DatasetError, VideoDataset, VideoRecord
from .registry import register_dataset

CSV_NAMES = {"train": ["train.csv"], "val": ["validate.csv", "val.csv"], "test": ["test.csv"]}
SPLIT_DIRS = {"train": ["train"], "val": ["val", "validate"], "test": ["test"]}
_REQUIRED = ("youtube_id", "time_start", "time_end")


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
) -> VideoDataset:
    """Load one split (or "all") of a Kinetics variant; see the module docstring for the layout."""
    if csv_path is not None and split == "all":
        raise DatasetError("option csv= names the CSV of one split; it cannot be used with split='all'")
    ann_dirs = [Path(annotation_dir)] if annotation_dir else [root, root / "annotations"]
    if csv_path is not None:
        ann_dirs = ann_dirs + [Path(csv_path).parent]
    base = Path(video_dir) if video_dir else root
    if csv_path is not None and split == "train":
        train_csv = Path(csv_path)
    else:
        train_csv = find_file(CSV_NAMES["train"], ann_dirs, f"{name} train.csv (needed for the class list)")
    classes = sorted({row["label"] for row in read_kinetics_csv(train_csv, require_label=True)})
    index = {c: i for i, c in enumerate(classes)}
    records: list[VideoRecord] = []
    missing: list[str] = []
    for part in ("train", "val", "test") if split == "all" else (split,):
        if csv_path is not None:
            csv_file = Path(csv_path)
            if not csv_file.is_file():
                raise DatasetError(f"{name} {part} CSV not found: {csv_file}")
        else:
            csv_file = find_file(CSV_NAMES[part], ann_dirs, f"{name} {part} CSV")
        split_dir = first_dir([base / d for d in SPLIT_DIRS[part]], base / SPLIT_DIRS[part][0])
        on_disk = _index_split_dir(split_dir)
        split_name = split_dir.name
        for row in read_kinetics_csv(csv_file, require_label=part != "test"):
            label = row["label"]
            if label is not None and label not in index:
                raise DatasetError(
                    f"label {label!r} is not a class of {train_csv}", str(csv_file), row["line"]
                )
            stem = f"{row['youtube_id']}_{row['time_start']:06d}_{row['time_end']:06d}"
            rel = on_disk.get(stem) or on_disk.get(row["youtube_id"])
            if rel is None:
                missing.append(f"{split_name}/{label}/{stem}.mp4" if label else f"{split_name}/{stem}.mp4")
                continue
            meta = {k: row[k] for k in ("youtube_id", "time_start", "time_end")}
            records.append(
                VideoRecord(
                    str(split_dir / rel),
                    f"{split_name}/{rel}",
                    index[label] if label is not None else None,
                    part,
                    meta=meta,
                )
            )
    return VideoDataset(name, str(root), split, None, classes, records, missing)


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
        return load_kinetics(name, root, split, annotation_dir, csv, video_dir)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"Kinetics-{variant}; options: annotation_dir, csv (one split's CSV), video_dir."


for _variant in (400, 600, 700):
    _register(_variant)
