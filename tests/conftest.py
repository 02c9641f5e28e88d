"""Shared fixtures: a tiny SynthMotion set generated once per test session."""

from __future__ import annotations

import pytest

from ssl_video.datasets.synthmotion import SynthMotionConfig, generate_synthmotion

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


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "synthmotion"
    generate_synthmotion(root, TINY_SYNTH)
    return root
