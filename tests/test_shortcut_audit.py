"""The shortcut audit (ssl_video/pretext/audit.py) on videos rendered here, independent of SynthMotion.

Test videos: a frozen iid texture of one colour, and a disc sprite that moves (bouncing) and shows the
background under it point-reflected about its centre. The sprite is a permutation of the pixels it
covers, so it moves without changing any whole-frame statistic (a 28 px crop of it moves by a
fraction of a grey level). Per video a constant gain, per frame an iid flicker (1%) and pixel
noise: nuisances that look the same played forwards or backwards.

Variant "ramp" adds a global exposure ramp (gain changes linearly by 20-50% over the video, random
sign), the shortcut that let mean brightness solve VCOP on the old SynthMotion. The audit must catch
it for every task and must pass every task on the steady variant.

Why the sprite is a reflection: a solid sprite over a non-uniform background changes the crop's mean
and spread as it moves, more so in a sped-up clip, and the audit rightly fails SpeedNet on such video
(measured with a sinusoid background, 1% flicker: 59% per clip, 89% per pair, against 50%).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ssl_video.pretext import PretextTask, SamplePlan, TaskOutput, create_task
from ssl_video.pretext.audit import frame_statistics, shortcut_audit
from ssl_video.video import VideoMeta

SMALL = {"clip_len": 8, "crop": 28, "resize": None}
# name -> (registered task, params sized for 48-frame 32x32 videos, audit unit): the small settings
# of results/make_synthmotion.sh with crop 28 (jitter 2 fits a 32 px frame).
AUDITED = {
    "vcop": ("vcop", {**SMALL, "interval": 4}, "sample"),
    "shuffle_learn": (
        "shuffle_learn",
        {**SMALL, "min_gap": 1, "tau_min": 0, "tau_max": 22, "neg_max": 9},
        "sample",
    ),
    "opn": ("opn", {**SMALL, "interval": 4, "jitter": 2}, "sample"),  # channel split on (its default)
    "opn_no_split": ("opn", {**SMALL, "interval": 4, "jitter": 2, "channel_split": False}, "sample"),
    "o3n": ("o3n", SMALL, "sample"),
    # SpeedNet's head scores each clip alone: its audit unit is the clip (see shortcut_audit's ``unit``)
    "speednet": ("speednet", {"clip_len": 8, "crop": 28}, "element"),
}


def render_videos(
    count: int,
    ramp: bool,
    seed: int = 0,
    frames: int = 48,
    size: int = 32,
    flicker: float = 0.01,
    noise: float = 3.0,
) -> list[np.ndarray]:
    """``count`` videos (frames, size, size, 3) uint8 as described in the module docstring."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    videos = []
    for _ in range(count):
        colour = rng.uniform(60, 190, 3)
        background = colour * (1 + rng.uniform(-0.3, 0.3, (size, size, 1)))
        radius = rng.uniform(4, 7)
        lo, hi = int(np.ceil(radius)), size - 1 - int(np.ceil(radius))
        pos, vel = rng.uniform(lo, hi, 2), rng.uniform(-1.5, 1.5, 2)
        gain = rng.uniform(0.8, 1.2)
        slope = rng.uniform(0.2, 0.5) * rng.choice([-1, 1]) if ramp else 0.0
        video = np.empty((frames, size, size, 3), np.uint8)
        for t in range(frames):
            pos += vel
            bounce = (pos < lo) | (pos > hi)
            vel[bounce] *= -1
            pos = np.clip(pos, lo, hi)
            cx, cy = (int(round(v)) for v in pos)
            inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2
            frame = background.copy()
            frame[inside] = background[2 * cy - yy[inside], 2 * cx - xx[inside]]
            g = gain * (1 + slope * (t / (frames - 1) - 0.5)) * (1 + flicker * rng.standard_normal())
            video[t] = np.clip(frame * g + noise * rng.standard_normal(frame.shape), 0, 255).astype(np.uint8)
        videos.append(video)
    return videos


@pytest.fixture(scope="module")
def ramp_videos():
    return render_videos(40, ramp=True)  # the leaks are strong: fewer videos keep the test fast


