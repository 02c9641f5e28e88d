"""Dataset adapters, fingerprints, integrity and leakage checks, on small trees of real video files."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from ssl_video.datasets import (
    CheckReport,
    DatasetError,
    LeakageError,
    VideoDataset,
    VideoRecord,
    check_dataset,
    check_leakage,
    dataset_fingerprint,
    list_datasets,
    load_dataset,
)
from ssl_video.video.writer import write_video

UCF_CLASSES = ["ApplyEyeMakeup", "Basketball", "YoYo"]


# --------------------------------------------------------------------------- real tiny videos


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """One real 16-frame 32x32 video per container, written once and copied into the trees."""
    folder = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    out = {}
    for ext in (".mp4", ".avi", ".webm"):
        out[ext] = write_video(folder / f"clip{ext}", rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8))
    return out


def put(clips: dict[str, Path], path: Path) -> Path:
    """Copy the tiny video of ``path``'s container to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clips[path.suffix], path)
    return path


def write_text(path: Path, text: str, newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def assert_error_at(error: pytest.ExceptionInfo, path: Path, line: int) -> None:
    assert f"{path}:{line}:" in str(error.value), str(error.value)


# --------------------------------------------------------------------------- UCF101


def make_ucf(root: Path, clips) -> Path:
    """3 classes x groups g01..g04, one clip each. Split k tests group k; g04 is always train.

    YoYo is stored as .mp4 although the lists name .avi (a transcoded copy); v_Basketball_g04_c01 is
    not on disk. Split 1 train list uses CRLF line ends and blank lines.
    """
    lists = root / "ucfTrainTestlist"
    write_text(lists / "classInd.txt", "".join(f"{i} {c}\n" for i, c in enumerate(UCF_CLASSES, 1)))
    for cls in UCF_CLASSES:
        for g in range(1, 5):
            if (cls, g) == ("Basketball", 4):
                continue
            put(clips, root / "UCF-101" / cls / f"v_{cls}_g{g:02d}_c01{'.mp4' if cls == 'YoYo' else '.avi'}")
    for k in (1, 2, 3):
        train = [
            f"{c}/v_{c}_g{g:02d}_c01.avi {i}"
            for i, c in enumerate(UCF_CLASSES, 1)
            for g in range(1, 5)
            if g != k
        ]
        test = [f"{c}/v_{c}_g{k:02d}_c01.avi" for c in UCF_CLASSES]
        write_text(lists / f"trainlist0{k}.txt", "\n\n".join(train) + "\n\n", "\r\n" if k == 1 else "\n")
        write_text(lists / f"testlist0{k}.txt", "\n".join(test) + "\n")
    return root


@pytest.fixture(scope="module")
def ucf_root(tmp_path_factory, clips) -> Path:
    return make_ucf(tmp_path_factory.mktemp("ucf"), clips)


@pytest.mark.parametrize("fold", [1, 2, 3])
def test_ucf101_splits(ucf_root, fold):
    train = load_dataset("ucf101", ucf_root, "train", fold=fold)
    test = load_dataset("ucf101", ucf_root, "test", fold=fold)
    assert train.classes == UCF_CLASSES and train.fold == fold
    assert {r.group for r in test} == {f"g{fold:02d}"}
    assert f"g{fold:02d}" not in {r.group for r in train}
    assert len(test) == 3 and all(r.split == "test" for r in test)
    # Basketball g04 is listed in every train list but not on disk.
    assert len(train) == 8 and train.missing == ["Basketball/v_Basketball_g04_c01.avi"]
    for r in list(train) + list(test):
        cls = r.rel_path.split("/")[0]
        assert r.label == UCF_CLASSES.index(cls)
        assert os.path.isfile(r.path) and r.path == str(ucf_root / "UCF-101" / r.rel_path)
        assert r.rel_path.endswith(".mp4" if cls == "YoYo" else ".avi")
    everything = load_dataset("ucf101", ucf_root, "all", fold=fold)
    assert sorted(r.rel_path for r in everything) == sorted(r.rel_path for r in list(train) + list(test))
    assert everything.summary()["per_split"] == {"test": 3, "train": 8}


def test_ucf101_videos_at_root_and_class_index_at_root(tmp_path, clips):
    write_text(tmp_path / "classInd.txt", "1 YoYo\n")
    write_text(tmp_path / "trainlist01.txt", "YoYo/v_YoYo_g08_c02.avi 1\n")
    put(clips, tmp_path / "YoYo" / "v_YoYo_g08_c02.webm")
    ds = load_dataset("ucf101", tmp_path)
    assert [(r.rel_path, r.label, r.group) for r in ds] == [("YoYo/v_YoYo_g08_c02.webm", 0, "g08")]


@pytest.mark.parametrize(
    "line, problem",
    [
        ("Juggling/v_Juggling_g01_c01.avi 1", "unknown class"),
        ("YoYo/v_YoYo_g01_c01.avi 7", "out of range"),
        ("YoYo/v_YoYo_g01_c01.avi 1", "disagrees"),
        ("YoYo/v_YoYo_g01_c01.avi 3 extra", "fields"),
        ("YoYo/v_YoYo_g01_c01.avi three", "integer"),
        ("v_YoYo_g01_c01.avi 3", "Class/video"),
    ],
)
def test_ucf101_malformed_list_names_file_and_line(tmp_path, line, problem):
    write_text(tmp_path / "classInd.txt", "".join(f"{i} {c}\n" for i, c in enumerate(UCF_CLASSES, 1)))
    listing = write_text(tmp_path / "trainlist01.txt", f"Basketball/v_Basketball_g01_c01.avi 2\n\n{line}\n")
    with pytest.raises(DatasetError, match=problem) as error:
        load_dataset("ucf101", tmp_path)
    assert_error_at(error, listing, 3)


def test_ucf101_bad_class_index_and_missing_lists(tmp_path):
    class_ind = write_text(tmp_path / "classInd.txt", "1 A\n3 B\n")
    with pytest.raises(DatasetError, match="without gaps") as error:
        load_dataset("ucf101", tmp_path)
    assert_error_at(error, class_ind, 2)
    write_text(tmp_path / "classInd.txt", "1 A\n2 B\n")
    with pytest.raises(DatasetError, match="testlist02.txt"):
        load_dataset("ucf101", tmp_path, "test", fold=2)
    with pytest.raises(DatasetError, match="classInd.txt"):
        load_dataset("ucf101", write_text(tmp_path / "empty" / "README", "").parent)


# --------------------------------------------------------------------------- HMDB51


@pytest.fixture(scope="module")
def hmdb_root(tmp_path_factory, clips) -> Path:
    root = tmp_path_factory.mktemp("hmdb")
    splits = root / "testTrainMulti_7030_splits"
    # code per fold for each video: (fold1, fold2, fold3)
    table = {
        "brush_hair": {"bh_a.avi": (1, 2, 0), "bh_b.avi": (2, 1, 1), "bh_c.avi": (0, 1, 2)},
        "cartwheel": {"cw_a.avi": (1, 0, 2), "cw_b.avi": (2, 2, 1)},
    }
    for cls, videos in table.items():
        for name in videos:
            put(clips, root / cls / (name if name != "cw_b.avi" else "cw_b.mp4"))
        for k in (1, 2, 3):
            write_text(
                splits / f"{cls}_test_split{k}.txt", "".join(f"{v} {c[k - 1]} \n" for v, c in videos.items())
            )
    return root


@pytest.mark.parametrize(
    "fold, train, test",
    [
        (1, {"bh_a.avi", "cw_a.avi"}, {"bh_b.avi", "cw_b.mp4"}),
        (2, {"bh_b.avi", "bh_c.avi"}, {"bh_a.avi", "cw_b.mp4"}),
        (3, {"bh_b.avi", "cw_b.mp4"}, {"bh_c.avi", "cw_a.avi"}),
    ],
)
def test_hmdb51_split_codes(hmdb_root, fold, train, test):
    tr = load_dataset("hmdb51", hmdb_root, "train", fold=fold)
    te = load_dataset("hmdb51", hmdb_root, "test", fold=fold)
    assert tr.classes == ["brush_hair", "cartwheel"]
    assert {Path(r.rel_path).name for r in tr} == train and {r.split for r in tr} == {"train"}
    assert {Path(r.rel_path).name for r in te} == test and {r.split for r in te} == {"test"}
    for r in list(tr) + list(te):
        assert r.label == tr.classes.index(r.rel_path.split("/")[0]) and r.group is None
    assert len(load_dataset("hmdb51", hmdb_root, "all", fold=fold)) == len(train) + len(test)  # 0 excluded


def test_hmdb51_bad_code_and_missing_split_files(tmp_path):
    split_file = write_text(tmp_path / "run_test_split1.txt", "a.avi 1\nb.avi 3\n")
    with pytest.raises(DatasetError, match="split code") as error:
        load_dataset("hmdb51", tmp_path)
    assert_error_at(error, split_file, 2)
    with pytest.raises(DatasetError, match="_test_split2.txt"):
        load_dataset("hmdb51", tmp_path, fold=2)


# --------------------------------------------------------------------------- Kinetics


@pytest.fixture(scope="module")
def kinetics_root(tmp_path_factory, clips) -> Path:
    root = tmp_path_factory.mktemp("k400")
    header = "label,youtube_id,time_start,time_end,split,is_cc\n"
    write_text(
        root / "train.csv",
        header + "air drumming,aaa,1,11,train,0\nabseiling,bbb,20,30,train,0\nabseiling,gone,0,10,train,0\n",
    )
    write_text(root / "validate.csv", header + "abseiling,ccc,5,15,val,0\n")
    write_text(root / "test.csv", "youtube_id,time_start,time_end,split\nddd,0,10,test\n")
    put(clips, root / "train" / "air drumming" / "aaa_000001_000011.mp4")
    put(clips, root / "train" / "bbb_000020_000030.mp4")  # flat layout
    put(clips, root / "validate" / "abseiling" / "ccc_000005_000015.mp4")
    put(clips, root / "test" / "ddd_000000_000010.mp4")
    return root


def test_kinetics_splits_and_missing(kinetics_root):
    train = load_dataset("kinetics400", kinetics_root, "train")
    assert train.classes == ["abseiling", "air drumming"] and train.fold is None
    assert [(r.rel_path, r.label) for r in train] == [
        ("train/air drumming/aaa_000001_000011.mp4", 1),
        ("train/bbb_000020_000030.mp4", 0),
    ]
    assert train.missing == ["train/abseiling/gone_000000_000010.mp4"]
    assert train[0].meta == {"youtube_id": "aaa", "time_start": 1, "time_end": 11}
    val = load_dataset("kinetics400", kinetics_root, "val")
    assert [(r.label, r.split) for r in val] == [(0, "val")]
    test = load_dataset("kinetics700", kinetics_root, "test")
    assert [(r.label, r.split) for r in test] == [(None, "test")] and test.name == "kinetics700"
    everything = load_dataset("kinetics600", kinetics_root, "all")
    assert everything.summary()["per_split"] == {"test": 1, "train": 2, "val": 1}
    assert everything.summary()["missing"] == 1 and everything.summary()["unlabeled"] == 1
    alt = load_dataset("kinetics400", kinetics_root, "val", csv=str(kinetics_root / "validate.csv"))
    assert [r.rel_path for r in alt] == [r.rel_path for r in val]


def test_kinetics_malformed_rows(tmp_path):
    header = "label,youtube_id,time_start,time_end,split\n"
    write_text(tmp_path / "train.csv", header + "a,x,0,10,train\n")
    bad = write_text(tmp_path / "validate.csv", header + "a,y,0,10,val\na,z,soon,10,val\n")
    with pytest.raises(DatasetError, match="time_start") as error:
        load_dataset("kinetics400", tmp_path, "val")
    assert_error_at(error, bad, 3)
    write_text(bad, header + "b,y,0,10,val\n")
    with pytest.raises(DatasetError, match="not a class") as error:
        load_dataset("kinetics400", tmp_path, "val")
    assert_error_at(error, bad, 2)
    write_text(bad, header + "a,y,0,10\n")
    with pytest.raises(DatasetError, match="columns") as error:
        load_dataset("kinetics400", tmp_path, "val")
    assert_error_at(error, bad, 2)


# --------------------------------------------------------------------------- Something-Something v2


@pytest.fixture(scope="module")
def ssv2_root(tmp_path_factory, clips) -> Path:
    root = tmp_path_factory.mktemp("ssv2")
    labels = {"Pushing something from left to right": "0", "Holding something next to something": "1"}
    write_text(root / "labels.json", json.dumps(labels, indent=1))
    train = [
        {
            "id": "11",
            "label": "holding a pen next to a cup",
            "template": "Holding [something] next to [something]",
            "placeholders": ["a pen", "a cup"],
        },
        {
            "id": "12",
            "label": "pushing a box from left to right",
            "template": "Pushing [something] from left to right",
            "placeholders": ["a box"],
        },
        {
            "id": "13",
            "label": "pushing x",
            "template": "Pushing [something] from left to right",
            "placeholders": ["x"],
        },
    ]
    write_text(root / "train.json", json.dumps(train, indent=2))
    write_text(root / "validation.json", json.dumps(train[:1], indent=2))
    write_text(root / "test.json", json.dumps([{"id": "14"}]))
    for vid in ("11", "12", "14"):
        put(clips, root / "20bn-something-something-v2" / f"{vid}.webm")
    return root


def test_ssv2_template_to_label(ssv2_root):
    train = load_dataset("ssv2", ssv2_root, "train")
    assert train.classes == ["Pushing something from left to right", "Holding something next to something"]
    assert [(r.rel_path, r.label) for r in train] == [("11.webm", 1), ("12.webm", 0)]
    assert train.missing == ["13.webm"]
    assert train[0].meta["placeholders"] == ("a pen", "a cup") and train[0].meta["id"] == "11"
    assert [(r.label, r.split) for r in load_dataset("ssv2", ssv2_root, "val")] == [(1, "val")]
    assert [(r.label, r.split) for r in load_dataset("ssv2", ssv2_root, "test")] == [(None, "test")]


def test_ssv2_malformed(tmp_path, ssv2_root):
    shutil.copy(ssv2_root / "labels.json", tmp_path / "labels.json")
    entries = [
        {"id": "1", "template": "Pushing [something] from left to right"},
        {"id": "2", "template": "Dancing"},
    ]
    train = write_text(tmp_path / "train.json", json.dumps(entries, indent=2))
    with pytest.raises(DatasetError, match="Dancing") as error:
        load_dataset("ssv2", tmp_path)
    assert_error_at(error, train, 6)  # the second object starts on line 6 of the indented list
    write_text(train, '[\n{"id": "1",\n "template": oops}\n]')
    with pytest.raises(DatasetError, match="invalid JSON") as error:
        load_dataset("ssv2", tmp_path)
    assert_error_at(error, train, 3)


# --------------------------------------------------------------------------- folder, unlabeled, csv


def test_folder_flat_and_split_layouts(tmp_path, clips):
    flat = tmp_path / "flat"
    put(clips, flat / "cat" / "a.mp4")
    put(clips, flat / "dog" / "b.avi")
    put(clips, flat / "dog" / "nested" / "c.webm")
    put(clips, flat / "dog" / ".c.tmp.mp4")  # a writer's temp file: ignored
    write_text(flat / "dog" / "notes.txt", "not a video")
    ds = load_dataset("folder", flat)
    assert ds.classes == ["cat", "dog"]
    assert [(r.rel_path, r.label, r.split) for r in ds] == [
        ("cat/a.mp4", 0, "train"),
        ("dog/b.avi", 1, "train"),
        ("dog/nested/c.webm", 1, "train"),
    ]
    assert {r.split for r in load_dataset("folder", flat, "test")} == {"test"}

    split = tmp_path / "split"
    put(clips, split / "train" / "cat" / "a.mp4")
    put(clips, split / "train" / "dog" / "b.mp4")
    put(clips, split / "test" / "dog" / "c.mp4")
    test = load_dataset("folder", split, "test")
    assert test.classes == ["cat", "dog"] and [(r.rel_path, r.label) for r in test] == [("test/dog/c.mp4", 1)]
    assert load_dataset("folder", split, "all").summary()["per_split"] == {"test": 1, "train": 2}
    with pytest.raises(DatasetError, match="no 'val' folder"):
        load_dataset("folder", split, "val")


def test_unlabeled(tmp_path, clips):
    put(clips, tmp_path / "a.mp4")
    put(clips, tmp_path / "deep" / "er" / "b.webm")
    ds = load_dataset("unlabeled", tmp_path)
    assert [(r.rel_path, r.label, r.split) for r in ds] == [
        ("a.mp4", None, "unlabeled"),
        ("deep/er/b.webm", None, "unlabeled"),
    ]
    assert ds.classes == []
    with pytest.raises(DatasetError, match="no video files"):
        load_dataset("unlabeled", write_text(tmp_path / "empty" / "x.txt", "").parent)


def test_csv_manifest(tmp_path, clips):
    outside = put(clips, tmp_path / "elsewhere" / "z.mp4")
    root = tmp_path / "data"
    put(clips, root / "v" / "a.mp4")
    put(clips, root / "v" / "b.mp4")  # listed as b.avi
    write_text(
        root / "manifest.csv",
        "path,label,split,group,source\n"
        "v/a.mp4,dog,train,g1,cam1\n"
        "v/b.avi,cat,test,,cam2\n"
        f"{outside},,train,,\n"
        "v/gone.mp4,cat,train,,\n",
    )
    train = load_dataset("csv", root)
    assert train.classes == ["cat", "dog"]
    assert [(r.rel_path, r.label, r.group) for r in train] == [
        ("v/a.mp4", 1, "g1"),
        (outside.as_posix(), None, None),
    ]
    assert train[0].meta == {"source": "cam1"} and train.missing == ["v/gone.mp4"]
    test = load_dataset("csv", root, "test")
    assert [(r.rel_path, r.label, r.split) for r in test] == [("v/b.mp4", 0, "test")]
    assert len(load_dataset("csv", root, "all")) == 3

    write_text(root / "ints.csv", "path,label\nv/a.mp4,2\nv/b.mp4,0\n")
    ints = load_dataset("csv", root, "val", manifest="ints.csv")
    assert ints.classes == ["0", "1", "2"] and [(r.label, r.split) for r in ints] == [(2, "val"), (0, "val")]
    write_text(root / "classes.txt", "dog\ncat\n")
    named = load_dataset("csv", root, "test", classes="classes.txt")
    assert named.classes == ["dog", "cat"] and named[0].label == 1

    bad = write_text(root / "bad.csv", "path,label,split\nv/a.mp4,dog,train\nv/b.mp4,cat,holdout\n")
    with pytest.raises(DatasetError, match="holdout") as error:
        load_dataset("csv", root, manifest="bad.csv")
    assert_error_at(error, bad, 3)
    with pytest.raises(DatasetError, match="nothing.csv"):
        load_dataset("csv", root, manifest="nothing.csv")


# --------------------------------------------------------------------------- registry


def test_registry_errors_list_valid_choices(tmp_path, ucf_root):
    assert {
        "ucf101",
        "hmdb51",
        "kinetics400",
        "kinetics600",
        "kinetics700",
        "ssv2",
        "folder",
        "unlabeled",
        "csv",
    } <= set(list_datasets())
    with pytest.raises(DatasetError, match="registered: .*ucf101"):
        load_dataset("ucf-101", ucf_root)
    with pytest.raises(DatasetError, match="valid splits: train, test, all"):
        load_dataset("ucf101", ucf_root, "val")
    with pytest.raises(DatasetError, match=r"valid folds: \[1, 2, 3\]"):
        load_dataset("ucf101", ucf_root, fold=4)
    with pytest.raises(DatasetError, match="valid options: annotation_dir, video_dir"):
        load_dataset("ucf101", ucf_root, manifest="x.csv")
    with pytest.raises(DatasetError, match="not a directory"):
        load_dataset("folder", tmp_path / "nope")


def test_register_custom_adapter(tmp_path, clips):
    from ssl_video.datasets import register_dataset, registry

    @register_dataset("toy-test-adapter", splits=("train",))
    def toy(root, split, fold, scale: int = 1):
        record = VideoRecord(str(put(clips, root / "t.mp4")), "t.mp4", 0, split, meta={"scale": scale})
        return VideoDataset("toy", str(root), split, None, ["only"], [record])

    try:
        assert "toy-test-adapter" in list_datasets()
        assert load_dataset("toy-test-adapter", tmp_path, scale=3)[0].meta == {"scale": 3}
        with pytest.raises(DatasetError, match="valid options: scale"):
            load_dataset("toy-test-adapter", tmp_path, scael=3)
    finally:
        registry._ADAPTERS.pop("toy-test-adapter")


# --------------------------------------------------------------------------- fingerprint


def test_fingerprint_stable_and_sensitive(tmp_path, clips):
    root = make_ucf(tmp_path / "a", clips)
    ds = load_dataset("ucf101", root, "all")
    fp = dataset_fingerprint(ds)
    assert len(fp) == 64
    moved = shutil.copytree(root, tmp_path / "elsewhere" / "b")
    assert dataset_fingerprint(load_dataset("ucf101", moved, "all")) == fp
    assert dataset_fingerprint(dataclasses.replace(ds, records=ds.records[::-1])) == fp

    relabeled = [
        dataclasses.replace(r, label=(r.label + 1) % 3) if i == 0 else r for i, r in enumerate(ds.records)
    ]
    assert dataset_fingerprint(dataclasses.replace(ds, records=relabeled)) != fp
    resplit = [dataclasses.replace(r, split="val") if i == 0 else r for i, r in enumerate(ds.records)]
    assert dataset_fingerprint(dataclasses.replace(ds, records=resplit)) != fp
    with open(moved / "UCF-101" / ds[0].rel_path, "ab") as f:
        f.write(b"\0")
    assert dataset_fingerprint(load_dataset("ucf101", moved, "all")) != fp


def test_fingerprint_sees_contents_not_only_sizes(tmp_path, clips):
    """Two trees with equal file sizes and different bytes (a re-encode, a corrupted copy) differ."""
    root = make_ucf(tmp_path / "a", clips)
    fp = dataset_fingerprint(load_dataset("ucf101", root, "all"))
    other = shutil.copytree(root, tmp_path / "b")
    video = other / "UCF-101" / "YoYo" / "v_YoYo_g02_c01.mp4"
    data = bytearray(video.read_bytes())
    data[len(data) // 2] ^= 0xFF
    video.write_bytes(bytes(data))
    assert dataset_fingerprint(load_dataset("ucf101", other, "all")) != fp

    # a file over 128 KiB: its first and last 64 KiB are read, the middle is not (the cost bound)
    folder = tmp_path / "big"
    big = folder / "big.mp4"
    folder.mkdir()
    payload = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    big.write_bytes(payload)
    fp = dataset_fingerprint(load_dataset("unlabeled", folder))
    edges = ((10, True), (65_535, True), (65_536, False), (150_000, False), (300_000 - 65_536, True))
    for where, seen in edges:
        changed = bytearray(payload)
        changed[where] ^= 0xFF
        big.write_bytes(bytes(changed))
        assert (dataset_fingerprint(load_dataset("unlabeled", folder)) != fp) == seen, where


# --------------------------------------------------------------------------- integrity check


def faststart_copy(src: Path, dst: Path) -> Path:
    """Remux an mp4 with the moov atom first, so a truncated copy still opens (and fails to decode)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            out.mux(packet)
    return dst


@pytest.mark.parametrize("backend", ["decord", "pyav", "torchcodec"])
def test_check_dataset_classifies_problems(tmp_path, backend):
    rng = np.random.default_rng(1)
    folder = tmp_path / "videos"
    frames = rng.integers(0, 256, (16, 64, 64, 3), dtype=np.uint8)
    good = [write_video(folder / f"good{ext}", frames) for ext in (".mp4", ".avi", ".webm")]
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "random.mp4").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    long = write_video(tmp_path / "long.mp4", rng.integers(0, 256, (48, 64, 64, 3), dtype=np.uint8))
    data = faststart_copy(long, tmp_path / "long_faststart.mp4").read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: int(len(data) * 0.4)])
    write_video(folder / "short.mp4", rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8))
    ds = load_dataset("unlabeled", folder)
    ds.records.append(VideoRecord(str(folder / "deleted.mp4"), "deleted.mp4", None, "unlabeled"))
    ds.missing.append("never_downloaded.mp4")

    report = check_dataset(ds, backend=backend, min_frames=8)
    assert isinstance(report, CheckReport)
    assert report.total == 9 and report.ok == 3, report.format()
    assert report.counts() == {
        "missing": 2,
        "empty": 1,
        "unreadable": 1,
        "truncated/corrupt": 1,
        "too_short": 1,
    }
    named = {kind: {Path(p).name for p, _ in items} for kind, items in report.problems.items() if items}
    assert named == {
        "missing": {"deleted.mp4", "never_downloaded.mp4"},
        "empty": {"empty.mp4"},
        "unreadable": {"random.mp4"},
        "truncated/corrupt": {"truncated.mp4"},
        "too_short": {"short.mp4"},
    }
    assert not report.bad_paths() & {str(p) for p in good}
    text = report.format()
    assert "truncated/corrupt: 1" in text and str(folder / "random.mp4") in text
    assert "the header declares 48 frames (header frame count)" in text  # beside the decoding error
    assert len(ds.exclude(report.bad_paths())) == 3

    # no decode: the cut is seen as the reader's short frame count against the header's 48
    quick = check_dataset(ds, backend=backend, min_frames=8, decode=False, workers=2)
    assert quick.ok == 3 and quick.counts()["truncated/corrupt"] == 1, quick.format()
    assert "declared 48 frames (header frame count), the " in quick.format()


# --------------------------------------------------------------------------- leakage


def test_check_leakage(tmp_path, ucf_root, clips):
    train = load_dataset("ucf101", ucf_root, "train")
    test = load_dataset("ucf101", ucf_root, "test")
    assert check_leakage(train, test) == []  # official splits: no overlap

    everything = load_dataset("ucf101", ucf_root, "all")
    with pytest.raises(LeakageError, match="3 pretraining video") as error:
        check_leakage(everything, test)
    assert "data.allow_test_overlap=true" in str(error.value) and len(error.value.pairs) == 3
    pairs = check_leakage(everything, test, allow=True)
    assert sorted(p for p, _ in pairs) == sorted(r.path for r in test)

    copies = tmp_path / "pretrain"
    put(clips, copies / "x" / Path(test[0].path).name)  # same bytes as the test video: a copy
    other = put(clips, copies / f"other{Path(test[1].path).suffix}")
    with open(put(clips, copies / Path(test[2].path).name), "ab") as f:  # same name, different size
        f.write(b"\0\0")
    pretrain = load_dataset("unlabeled", copies)
    pairs = check_leakage(pretrain, test, allow=True)
    assert pairs == [(str(copies / "x" / Path(test[0].path).name), test[0].path)]
    assert str(other) not in {p for p, _ in pairs}
    with pytest.raises(LeakageError, match="1 pretraining video"):
        check_leakage(pretrain.records, test.records)
