"""Something-Something v2 (Goyal et al. 2017): 174 template classes, ~220k .webm videos.

``labels.json`` maps each template (brackets removed) to its class index as a string
({"Holding something next to something": "25", ...}); ``train.json``, ``validation.json`` (split
"val") and ``test.json`` are lists of {"id", "label", "template", "placeholders"} (test: id only).
The official ``something-something-v2-*.json`` names are accepted too. The label of a video is its
``template`` with "[" and "]" removed, looked up in labels.json. Videos are ``<video_dir>/<id>.webm``,
video_dir being the one of ``VIDEO_DIRS`` (under root: ``20bn-something-something-v2``, ``videos``,
root itself) holding the most listed videos, the first on a tie (see ``locate``).
"""

from __future__ import annotations

import os
from pathlib import Path

from .annotations import find_file, json_key_line, load_json, load_json_list
from .locate import missing_hint, option_path, resolve_videos, search_video_dir
from .record import DatasetError, VideoDataset, VideoRecord
from .registry import register_dataset

JSON_NAMES = {
    "labels": ["labels.json", "something-something-v2-labels.json"],
    "train": ["train.json", "something-something-v2-train.json"],
    "val": ["validation.json", "something-something-v2-validation.json"],
    "test": ["test.json", "something-something-v2-test.json"],
}
VIDEO_DIRS = ("20bn-something-something-v2", "videos", "")  # tie-break order; "" = root


def template_to_class(template: str) -> str:
    """'Holding [something] next to [something]' -> 'Holding something next to something'."""
    return template.replace("[", "").replace("]", "")


def read_labels(path: Path) -> list[str]:
    """Class names ordered by their index in labels.json; indices must be exactly 0..N-1."""
    data = load_json(path)
    if not isinstance(data, dict) or not data:
        raise DatasetError("expected a non-empty JSON object {template: index}", str(path))
    by_index: dict[int, str] = {}
    for name, value in data.items():
        try:
            index = int(value)
        except (TypeError, ValueError):
            raise DatasetError(
                f"class {name!r}: index must be an integer, got {value!r}",
                str(path),
                json_key_line(path, name),
            ) from None
        if index in by_index:
            raise DatasetError(
                f"index {index} used by both {by_index[index]!r} and {name!r}",
                str(path),
                json_key_line(path, name),
            )
        by_index[index] = name
    if sorted(by_index) != list(range(len(by_index))):
        first_bad = next(i for i in sorted(by_index) if i >= len(by_index) or i < 0)
        raise DatasetError(
            f"class indices must be 0..{len(by_index) - 1} without gaps; got {first_bad}",
            str(path),
            json_key_line(path, by_index[first_bad]),
        )
    return [by_index[i] for i in range(len(by_index))]


@register_dataset("ssv2", splits=("train", "val", "test", "all"))
def ssv2(
    root: Path, split: str, fold: int, annotation_dir: str | None = None, video_dir: str | None = None
) -> VideoDataset:
    """Load Something-Something v2.

    ``annotation_dir``: folder holding the JSON files (default: root, root/labels, root/annotations).
    ``video_dir``: folder holding the ``<id>.webm`` files (default: the one of
    root/20bn-something-something-v2, root/videos, root holding the most listed videos). A relative
    path is read under root (``locate.option_path``).
    """
    ann_dirs = (
        [option_path(root, annotation_dir)]
        if annotation_dir
        else [root, root / "labels", root / "annotations"]
    )
    labels_file = find_file(JSON_NAMES["labels"], ann_dirs, "SSv2 labels.json")
    classes = read_labels(labels_file)
    index = {c: i for i, c in enumerate(classes)}
    listed: list[tuple[str, int | None, str, dict]] = []  # (file name, label, split, meta)
    for part in ("train", "val", "test") if split == "all" else (split,):
        path = find_file(JSON_NAMES[part], [labels_file.parent] + ann_dirs, f"SSv2 {part} annotations")
        for line, entry in load_json_list(path):
            if not isinstance(entry, dict) or "id" not in entry:
                raise DatasetError("expected an object with an 'id'", str(path), line)
            video_id = str(entry["id"]).strip()
            template = entry.get("template")
            if template is None and part != "test":
                raise DatasetError(f"video {video_id}: no 'template'", str(path), line)
            label = None
            if template is not None:
                name = template_to_class(str(template))
                if name not in index:
                    raise DatasetError(
                        f"video {video_id}: template {name!r} not in {labels_file}", str(path), line
                    )
                label = index[name]
            meta: dict = {"id": video_id}
            if template is not None:
                meta.update(template=str(template), placeholders=tuple(entry.get("placeholders") or ()))
            listed.append((f"{video_id}.webm", label, part, meta))
    rels = [rel for rel, *_ in listed]

    def locate(base: Path) -> list[str | None]:
        return resolve_videos(base, rels)

    search = search_video_dir(root, video_dir, VIDEO_DIRS, locate)
    records: list[VideoRecord] = []
    missing: list[str] = []
    for (rel, label, part, meta), found in zip(listed, search.located, strict=True):
        if found is None:
            missing.append(rel)
        else:
            records.append(VideoRecord(os.path.join(search.base, found), found, label, part, meta=meta))
    stems = [rel[: -len(".webm")] for rel in rels]
    hint = missing_hint(
        "ssv2", root, search, locate, "video files named like the listed ones", file_stems=stems
    )
    return VideoDataset(
        "ssv2", str(root), split, None, classes, records, missing,
        str(search.base), [str(p) for p in search.tried], hint,
    )  # fmt: skip