@pytest.fixture(scope="module")
def steady_videos():
    return render_videos(60, ramp=False)


def audit(name: str, videos, samples_per_video: int):
    task_name, params, unit = AUDITED[name]
    return shortcut_audit(create_task(task_name, params), videos, samples_per_video, unit=unit)


def test_sprite_moves_without_changing_whole_frame_statistics():
    """The test data's premise: without flicker and noise the sprite moves, yet every frame has the
    same global statistics (and with the ramp they change)."""
    for video in render_videos(3, ramp=False, flicker=0.0, noise=0.0):
        frames = video.reshape(len(video), -1, 3).astype(np.float64)
        assert np.ptp(frames.mean(axis=1), axis=0).max() < 1e-9
        assert np.ptp(frames.std(axis=1), axis=0).max() < 1e-9
        assert len({frame.tobytes() for frame in video}) >= 10  # the sprite's (rounded) position changes
    ramped = render_videos(1, ramp=True, flicker=0.0, noise=0.0)[0].reshape(48, -1).mean(axis=1)
    assert abs(ramped[-1] - ramped[0]) / ramped.mean() > 0.15


@pytest.mark.parametrize("name", [n for n in AUDITED if n != "opn"])
def test_audit_catches_a_brightness_ramp(name, ramp_videos):
    """With the ramp every task's target is readable from clip brightness: the audit must fail it.

    OPN's channel splitting (one random RGB channel per element) mostly hides the ramp; without it
    the ramp decides OPN's order (its default is measured, not asserted: see the module docstring).
    """
    result = audit(name, ramp_videos, samples_per_video=10)
    assert not result.passed, result.summary()
    assert result.margin > 3 * result.stderr, result.summary()


@pytest.mark.parametrize("name", list(AUDITED))
def test_time_symmetric_nuisances_pass(name, steady_videos):
    # SpeedNet's per-clip audit is cheap: more samples tighten its estimate of chance
    result = audit(name, steady_videos, samples_per_video=16 if name == "speednet" else 8)
    assert result.passed, result.summary()
    assert result.skipped == () and result.test_videos == 24 and result.train_videos == 36


@dataclass
class FlipParams:
    clip_len: int = 8


class Flip(PretextTask):
    """Was the clip mirrored left-right? Decidable from the spatial layout only: a mirror permutes
    pixels, so every global statistic of every frame is unchanged."""

    name = "flip"
    Params = FlipParams
    chance_accuracy = 0.5

    def min_frames(self) -> int:
        return self.params.clip_len

    def plan(self, meta, rng) -> SamplePlan:
        start = int(rng.integers(0, meta.num_frames - self.params.clip_len + 1))
        return SamplePlan(views=[start + np.arange(self.params.clip_len)])

    def make_sample(self, views, plan, rng) -> dict[str, torch.Tensor]:
        flipped = int(rng.integers(2))
        clip = torch.from_numpy(np.ascontiguousarray(views[0])).permute(3, 0, 1, 2)  # (3, T, H, W)
        if flipped:
            clip = clip.flip(-1)
        return {"clips": clip.contiguous(), "target": torch.tensor(flipped)}

    def build_heads(self, encoder_dim: int) -> nn.Module:
        return nn.Linear(encoder_dim, 2)

    def loss(self, encoder, heads, batch) -> TaskOutput:
        logits = heads(encoder(batch["clips"]))
        return TaskOutput(F.cross_entropy(logits, batch["target"]), {})


def test_audit_is_blind_to_spatial_layout(steady_videos):
    """Left half bright, right half dark: the mirror is obvious to a spatial rule (100%), invisible
    to the audit (chance)."""
    shade = np.where(np.arange(32) < 16, 1.3, 0.7)[None, None, :, None]
    videos = [np.clip(v * shade, 0, 255).astype(np.uint8) for v in steady_videos[:30]]
    task = Flip(FlipParams())
    rng = np.random.default_rng(0)
    hits = []
    for video in videos[:10]:
        plan = task.plan(_meta(video), rng)
        sample = task.make_sample([video[plan.views[0]]], plan, rng)
        clip = sample["clips"].float()
        left_brighter = clip[..., :16].mean() > clip[..., 16:].mean()
        hits.append(bool(left_brighter) == (int(sample["target"]) == 0))
    assert all(hits)
    result = shortcut_audit(task, videos, samples_per_video=12)
    assert result.passed, result.summary()


