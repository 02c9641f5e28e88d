"""SynthMotion's calibration gates that need training, on the ``cpu`` preset (datasets/synthmotion.md):

* supervised training on the benchmark classes lands between 50 % and 90 % top-1 (kNN and cached
  linear probe), leaving room above and below for pretext methods;
* a random-init encoder's probes stay near chance (within 5 points, the shortcut audit's tolerance);
* supervised pretraining on the 8 disjoint transfer classes beats random init on the benchmark
  classes by more than 3 standard errors of the difference, in both probes.

Slow (24 minutes on 2 cores: two datasets of 2,400 and 1,600 videos, two 10-epoch trainings,
three checkpoints probed): run with ``pytest -m slow tests/test_synthmotion_gates.py``.
"""

from __future__ import annotations

import math

import pytest
import torch

from ssl_video.config import load_pretrain_config
from ssl_video.datasets.synthmotion import TRANSFER_CLASSES, SynthMotionConfig, generate_synthmotion
from ssl_video.encoders import create_encoder
from ssl_video.engine import load_encoder, pretrain
from ssl_video.evaluation import FeatureCache, evaluate, load_protocol

# SynthMotion's classes are defined by the whole 48-frame motion: 8 frames 6 apart span 43 of them.
CLIPS = {"clip_len": 8, "frame_stride": 6, "crop": 56, "resize": None}
PROBE = {"num_clips": 2, **CLIPS}


def supervised_cpu_overrides(root, out_dir, num_classes: int) -> list[str]:
    """The supervised baseline at the cpu budget (r3d_tiny width 16, 10 epochs: about 10 min)."""
    return [
        f"data.root={root}",
        "data.dataset=ucf101",
        "data.val_videos=0",
        f"train.out_dir={out_dir}",
        "encoder.name=r3d_tiny",
        "encoder.kwargs={width: 16}",
        f"task.params.num_classes={num_classes}",
        *(f"task.params.{k}={'null' if v is None else v}" for k, v in CLIPS.items()),
        "task.params.dropout=0.0",
        "optim.name=adamw",
        "optim.lr=0.002",
        "optim.weight_decay=0.0005",
        "optim.schedule=cosine",
        "train.epochs=10",
        "train.batch_size=16",
        "train.num_workers=2",
        "train.threads=2",
        "train.progress=false",
        "seed=0",
    ]


def probe(encoder, root, cache) -> dict[str, float]:
    """kNN and cached-linear top-1 (%) of ``encoder`` on the benchmark's split 1, and their chance."""
    out = {}
    for name in ("knn", "linear_cached"):
        result = evaluate(load_protocol(name, PROBE), encoder, None, "ucf101", str(root), cache=cache)
        out[name] = result["metrics"]["top1"]
        out[f"{name}_chance"] = result["chance"]["top1"]
        out["n_test"] = result["n_test"]
    return out


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory):
    """The cpu preset's benchmark classes (2,400 videos), its feature cache and the random-init probe."""
    base = tmp_path_factory.mktemp("gates")
    root = base / "synthmotion"
    generate_synthmotion(root, SynthMotionConfig.preset("cpu"), workers=2)
    cache = FeatureCache(base / "cache")
    torch.manual_seed(0)
    random_init = probe(create_encoder("r3d_tiny", width=16).eval(), root, cache)
    print(f"random init: {random_init}")
    return base, root, cache, random_init


def supervised_probe(base, data_root, eval_root, cache, num_classes: int, name: str) -> dict:
    cfg = load_pretrain_config("supervised", supervised_cpu_overrides(data_root, base / name, num_classes))
    pretrain(cfg)
    encoder, _ = load_encoder(base / name / "encoder.pt")
    result = probe(encoder.eval(), eval_root, cache)
    print(f"{name}: {result}")
    return result


def difference_standard_error(a: float, b: float, n: int) -> float:
    """SE (points) of the difference of two accuracies (%) on n test videos, treated as independent
    (conservative: the two are paired on the same videos)."""
    return 100 * math.sqrt((a / 100) * (1 - a / 100) / n + (b / 100) * (1 - b / 100) / n)


@pytest.mark.slow
def test_supervised_lands_between_50_and_90_and_random_init_near_chance(benchmark):
    base, root, cache, random_init = benchmark
    for name in ("knn", "linear_cached"):
        assert random_init[name] <= random_init[f"{name}_chance"] + 5.0, random_init
    supervised = supervised_probe(base, root, root, cache, 12, "supervised")
    for name in ("knn", "linear_cached"):
        assert 50.0 <= supervised[name] <= 90.0, supervised


@pytest.mark.slow
def test_supervised_pretraining_on_disjoint_classes_transfers(benchmark):
    base, root, cache, random_init = benchmark
    transfer_root = base / "transfer"
    generate_synthmotion(transfer_root, SynthMotionConfig.preset("cpu", classes=TRANSFER_CLASSES), workers=2)
    transfer = supervised_probe(base, transfer_root, root, cache, len(TRANSFER_CLASSES), "transfer")
    for name in ("knn", "linear_cached"):
        margin = 3 * difference_standard_error(transfer[name], random_init[name], transfer["n_test"])
        assert transfer[name] > random_init[name] + margin, (transfer, random_init)
