"""Per-video outcomes and chance levels in result records: encoding, the store's checks, chance formulas
against enumeration and simulation, and real evaluations whose stored outcomes average to the metric."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
import torch
from test_results_store import make_record

from ssl_video.datasets import load_dataset
from ssl_video.encoders import create_encoder
from ssl_video.evaluation import FeatureCache, evaluate, load_protocol
from ssl_video.evaluation.knn import topk_chance
from ssl_video.evaluation.retrieval import recall_chance
from ssl_video.results.outcomes import decode_hits, encode_hits, hit_rate, per_video_section, video_ids_hash
from ssl_video.results.record import make_record as record_from_evaluation
from ssl_video.results.record import random_init_info
from ssl_video.results.store import SCHEMA, ResultStore, validate_record

# ---- encoding -----------------------------------------------------------------------------------


def test_hits_round_trip_and_hit_rate():
    hits = np.array([1, 0, 0, 1, 1, 0, 1], dtype=bool)
    text = encode_hits(hits)
    assert text == "1001101" and np.array_equal(decode_hits(text), hits.astype(np.int8))
    assert hit_rate(hits) == 100.0 * (4 / 7) == hit_rate(decode_hits(text))
    assert hit_rate([]) == 0.0 and encode_hits([]) == "" and decode_hits("").size == 0
    for bad in ("10a1", "1 0", "10é", "2"):
        with pytest.raises(ValueError, match="only '0' and '1'"):
            decode_hits(bad)
    with pytest.raises(ValueError, match="0/1"):
        encode_hits([0, 2])
    section = per_video_section(["a/x.mp4", "b/y.mp4"], {"top1": np.array([True, False])})
    assert section == {
        "n": 2,
        "ids_sha256": video_ids_hash(["a/x.mp4", "b/y.mp4"]),
        "outcomes": {"top1": "10"},
    }
    assert video_ids_hash(["a", "b"]) != video_ids_hash(["b", "a"])  # the order is part of the identity
    with pytest.raises(ValueError, match="3 values for 2 test videos"):
        per_video_section(["a", "b"], {"top1": np.ones(3, bool)})


# ---- the store's checks ---------------------------------------------------------------------------


def v2_record(hits: str = "0110", metric: float | None = None, chance: float = 25.0) -> dict:
    rec = make_record(
        protocol="knn", metrics={"top1": hit_rate(decode_hits(hits)) if metric is None else metric}
    )
    rec["schema"] = SCHEMA
    rec["per_video"] = {"n": len(hits), "ids_sha256": "e" * 64, "outcomes": {"top1": hits}}
    rec["chance"] = {"top1": chance}
    return rec


def test_store_checks_per_video_outcomes_and_chance(tmp_path):
    validate_record(v2_record())
    validate_record(make_record())  # schema /1 without either: still valid
    bad = {
        "per_video.outcomes.top1": [v2_record(metric=49.0), v2_record(hits="01x0", metric=50.0)],
        "per_video": [{k: v for k, v in v2_record().items() if k != "per_video"}],
        "chance": [{k: v for k, v in v2_record().items() if k != "chance"}],
        "chance.top1": [v2_record(chance=101.0)],
        "per_video.ids_sha256": [],
        "per_video.n": [],
    }
    rec = v2_record()
    rec["per_video"]["n"] = 5  # 4 characters stored
    bad["per_video.outcomes.top1"].append(rec)
    rec = v2_record()
    rec["per_video"]["ids_sha256"] = "xyz"
    bad["per_video.ids_sha256"].append(rec)
    rec = v2_record()
    rec["per_video"]["n"] = -1
    bad["per_video.n"].append(rec)
    rec = v2_record()
    rec["per_video"]["outcomes"]["top5"] = "0000"  # no such metric
    bad["per_video.outcomes.top5"] = [rec]
    for field, records in bad.items():
        for rec in records:
            with pytest.raises(ValueError, match=f"'{field}'"):
                ResultStore(tmp_path).write(rec)
    assert list(tmp_path.iterdir()) == []


# ---- chance -------------------------------------------------------------------------------------


def enumerated_recall_chance(query_labels, gallery_labels, k) -> float:
    """100 x the fraction of all k-subsets of the gallery holding the query's class, mean over queries."""
    g = len(gallery_labels)
    subsets = list(itertools.combinations(range(g), min(k, g)))
    per_query = [
        np.mean([any(gallery_labels[i] == q for i in subset) for subset in subsets]) for q in query_labels
    ]
    return 100.0 * float(np.mean(per_query))


def test_recall_chance_equals_enumeration_of_every_draw():
    gallery = np.array([0, 0, 0, 1, 1, 2, 3])  # classes with 3, 2, 1, 1 videos; class 4 has none
    queries = np.array([0, 1, 2, 4, 0, 3])
    got = recall_chance(queries, gallery, (1, 2, 3, 5, 7, 10))
    for k in (1, 2, 3, 5, 7, 10):
        assert got[f"R@{k}"] == pytest.approx(enumerated_recall_chance(queries, gallery, k), abs=1e-12), k
    # k above the gallery: the whole gallery, every query whose class is there hits
    assert got["R@10"] == pytest.approx(100.0 * 5 / 6)
    assert recall_chance(queries, np.array([], dtype=int), (1,)) == {"R@1": 0.0}


