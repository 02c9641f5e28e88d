"""Nearest-neighbour search at the sizes users run (>= 2,000 x 2,000 x 512), against a NumPy float64
brute force, in the process states users have: decoders imported through ssl_video (the CLI), and a
script that imported decord before ssl_video (NVBLAS in the global symbol scope)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import ssl_video.evaluation  # noqa: F401  (imports the decoders first, as `ssl-video eval` does)
from ssl_video.blas_guard import nvblas_libraries
from ssl_video.evaluation import (
    knn_scores,
    l2_normalize,
    neighbours,
    rank_neighbours,
    recall_at_k,
    topk_accuracy,
)
from ssl_video.evaluation.neighbours import checked_matmul

KS = (1, 5, 10, 20, 50)
SPREAD = 6.0  # within-class spread: R@1 well away from chance and from 100 %


def brute_force_order(q: np.ndarray, g: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """float64 similarities of the L2-normalised float32 rows, ranked by (-sim, gallery index)."""
    sims = l2_normalize(q).astype(np.float64) @ l2_normalize(g).astype(np.float64).T
    order = np.lexsort((np.broadcast_to(np.arange(g.shape[0]), sims.shape), -sims), axis=1)[:, :depth]
    return np.take_along_axis(sims, order, 1), order


def brute_force_recall(q, ql, g, gl, ks=KS) -> dict[str, float]:
    _, order = brute_force_order(q, g, max(ks))
    hits = gl[order] == ql[:, None]
    return {f"R@{k}": 100.0 * float(hits[:, :k].any(1).mean()) for k in ks}


def brute_force_knn(train, train_labels, test, num_classes, k=200, t=0.07) -> np.ndarray:
    sims, order = brute_force_order(test, train, k)
    scores = np.zeros((len(test), num_classes))
    np.add.at(
        scores,
        (np.repeat(np.arange(len(test)), order.shape[1]), train_labels[order].ravel()),
        np.exp(sims / t).ravel(),
    )
    return scores


def clustered(rng, n, num_classes, d=512, spread=SPREAD):
    """(query (n, d), labels), (gallery (n, d), labels): class centres shared by both sets."""
    centres = rng.normal(size=(num_classes, d))

    def draw():
        labels = rng.integers(0, num_classes, n)
        return (centres[labels] + spread * rng.normal(size=(n, d))).astype(np.float32), labels

    return draw(), draw()


def test_importing_ssl_video_keeps_nvblas_out_and_faiss_and_torch_correct():
    """The old code: decord2 (imported by ssl_video) put libnvblas in the global scope, and FAISS then
    returned 0 % correct nearest neighbours at 512 x 512 x 512."""
    code = textwrap.dedent(
        """
        import numpy as np
        import ssl_video.evaluation
        from ssl_video.blas_guard import nvblas_libraries
        import faiss, torch
        assert nvblas_libraries() == [], nvblas_libraries()
        rng = np.random.default_rng(0)
        x = rng.standard_normal((512, 512)).astype(np.float32)
        q = x + 0.01 * rng.standard_normal((512, 512)).astype(np.float32)
        index = faiss.IndexFlatIP(512)
        index.add(x)
        _, top = index.search(q, 1)
        truth = (q.astype(np.float64) @ x.astype(np.float64).T).argmax(1)
        print("faiss", (top[:, 0] == truth).mean())
        print("torch", ((torch.from_numpy(q) @ torch.from_numpy(x).T).argmax(1).numpy() == truth).mean())
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "faiss 1.0" in done.stdout and "torch 1.0" in done.stdout, done.stdout + done.stderr[-2000:]
    assert "cublasXt" not in done.stdout + done.stderr


def test_search_is_exact_after_a_script_imported_decord_first():
    """A user script that imports decord before ssl_video has NVBLAS in the global scope: the search's
    self-check must keep away from it and the numbers must still equal the float64 brute force."""
    code = textwrap.dedent(
        """
        import warnings
        import decord  # first, as a user script may: NVBLAS enters the global symbol scope
        import numpy as np
        from ssl_video.blas_guard import nvblas_libraries
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from ssl_video.evaluation import knn_scores, recall_at_k, topk_accuracy
            from ssl_video.evaluation.neighbours import checked_matmul
            name, _ = checked_matmul()
        sys_path = __import__("sys").path.insert(0, {tests!r})
        from test_search_at_scale import brute_force_knn, brute_force_recall, clustered
        rng = np.random.default_rng(1)
        (q, ql), (g, gl) = clustered(rng, 2000, 20)
        got, want = recall_at_k(q, ql, g, gl, (1, 5, 10, 20, 50)), brute_force_recall(q, ql, g, gl)
        scores, ref = knn_scores(g, gl, q, 20), brute_force_knn(g, gl, q, 20)
        print("nvblas", bool(nvblas_libraries()), "matmul", name)
        print("warned", any("NVBLAS" in str(w.message) for w in caught))
        print("recall", got == want, got, want)
        print("knn", topk_accuracy(scores, ql) == topk_accuracy(ref, ql), topk_accuracy(ref, ql))
        """
    ).format(tests=str(__import__("pathlib").Path(__file__).parent))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    if "nvblas True" not in out:
        pytest.skip("this environment's decord does not load NVBLAS: nothing to guard against")
    assert "matmul numpy" in out and "warned True" in out, out
    assert "recall True" in out and "knn True" in out, out


