"""What a result record says about its checkpoint: the experiment identity (pretrain_config_hash)."""

from __future__ import annotations

import copy

import pytest

from ssl_video.config import PretrainConfig, to_dict
from ssl_video.encoders import create_encoder
from ssl_video.engine import export_encoder, load_encoder
from ssl_video.engine.checkpoint import CHECKPOINT_FORMAT, atomic_torch_save
from ssl_video.results.record import (
    RUN_FIELDS,
    checkpoint_info_from_export,
    make_record,
    pretrain_config_hash,
    random_init_info,
)
from ssl_video.results.store import validate_record

FINGERPRINT = "f" * 64


def resolved(**changes) -> dict:
    """The resolved default pretraining config with dotted ``changes`` applied."""
    config = to_dict(PretrainConfig())
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = config
        for part in parents:
            node = node[part]
        node[last] = value
    return config


def test_seed_and_run_location_fields_do_not_change_the_experiment():
    base = pretrain_config_hash(resolved(), FINGERPRINT)
    assert len(base) == 16 and int(base, 16) >= 0
    same = [
        resolved(seed=1),
        resolved(train__out_dir="/somewhere/else"),
        resolved(train__num_workers=7),
        resolved(train__threads=8),
        resolved(train__device="cuda"),
        resolved(train__checkpoint_every=5),
        resolved(train__log_every=1),
        resolved(train__progress=False),
        resolved(data__root="/mnt/copy/of/the/data"),
        resolved(data__guard_root="/mnt/guard"),
    ]
    for config in same:
        assert pretrain_config_hash(config, FINGERPRINT) == base, config
    # every excluded field is named, and exists in the config
    for dotted in RUN_FIELDS:
        node = resolved()
        for part in dotted.split("."):
            node = node[part]


def test_what_is_learned_changes_the_experiment():
    base = pretrain_config_hash(resolved(), FINGERPRINT)
    different = {
        "lr": pretrain_config_hash(resolved(optim__lr=0.5), FINGERPRINT),
        "task": pretrain_config_hash(resolved(task__params={"interval": 4}), FINGERPRINT),
        "encoder": pretrain_config_hash(resolved(encoder__kwargs={"width": 16}), FINGERPRINT),
        "epochs": pretrain_config_hash(resolved(train__epochs=20), FINGERPRINT),
        "dataset": pretrain_config_hash(resolved(data__dataset="hmdb51"), FINGERPRINT),
        "data": pretrain_config_hash(resolved(), "e" * 64),
    }
    assert len({base, *different.values()}) == 1 + len(different), different
    # without a data fingerprint the data root stands for the data
    assert pretrain_config_hash(resolved(), None) != pretrain_config_hash(resolved(data__root="x"), None)


def test_hash_does_not_modify_the_config_and_is_order_independent():
    config = resolved()
    before = copy.deepcopy(config)
    reordered = dict(reversed(list(config.items())))
    assert pretrain_config_hash(config, FINGERPRINT) == pretrain_config_hash(reordered, FINGERPRINT)
    assert config == before


def _export(tmp_path, name, seed=0, **changes):
    config = resolved(seed=seed, encoder__name="r3d_tiny", encoder__kwargs={"width": 8}, **changes)
    encoder = create_encoder("r3d_tiny", width=8)
    info = {"task": "vcop", "step": 12, "config": config, "data_fingerprint": FINGERPRINT, "version": "0"}
    return export_encoder(tmp_path / name, encoder, "r3d_tiny", {"width": 8}, info), config


def test_checkpoint_info_from_a_real_export_carries_the_hash(tmp_path):
    path, config = _export(tmp_path, "s0.pt", seed=0, train__out_dir=str(tmp_path / "run0"))
    other, _ = _export(tmp_path, "s1.pt", seed=1, train__out_dir=str(tmp_path / "run1"))
    info0 = checkpoint_info_from_export(path, load_encoder(path)[1], "a" * 64)
    info1 = checkpoint_info_from_export(other, load_encoder(other)[1], "b" * 64)
    assert info0.pretrain_config_hash == pretrain_config_hash(config, FINGERPRINT)
    assert info0.pretrain_config_hash == info1.pretrain_config_hash  # two seeds, one experiment
    assert (info0.step, info0.pretrain_seed, info1.pretrain_seed) == (12, 0, 1)
    assert info0.as_dict()["pretrain_config_hash"] == info0.pretrain_config_hash
    validate_record(make_record(evaluation_output(), info0, "synth", "ucf101", {}))


