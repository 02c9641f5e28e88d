"""End-to-end linear probe, finetuning and low-shot protocols: views, metrics, draws, real runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssl_video.config import ConfigError
from ssl_video.datasets import load_dataset
from ssl_video.encoders import create_encoder
from ssl_video.evaluation import FeatureCache, evaluate, load_protocol
from ssl_video.evaluation.lowshot import draw_examples, draw_per_class, lowshot_metrics
from ssl_video.evaluation.protocols import FinetuneProtocol, LinearProtocol, LowshotProtocol
from ssl_video.evaluation.transfer import (
    MultiViewDataset,
    RandomClipDataset,
    spatial_crop_origins,
    view_metrics,
)
from ssl_video.video.writer import write_video

# ---- protocol objects ---------------------------------------------------------------------------


def test_new_protocols_load_and_validate():
    linear, finetune, lowshot = load_protocol("linear"), load_protocol("finetune"), load_protocol("lowshot")
    assert isinstance(linear, LinearProtocol) and linear.mode == "end_to_end"
    assert (linear.num_clips, linear.spatial_crops) == (10, 3)  # the 10 x 3 test
    assert isinstance(finetune, FinetuneProtocol) and (finetune.epochs, finetune.batch_size) == (150, 8)
    assert isinstance(lowshot, LowshotProtocol) and lowshot.shots == (1, 5, 10) and lowshot.draws == 5
    # lowshot shares the cached extraction of knn and linear_cached: one decode for all three
    assert lowshot.extraction == load_protocol("knn").extraction == load_protocol("linear_cached").extraction
    with pytest.raises(ConfigError, match="spatial_crops"):
        load_protocol("linear", {"spatial_crops": 2})
    with pytest.raises(ConfigError, match="cached"):
        load_protocol("linear_cached", {"flip": True})
    with pytest.raises(ConfigError, match="feature=pool"):
        load_protocol("finetune", {"feature": "pool5"})
    with pytest.raises(ConfigError, match="shots"):
        load_protocol("lowshot", {"shots": [], "examples": []})


# ---- views --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "h, w, crop, expected",
    [
        (128, 171, 112, [(8, 0), (8, 29), (8, 59)]),  # landscape: along the width
        (171, 128, 112, [(0, 8), (29, 8), (59, 8)]),  # portrait: along the height
        (64, 64, 56, [(4, 0), (4, 4), (4, 8)]),  # square: along the width
    ],
)
def test_three_crops_span_the_longer_side(h, w, crop, expected):
    assert spatial_crop_origins(h, w, crop, 3) == expected
    assert spatial_crop_origins(h, w, crop, 1) == [expected[1]]
    with pytest.raises(ValueError):
        spatial_crop_origins(h, w, w + 1, 1)


def index_video(path, num_frames=40, size=(48, 64)):
    """A video whose frame t is a flat grey level 5 t: the decoded pixels tell which frame a view
    came from (within codec tolerance)."""
    frames = np.zeros((num_frames, *size, 3), dtype=np.uint8)
    for t in range(num_frames):
        frames[t] = 5 * t
    write_video(path, frames, fps=16, crf=0)
    return frames


def test_multi_view_dataset_gives_clips_times_crops(tmp_path):
    from ssl_video.datasets.record import VideoRecord

    path = tmp_path / "v.mp4"
    index_video(path)
    record = VideoRecord(path=str(path), rel_path="v.mp4", label=0, split="test")
    ds = MultiViewDataset([record], "pyav", num_clips=4, clip_len=8, crop=40, resize=None, spatial_crops=3)
    views, ok = ds[0]
    assert ok and views.shape == (12, 3, 8, 40, 40) and views.dtype == torch.uint8
    # clip-major: the 3 crops of a clip show the same frames; clips start at the evenly spaced starts
    grey = views[:, 0, :, 20, 20].float() / 5  # (V, T) ~ frame index
    starts = [0, 11, 21, 32]  # multi_clip_indices(40, 4, 8)
    for c, start in enumerate(starts):
        for s in range(3):
            assert torch.allclose(grey[3 * c + s], torch.arange(start, start + 8).float(), atol=1.0)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    views, ok = MultiViewDataset(
        [VideoRecord(path=str(broken), rel_path="broken.mp4", label=0, split="test")],
        "pyav",
        4,
        8,
        40,
        None,
        3,
    )[0]
    assert not ok and views.shape == (12, 3, 8, 40, 40) and int(views.sum()) == 0


def test_random_clips_depend_only_on_seed_epoch_index(tmp_path):
    from ssl_video.datasets.record import VideoRecord

    path = tmp_path / "v.mp4"
    index_video(path)
    records = [VideoRecord(path=str(path), rel_path="v.mp4", label=3, split="train")] * 2
    ds = RandomClipDataset(records, "pyav", clip_len=8, crop=40, resize=None, flip=True, seed=5)
    a, label, ok = ds[(2, 1)]
    b, _, _ = RandomClipDataset(records, "pyav", 8, 40, None, True, 5)[(2, 1)]
    assert ok and label == 3 and a.shape == (3, 8, 40, 40) and torch.equal(a, b)
    starts = {int(round(float(ds[(e, 0)][0][0, 0, 20, 20]) / 5)) for e in range(12)}
    assert len(starts) > 3 and max(starts) <= 40 - 8  # random starts, every clip inside the video


# ---- metrics ------------------------------------------------------------------------------------


def test_view_metrics_against_direct_computation():
    rng = np.random.default_rng(0)
    n, v, c = 50, 6, 7
    probs = rng.dirichlet(np.ones(c), size=(n, v))
    labels = rng.integers(0, c, n)
    ok = np.ones(n, bool)
    ok[:5] = False
    m, hits = view_metrics(probs, labels, ok)
    view_hits = (probs.argmax(2) == labels[:, None]) & ok[:, None]
    assert m["clip_top1"] == pytest.approx(100 * view_hits.mean())
    mean = probs.mean(1)
    assert m["top1"] == pytest.approx(100 * ((mean.argmax(1) == labels) & ok).mean())
    assert np.array_equal(hits["top1"], (mean.argmax(1) == labels) & ok) and set(hits) == {"top1", "top5"}
    top5 = np.argsort(-mean, axis=1)[:, :5]
    assert m["top5"] == pytest.approx(100 * (((top5 == labels[:, None]).any(1)) & ok).mean())
    pred = mean.argmax(1)
    per_class = [((pred == labels) & ok)[labels == k].mean() for k in np.unique(labels)]
    assert m["mean_class_acc"] == pytest.approx(100 * np.mean(per_class))


def test_lowshot_draws_are_balanced_usable_and_seeded():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 200)
    usable = rng.random(200) > 0.2
    for shots in (1, 5):
        a = draw_per_class(labels, usable, shots, seed=0)
        assert usable[a].all() and len(set(a)) == 4 * shots
        assert np.bincount(labels[a], minlength=4).tolist() == [shots] * 4
        assert np.array_equal(a, draw_per_class(labels, usable, shots, seed=0))
        assert not np.array_equal(a, draw_per_class(labels, usable, shots, seed=1))
    e = draw_examples(usable, 30, seed=2)
    assert len(set(e)) == 30 and usable[e].all()
    with pytest.raises(ValueError, match="class 2 has"):
        draw_per_class(np.array([0, 0, 1, 1, 2]), np.ones(5, bool), 2, 0)
    with pytest.raises(ValueError, match="30 examples"):
        draw_examples(np.ones(10, bool), 30, 0)


def test_lowshot_one_shot_on_separable_features_and_chance_on_noise():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 32)) * 4
    y = np.repeat(np.arange(5), 40)
    x = (centres[y] + rng.normal(size=(200, 32))).astype(np.float32)
    ty = np.repeat(np.arange(5), 20)
    t = (centres[ty] + rng.normal(size=(100, 32))).astype(np.float32)
    protocol = LowshotProtocol(shots=(1, 10), examples=(50,), epochs=50)
    ones, tones = np.ones(200, bool), np.ones(100, bool)
    m, hits = lowshot_metrics(protocol, (x, y, ones), (t, ty, tones), 5, seed=0)
    assert set(m) == set(hits) == {"top1_1shot", "top1_10shot", "top1_50ex"}
    assert all(m[k] == 100.0 * (int(hits[k].sum()) / 100) for k in m)
    assert m["top1_10shot"] >= 95.0 and m["top1_1shot"] >= 80.0
    noise, _ = lowshot_metrics(protocol, (rng.normal(size=(200, 32)).astype(np.float32), y, ones),
                            (t, ty, tones), 5, seed=0)  # fmt: skip
    assert noise["top1_10shot"] <= 45.0  # chance is 20 %


# ---- real runs on SynthMotion ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["linear", "finetune"])
def test_clip_protocols_run_end_to_end_and_leave_the_encoder_alone(tiny_synth, name, tmp_path):
    overrides = {"clip_len": 4, "crop": 28, "resize": None, "num_clips": 2, "epochs": 2, "batch_size": 8}
    protocol = load_protocol(name, overrides)
    torch.manual_seed(0)
    encoder = create_encoder("r3d_tiny", width=8)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    cache = FeatureCache(tmp_path / "cache")
    result = evaluate(protocol, encoder, None, "ucf101", str(tiny_synth), cache=cache, num_workers=0, seed=0)
    assert set(result["metrics"]) == {"clip_top1", "top1", "top5", "mean_class_acc"}
    assert all(0.0 <= v <= 100.0 for v in result["metrics"].values())
    train = load_dataset("ucf101", str(tiny_synth), split="train")
    assert result["details"]["steps"] == 2 * -(-len(train.records) // 8)  # every batch, none dropped
    assert result["failed"] == [] and cache.stats["misses"] == 0  # clip protocols never use the cache
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())
    again = evaluate(protocol, encoder, None, "ucf101", str(tiny_synth), num_workers=2, seed=0)
    assert again["metrics"] == result["metrics"]  # seeded: independent of the worker count


def test_strided_clips_read_frames_frame_stride_apart(tmp_path):
    """frame_stride 5: a finetune test view and a training clip hold frames 5 apart (decoded pixels
    say which frame), and every training clip lies inside the 40-frame video (span 36)."""
    from ssl_video.datasets.record import VideoRecord

    path = tmp_path / "v.mp4"
    index_video(path)
    record = VideoRecord(path=str(path), rel_path="v.mp4", label=1, split="test")
    views, ok = MultiViewDataset([record], "pyav", 2, 8, 40, None, 1, frame_stride=5)[0]
    grey = views[:, 0, :, 20, 20].float() / 5
    assert ok and views.shape == (2, 3, 8, 40, 40)
    for row, start in zip(grey, (0, 4)):  # multi_clip_indices(40, 2, 8, 5): span 36, starts 0 and 4
        assert torch.allclose(row, start + 5 * torch.arange(8).float(), atol=1.0)
    train = RandomClipDataset([record], "pyav", 8, 40, None, False, seed=3, frame_stride=5)
    starts = set()
    for epoch in range(16):
        clip, _, ok = train[(epoch, 0)]
        frames = clip[0, :, 20, 20].float() / 5
        assert ok and torch.allclose(torch.diff(frames), torch.full((7,), 5.0), atol=1.0)
        starts.add(int(round(float(frames[0]))))
    assert len(starts) > 2 and max(starts) <= 40 - 36