@pytest.mark.parametrize("candidates", ["faiss", "product+topk"])
@pytest.mark.parametrize("n,num_classes", [(2000, 25), (2500, 101)])
def test_retrieval_and_knn_equal_the_float64_brute_force_at_real_sizes(
    n, num_classes, candidates, monkeypatch
):
    assert nvblas_libraries() == []
    assert neighbours.faiss_usable()  # FAISS passes its self-check in this process
    if candidates != "faiss":
        monkeypatch.setattr(neighbours, "_faiss_state", False)
    rng = np.random.default_rng(n)
    (q, ql), (g, gl) = clustered(rng, n, num_classes)
    want = brute_force_recall(q, ql, g, gl)
    assert 5 < want["R@1"] < 95  # informative: neither chance nor solved
    assert recall_at_k(q, ql, g, gl, KS) == want
    ref = brute_force_knn(g, gl, q, num_classes)
    assert topk_accuracy(knn_scores(g, gl, q, num_classes), ql) == topk_accuracy(ref, ql)


def test_near_ties_at_real_size_give_the_brute_force_order():
    """Random 512-d features: thousands of pairs closer than the float32 error bound, resolved exactly."""
    rng = np.random.default_rng(5)
    q = l2_normalize(rng.standard_normal((2000, 512)))
    g = l2_normalize(rng.standard_normal((2000, 512)))
    g[1000:1100] = g[:100]  # exact duplicates: the lower index first
    sims, idx = rank_neighbours(q, g, 50)
    want_sims, want = brute_force_order(q, g, 50)
    np.testing.assert_array_equal(idx, want)
    np.testing.assert_allclose(sims, want_sims, rtol=0, atol=3.2e-5)  # float32 error bound for d=512
    labels = rng.integers(0, 10, 2000)
    assert recall_at_k(q, labels, g, labels, KS) == brute_force_recall(q, labels, g, labels)


def test_cut_sets_equal_the_brute_force_with_ties_and_near_ties_at_every_cut():
    """Features on a coarse grid (many exact ties) plus tiny perturbations (near ties below the float32
    bound) and duplicates: with cuts, the set of the first c neighbours is the brute force's for each c."""
    rng = np.random.default_rng(11)
    base = np.round(rng.standard_normal((3000, 64)) * 2) / 2
    q = (base[:1500] + 1e-7 * rng.standard_normal((1500, 64))).astype(np.float32)
    g = (base[1500:] + 1e-7 * rng.standard_normal((1500, 64)) * (rng.random((1500, 1)) < 0.5)).astype(
        np.float32
    )
    g[700:800] = g[:100]
    cuts = (1, 5, 10, 20, 50, 200)
    _, want = brute_force_order(q, g, 200)  # normalises q and g once, as below
    q, g = l2_normalize(q), l2_normalize(g)
    for block_scores in (neighbours._BLOCK_SCORES, 1500 * 97):  # one block, and several
        neighbours._BLOCK_SCORES, saved = block_scores, neighbours._BLOCK_SCORES
        try:
            _, idx = rank_neighbours(q, g, 200, cuts=cuts)
        finally:
            neighbours._BLOCK_SCORES = saved
        for c in cuts:
            assert np.array_equal(np.sort(idx[:, :c], 1), np.sort(want[:, :c], 1)), c


def test_collapsed_and_zero_features_rank_by_gallery_index():
    rng = np.random.default_rng(6)
    same = np.tile(rng.normal(size=(1, 512)).astype(np.float32), (2000, 1))  # a collapsed encoder
    _, idx = rank_neighbours(l2_normalize(same), l2_normalize(same), 50)
    assert np.array_equal(idx, np.broadcast_to(np.arange(50), (2000, 50)))
    g = l2_normalize(rng.standard_normal((2000, 512)))
    zeros = np.zeros((300, 512), np.float32)
    sims, idx = rank_neighbours(zeros, g, 20)
    assert np.array_equal(idx, np.broadcast_to(np.arange(20), (300, 20))) and not sims.any()
    labels = rng.integers(0, 7, 2000)
    got = recall_at_k(zeros, np.full(300, labels[0]), g, labels, (1,), center=True)
    assert got == {"R@1": 100.0}


def test_non_finite_features_are_refused():
    x = np.ones((3, 4), np.float32)
    x[1, 2] = np.nan
    with pytest.raises(ValueError, match="1 query feature row"):
        rank_neighbours(x, np.ones((5, 4), np.float32), 2)


