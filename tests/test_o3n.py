"""O3N targets: the target is the one and only disordered subsequence, read back from the pixels, and
nothing but that subsequence's frame order depends on the label."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import SYNTH_CPU_RUN, TINY_VCOP, assert_samples_replay, smoke_pretrain, video_meta

from ssl_video.config import ConfigError, load_pretrain_config
from ssl_video.datasets.clips import (
    collate_samples,
)
from ssl_video.datasets.synthmotion import SynthMotionConfig, generate_synthmotion
from ssl_video.engine import pretrain
from ssl_video.pretext import create_task
from ssl_video.pretext.o3n import OddOneOutHead, draw_disorder, sample_subsequence

SIZE = 40


def _frames_encoding_index(indices: np.ndarray) -> np.ndarray:
    """Channel 0 holds the frame index, channels 1/2 the row/column (the crop origin shows at (0, 0))."""
    frames = np.zeros((len(indices), SIZE, SIZE, 3), dtype=np.uint8)
    frames[..., 0] = np.asarray(indices, dtype=np.uint8)[:, None, None]
    frames[..., 1] = np.arange(SIZE, dtype=np.uint8)[None, :, None]
    frames[..., 2] = np.arange(SIZE, dtype=np.uint8)[None, None, :]
    return frames


def _sample(task, num_frames: int, seed: int):
    rng = np.random.default_rng(seed)
    plan = task.plan(video_meta(num_frames, SIZE), rng)
    return plan, task.make_sample([_frames_encoding_index(v) for v in plan.views], plan, rng)


def _fed_indices(clips: torch.Tensor) -> np.ndarray:
    """(K, 3, T, H, W) uint8 -> (K, T) frame indices as the pixels show them."""
    return clips[:, 0, :, 0, 0].numpy().astype(np.int64)


@pytest.mark.parametrize(
    "params",
    [
        {"sampler": "constrained", "clip_len": 6},  # the paper's question: 6 x 6 frames, window 9
        {"sampler": "consecutive", "clip_len": 4, "num_elements": 4},
        {"sampler": "random", "clip_len": 3, "num_elements": 5},
        {"sampler": "constrained", "clip_len": 3, "window": 5, "allow_reversal": True},
    ],
)
def test_target_is_the_one_disordered_subsequence(params):
    task = create_task("o3n", {"crop": 32, "resize": None, **params})
    k, w = task.params.num_elements, task.params.clip_len
    window = {"constrained": task.window, "consecutive": w, "random": 60}[task.params.sampler]
    targets, reversals = [], 0
    for seed in range(600):
        plan, sample = _sample(task, 60, seed)
        clips, target = sample["clips"], int(sample["target"])
        assert set(sample) == {"clips", "target"}
        assert clips.shape == (k, 3, w, 32, 32) and clips.dtype == torch.uint8
        assert sample["target"].dtype == torch.int64 and sample["target"].shape == ()
        fed = _fed_indices(clips)
        ordered = [bool(np.all(np.diff(f) > 0)) for f in fed]
        assert ordered.count(False) == 1 and not ordered[target], (seed, fed, target)
        for element, f in enumerate(fed):
            # every element (the odd one too) holds exactly the frames its sampler planned
            assert np.array_equal(np.sort(f), plan.views[element])
            assert len(set(f.tolist())) == w and f.max() - f.min() < window and f.min() >= 0 and f.max() < 60
        odd = fed[target]
        reversed_ = bool(np.all(np.diff(odd) < 0))
        assert params.get("allow_reversal", False) or not reversed_
        reversals += reversed_
        targets.append(target)
    counts = np.bincount(targets, minlength=k)
    assert counts.min() > 600 / k * 0.7, counts  # the odd position is uniform over 0..N
    if params.get("allow_reversal"):
        assert 60 < reversals < 180  # 1 of the 5 disorders of 3 frames (expected 120)


def test_nothing_but_the_odd_frame_order_depends_on_the_label():
    """Crop origins, frame spans and positions have the same distribution for the odd element as for
    the ordered ones, for every label; the planned frames do not depend on the label at all."""
    task = create_task("o3n", {"clip_len": 4, "num_elements": 4, "crop": 24, "resize": None})
    odd_stats, even_stats, starts = [], [], []
    origins_by_label: dict[int, list[tuple[int, int]]] = {}
    for seed in range(1500):
        plan, sample = _sample(task, 40, seed)
        clips, target = sample["clips"], int(sample["target"])
        # the plan is drawn before the label: re-planning with the same seed gives the same frames
        again = task.plan(video_meta(40, SIZE), np.random.default_rng(seed))
        assert all(np.array_equal(a, b) for a, b in zip(plan.views, again.views))
        fed = _fed_indices(clips)
        starts.append(fed.min(axis=1))
        for element in range(4):
            origin = (int(clips[element, 1, 0, 0, 0]), int(clips[element, 2, 0, 0, 0]))
            stats = (fed[element].min(), np.ptp(fed[element]), *origin)
            (odd_stats if element == target else even_stats).append(stats)
            origins_by_label.setdefault(target, []).append(origin)
    # one identical sampler for every position: each position's first frame has mean 17 + 0.4
    assert np.all(np.abs(np.mean(starts, axis=0) - 17.4) < 1.2), np.mean(starts, axis=0)
    odd, even = np.mean(odd_stats, axis=0), np.mean(even_stats, axis=0)
    # start frame (~U[0, 34]), span (window 6: 3..5), crop row and column (~U[0, 16]) agree
    assert np.all(np.abs(odd - even) < [1.2, 0.1, 0.6, 0.6]), (odd, even)
    odd_origins = np.array(odd_stats)[:, 2:]
    assert set(odd_origins[:, 0].tolist()) == set(odd_origins[:, 1].tolist()) == set(range(SIZE - 24 + 1))
    for label, origins in origins_by_label.items():
        assert {r for r, _ in origins} == set(range(SIZE - 24 + 1)), label
        assert np.all(np.abs(np.mean(origins, axis=0) - 8.0) < 0.6), label


def test_samplers_and_disorders():
    rng = np.random.default_rng(0)
    for _ in range(200):
        c = sample_subsequence(20, 5, "constrained", 7, rng)
        assert np.all(np.diff(c) > 0) and c[-1] - c[0] <= 6 and c[0] >= 0 and c[-1] < 20
        s = sample_subsequence(20, 5, "consecutive", 7, rng)
        assert np.array_equal(s, np.arange(s[0], s[0] + 5)) and s[-1] < 20
        r = sample_subsequence(20, 5, "random", 7, rng)
        assert np.all(np.diff(r) > 0) and r[-1] < 20
    # every start is reachable: constrained windows cover frames 0 and L - 1
    draws = np.array([sample_subsequence(10, 3, "constrained", 4, rng) for _ in range(500)])
    assert draws.min() == 0 and draws.max() == 9 and np.ptp(draws, axis=1).max() == 3
    with pytest.raises(ValueError, match="needs 7 frames"):
        sample_subsequence(6, 5, "constrained", 7, rng)
    # all 3! - 2 = 4 disorders of 3 frames appear, uniformly; never the identity or the reversal
    seen = [tuple(draw_disorder(3, rng)) for _ in range(4000)]
    counts = {p: seen.count(p) for p in set(seen)}
    assert set(counts) == {(0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1)}
    assert min(counts.values()) > 850, counts
    assert {tuple(draw_disorder(2, rng, allow_reversal=True)) for _ in range(20)} == {(1, 0)}
    with pytest.raises(ValueError, match="reversal"):
        draw_disorder(2, rng)


def test_sdf_fusion_is_the_sum_of_pairwise_differences():
    torch.manual_seed(0)
    head = OddOneOutHead(dim=8, num_elements=6, hidden=5, fusion="sdf")
    v = torch.randn(3, 6, 5)
    expected = sum(v[:, j] - v[:, i] for i in range(6) for j in range(i + 1, 6))
    assert torch.allclose(head.fuse(v), expected, atol=1e-5)
    # what every element shares cancels: identical branches fuse to zero
    assert torch.allclose(head.fuse(v[:, :1].expand(3, 6, 5)), torch.zeros(3, 5), atol=1e-5)
    assert head(torch.randn(3, 6, 8)).shape == (3, 6)
    concat = OddOneOutHead(dim=8, num_elements=6, hidden=5, fusion="concat")
    assert concat.fuse(v).shape == (3, 30) and concat(torch.randn(3, 6, 8)).shape == (3, 6)
    assert "sdf_weights" not in head.state_dict()  # a constant, not a weight
    # contrast: each element against the question mean, one shared scorer -> permutation-equivariant
    contrast = OddOneOutHead(dim=8, num_elements=6, hidden=5, fusion="contrast").eval()
    assert torch.allclose(contrast.fuse(v), v - v.mean(dim=1, keepdim=True))
    x, perm = torch.randn(3, 6, 8), torch.randperm(6)
    assert contrast(x).shape == (3, 6)
    assert torch.allclose(contrast(x)[:, perm], contrast(x[:, perm]), atol=1e-6)
    assert not torch.allclose(head.eval()(x)[:, perm], head(x[:, perm]), atol=1e-4)  # sdf is not
    with pytest.raises(ValueError, match=r"\(B, 6, D\)"):
        head(torch.randn(3, 5, 8))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"sampler": "uniform"}, "sampler"),
        ({"fusion": "sum"}, "fusion"),
        ({"clip_len": 2}, "clip_len"),
        ({"num_elements": 1}, "num_elements"),
        ({"clip_len": 6, "window": 5}, "window"),
        ({"stride": 2}, "task.params.stride"),
    ],
)
def test_bad_params_are_clear_errors(params, match):
    with pytest.raises(ConfigError, match=match):
        create_task("o3n", params)


def test_min_frames_and_defaults():
    task = create_task("o3n", {})
    assert task.params.num_elements == 6 and task.params.clip_len == 6 and task.window == 9
    assert task.min_frames() == 9 and task.chance_accuracy == pytest.approx(1 / 6)
    assert task.clips_per_sample() == 6
    assert create_task("o3n", {"sampler": "consecutive"}).min_frames() == 6
    plan = task.plan(video_meta(9, SIZE), np.random.default_rng(0))  # the shortest usable video
    assert plan.union().min() >= 0 and plan.union().max() <= 8


O3N_TINY = {"clip_len": 4, "num_elements": 4, "crop": 28, "resize": None, "hidden": 16}


def test_samples_are_determined_by_seed_epoch_and_index(tiny_synth):
    a = assert_samples_replay(tiny_synth, create_task("o3n", O3N_TINY))
    batch = collate_samples([a[(0, i)] for i in range(4)])
    assert batch["clips"].shape == (4, 4, 3, 4, 28, 28) and batch["target"].shape == (4,)


def test_pretrain_smoke(tiny_synth, tmp_path):
    params = [f"task.params.{k}={'null' if v is None else v}" for k, v in O3N_TINY.items()]
    overrides = [o for o in TINY_VCOP if not o.startswith("task.params")]
    summary = smoke_pretrain("o3n", [*overrides, *params, f"data.root={tiny_synth}"], tmp_path / "run")
    assert summary["chance_accuracy"] == pytest.approx(1 / 4)


@pytest.mark.slow
def test_o3n_pretext_accuracy_climbs_above_chance(tmp_path):
    """3 epochs (54 steps) with the permutation-equivariant ``contrast`` head. With the paper's
    ``sdf`` and ``concat`` fusions the same setup stays at chance even after 15 epochs (see the report
    of runs/synth/o3n), so this is the configuration that is known to learn at CPU scale."""
    root = tmp_path / "synthmotion"
    generate_synthmotion(root, SynthMotionConfig(groups=10, clips_per_group=4), workers=2)
    cfg = load_pretrain_config(
        "o3n",
        [
            *SYNTH_CPU_RUN,
            "task.params.resize=null",
            "task.params.fusion=contrast",
            "train.epochs=3",
            f"data.root={root}",
            f"train.out_dir={tmp_path / 'run'}",
        ],
    )
    summary = pretrain(cfg)
    assert summary["chance_accuracy"] == pytest.approx(1 / 6)
    assert summary["val"]["acc"] > 0.4, summary["val"]