def test_recall_chance_matches_a_simulation_at_a_realistic_size():
    rng = np.random.default_rng(0)
    gallery = rng.integers(0, 12, 300)
    queries = rng.integers(0, 12, 60)
    got = recall_chance(queries, gallery, (1, 5, 10, 50))
    trials = 4000
    for k in (1, 5, 10, 50):
        hits = [
            np.isin(queries, gallery[rng.choice(len(gallery), k, replace=False)]).mean()
            for _ in range(trials)
        ]
        mean, se = 100 * np.mean(hits), 100 * np.std(hits) / np.sqrt(trials)
        assert abs(got[f"R@{k}"] - mean) < 4 * se + 1e-9, (k, got[f"R@{k}"], mean, se)
    # far from the with-replacement approximation 1 - (1 - n_c/G)^k only when k is a sizeable part of G
    small = recall_chance(np.array([0]), np.array([0, 1, 1, 1]), (2,))["R@2"]
    assert small == pytest.approx(100 * (1 - (3 * 2) / (4 * 3))) and small != pytest.approx(
        100 * (1 - 0.75**2)
    )


def test_topk_chance_is_a_uniform_random_ranking():
    assert topk_chance((1, 5), 12) == pytest.approx({"top1": 100 / 12, "top5": 100 * 5 / 12}, abs=1e-12)
    assert topk_chance((5,), 4) == {"top5": 100.0}  # k above C: every class
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 12, 20000)
    ranks = np.argsort(rng.random((20000, 12)), axis=1)  # a uniform random ranking per video
    simulated = 100 * (ranks[:, :5] == labels[:, None]).any(1).mean()
    assert simulated == pytest.approx(100 * 5 / 12, abs=1.5)
    with pytest.raises(ValueError, match="at least one class"):
        topk_chance((1,), 0)


# ---- real evaluations -----------------------------------------------------------------------------

SMALL = {"num_clips": 2, "clip_len": 4, "crop": 28, "resize": None}


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("retrieval_vcop", {"feature": "pool"}),
        ("knn", {"k": 5}),
        ("linear_cached", {"epochs": 3}),
        ("lowshot", {"shots": [1, 2], "epochs": 3}),
        ("finetune", {"epochs": 1, "batch_size": 8}),
    ],
)
def test_records_of_a_real_evaluation_carry_outcomes_that_average_to_the_metric(
    tiny_synth, tmp_path, name, overrides
):
    protocol = load_protocol(name, {**SMALL, **overrides})
    torch.manual_seed(0)
    encoder = create_encoder("r3d_tiny", width=8)
    result = evaluate(
        protocol, encoder, None, "ucf101", str(tiny_synth), cache=FeatureCache(tmp_path / "c"), num_workers=0
    )
    record = record_from_evaluation(result, random_init_info("r3d_tiny", 0), "synth", "ucf101", {})
    validate_record(record)
    assert record["schema"] == SCHEMA
    test = load_dataset("ucf101", str(tiny_synth), split="test")
    per_video = record["per_video"]
    assert per_video["n"] == len(test.records) == record["config"]["n_test"]
    assert per_video["ids_sha256"] == video_ids_hash([r.rel_path for r in test.records])
    expected = {
        "retrieval_vcop": {"R@1", "R@5", "R@10", "R@20", "R@50"},
        "knn": {"top1", "top5"},
        "linear_cached": {"top1", "top5"},
        "lowshot": {"top1_1shot", "top1_2shot"},
        "finetune": {"top1", "top5"},
    }[name]
    assert set(per_video["outcomes"]) == set(record["chance"]) == expected
    for metric, text in per_video["outcomes"].items():
        hits = decode_hits(text)
        assert 100.0 * hits.mean() == pytest.approx(record["metrics"][metric], abs=1e-12)
        assert hit_rate(hits) == record["metrics"][metric]  # exactly: the one definition of the metric
    num_classes = len(test.classes)
    if name == "retrieval_vcop":
        train = load_dataset("ucf101", str(tiny_synth), split="train")
        want = recall_chance([r.label for r in test.records], [r.label for r in train.records], protocol.ks)
        assert record["chance"] == want
    else:
        for metric, value in record["chance"].items():
            k = 5 if metric == "top5" else 1
            assert value == pytest.approx(100 * min(k, num_classes) / num_classes)
    # the outcomes are the per-video truth: flipping one changes the hit rate, and the store refuses it
    tampered = copy.deepcopy(record)
    metric, text = next(iter(per_video["outcomes"].items()))
    tampered["per_video"]["outcomes"][metric] = ("0" if text[0] == "1" else "1") + text[1:]
    with pytest.raises(ValueError, match=f"per_video.outcomes.{metric}"):
        validate_record(tampered)