def test_self_check_skips_a_wrong_product_and_refuses_when_none_is_right():
    def garbage(a, b, out):
        out[:] = 0
        return out

    def numpy_product(a, b, out):
        return np.matmul(a, b.T, out=out)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        name, _ = checked_matmul((("garbage", garbage, False), ("numpy", numpy_product, False)))
    assert name == "numpy"
    assert any("garbage failed the self-check" in str(w.message) for w in caught)
    with pytest.raises(RuntimeError, match="refused to run.*garbage failed the self-check.*outside"):
        checked_matmul((("garbage", garbage, False),))


def test_ssl_video_eval_on_cached_features_equals_the_brute_force(tmp_path, capsys):
    """`ssl-video eval retrieval|knn` over 2,000 train / 2,000 test videos whose 512-d features are in the
    feature cache (written here as the evaluation would): the stored metrics equal the brute force."""
    import json

    import torch

    from ssl_video.cli import main
    from ssl_video.datasets import VideoDataset, dataset_fingerprint, load_dataset
    from ssl_video.datasets.fingerprint import file_digests
    from ssl_video.encoders import create_encoder
    from ssl_video.evaluation import FeatureCache, load_protocol, state_dict_hash

    rng = np.random.default_rng(9)
    num_classes, n = 20, 2000
    (q, ql), (g, gl) = clustered(rng, n, num_classes)
    root = tmp_path / "data"
    for split, labels in (("train", gl), ("test", ql)):
        for i, label in enumerate(labels):  # stand-in files: every feature comes from the cache
            path = root / split / f"class{label:02d}" / f"{split}{i:05d}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"not decoded: features are cached %d" % i)
    sets = {s: load_dataset("folder", str(root), split=s) for s in ("train", "test")}
    train, test = sets["train"], sets["test"]
    records = train.records + test.records
    combined = VideoDataset("folder", train.root, "all", None, list(train.classes), records)
    fingerprint = dataset_fingerprint(combined, file_digests(records))
    torch.manual_seed(0)
    checkpoint = state_dict_hash(create_encoder("r3d_tiny", width=8))
    by_path = {}  # the features of each file, in the order the loader lists the records
    for split, x in (("train", g), ("test", q)):
        for i, row in enumerate(x):
            by_path[f"{split}{i:05d}.mp4"] = row
    features = np.stack([by_path[r.path.rsplit("/", 1)[-1]] for r in records])
    labels = np.array([r.label for r in records])
    cache = FeatureCache(tmp_path / "cache")
    for name in ("retrieval_vcop", "knn"):
        key = cache.key(checkpoint, load_protocol(name).extraction, "folder", fingerprint)
        cache.save(cache.path(key), key, records, features, np.ones(len(records), bool))
    common = ["--random-init", "r3d_tiny", "--encoder-kwargs", "{width: 8}", "--dataset", "folder"]
    common += ["--root", str(root), "--store", str(tmp_path / "store"), "--cache", str(tmp_path / "cache")]
    for name in ("retrieval", "knn"):
        assert main(["eval", name, *common, "--out", str(tmp_path / f"{name}.json")]) == 0
    assert "'videos_decoded': 0" in capsys.readouterr().out
    n_train = len(train.records)
    gx, gy, qx, qy = features[:n_train], labels[:n_train], features[n_train:], labels[n_train:]
    retrieval = json.loads((tmp_path / "retrieval.json").read_text())["metrics"]
    assert retrieval == pytest.approx(brute_force_recall(qx, qy, gx, gy), abs=0)
    knn = json.loads((tmp_path / "knn.json").read_text())["metrics"]
    assert knn == topk_accuracy(brute_force_knn(gx, gy, qx, num_classes), qy)


def test_dense_high_dimensional_features_take_float64_scores_and_stay_exact():
    """VCOP's pool5 features (9216-d, non-negative): similarities are packed so tightly that float32
    cannot order most neighbours; the search scores such blocks in float64 and stays exact."""
    rng = np.random.default_rng(11)
    d, num_classes = 4096, 30
    centres = np.maximum(rng.normal(size=(num_classes, d)), 0)
    ql, gl = rng.integers(0, num_classes, 600), rng.integers(0, num_classes, 1500)
    q = np.maximum(0.3 * centres[ql] + rng.normal(size=(600, d)), 0).astype(np.float32)
    g = np.maximum(0.3 * centres[gl] + rng.normal(size=(1500, d)), 0).astype(np.float32)
    qn, gn = l2_normalize(q), l2_normalize(g)
    top32 = -np.sort(-(qn @ gn.T), axis=1)[:, :69]
    near = top32[:, :-1] - top32[:, 1:] <= 2 * neighbours.error_bound(qn, gn)[:, None]
    assert near.mean() > 0.25  # the premise: float32 cannot order these
    _, idx = rank_neighbours(qn, gn, 50)
    np.testing.assert_array_equal(idx, brute_force_order(q, g, 50)[1])
    assert recall_at_k(q, ql, g, gl, KS) == brute_force_recall(q, ql, g, gl)
    ref = brute_force_knn(g, gl, q, num_classes)
    assert topk_accuracy(knn_scores(g, gl, q, num_classes), ql) == topk_accuracy(ref, ql)
