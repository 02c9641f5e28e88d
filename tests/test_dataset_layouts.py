"""Dataset trees as users have them: videos under ``videos/`` or the archive's own folder, option paths
relative to the dataset root, and a hint naming where the videos are when most listed ones are missing.

Every tree holds real (tiny) video files; the same checks run for HMDB51, UCF101, Kinetics and SSv2.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from ssl_video.cli import main
from ssl_video.datasets import (
    DatasetError,
    VideoDataset,
    dataset_fingerprint,
    load_dataset,
    register_dataset,
)
from ssl_video.video.writer import write_video

ADAPTERS = ["hmdb51", "ucf101", "kinetics400", "ssv2"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """One real 8-frame 32x32 video per container, copied into the trees."""
    folder = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    return {
        ext: write_video(folder / f"clip{ext}", rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8))
        for ext in (".avi", ".mp4", ".webm")
    }


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_layout(
    adapter: str, root: Path, video_folder: str, clips, ann_folder: str | None = None
) -> list[str]:
    """Annotations of ``adapter`` listing 3 videos (split "all", fold 1), the videos under
    ``root/video_folder`` ("" = root itself), the annotations under ``root/ann_folder`` (None: the
    dataset's usual place). Returns the records' expected ``rel_path``s."""
    videos = root / video_folder
    if adapter == "hmdb51":
        ann = root / (ann_folder if ann_folder is not None else "testTrainMulti_7030_splits")
        _write(ann / "brush_hair_test_split1.txt", "bh_a.avi 1\nbh_b.avi 2\nbh_unused.avi 0\n")
        _write(ann / "cartwheel_test_split1.txt", "cw_a.avi 1\n")
        rels = ["brush_hair/bh_a.avi", "brush_hair/bh_b.avi", "cartwheel/cw_a.avi"]
    elif adapter == "ucf101":
        ann = root / (ann_folder if ann_folder is not None else "ucfTrainTestlist")
        _write(ann / "classInd.txt", "1 Basketball\n2 YoYo\n")
        _write(ann / "trainlist01.txt", "Basketball/v_Basketball_g02_c01.avi 1\nYoYo/v_YoYo_g02_c01.avi 2\n")
        _write(ann / "testlist01.txt", "YoYo/v_YoYo_g01_c01.avi\n")
        rels = ["Basketball/v_Basketball_g02_c01.avi", "YoYo/v_YoYo_g02_c01.avi", "YoYo/v_YoYo_g01_c01.avi"]
    elif adapter.startswith("kinetics"):
        ann = root / (ann_folder or "")
        header = "label,youtube_id,time_start,time_end,split\n"
        _write(ann / "train.csv", header + "abseiling,aaa,0,10,train\nair drumming,bbb,5,15,train\n")
        _write(ann / "validate.csv", header + "abseiling,ccc,1,11,val\n")
        _write(ann / "test.csv", "youtube_id,time_start,time_end,split\n")
        rels = [
            "train/abseiling/aaa_000000_000010.mp4",
            "train/air drumming/bbb_000005_000015.mp4",
            "val/abseiling/ccc_000001_000011.mp4",
        ]
    elif adapter == "ssv2":
        ann = root / (ann_folder or "")
        labels = {"Pushing something": "0", "Holding something": "1"}
        train = [
            {"id": "11", "template": "Holding [something]"},
            {"id": "12", "template": "Pushing [something]"},
        ]
        _write(ann / "labels.json", json.dumps(labels))
        _write(ann / "train.json", json.dumps(train))
        _write(ann / "validation.json", json.dumps([{"id": "13", "template": "Pushing [something]"}]))
        _write(ann / "test.json", "[]")
        rels = ["11.webm", "12.webm", "13.webm"]
    else:
        raise AssertionError(adapter)
    for rel in rels:
        path = videos / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clips[path.suffix], path)
    return rels


def rel_paths(ds: VideoDataset) -> list[str]:
    return sorted(r.rel_path for r in ds)


@pytest.mark.parametrize(
    "adapter, folder",
    [
        ("hmdb51", "videos"),
        ("hmdb51", "hmdb51_org"),
        ("hmdb51", "HMDB51"),
        ("ucf101", "videos"),
        ("ucf101", "UCF101"),
        ("ucf101", "UCF-101"),
        ("kinetics400", "videos"),
        ("kinetics400", "k400"),
        ("kinetics400", "kinetics400"),
        ("kinetics700", "k700-2020"),
        ("ssv2", "videos"),
        ("ssv2", "20bn-something-something-v2"),
    ],
)
def test_common_video_folders_are_searched(tmp_path, clips, adapter, folder):
    """Videos under ``videos/`` or the archive's own folder load with no option, with the rel paths (and
    so the fingerprint) of the same videos directly under the root."""
    root = tmp_path / "data"
    rels = make_layout(adapter, root, folder, clips)
    ds = load_dataset(adapter, root, "all")
    assert ds.missing == [] and rel_paths(ds) == sorted(rels)
    assert all(r.path == str(root / folder / r.rel_path) for r in ds)
    assert ds.video_dir == str(root / folder)
    flat = tmp_path / "flat"
    make_layout(adapter, flat, "", clips)
    assert dataset_fingerprint(load_dataset(adapter, flat, "all")) == dataset_fingerprint(ds)


def test_the_folder_holding_most_listed_videos_wins(tmp_path, clips):
    """A stray copy of one video at the root does not hide the folder holding all of them."""
    root = tmp_path / "data"
    rels = make_layout("hmdb51", root, "videos", clips)
    (root / rels[0]).parent.mkdir(parents=True)
    shutil.copyfile(root / "videos" / rels[0], root / rels[0])
    ds = load_dataset("hmdb51", root, "all")
    assert ds.missing == [] and rel_paths(ds) == sorted(rels) and ds.video_dir == str(root / "videos")


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_relative_option_paths_are_under_the_root(tmp_path, clips, monkeypatch, adapter):
    root = tmp_path / "data"
    rels = make_layout(adapter, root, "stuff/vids", clips, ann_folder="meta")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "stuff" / "vids").mkdir(parents=True)  # the same relative path from the cwd: empty
    monkeypatch.chdir(elsewhere)
    ds = load_dataset(adapter, root, "all", video_dir="stuff/vids", annotation_dir="meta")
    assert ds.missing == [] and rel_paths(ds) == sorted(rels)
    assert ds.video_dir == str(root / "stuff" / "vids")
    absolute = load_dataset(
        adapter, root, "all", video_dir=str(root / "stuff/vids"), annotation_dir=root / "meta"
    )
    assert rel_paths(absolute) == sorted(rels)
    # relative to the working directory (as read before) still works when the root has no such path
    monkeypatch.chdir(root / "stuff")
    from_cwd = load_dataset(adapter, root, "all", video_dir="vids", annotation_dir="meta")
    assert rel_paths(from_cwd) == sorted(rels) and from_cwd.video_dir == str(root / "stuff" / "vids")


def test_kinetics_relative_csv_option(tmp_path, clips, monkeypatch):
    root = tmp_path / "data"
    make_layout("kinetics400", root, "", clips, ann_folder="annotations")
    monkeypatch.chdir(tmp_path)
    val = load_dataset("kinetics400", root, "val", csv="annotations/validate.csv")
    assert rel_paths(val) == ["val/abseiling/ccc_000001_000011.mp4"]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_hint_names_where_the_videos_are(tmp_path, clips, adapter):
    """None of the listed videos in the folders searched: an error saying where it looked and where
    the videos are (a decoy tree of extracted frames with the same folder names is not suggested)."""
    root = tmp_path / "data"
    rels = make_layout(adapter, root, "downloads/unpacked", clips)
    (root / "videos").mkdir()
    for rel in rels:
        if "/" in rel:  # frames extracted into <class>/<video>/ folders: class folders without videos
            (root / "rawframes" / Path(rel).with_suffix("") / "img_00001.jpg").parent.mkdir(parents=True)
    with pytest.raises(DatasetError) as error:
        load_dataset(adapter, root, "all")
    message = str(error.value)
    assert "0 of 3 listed videos" in message, message
    assert re.search(re.escape(str(root)) + "[,; ]", message) and f"{root / 'videos'}," in message  # looked
    assert str(root / "downloads" / "unpacked") in message and "video_dir=downloads/unpacked" in message
    assert "rawframes" not in message
    assert rel_paths(load_dataset(adapter, root, "all", video_dir="downloads/unpacked")) == sorted(rels)


def test_mostly_missing_warns_and_data_info_shows_the_hint(tmp_path, clips, caplog, capsys, monkeypatch):
    root = tmp_path / "data"
    rels = make_layout("hmdb51", root, "stuff/hmdb", clips)
    (root / rels[0]).parent.mkdir(parents=True)
    shutil.copyfile(root / "stuff/hmdb" / rels[0], root / rels[0])  # one of three at the root
    with caplog.at_level(logging.WARNING):
        ds = load_dataset("hmdb51", root, "all")
    assert len(ds) == 1 and len(ds.missing) == 2
    assert "1 of 3 listed videos" in ds.hint and "video_dir=stuff/hmdb" in ds.hint
    assert ds.hint in caplog.text

    monkeypatch.chdir(tmp_path)
    assert main(["data", "info", "--dataset", "hmdb51", "--root", "data"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["num_videos"] == 1 and info["missing"] == 2
    assert info["hint"] == ds.hint and str(root) in info["searched"]
    # the option the hint gives, relative, from another working directory
    argv = ["data", "info", "--dataset", "hmdb51", "--root", "data", "--option", "video_dir=stuff/hmdb"]
    assert main(argv) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["num_videos"] == 3 and info["missing"] == 0 and info["hint"] is None


def test_data_info_errors_with_the_hint_when_nothing_is_found(tmp_path, clips, capsys):
    root = tmp_path / "data"
    make_layout("ucf101", root, "stuff/ucf", clips)
    assert main(["data", "info", "--dataset", "ucf101", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "0 of 3 listed videos" in err and "--option video_dir=stuff/ucf" in err


def test_third_party_adapter_with_no_video_found_is_an_error(tmp_path):
    from ssl_video.datasets import registry

    @register_dataset("toy-missing-adapter", splits=("train",))
    def toy(root, split, fold):
        return VideoDataset("toy", str(root), split, None, ["a"], [], ["gone.mp4", "lost.mp4"])

    try:
        with pytest.raises(DatasetError, match="0 of 2 listed videos"):
            load_dataset("toy-missing-adapter", tmp_path)
    finally:
        registry._ADAPTERS.pop("toy-missing-adapter")


def test_csv_manifest_hint_and_relative_options(tmp_path, clips, monkeypatch):
    """A manifest whose paths point one folder too high: the hint names the folder holding the videos;
    the manifest and classes options are read under the root."""
    root = tmp_path / "data"
    for name in ("a", "b", "c"):
        (root / "stuff" / "clips").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clips[".mp4"], root / "stuff" / "clips" / f"{name}.mp4")
    _write(root / "lists" / "m.csv", "path,label\nclips/a.mp4,x\nclips/b.mp4,y\nclips/c.mp4,x\n")
    _write(root / "lists" / "classes.txt", "y\nx\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError) as error:
        load_dataset("csv", root, manifest="lists/m.csv")
    message = str(error.value)
    assert "0 of 3 listed videos" in message and str(root / "stuff") in message, message
    assert "relative to its folder" in message
    shutil.move(root / "lists" / "m.csv", root / "stuff" / "m.csv")
    ds = load_dataset("csv", root, manifest="stuff/m.csv", classes="lists/classes.txt")
    assert ds.classes == ["y", "x"] and rel_paths(ds) == ["clips/a.mp4", "clips/b.mp4", "clips/c.mp4"]
