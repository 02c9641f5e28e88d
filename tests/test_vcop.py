"""VCOP targets: every label maps to the order it claims, and only the pixels reveal it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ssl_video.pretext import PairwiseOrderHead, create_task, permutation_label, permutation_table
from ssl_video.video import VideoMeta


def test_permutation_table_is_lexicographic():
    table = permutation_table(3)
    assert table == ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))
    assert all(permutation_label(p) == i for i, p in enumerate(table))
    assert len(permutation_table(4)) == 24


def _meta(num_frames: int) -> VideoMeta:
    return VideoMeta("x.mp4", num_frames, 16.0, num_frames / 16, 40, 40, False, None)


def _frames_encoding_index(indices: np.ndarray, size: int = 40) -> np.ndarray:
    """Frames whose every pixel holds the frame index (and a spatial ramp in channel 1 for crop checks)."""
    t = len(indices)
    frames = np.zeros((t, size, size, 3), dtype=np.uint8)
    frames[..., 0] = np.asarray(indices, dtype=np.uint8)[:, None, None]
    frames[..., 1] = np.arange(size, dtype=np.uint8)[None, :, None]  # row index
    frames[..., 2] = np.arange(size, dtype=np.uint8)[None, None, :]  # column index
    return frames


@pytest.mark.parametrize("tuple_len", [3, 4])
def test_labels_map_to_the_claimed_order(tuple_len):
    task = create_task(
        "vcop", {"clip_len": 4, "interval": 2, "tuple_len": tuple_len, "crop": 32, "resize": None}
    )
    num_frames = 60
    seen = set()
    for seed in range(400):
        rng = np.random.default_rng(seed)
        plan = task.plan(_meta(num_frames), rng)
        # clips in temporal order, clip_len consecutive frames, interval frames apart, inside the video
        starts = [int(v[0]) for v in plan.views]
        assert all(np.array_equal(v, np.arange(s, s + 4)) for v, s in zip(plan.views, starts))
        assert all(b - a == 4 + 2 for a, b in zip(starts, starts[1:]))
        assert 0 <= starts[0] and starts[-1] + 4 <= num_frames
        sample = task.make_sample([_frames_encoding_index(v) for v in plan.views], plan, rng)
        clips, label = sample["clips"], int(sample["target"])
        assert clips.shape == (tuple_len, 3, 4, 32, 32) and clips.dtype == torch.uint8
        fed_starts = [int(clips[k, 0, 0, 0, 0]) for k in range(tuple_len)]
        fed_order = tuple(starts.index(s) for s in fed_starts)
        assert fed_order == permutation_table(tuple_len)[label]
        seen.add(label)
    assert seen == set(range(math.factorial(tuple_len)))


def test_crops_are_independent_per_clip_and_of_the_label():
    task = create_task("vcop", {"clip_len": 2, "interval": 1, "crop": 24, "resize": None})
    origins_by_label: dict[int, list[tuple[int, int]]] = {}
    differing = 0
    for seed in range(600):
        rng = np.random.default_rng(seed)
        plan = task.plan(_meta(20), rng)
        sample = task.make_sample([_frames_encoding_index(v) for v in plan.views], plan, rng)
        # the top-left pixel's row/column ramps give each clip's crop origin
        origins = [(int(c[1, 0, 0, 0]), int(c[2, 0, 0, 0])) for c in sample["clips"]]
        differing += len(set(origins)) > 1
        origins_by_label.setdefault(int(sample["target"]), []).extend(origins)
    assert differing > 550  # crops are drawn per clip, not shared
    # every label sees the whole range of crop positions, with the same mean (no positional shortcut)
    means = {label: np.mean(o, axis=0) for label, o in origins_by_label.items()}
    for label, origins in origins_by_label.items():
        rows = {r for r, _ in origins}
        assert rows == set(range(0, 40 - 24 + 1)), label
        assert np.all(np.abs(means[label] - 8.0) < 1.5), (label, means[label])


def test_plan_never_leaves_the_video_and_min_frames():
    task = create_task("vcop", {})
    assert task.min_frames() == 16 * 3 + 8 * 2
    for seed in range(50):
        plan = task.plan(_meta(64), np.random.default_rng(seed))
        assert plan.union().min() == 0 and plan.union().max() == 63  # exactly one valid start at L = 64


def test_pairwise_head_shapes_and_pairs():
    head = PairwiseOrderHead(dim=16, num_elements=3, num_classes=6, hidden=8)
    assert head.pairs == [(0, 1), (0, 2), (1, 2)]
    assert head(torch.randn(5, 3, 16)).shape == (5, 6)


def test_third_party_task_from_entry_point_and_broken_plugin(monkeypatch):
    from importlib.metadata import EntryPoint

    from ssl_video.pretext import base

    eps = [
        EntryPoint("vcop_alias_test", "ssl_video.pretext.vcop:VCOP", "ssl_video.pretext"),
        EntryPoint("broken_test", "no_such_module_xyz:Task", "ssl_video.pretext"),
    ]
    monkeypatch.setattr(base.TASKS, "_discover", lambda group: eps if group == "ssl_video.pretext" else [])
    monkeypatch.setattr(base.TASKS, "_entry_points_loaded", False)
    monkeypatch.setattr(base.TASKS, "_items", dict(base.TASKS._items))
    from ssl_video.pretext.vcop import VCOP

    monkeypatch.setattr(VCOP, "name", VCOP.name)  # registering under an alias renames; restored after
    with pytest.warns(UserWarning, match="broken_test"):
        names = base.list_tasks()
    assert "vcop_alias_test" in names and "broken_test" not in names
