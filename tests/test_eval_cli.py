"""`ssl-video eval` and `ssl-video table` on real decoded videos: every video counted, provenance
recorded, results stored once, features decoded once, tables rendered from the store."""

from __future__ import annotations

import json

import yaml
from conftest import TINY_VCOP

from ssl_video.cli import main
from ssl_video.datasets import dataset_fingerprint, load_dataset
from ssl_video.results import ResultStore
from ssl_video.results.record import pretrain_config_hash, random_init_info

SMALL = ["num_clips=3", "clip_len=4", "crop=28", "resize=null"]


def _eval(protocol, source, root, tmp_path, *extra, overrides=()):
    return main(
        ["eval", protocol, *SMALL, *overrides, *source, "--dataset", "ucf101", "--root", str(root),
         "--name", "synth", "--workers", "0", "--store", str(tmp_path / "store"),
         "--cache", str(tmp_path / "cache"), *extra]
    )  # fmt: skip


RANDOM = ["--random-init", "r3d_tiny", "--encoder-kwargs", "{width: 8}"]
# per-protocol overrides keep the clip-training protocols and the low-shot draws tiny
ALL_SMALL = ["linear.epochs=1", "linear.batch_size=8", "finetune.epochs=1", "lowshot.shots=[1]",
             "lowshot.draws=2", "lowshot.epochs=5"]  # fmt: skip


def test_retrieval_counts_every_video_and_records_provenance(tiny_synth, tmp_path):
    out = tmp_path / "random.json"
    assert (
        _eval("retrieval", RANDOM, tiny_synth, tmp_path, "--out", str(out), overrides=["feature=pool5"]) == 0
    )
    record = json.loads(out.read_text())
    n_test = len(load_dataset("ucf101", str(tiny_synth), split="test"))
    n_train = len(load_dataset("ucf101", str(tiny_synth), split="train"))
    assert record["config"]["n_test"] == n_test and record["config"]["n_train"] == n_train
    assert record["protocol"]["name"] == "retrieval_vcop" and len(record["protocol"]["hash"]) == 16
    assert record["protocol"]["settings"]["feature"] == "pool5"
    fingerprint = dataset_fingerprint(load_dataset("ucf101", str(tiny_synth), split="all"))
    splits = {
        s: dataset_fingerprint(load_dataset("ucf101", str(tiny_synth), split=s)) for s in ("train", "test")
    }
    assert splits["train"] != splits["test"] != fingerprint
    assert record["dataset"] == {
        "name": "synth",
        "adapter": "ucf101",
        "fold": 1,
        "fingerprint": fingerprint,
        "fingerprints": splits,
    }
    assert record["checkpoint"]["method"] == "random_init" and record["checkpoint"]["sha256"] is None
    assert set(record["metrics"]) == {"R@1", "R@5", "R@10", "R@20", "R@50"}
    # with a gallery smaller than 50, R@50 ranks the whole gallery: every query's class is there
    assert record["metrics"]["R@50"] == 100.0


