"""The supervised baseline reads each record's own label; pretext samples carry it but never use it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssl_video.config import ConfigError
from ssl_video.datasets import load_dataset
from ssl_video.datasets.clips import PretextDataset, collate_samples, scan_videos
from ssl_video.encoders import create_encoder
from ssl_video.pretext import create_task
from ssl_video.video import VideoMeta

PARAMS = {"num_classes": 4, "clip_len": 4, "crop": 28, "resize": None}


def test_samples_carry_their_records_labels(tiny_synth):
    ds = load_dataset("ucf101", str(tiny_synth), split="train")
    videos, skipped = scan_videos(ds.records, "pyav", 1)
    assert not skipped
    task = create_task("supervised", PARAMS)
    data = PretextDataset(videos, task, "pyav", seed=0)
    for i in range(len(data)):
        sample = data[(0, i)]
        assert int(sample["label"]) == videos[i].record.label
        assert sample["clips"].shape == (3, 4, 28, 28)


def test_loss_trains_on_labels_and_rejects_unlabeled(tiny_synth):
    ds = load_dataset("ucf101", str(tiny_synth), split="train")
    videos, _ = scan_videos(ds.records[:4], "pyav", 1)
    task = create_task("supervised", PARAMS)
    batch = collate_samples([PretextDataset(videos, task, "pyav", 0)[(0, i)] for i in range(4)])
    batch["clips"] = batch["clips"].float() / 255
    encoder = create_encoder("r3d_tiny", width=8)
    heads = task.build_heads(encoder.dim)
    out = task.loss(encoder, heads, batch)
    assert out.loss.ndim == 0 and 0.0 <= float(out.metrics["acc"]) <= 1.0
    batch["label"] = torch.full_like(batch["label"], -1)
    with pytest.raises(ValueError, match="unlabeled"):
        task.loss(encoder, heads, batch)


def test_num_classes_is_required():
    with pytest.raises(ConfigError, match="num_classes"):
        create_task("supervised", {})


def test_frame_stride_spaces_the_clip_over_the_video():
    """8 frames 6 apart span 43 frames: every start in [0, 48 - 43] is drawn, never one past it, and a
    video shorter than the span repeats its last frame; stride 1 keeps consecutive frames."""

    def meta(num_frames):
        return VideoMeta("v.mp4", num_frames, 16.0, num_frames / 16, 64, 64, False, None)

    task = create_task("supervised", {**PARAMS, "clip_len": 8, "frame_stride": 6})
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(400):
        (view,) = task.plan(meta(48), rng).views
        assert np.array_equal(np.diff(view), np.full(7, 6))
        starts.add(int(view[0]))
    assert starts == set(range(6))
    (short,) = task.plan(meta(20), rng).views
    assert short.tolist() == [0, 6, 12, 18, 19, 19, 19, 19]
    (consecutive,) = create_task("supervised", PARAMS).plan(meta(48), rng).views
    assert np.array_equal(np.diff(consecutive), np.ones(3))
    with pytest.raises(ConfigError, match="frame_stride"):
        create_task("supervised", {**PARAMS, "frame_stride": 0})