def test_training_checkpoint_has_the_same_experiment_as_its_export(tmp_path):
    """Evaluating a training checkpoint (e.g. an early step) names its task and experiment."""
    path, config = _export(tmp_path, "encoder.pt")
    export = load_encoder(path)[1]
    model = {f"encoder.{k}": v for k, v in export["state_dict"].items()}
    ckpt = atomic_torch_save(
        {
            "format": CHECKPOINT_FORMAT,
            "step": 3,
            "model": model,
            "config": config,
            "data_fingerprint": FINGERPRINT,
        },
        tmp_path / "last.pt",
    )
    info = checkpoint_info_from_export(ckpt, load_encoder(ckpt)[1], "c" * 64)
    assert (info.method, info.step, info.pretrain_seed) == ("vcop", 3, 0)
    assert info.pretrain_config_hash == pretrain_config_hash(config, FINGERPRINT)


def test_export_without_a_config_has_no_hash(tmp_path):
    encoder = create_encoder("r3d_tiny", width=8)
    path = export_encoder(
        tmp_path / "bare.pt", encoder, "r3d_tiny", {"width": 8}, {"task": "vcop", "step": 1}
    )
    info = checkpoint_info_from_export(path, load_encoder(path)[1], "d" * 64)
    assert info.pretrain_config_hash is None and "pretrain_config_hash" not in info.as_dict()


def test_random_init_is_an_experiment_of_its_encoder():
    a0, a1 = random_init_info("r3d_tiny", 0, {"width": 16}), random_init_info("r3d_tiny", 1, {"width": 16})
    assert a0.pretrain_config_hash == a1.pretrain_config_hash and len(a0.pretrain_config_hash) == 16
    assert random_init_info("r3d_tiny", 0, {"width": 8}).pretrain_config_hash != a0.pretrain_config_hash
    assert (
        random_init_info("r3d_tiny", 0).pretrain_config_hash
        == random_init_info("r3d_tiny", 0, {}).pretrain_config_hash
    )
    assert (
        random_init_info("r3d_10", 0).pretrain_config_hash
        != random_init_info("r3d_tiny", 0).pretrain_config_hash
    )
    with pytest.raises(TypeError):
        random_init_info("r3d_tiny", 0, ["width", 16])


def test_paths_under_the_working_directory_are_stored_relative(tmp_path, monkeypatch):
    """A record committed with a repository names no machine folder: the checkpoint's path and the
    failed videos' paths under the working directory become relative; others stay as given."""
    from ssl_video.results.record import CheckpointInfo, portable_path

    monkeypatch.chdir(tmp_path)
    inside = tmp_path / "runs" / "bench" / "encoder.pt"
    assert portable_path(inside) == "runs/bench/encoder.pt"
    assert portable_path("runs/x.pt") == "runs/x.pt"
    assert portable_path("/elsewhere/x.pt") == "/elsewhere/x.pt"
    evaluation = evaluation_output(failed=[str(tmp_path / "data" / "a.mp4")])
    info = CheckpointInfo(id="c", method="vcop", encoder="r3d_tiny", path=str(inside), sha256="a" * 64)
    record = make_record(evaluation, info, "synth", "ucf101", {})
    validate_record(record)
    assert record["checkpoint"]["path"] == "runs/bench/encoder.pt"
    assert record["config"]["failed"] == ["data/a.mp4"]


def evaluation_output(failed=()) -> dict:
    """A minimal ``evaluate`` output: one test video, kNN top1."""
    return {
        "protocol": {"name": "knn", "version": 1, "hash": "0" * 16, "settings": {}},
        "dataset": {"fold": 1},
        "dataset_fingerprint": FINGERPRINT,
        "seed": 0,
        "metrics": {"top1": 100.0},
        "per_video": {"n": 1, "ids_sha256": "e" * 64, "outcomes": {"top1": "1"}},
        "chance": {"top1": 25.0},
        "n_train": 1,
        "n_test": 1,
        "failed": list(failed),
        "checkpoint_hash": "a" * 64,
        "seconds": 0.1,
    }
