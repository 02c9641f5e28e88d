"""`ssl-video eval` and `ssl-video table` on real decoded videos: every video counted, provenance
recorded, results stored once, features decoded once, tables rendered from the store."""

from __future__ import annotations

import json

from conftest import TINY_VCOP

from ssl_video.cli import main
from ssl_video.datasets import dataset_fingerprint, load_dataset
from ssl_video.results import ResultStore

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
    assert record["dataset"] == {"name": "synth", "adapter": "ucf101", "fold": 1, "fingerprint": fingerprint}
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
    settings = {r["protocol"]["name"]: r["protocol"]["settings"] for r in records}
    assert settings["finetune"]["epochs"] == 1 and settings["linear_cached"]["epochs"] == 100
    assert settings["lowshot"]["shots"] == [1] and settings["knn"]["clip_len"] == 4
    draws = sorted(r["seed"] for r in records if r["protocol"]["name"] == "lowshot")
    assert draws == [0, 0, 1, 1]

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
    assert len(rows) == 2, md
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
