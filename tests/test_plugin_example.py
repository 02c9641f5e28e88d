"""The example third-party package (examples/ssl_video_plugin_example) registers a pretext task and a
protocol kind through entry points: installed into a scratch folder, both run through the CLI from a
directory outside the repository, with nothing in ssl_video edited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ssl_video_plugin_example"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("plugin") / "site"
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
            "--no-index", "--target", str(site), str(EXAMPLE),
        ],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return site


def ssl_video(site: Path, cwd: Path, *args: str) -> str:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    )
    done = subprocess.run(
        [sys.executable, "-m", "ssl_video.cli", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_installed_plugin_task_and_protocol_run_like_built_ins(installed, tiny_synth, tmp_path):
    listing = ssl_video(installed, tmp_path, "list")
    tasks = next(line for line in listing.splitlines() if line.startswith("pretext tasks:"))
    kinds = next(line for line in listing.splitlines() if line.startswith("protocol kinds:"))
    assert "arrow_of_time" in tasks and "vcop" in tasks
    assert "centroid" in kinds and "knn" in kinds

    package = installed / "ssl_video_plugin_example"
    run = tmp_path / "run"
    ssl_video(
        installed, tmp_path, "pretrain", str(package / "arrow_of_time.yaml"), f"data.root={tiny_synth}",
        f"train.out_dir={run}", "train.max_steps=3", "train.num_workers=0", "train.progress=false",
        "encoder.kwargs={width: 8}", "task.params.clip_len=4", "task.params.crop=28",
    )  # fmt: skip
    summary = json.loads((run / "summary.json").read_text())
    assert summary["task"] == "arrow_of_time" and summary["steps"] == 3 and summary["chance_accuracy"] == 0.5

    store = tmp_path / "store"
    out = ssl_video(
        installed, tmp_path, "eval", str(package / "centroid.yaml"), "clip_len=4", "frame_stride=1",
        "crop=28", "--checkpoint", str(run / "encoder.pt"), "--root", str(tiny_synth), "--store", str(store),
        "--cache", str(tmp_path / "cache"), "--workers", "0", "--out", str(tmp_path / "result.json"),
    )  # fmt: skip
    assert "centroid@v1 fold 1 seed 0: top1" in out
    record = json.loads((tmp_path / "result.json").read_text())
    assert record["protocol"]["name"] == "centroid" and record["protocol"]["settings"]["kind"] == "centroid"
    assert record["checkpoint"]["method"] == "arrow_of_time"
    assert record["chance"]["top1"] == pytest.approx(25.0)  # 4 classes, from the base class's chance
    hits = record["per_video"]["outcomes"]["top1"]
    assert 0.0 <= record["metrics"]["top1"] <= 100.0 and hits
