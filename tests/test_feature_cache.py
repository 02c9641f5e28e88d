"""Feature cache on real decoded SynthMotion videos: one decode per video across protocols, no
decode on a second run, identical numbers without the cache, corrupt entries detected."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssl_video.datasets import dataset_fingerprint, load_dataset
from ssl_video.encoders import create_encoder
from ssl_video.evaluation import FeatureCache, evaluate, load_protocol, run_retrieval, state_dict_hash
from ssl_video.evaluation import features as features_module

SMALL = {"num_clips": 2, "clip_len": 4, "crop": 28, "resize": None, "feature": "pool", "windows": "uniform"}


def tiny_encoder(seed=0):
    torch.manual_seed(seed)
    return create_encoder("r3d_tiny", width=8)


@pytest.fixture
def decode_counter(monkeypatch):
    """Counts videos actually opened for decoding (workers=0 keeps decoding in this process)."""
    calls = []
    original = features_module.decode_views

    def counting(path, backend, views):
        calls.append(path)
        return original(path, backend, views)

    monkeypatch.setattr(features_module, "decode_views", counting)
    return calls


def protocols():
    return [
        load_protocol("retrieval_vcop", SMALL),
        load_protocol("knn", {**SMALL, "k": 10}),
        load_protocol("linear_cached", {**SMALL, "epochs": 5}),
    ]


def run_all(encoder, root, cache):
    return [
        evaluate(p, encoder, None, "ucf101", str(root), cache=cache, num_workers=0, seed=0)
        for p in protocols()
    ]


def test_one_decode_per_video_across_protocols_and_none_on_rerun(tiny_synth, tmp_path, decode_counter):
    encoder = tiny_encoder()
    n_videos = len(load_dataset("ucf101", str(tiny_synth), split="all"))
    cache = FeatureCache(tmp_path / "cache")
    first = run_all(encoder, tiny_synth, cache)
    assert cache.stats == {"hits": 2, "misses": 1, "invalid": 0, "videos_decoded": n_videos}
    assert sorted(decode_counter) == sorted(set(decode_counter)) and len(decode_counter) == n_videos
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1  # one entry shared by all three
    for result in first:
        assert result["n_train"] + result["n_test"] == n_videos and result["failed"] == []
        full = load_dataset("ucf101", str(tiny_synth), split="all")
        assert result["dataset_fingerprint"] == dataset_fingerprint(full)
        assert len(result["protocol"]["hash"]) == 16 and result["protocol"]["settings"]["crop"] == 28
    assert set(first[0]["metrics"]) == {"R@1", "R@5", "R@10", "R@20", "R@50"}
    assert set(first[1]["metrics"]) == {"top1", "top5"}
    assert set(first[2]["metrics"]) == {"top1", "top5", "mean_class_acc"}

    decode_counter.clear()
    rerun_cache = FeatureCache(tmp_path / "cache")
    second = run_all(encoder, tiny_synth, rerun_cache)
    assert rerun_cache.stats["videos_decoded"] == 0 and rerun_cache.stats["hits"] == 3 and not decode_counter
    assert [r["metrics"] for r in second] == [r["metrics"] for r in first]

    uncached = run_all(encoder, tiny_synth, FeatureCache(tmp_path / "fresh"))
    assert [r["metrics"] for r in uncached] == [r["metrics"] for r in first]
    no_cache = run_all(encoder, tiny_synth, None)
    assert [r["metrics"] for r in no_cache] == [r["metrics"] for r in first]


def test_corrupt_or_mismatched_entries_are_recomputed(tiny_synth, tmp_path, caplog):
    encoder = tiny_encoder()
    extraction = load_protocol("knn", SMALL).extraction
    ds = load_dataset("ucf101", str(tiny_synth), split="all")
    fp = dataset_fingerprint(ds)
    cache = FeatureCache(tmp_path)
    args = (encoder, state_dict_hash(encoder), extraction, "ucf101")
    feats, ok = cache.get_or_extract(*args, ds.records, fp, num_workers=0)
    assert feats.shape[0] == len(ds.records) and feats.dtype == np.float32 and ok.all()
    (entry,) = tmp_path.glob("*.npz")

    # reversed record order: served from the cache, rows follow the request
    rev, rev_ok = cache.get_or_extract(*args, ds.records[::-1], fp, num_workers=0)
    assert cache.stats["videos_decoded"] == len(ds.records)
    np.testing.assert_array_equal(rev, feats[::-1])

    blob = bytearray(entry.read_bytes())  # flip bytes in the middle of the stored arrays
    for i in range(len(blob) // 3, len(blob) // 3 + 64):
        blob[i] ^= 0xFF
    entry.write_bytes(bytes(blob))
    again, _ = cache.get_or_extract(*args, ds.records, fp, num_workers=0)
    assert cache.stats["invalid"] == 1 and cache.stats["videos_decoded"] == 2 * len(ds.records)
    assert "discarding feature cache entry" in caplog.text
    np.testing.assert_array_equal(again, feats)

    entry.write_bytes(entry.read_bytes()[:100])  # torn file
    again, _ = cache.get_or_extract(*args, ds.records, fp, num_workers=0)
    assert cache.stats["invalid"] == 2
    np.testing.assert_array_equal(again, feats)

    # an entry for fewer videos under this key (e.g. a file copied from elsewhere) is not trusted
    with np.load(entry) as data:
        arrays = dict(data)
    np.savez(entry, **{**arrays, "features": arrays["features"][:-1]})
    again, _ = cache.get_or_extract(*args, ds.records, fp, num_workers=0)
    assert cache.stats["invalid"] == 3
    np.testing.assert_array_equal(again, feats)


def test_state_dict_hash_keys_any_encoder():
    a, b = tiny_encoder(0), tiny_encoder(1)
    assert state_dict_hash(a) == state_dict_hash(tiny_encoder(0)) != state_dict_hash(b)
    assert len(state_dict_hash(a)) == 64


def test_dense_centred_retrieval_on_real_videos(tiny_synth, tmp_path):
    """CoCLR-style dense windows (variable clip counts per video go through one batch) + centring."""
    overrides = {"clip_len": 8, "crop": 28, "resize": None}
    cache = FeatureCache(tmp_path)
    result = run_retrieval(
        tiny_encoder(), "ucf101", str(tiny_synth), load_protocol("retrieval_coclr", overrides),
        num_workers=0, cache=cache,
    )  # fmt: skip
    n_test = len(load_dataset("ucf101", str(tiny_synth), split="test"))
    assert result["n_queries"] == n_test and not result["failed_queries"] and not result["failed_gallery"]
    assert result["protocol"]["name"] == "retrieval_coclr" and result["metrics"]["R@50"] == 100.0
    assert cache.stats["misses"] == 1