def test_eval_all_then_table_and_nothing_twice(tiny_synth, tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "pretrain",
                "vcop",
                *TINY_VCOP,
                f"data.root={tiny_synth}",
                f"train.out_dir={run}",
                "train.max_steps=2",
            ]
        )
        == 0
    )
    pretrained = ["--checkpoint", str(run / "encoder.pt")]
    # one command, both encoders, every protocol
    assert _eval("all", [*pretrained, *RANDOM], tiny_synth, tmp_path, overrides=ALL_SMALL) == 0
    store = ResultStore(tmp_path / "store")
    records = list(store.records("synth"))
    protocols = {r["protocol"]["name"] for r in records}
    assert protocols == {
        "retrieval_vcop", "retrieval_coclr", "knn", "linear_cached", "linear", "finetune", "lowshot"
    }  # fmt: skip
    # deterministic protocols once; stochastic ones once per seed; lowshot once per draw (2)
    assert len(records) == 2 * 8
    vcop = next(r for r in records if r["checkpoint"]["method"] == "vcop")
    assert len(vcop["checkpoint"]["sha256"]) == 64 and not vcop["config"]["failed"]
    # each checkpoint names its experiment: the pretraining config (no seed, no paths) or, for the
    # random init, its architecture with its kwargs
    rand = next(r for r in records if r["checkpoint"]["method"] == "random_init")
    assert vcop["checkpoint"]["pretrain_config_hash"] == pretrain_config_hash(
        yaml.safe_load((run / "config.yaml").read_text()),
        dataset_fingerprint(load_dataset("ucf101", str(tiny_synth), split="train", fold=1)),
    )
    assert (
        rand["checkpoint"]["pretrain_config_hash"]
        == random_init_info("r3d_tiny", 0, {"width": 8}).pretrain_config_hash
    )
    settings = {r["protocol"]["name"]: r["protocol"]["settings"] for r in records}
    assert settings["finetune"]["epochs"] == 1 and settings["linear_cached"]["epochs"] == 100
    assert settings["lowshot"]["shots"] == [1] and settings["knn"]["clip_len"] == 4
    draws = sorted(r["seed"] for r in records if r["protocol"]["name"] == "lowshot")
    assert draws == [0, 0, 1, 1]
    # every record carries each test video's hit for its per-video metrics, and their rate is the metric
    for r in records:
        outcomes = r["per_video"]["outcomes"]
        assert r["per_video"]["n"] == r["config"]["n_test"] and set(r["chance"]) == set(outcomes)
        for metric, text in outcomes.items():
            rate = 100.0 * (text.count("1") / len(text))
            assert rate == r["metrics"][metric], (r["protocol"]["name"], metric)

    # a second run finds every result in the store: nothing is evaluated or decoded again
    mtimes = {p: p.stat().st_mtime_ns for p in store.paths()}
    capsys.readouterr()
    assert _eval("all", pretrained, tiny_synth, tmp_path, overrides=ALL_SMALL) == 0
    out = capsys.readouterr().out
    assert out.count("already stored") == 8 and "'videos_decoded': 0" in out
    assert {p: p.stat().st_mtime_ns for p in store.paths()} == mtimes

    stem = tmp_path / "tables" / "synth"
    assert main(["table", "--store", str(tmp_path / "store"), "--dataset", "synth", "--out", str(stem)]) == 0
    md = stem.with_suffix(".md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| vcop") or line.startswith("| random_init")]
    assert len(rows) == 3, md  # vcop, random init, and vcop's row of differences to random init
    assert "### Difference to random init" in md and "(no CI)" not in md and "| chance |" in md
    for suffix in (".csv", ".tex", ".html"):
        assert stem.with_suffix(suffix).exists()


def test_protocol_folds_store_one_result_per_official_split(tiny_synth, tmp_path):
    assert _eval("knn", RANDOM, tiny_synth, tmp_path, overrides=["folds=[1,2]", "k=5"]) == 0
    records = sorted(ResultStore(tmp_path / "store").records("synth"), key=lambda r: r["dataset"]["fold"])
    assert [r["dataset"]["fold"] for r in records] == [1, 2]
    assert records[0]["dataset"]["fingerprint"] != records[1]["dataset"]["fingerprint"]
    # --fold narrows the protocol's folds to one; the stored fold-1 result is reused
    assert _eval("knn", RANDOM, tiny_synth, tmp_path, "--fold", "1", overrides=["folds=[1,2]", "k=5"]) == 0
    assert len(list(ResultStore(tmp_path / "store").records("synth"))) == 2


def test_a_result_stored_meanwhile_by_another_run_is_kept_and_reported(
    tiny_synth, tmp_path, monkeypatch, capsys
):
    """Two runs of one evaluation at once (bench arrays, `eval all` in several jobs): both find the
    store empty; the one that finishes second must not replace the other's result, and says so."""
    import ssl_video.evaluation as evaluation

    real_evaluate, stored = evaluation.evaluate, {}

    def evaluate_while_another_run_finishes(*args, **kwargs):
        result = real_evaluate(*args, **kwargs)
        if not stored:  # the other run, start to end, between this run's check and its write
            stored["run"] = "other"
            assert _eval("knn", RANDOM, tiny_synth, tmp_path, overrides=["k=5"]) == 0
            (path,) = ResultStore(tmp_path / "store").paths()
            stored["bytes"] = path.read_bytes()
        return result

    monkeypatch.setattr(evaluation, "evaluate", evaluate_while_another_run_finishes)
    assert _eval("knn", RANDOM, tiny_synth, tmp_path, overrides=["k=5"]) == 0
    out = capsys.readouterr().out.splitlines()
    (path,) = ResultStore(tmp_path / "store").paths()
    assert path.read_bytes() == stored["bytes"]
    kept = [line for line in out if "stored meanwhile by another run" in line]
    assert len(kept) == 1 and "use --force to replace it" in kept[0], out
