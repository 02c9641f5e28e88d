"""Config loading: recipes, overrides, type checks and unknown-key errors."""

from __future__ import annotations

import pytest

from ssl_video.config import ConfigError, load_pretrain_config, parse_overrides, to_dict
from ssl_video.pretext import create_task


def test_recipe_values_and_overrides():
    cfg = load_pretrain_config("vcop", ["train.epochs=3", "task.params.clip_len=8", "optim.lr=1e-2"])
    assert cfg.task.name == "vcop"
    assert cfg.train.epochs == 3
    assert cfg.task.params["clip_len"] == 8
    assert cfg.task.params["interval"] == 8  # from the recipe
    assert cfg.optim.lr == pytest.approx(0.01)
    assert to_dict(cfg)["task"]["params"]["resize"] == [128, 171]


def test_unknown_key_names_key_and_closest():
    with pytest.raises(ConfigError) as e:
        load_pretrain_config("vcop", ["train.epoch=3"])
    assert "train.epoch" in str(e.value) and "train.epochs" in str(e.value)
    with pytest.raises(ConfigError, match="optimm"):
        load_pretrain_config("vcop", ["optimm.lr=1"])


def test_unknown_task_param_is_checked_against_the_task():
    cfg = load_pretrain_config("vcop", ["task.params.clip_lenn=8"])
    with pytest.raises(ConfigError) as e:
        create_task(cfg.task.name, cfg.task.params)
    assert "task.params.clip_lenn" in str(e.value) and "clip_len" in str(e.value)


def test_wrong_types_are_errors():
    with pytest.raises(ConfigError, match="train.epochs"):
        load_pretrain_config("vcop", ["train.epochs=many"])
    with pytest.raises(ConfigError, match="train.amp"):
        load_pretrain_config("vcop", ["train.amp=3"])
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["train.epochs"])


def test_unknown_recipe_lists_known():
    with pytest.raises(ConfigError, match="vcop"):
        load_pretrain_config("nonexistent-recipe")
