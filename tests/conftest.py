"""Shared fixtures: a tiny SynthMotion set generated once per test session; the local Slurm cluster."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ssl_video.datasets.synthmotion import SynthMotionConfig, generate_synthmotion
from ssl_video.video import VideoMeta

# 4 classes x 4 groups x 2 clips = 32 videos of 32x32, 32 frames: enough for every code path.
TINY_SYNTH = SynthMotionConfig(classes=4, groups=4, clips_per_group=2, size=32, frames=32)

# Pretraining overrides that make a VCOP run take seconds on 2 CPU cores.
TINY_VCOP = [
    "data.dataset=ucf101",
    "encoder.name=r3d_tiny",
    "encoder.kwargs={width: 8}",
    "task.params.clip_len=4",
    "task.params.interval=2",
    "task.params.crop=28",
    "task.params.resize=null",
    "task.params.hidden=32",
    "train.batch_size=4",
    "train.num_workers=0",
    "train.progress=false",
    "train.log_every=1",
    "optim.lr=0.01",
    "data.val_videos=0",
]

# The CPU budget of the SynthMotion 1.1 table (results/archive/synthmotion_v1/make_synthmotion.sh:
# r3d_tiny w16, 8 x 56^2 clips, AdamW 1e-3 cosine, batch 16, 288 train / 48 validation videos, seed 0),
# without the epochs and the task's own parameters; the "climbs above chance" tests start from it.
SYNTH_CPU_RUN = [
    "data.dataset=ucf101",
    "data.val_videos=48",
    "encoder.name=r3d_tiny",
    "encoder.kwargs={width: 16}",
    "optim.name=adamw",
    "optim.lr=0.001",
    "optim.schedule=cosine",
    "optim.weight_decay=0.0005",
    "train.batch_size=16",
    "train.num_workers=2",
    "train.progress=false",
    "train.checkpoint_every=1000",
    "seed=0",
    "task.params.clip_len=8",
    "task.params.crop=56",
]


def index_video(num_frames: int, size: int = 40) -> np.ndarray:
    """(N, size, size, 3) uint8: every pixel of frame t holds t in all channels (no crop, flip or
    channel split can hide it)."""
    return np.broadcast_to(
        np.arange(num_frames, dtype=np.uint8)[:, None, None, None], (num_frames, size, size, 3)
    )


def ramp_video(num_frames: int, size: int = 40) -> np.ndarray:
    """(N, size, size, 3) uint8: channel 0 = row, 1 = column, 2 = frame index (a crop's origin is its
    top-left pixel)."""
    frames = np.zeros((num_frames, size, size, 3), dtype=np.uint8)
    frames[..., 0] = np.arange(size, dtype=np.uint8)[None, :, None]
    frames[..., 1] = np.arange(size, dtype=np.uint8)[None, None, :]
    frames[..., 2] = np.arange(num_frames, dtype=np.uint8)[:, None, None]
    return frames


def video_meta(num_frames: int, size: int) -> VideoMeta:
    """Metadata of a square 16 fps video without audio (for planning without a file)."""
    return VideoMeta("x.mp4", num_frames, 16.0, num_frames / 16, size, size, False, None)


def assert_samples_replay(tiny_synth: Path, task, seed: int = 5):
    """Samples of ``task`` on 6 tiny SynthMotion videos depend only on (seed, epoch, index): two datasets
    agree, replaying ``plan`` + ``make_sample`` with ``sample_rng`` gives the same clips, and another
    epoch differs. Returns the first dataset for shape checks."""
    import torch

    from ssl_video.datasets import load_dataset
    from ssl_video.datasets.clips import PretextDataset, decode_views, sample_rng, scan_videos

    records = load_dataset("ucf101", str(tiny_synth), split="train").records[:6]
    videos, _ = scan_videos(records, "pyav", task.min_frames())
    a, b = PretextDataset(videos, task, "pyav", seed=seed), PretextDataset(videos, task, "pyav", seed=seed)
    for index in range(len(videos)):
        s1, s2 = a[(1, index)], b[(1, index)]
        assert torch.equal(s1["clips"], s2["clips"]) and torch.equal(s1["target"], s2["target"])
        rng = sample_rng(seed, 1, index)  # the same generator drives the target: replaying gives it back
        plan = task.plan(videos[index].meta, rng)
        views = decode_views(videos[index].record.path, "pyav", plan.views)
        assert torch.equal(task.make_sample(views, plan, rng)["clips"], s1["clips"])
    assert any(not torch.equal(a[(1, i)]["clips"], a[(2, i)]["clips"]) for i in range(len(videos)))
    return a


def smoke_pretrain(task: str, overrides: list[str], out: Path) -> dict:
    """``ssl-video pretrain TASK`` for 3 steps (4 validation videos) through the CLI; checks that it
    ran, that its losses are finite and that it exported an encoder; returns summary.json."""
    import json
    import math

    from ssl_video.cli import main

    argv = ["pretrain", task, *overrides, f"train.out_dir={out}", "train.max_steps=3", "data.val_videos=4"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 3
    assert math.isfinite(summary["train"]["loss"]) and math.isfinite(summary["val"]["loss"])
    assert 0.0 <= summary["train"]["acc"] <= 1.0
    assert (out / "encoder.pt").is_file()
    return summary


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "synthmotion"
    generate_synthmotion(root, TINY_SYNTH)
    return root


SLURM_LOCAL = Path(__file__).resolve().parent.parent / "slurm" / "local"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slurm: needs the local Slurm test cluster (started by the slurm_cluster fixture)"
    )


@pytest.fixture(scope="session")
def slurm_cluster():
    """The local Slurm test cluster (slurm/local/up.sh) as a ClusterProfile ('local').

    Started when it is not already up (as root), and left running: other test sessions may be using
    it; `sudo bash slurm/local/down.sh` stops it. When it cannot start, the test is skipped, or fails
    when SSL_VIDEO_REQUIRE_SLURM=1 (set by .ci/run).
    """
    from ssl_video.slurm import load_profile

    def unavailable(why: str):
        if os.environ.get("SSL_VIDEO_REQUIRE_SLURM") == "1":
            pytest.fail(
                f"the local Slurm cluster is required (SSL_VIDEO_REQUIRE_SLURM=1): {why}", pytrace=False
            )
        pytest.skip(f"local Slurm cluster unavailable ({why}); start it with: sudo bash slurm/local/up.sh")

    status = subprocess.run(["bash", str(SLURM_LOCAL / "status.sh")], capture_output=True, text=True)
    if status.returncode != 0:
        if os.geteuid() != 0:
            unavailable("it is not running, and starting it needs root")
        up = subprocess.run(["bash", str(SLURM_LOCAL / "up.sh")], capture_output=True, text=True, timeout=900)
        if up.returncode != 0:
            unavailable(f"slurm/local/up.sh failed: {(up.stderr or up.stdout).strip()[-1500:]}")
    return load_profile("local")