def _meta(video: np.ndarray) -> VideoMeta:
    return VideoMeta("x", len(video), 25.0, len(video) / 25.0, video.shape[2], video.shape[1], False, None)


def test_same_seed_same_result_and_loaders_agree(steady_videos):
    task = create_task(*AUDITED["vcop"][:2])
    videos = steady_videos[:8]
    first = shortcut_audit(task, videos, samples_per_video=3, seed=3)
    again = shortcut_audit(task, [lambda v=v: v for v in videos], samples_per_video=3, seed=3)
    assert replace(first, seconds=0.0) == replace(again, seconds=0.0)
    other = shortcut_audit(task, videos, samples_per_video=3, seed=4)
    assert other.classifier_accuracy != first.classifier_accuracy


def test_frame_statistics_layouts_and_channels():
    clip = torch.zeros(3, 2, 4, 4, dtype=torch.uint8)
    clip[0, 1] = 255  # frame 1: pure red
    stats = frame_statistics({"clips": clip, "target": torch.tensor(0)})["clips"]
    assert stats.shape == (1, 2, 8)  # K=1 view, T=2 frames, 8 statistics
    np.testing.assert_allclose(stats[0, 1], [0.299, 0, 1, 0, 0, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(stats[0, 0], 0.0)
    # frames (K, C, H, W) need their layout named; a grey channel counts as R = G = B
    frames = torch.full((2, 1, 4, 4), 51, dtype=torch.uint8)
    grey = frame_statistics({"frames": frames}, layouts={"frames": "KCHW"})["frames"]
    assert grey.shape == (2, 1, 8)
    np.testing.assert_allclose(grey[..., ::2], 0.2)
    with pytest.raises(ValueError, match="give its layout"):
        frame_statistics({"x": torch.zeros(1, 1, 1, 1, 1, 1, dtype=torch.uint8)})
    with pytest.raises(ValueError, match="does not fit"):
        frame_statistics({"frames": frames}, layouts={"frames": "CHW"})
    with pytest.raises(ValueError, match="no uint8 pixel tensor"):
        frame_statistics({"target": torch.tensor(1)})


def test_short_videos_are_skipped_and_bad_videos_named(steady_videos):
    task = create_task(*AUDITED["vcop"][:2])  # needs 32 frames
    videos = [v[:20] if i in (2, 5) else v for i, v in enumerate(steady_videos[:10])]
    result = shortcut_audit(task, videos, samples_per_video=3)
    assert result.skipped == (
        (2, "too short: 20 frames < 32 needed"),
        (5, "too short: 20 frames < 32 needed"),
    )
    assert result.train_videos + result.test_videos == 8
    with pytest.raises(ValueError, match="needs >= 2 usable videos"):
        shortcut_audit(task, [v[:20] for v in steady_videos[:4]], samples_per_video=3)
    bad_dtype = [*steady_videos[:2], steady_videos[2].astype(np.float32)]
    with pytest.raises(ValueError, match=r"videos\[2\]: expected a \(T, H, W, 3\) uint8 array"):
        shortcut_audit(task, bad_dtype, samples_per_video=3)
    with pytest.raises(ValueError, match=r"videos\[1\]: expected a \(T, H, W, 3\) uint8 array"):
        shortcut_audit(task, [steady_videos[0], steady_videos[1][..., 0]], samples_per_video=3)
    with pytest.raises(ValueError, match=r"videos\[0\]: expected a numpy array"):
        shortcut_audit(task, [torch.from_numpy(steady_videos[0])], samples_per_video=3)
    with pytest.raises(ValueError, match="unit='element' needs one pixel tensor of K views and a"):
        shortcut_audit(task, steady_videos[:4], samples_per_video=3, unit="element")
