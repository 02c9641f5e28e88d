"""Shuffle&Learn targets: each label is what the pixels fed show, negatives share the positive's ends,
25/75 ratio, nothing but pixels reveals the label, motion-weighted windows, determinism, training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import TINY_VCOP, index_video, ramp_video, smoke_pretrain
from torch.utils.data import DataLoader

from ssl_video.datasets import load_dataset
from ssl_video.datasets.clips import (
    EpochBatchSampler,
    PretextDataset,
    collate_samples,
    plan_and_decode,
    sample_rng,
    scan_videos,
)
from ssl_video.pretext import Probe, create_task
from ssl_video.video import VideoMeta, open_video

# 8-frame clips on 48-frame videos (the SynthMotion run) and the paper's single frames.
CLIP = {"clip_len": 4, "min_gap": 1, "tau_min": 0, "tau_max": 14, "neg_max": 8, "crop": 24, "resize": None}
FRAME = {"clip_len": 1, "min_gap": 0, "crop": 24, "resize": None}  # paper distances (tau 15 / 60)
TINY_SL = [
    *[o for o in TINY_VCOP if not o.startswith("task.params.interval")],
    "task.params.min_gap=1",
    "task.params.tau_min=0",
    "task.params.tau_max=10",
    "task.params.neg_max=5",
]


def _meta(num_frames: int, size: int = 40) -> VideoMeta:
    return VideoMeta("x.mp4", num_frames, 16.0, num_frames / 16, size, size, False, None)


def _sample(task, video: np.ndarray, seed: int, probe: bool = False):
    meta = _meta(len(video), video.shape[1])
    rng = np.random.default_rng(seed)
    kwargs = {}
    if probe:
        idx = task.probe_frames(meta)
        kwargs["probe"] = Probe(idx, video[idx])
    plan = task.plan(meta, rng, **kwargs)
    return plan, task.make_sample([video[v] for v in plan.views], plan, rng)


@pytest.mark.parametrize("params, num_frames", [(CLIP, 36), (CLIP, 60), (FRAME, 40), (FRAME, 90)])
def test_every_label_is_what_the_fed_pixels_show(params, num_frames):
    task = create_task("shuffle_learn", params)
    video = index_video(num_frames)
    seen = set()
    for seed in range(600):
        plan, sample = _sample(task, video, seed)
        clips, target = sample["clips"], int(sample["target"])
        assert clips.shape == (3, 3, params["clip_len"], 24, 24) and clips.dtype == torch.uint8
        frames = clips[:, 0, :, 0, 0].long()  # (3, clip_len): the frame index each fed frame shows
        assert bool((clips == clips[:, :1, :, :1, :1]).all())  # constant frames stay constant
        steps = frames[:, 1:] - frames[:, :-1]
        if params["clip_len"] > 1:  # consecutive frames, all elements played in the same direction
            direction = int(steps[0, 0])
            assert direction in (1, -1) and bool((steps == direction).all())
        else:
            direction = 1 if frames[0, 0] < frames[2, 0] else -1
        first, middle, last = (int(f) for f in frames.float().mean(1))
        # the label as the pixels define it: the middle element lies between the outer ones in time
        assert target == int(min(first, last) < middle < max(first, last)), (seed, frames)
        # the ends are the positive's b and d; the middle is c, a or e as the plan says
        a, b, c, d, e = plan.extras["starts"]
        ends = sorted((int(frames[0].min()), int(frames[2].min())))
        assert ends == [b, d]
        assert int(frames[1].min()) == {"a": a, "c": c, "e": e}[plan.extras["middle"]]
        assert (direction == -1) == plan.extras["reversed"] == (frames[0, 0] > frames[2, 0])
        assert 0 <= frames.min() and frames.max() < num_frames
        seen.add((target, plan.extras["middle"], plan.extras["reversed"]))
    assert seen == {(t, m, r) for t, m in ((1, "c"), (0, "a"), (0, "e")) for r in (False, True)}


def test_layout_distances_and_min_frames():
    task = create_task("shuffle_learn", {})  # paper distances on 16-frame clips
    p = task.params
    step = p.clip_len + p.min_gap
    assert task.min_frames() == 2 * max(p.tau_min, step) + 2 * step + p.clip_len == 96
    for num_frames in (96, 150, 400):
        for seed in range(200):
            plan = task.plan(_meta(num_frames), np.random.default_rng(seed))
            a, b, c, d, e = plan.extras["starts"]
            assert 0 <= a and e + p.clip_len <= num_frames
            assert 2 * step <= d - b <= p.tau_max
            assert c - b >= step and d - c >= step
            assert max(p.tau_min, step) <= b - a <= p.neg_max and max(p.tau_min, step) <= e - d <= p.neg_max
    frame = create_task("shuffle_learn", {"clip_len": 1, "min_gap": 0})
    assert frame.min_frames() == 2 * 15 + 2 + 1
    with pytest.raises(ValueError, match="tau_max"):
        create_task("shuffle_learn", {"clip_len": 8, "min_gap": 1, "tau_max": 17})
    with pytest.raises(ValueError, match="neg_max"):
        create_task("shuffle_learn", {"tau_min": 15, "neg_max": 10})
    with pytest.raises(ValueError, match="positive_ratio"):
        create_task("shuffle_learn", {"positive_ratio": 1.0})


def test_ratio_is_25_75_and_directions_and_sides_are_balanced():
    task = create_task("shuffle_learn", CLIP)
    n = 6000
    extras = [task.plan(_meta(48), np.random.default_rng([7, i])).extras for i in range(n)]
    positive = np.array([x["target"] for x in extras])
    sigma = math.sqrt(0.25 * 0.75 / n)  # 0.0056
    assert abs(positive.mean() - 0.25) < 4 * sigma
    reversed_ = np.array([x["reversed"] for x in extras])
    for group in (positive == 1, positive == 0):
        assert abs(reversed_[group].mean() - 0.5) < 4 * math.sqrt(0.25 / group.sum())
    sides = np.array([x["middle"] == "a" for x in extras if x["middle"] != "c"])
    assert abs(sides.mean() - 0.5) < 4 * math.sqrt(0.25 / len(sides))
    assert task.chance_accuracy == 0.75


def test_negatives_share_the_positive_candidates_ends():
    """The layout (a..e) is drawn before the label: the outer elements of positives and negatives come
    from one distribution, so they cannot give the label away."""
    task = create_task("shuffle_learn", {**CLIP, "tau_max": 20, "neg_max": 10})
    by_label: dict[int, list[tuple[int, int]]] = {0: [], 1: []}
    for seed in range(20000):
        plan = task.plan(_meta(60), np.random.default_rng(seed))
        a, b, c, d, e = plan.extras["starts"]
        by_label[plan.extras["target"]].append((b, d - b))
    pos, neg = np.array(by_label[1], dtype=float), np.array(by_label[0], dtype=float)
    assert np.all(
        np.abs(pos.mean(0) - neg.mean(0)) < 4 * np.sqrt(pos.var(0) / len(pos) + neg.var(0) / len(neg))
    )
    assert set(pos[:, 1].astype(int)) == set(neg[:, 1].astype(int)) == set(range(10, 21))  # same d - b


@pytest.mark.parametrize("params", [CLIP, FRAME])
def test_nothing_but_the_pixels_reveals_the_label(params):
    """Identical keys, shapes and dtypes for every label; crop origins independent of the label."""
    task = create_task("shuffle_learn", {**params, "flip": False})
    video = ramp_video(60)
    origins: dict[int, list[tuple[int, int]]] = {0: [], 1: []}
    layouts = set()
    for seed in range(1500):
        _, sample = _sample(task, video, seed)
        layouts.add(
            (tuple(sample), tuple(sample["clips"].shape), sample["clips"].dtype, sample["target"].dtype)
        )
        for clip in sample["clips"]:
            origins[int(sample["target"])].append((int(clip[0, 0, 0, 0]), int(clip[1, 0, 0, 0])))
    assert len(layouts) == 1
    for label, o in origins.items():
        o = np.array(o, dtype=float)
        assert {int(r) for r in o[:, 0]} == set(range(0, 40 - 24 + 1)), label
        assert np.all(np.abs(o.mean(0) - 8.0) < 0.6), (label, o.mean(0))
    # crops are independent per element (as in the paper's data layer), so they cannot chain elements
    _, sample = _sample(task, video, 0)
    assert len({(int(c[0, 0, 0, 0]), int(c[1, 0, 0, 0])) for c in sample["clips"]}) > 1


def test_flip_is_shared_by_the_tuple():
    task = create_task("shuffle_learn", CLIP)
    video = ramp_video(60)
    flipped = []
    for seed in range(200):
        _, sample = _sample(task, video, seed)
        cols = sample["clips"][:, 1, 0, 0, :].long()  # column ramp of the first row of each element
        per_element = [bool(c[0] > c[-1]) for c in cols]
        assert len(set(per_element)) == 1
        flipped.append(per_element[0])
    assert 0.35 < np.mean(flipped) < 0.65


def _moving_half_video(num_frames: int, moving_from: int, size: int = 32) -> np.ndarray:
    """Static grey frames, then from ``moving_from`` on a fresh random texture in every frame."""
    rng = np.random.default_rng(0)
    video = np.full((num_frames, size, size, 3), 128, dtype=np.uint8)
    video[moving_from:] = rng.integers(0, 256, (num_frames - moving_from, size, size, 3), dtype=np.uint8)
    return video


def test_motion_weighting_prefers_high_motion_windows():
    params = {
        "clip_len": 1,
        "min_gap": 0,
        "tau_min": 3,
        "tau_max": 8,
        "neg_max": 5,
        "crop": 24,
        "resize": None,
    }
    task = create_task("shuffle_learn", {**params, "motion_probes": 16})
    uniform = create_task("shuffle_learn", {**params, "motion_probes": 0})
    assert uniform.probe_frames(_meta(120)) is None
    video = _moving_half_video(120, 60)
    # probed pairs start at 0, 8, ..., 55, 63, ...: the profile is 0 up to frame 55.5, then ramps up
    probed, flat, ends = [], [], []
    for seed in range(300):
        plan, _ = _sample(task, video, seed, probe=True)
        probed.append(plan.extras["starts"][0] >= 60)
        ends.append(plan.extras["starts"][4])
        flat.append(uniform.plan(_meta(120), np.random.default_rng(seed)).extras["starts"][0] >= 60)
    assert min(ends) >= 56  # a window without any motion has weight 0
    assert np.mean(probed) > 0.75  # mostly inside the moving half (the rest straddles the ramp)
    assert 0.3 < np.mean(flat) < 0.6  # uniform: (120 - 60 - span) / (120 - span) ~ 0.45
    # a video without any motion falls back to uniform windows
    still = np.full((120, 32, 32, 3), 90, dtype=np.uint8)
    starts = [_sample(task, still, seed, probe=True)[0].extras["starts"][0] for seed in range(300)]
    assert 0.35 < np.mean(np.array(starts) >= 55) < 0.65


def test_probe_goes_through_the_data_layer_with_the_same_reader(tiny_synth):
    task = create_task("shuffle_learn", {**CLIP, "motion_probes": 4})
    records = load_dataset("ucf101", str(tiny_synth), split="train").records[:3]
    videos, _ = scan_videos(records, "pyav", task.min_frames())
    seen = {}

    class Spy(type(task)):
        def plan(self, meta, rng, probe=None):
            seen["probe"] = probe
            return super().plan(meta, rng, probe)

    spy = Spy(task.params)
    plan, views = plan_and_decode(spy, videos[0], "pyav", sample_rng(0, 0, 0))
    probe = seen["probe"]
    assert isinstance(probe, Probe) and list(probe.indices) == list(task.probe_frames(videos[0].meta))
    with open_video(videos[0].record.path, "pyav") as reader:
        np.testing.assert_array_equal(probe.frames, reader.read(probe.indices))
        for view, frames in zip(plan.views, views, strict=True):
            np.testing.assert_array_equal(frames, reader.read(view))
    # same (seed, epoch, index) -> same plan, probe or not
    again, _ = plan_and_decode(task, videos[0], "pyav", sample_rng(0, 0, 0))
    assert again.extras == plan.extras


def _batches(dataset, workers: int) -> list[dict]:
    sampler = EpochBatchSampler(len(dataset), 4, seed=0, epoch=1)
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=workers, collate_fn=collate_samples)
    return list(loader)


def test_samples_do_not_depend_on_the_worker_count(tiny_synth):
    task = create_task("shuffle_learn", CLIP)
    records = load_dataset("ucf101", str(tiny_synth), split="train").records
    videos, _ = scan_videos(records, "pyav", task.min_frames())
    dataset = PretextDataset(videos, task, "pyav", seed=5)
    one, two = _batches(dataset, 0), _batches(dataset, 2)
    assert len(one) == len(two) == len(videos) // 4
    for x, y in zip(one, two, strict=True):
        assert torch.equal(x["clips"], y["clips"]) and torch.equal(x["target"], y["target"])


def test_training_smoke_clip_and_frame_form(tiny_synth, tmp_path):
    for name, extra in [
        ("clip", ["encoder.name=r3d_tiny"]),
        ("frame", ["encoder.name=r2d_tiny", "task.params.clip_len=1", "task.params.min_gap=0"]),
    ]:
        overrides = [*TINY_SL, *extra, f"data.root={tiny_synth}"]
        summary = smoke_pretrain("shuffle_learn", overrides, tmp_path / name)
        assert summary["chance_accuracy"] == 0.75


# Overrides of the SynthMotion run reported for this plugin (runs/synth/shuffle_learn): the VCOP demo's
# settings (r3d_tiny w16, crop 56, AdamW lr 1e-3 cosine, 20 epochs, batch 16, 48 validation videos) with
# five 8-frame positions that fit 48-frame videos.
SYNTH_SL = [
    "task.params.clip_len=8",
    "task.params.min_gap=1",
    "task.params.tau_min=0",
    "task.params.tau_max=22",
    "task.params.neg_max=9",
]


@pytest.mark.slow
def test_shuffle_learn_pretext_accuracy_climbs_above_chance(tmp_path):
    """Slow (several minutes on 2 cores): pretext accuracy on held-out SynthMotion videos beats the
    always-negative rate (0.75), and balanced accuracy beats 0.5."""
    from ssl_video.config import load_pretrain_config
    from ssl_video.datasets.synthmotion import SynthMotionConfig, generate_synthmotion
    from ssl_video.demo import demo_pretrain_overrides
    from ssl_video.engine import pretrain

    root = tmp_path / "synthmotion"
    generate_synthmotion(root, SynthMotionConfig(groups=10, clips_per_group=4), workers=2)
    demo = [o for o in demo_pretrain_overrides(root, tmp_path / "run", "full") if "interval" not in o]
    cfg = load_pretrain_config("shuffle_learn", [*demo, *SYNTH_SL, "train.progress=false"])
    summary = pretrain(cfg)
    assert summary["chance_accuracy"] == 0.75
    assert summary["val"]["acc"] > 0.8 and summary["val"]["bal_acc"] > 0.65, summary["val"]
