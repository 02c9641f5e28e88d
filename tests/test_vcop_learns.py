"""VCOP's pretext accuracy on held-out SynthMotion videos climbs far above chance (1/6).

Slow (about 4 minutes on 2 cores): run with `make test-all` or `pytest -m slow`."""

from __future__ import annotations

import pytest

from ssl_video.config import load_pretrain_config
from ssl_video.datasets.synthmotion import SynthMotionConfig, generate_synthmotion
from ssl_video.demo import demo_pretrain_overrides
from ssl_video.engine import pretrain


@pytest.mark.slow
def test_vcop_pretext_accuracy_climbs_well_above_chance(tmp_path):
    root = tmp_path / "synthmotion"
    generate_synthmotion(root, SynthMotionConfig(groups=10, clips_per_group=4), workers=2)
    cfg = load_pretrain_config(
        "vcop", [*demo_pretrain_overrides(root, tmp_path / "run", "full"), "train.progress=false"]
    )
    summary = pretrain(cfg)
    assert summary["chance_accuracy"] == pytest.approx(1 / 6)
    assert summary["val"]["acc"] > 0.5, summary["val"]
