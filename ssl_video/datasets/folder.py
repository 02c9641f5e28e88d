"""Generic layouts: one folder per class (``folder``) and every video under a root (``unlabeled``).

``folder``: root/<class>/**/*.{mp4,avi,webm,mkv,mov}, all videos in the requested split; or root/train,
root/val, root/test each holding class folders, and the split selects among them. Classes are the
sorted names of class folders holding at least one video (the union over split folders, so indices
agree between splits). ``unlabeled``: every video under root, label None, split "unlabeled".
"""

from __future__ import annotations

from pathlib import Path

from .annotations import VIDEO_EXTENSIONS, rel_posix, scan_videos
from .record import DatasetError, VideoDataset, VideoRecord
from .registry import register_dataset

SPLIT_FOLDERS = ("train", "val", "test")


def _class_videos(folder: Path) -> dict[str, list[Path]]:
    """Class folder name -> its videos (recursive) for every visible sub-folder that holds any."""
    out = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        videos = scan_videos(sub)
        if videos:
            out[sub.name] = videos
    return out


def _no_videos(root: Path) -> DatasetError:
    return DatasetError(f"no video files ({', '.join(VIDEO_EXTENSIONS)}) found under {root}")


@register_dataset("folder", splits=("train", "val", "test", "all"))
def folder(root: Path, split: str, fold: int) -> VideoDataset:
    """Load a folder-per-class dataset, flat or with train/val/test sub-folders."""
    present = [s for s in SPLIT_FOLDERS if (root / s).is_dir()]
    if present:
        per_split = {s: _class_videos(root / s) for s in present}
        if split != "all" and split not in per_split:
            raise DatasetError(f"{root} has split folders {present} but no {split!r} folder")
        chosen = present if split == "all" else [split]
    else:
        per_split = {"": _class_videos(root)}
        chosen = [""]
    classes = sorted({c for by_class in per_split.values() for c in by_class})
    if not classes:
        raise _no_videos(root)
    index = {c: i for i, c in enumerate(classes)}
    records = []
    for part in chosen:
        record_split = part or (split if split != "all" else "train")
        for name, videos in per_split[part].items():
            records += [VideoRecord(str(p), rel_posix(p, root), index[name], record_split) for p in videos]
    return VideoDataset("folder", str(root), split, None, classes, records, [], str(root), [str(root)])


@register_dataset("unlabeled", splits=("train", "unlabeled", "all"))
def unlabeled(root: Path, split: str, fold: int) -> VideoDataset:
    """Every video under ``root`` (any depth) as an unlabeled record, for pretraining."""
    records = [VideoRecord(str(p), rel_posix(p, root), None, "unlabeled") for p in scan_videos(root)]
    if not records:
        raise _no_videos(root)
    return VideoDataset("unlabeled", str(root), split, None, [], records, [], str(root), [str(root)])
