"""HMDB51 (Kuehne et al. 2011): 51 classes, 3 splits of 3,570 train / 1,530 test videos.

Split files ``<class>_test_split<k>.txt`` (the ``testTrainMulti_7030_splits`` release, in root or
root/testTrainMulti_7030_splits) hold "video_name.avi 1" lines: 1 = train, 2 = test, 0 = unused in
this split (excluded from every split). Videos at root/<class>/<video_name>. Classes = sorted class
names of the split files.
"""

from __future__ import annotations

from pathlib import Path

from .annotations import parse_int, read_split_file, resolve_video
from .record import DatasetError, VideoDataset, VideoRecord
from .registry import register_dataset

_CODE_TO_SPLIT = {1: "train", 2: "test"}


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
    """Load HMDB51 fold ``fold``; ``annotation_dir``/``video_dir`` override where files are looked for."""
    ann_dirs = [Path(annotation_dir)] if annotation_dir else [root, root / "testTrainMulti_7030_splits"]
    files = find_split_files(ann_dirs, fold)
    suffix = f"_test_split{fold}.txt"
    classes = [f.name[: -len(suffix)] for f in files]
    base = Path(video_dir) if video_dir else root
    wanted = {"train", "test"} if split == "all" else {split}
    records: list[VideoRecord] = []
    missing: list[str] = []
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
            if part not in wanted:
                continue
            rel = f"{name}/{video}"
            found = resolve_video([base], rel)
            if found is None:
                missing.append(rel)
                continue
            records.append(VideoRecord(str(base / found[1]), found[1], label, part))
    return VideoDataset("hmdb51", str(root), split, fold, classes, records, missing)
