"""Pretraining data selection: the leakage guard and a hand-made UCF101 tree of other real videos
(AVI/MPEG-4 Part 2 and MP4/H.264) with a truncated file: `data check` reports it, pretraining runs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import TINY_VCOP

from ssl_video.cli import main
from ssl_video.config import load_pretrain_config
from ssl_video.datasets import LeakageError
from ssl_video.engine import pretrain
from ssl_video.video.writer import write_video


def test_pretraining_on_the_test_split_is_refused(tiny_synth, tmp_path):
    cfg = load_pretrain_config(
        "vcop",
        [
            *TINY_VCOP,
            f"data.root={tiny_synth}",
            f"train.out_dir={tmp_path}",
            "data.split=test",
            "train.max_steps=1",
        ],
    )
    with pytest.raises(LeakageError, match="allow_test_overlap"):
        pretrain(cfg)
    cfg.data.allow_test_overlap = True
    assert pretrain(cfg)["data"]["test_overlap_allowed"] > 0


def _moving_noise(seed: int, frames: int = 40, size: int = 48) -> np.ndarray:
    """A textured pattern scrolling over a noisy background: generic real footage stand-in."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 256, (size, size * 3, 3), dtype=np.uint8)
    step = rng.integers(1, 4)
    return np.stack([texture[:, t * step % (2 * size) :][:, :size] for t in range(frames)])


@pytest.fixture
def handmade_ucf(tmp_path):
    root = tmp_path / "ucf"
    classes = ["Alpha", "Beta"]
    train, test = [], []
    for c, name in enumerate(classes):
        for g in (1, 2, 3):
            for clip, suffix in ((1, ".avi"), (2, ".mp4")):
                rel = f"{name}/v_{name}_g{g:02d}_c{clip:02d}{suffix}"
                write_video(root / rel, _moving_noise(100 * c + 10 * g + clip), fps=25)
                # the lists name .avi, as UCF101's do, whatever the file's container
                listed = rel.replace(".mp4", ".avi")
                (test if g == 1 else train).append((listed, c + 1))
    (root / "classInd.txt").write_text("".join(f"{i + 1} {n}\n" for i, n in enumerate(classes)))
    (root / "trainlist01.txt").write_text("".join(f"{p} {label}\n" for p, label in train))
    (root / "testlist01.txt").write_text("".join(f"{p}\n" for p, _ in test))
    # truncate one training video (keep 40% of its bytes)
    victim = root / "Beta/v_Beta_g03_c02.mp4"
    data = victim.read_bytes()
    victim.write_bytes(data[: int(len(data) * 0.4)])
    shutil.rmtree(root / "unused", ignore_errors=True)
    return root, victim


def test_handmade_tree_check_and_pretrain(handmade_ucf, tmp_path, capsys):
    root, victim = handmade_ucf
    code = main(["data", "check", "--dataset", "ucf101", "--root", str(root), "--split", "train"])
    out = capsys.readouterr().out
    assert code == 1
    assert str(victim) in out
    assert "checked 8 videos: 7 ok, 1 with problems" in out

    run = tmp_path / "run"
    code = main(
        ["pretrain", "vcop", *TINY_VCOP, f"data.root={root}", f"train.out_dir={run}", "train.max_steps=3"]
    )
    assert code == 0
    report = json.loads((run / "data_report.json").read_text())
    assert report["listed"] == 8 and report["train_videos"] == 7 and report["skipped"] == 1
    assert report["skipped_videos"][0]["path"] == str(victim)
