"""Tables rendered from the result store: statistics, bold, footer, formats and byte determinism."""

from __future__ import annotations

import csv
import io
import random

import numpy as np
import pytest
from test_results_store import make_record

from ssl_video.results.outcomes import encode_hits, hit_rate
from ssl_video.results.store import SCHEMA, ResultStore, validate_record
from ssl_video.results.tables import Column, Row, build_table, default_columns, render_tables, to_latex

VCOP = {0: 6.9, 1: 8.1, 2: 7.4}
RANDOM = {0: 3.0, 1: 3.5}


def recall(r1: float) -> dict:
    return {"R@1": r1, "R@5": r1 * 3, "R@10": r1 * 4, "R@20": r1 * 5, "R@50": r1 * 6}


def sample_records() -> list[dict]:
    """Three methods on one retrieval protocol, plus a kNN protocol and a single-seed group."""
    recs = [make_record("vcop", seed=s, metrics=recall(v)) for s, v in VCOP.items()]
    recs += [make_record("random_init", seed=s, metrics=recall(v)) for s, v in RANDOM.items()]
    recs.append(make_record("supervised", seed=0, metrics=recall(20.0)))
    recs.append(make_record("aot", seed=0, metrics=recall(5.0)))
    recs += [
        make_record(
            "vcop", seed=s, protocol="knn", phash="fedcba9876543210", metrics={"top1": 40.0 + s, "top5": 70.0}
        )
        for s in (0, 1)
    ]
    return recs


@pytest.fixture
def store(tmp_path):
    store = ResultStore(tmp_path / "store")
    for rec in sample_records():
        assert store.write(rec)
    return store


def test_default_columns_per_protocol_kind():
    cols = default_columns(sample_records())
    assert cols == [
        Column("knn", 1, "top1"),
        Column("retrieval_vcop", 1, "R@1"),
        Column("retrieval_vcop", 1, "R@5"),
        Column("retrieval_vcop", 1, "R@10"),
    ]
    other = [make_record(protocol="mystery", metrics={"b10": 1.0, "a": 2.0, "b2": 3.0})]
    assert [c.metric for c in default_columns(other)] == ["a", "b2", "b10"]


def test_rows_sorted_with_baselines_last():
    table = build_table(sample_records())
    assert table.rows == [
        Row("aot", "r3d_tiny"),
        Row("vcop", "r3d_tiny"),
        Row("random_init", "r3d_tiny"),
        Row("supervised", "r3d_tiny"),
    ]
    assert [row.label for row in table.rows] == ["aot", "vcop", "random_init", "supervised"]


def test_mean_std_match_numpy_sample_std():
    table = build_table(sample_records())
    r1 = Column("retrieval_vcop", 1, "R@1")
    cell = table.cell(Row("vcop", "r3d_tiny"), r1)
    values = np.array(list(VCOP.values()))
    assert cell.n == 3
    assert cell.mean == pytest.approx(values.mean())
    assert cell.std == pytest.approx(values.std(ddof=1))
    assert table.text(Row("vcop", "r3d_tiny"), r1) == f"{values.mean():.1f} ± {values.std(ddof=1):.1f}"
    single = table.cell(Row("supervised", "r3d_tiny"), r1)
    assert single.std is None and single.n == 1
    assert table.text(Row("supervised", "r3d_tiny"), r1) == "20.0 (n=1)"
    assert table.cell(Row("aot", "r3d_tiny"), Column("knn", 1, "top1")) is None


def test_statistics_do_not_depend_on_record_order():
    recs = sample_records()
    shuffled = recs[:]
    random.Random(0).shuffle(shuffled)
    assert build_table(recs).cells == build_table(shuffled).cells


def test_old_records_render_without_intervals_or_bold_and_the_footer_says_so(tmp_path, store):
    """Schema /1 records (no per-video outcomes): differences without an interval, no mark, no bold."""
    paths = render_tables(store.records(), tmp_path / "out" / "table", title="Demo")
    md = paths["md"].read_text()
    assert "| supervised | r3d_tiny | – | 20.0 (n=1) |" in md  # the best mean, but nothing says it is better
    assert (
        "**" not in md
        and "\\textbf" not in paths["tex"].read_text()
        and "<b>" not in paths["html"].read_text()
    )
    assert "↑" not in md.split("\n- ")[0] and "↓" not in md.split("\n- ")[0]
    assert "### Difference to random init (percentage points, 95 % CI)" in md
    assert "| vcop | r3d_tiny | – | +4.2 (no CI) | +12.7 (no CI) | +16.9 (no CI) |" in md
    assert "| chance |  | – | – | – | – |" in md  # not recorded before schema /2
    assert "- 9 of 9 results have no per-video outcomes (written before schema ssl_video.result/2)" in md
    assert "(no CI): 9 of 9 differences have no interval" in md


def test_footer_names_protocols_hashes_fingerprint_and_code(tmp_path, store):
    paths = render_tables(store.records(), tmp_path / "t")
    for fmt in ("md", "tex", "html"):
        text = paths[fmt].read_text()
        assert ("retrieval\\_vcop@v1" if fmt == "tex" else "retrieval_vcop@v1") in text
        assert "0123456789abcdef" in text and "fedcba9876543210" in text
        assert "f" * 64 in text
        assert "abc123" in text and "0.1.0" in text
        assert "ddof=1" in text
    md = paths["md"].read_text()
    assert "- Protocol retrieval_vcop@v1: hash 0123456789abcdef" in md
    assert "- Protocol knn@v1: hash fedcba9876543210" in md
    assert "| Method | Encoder | knn@v1 top1 | retrieval_vcop@v1 R@1 |" in md


def test_csv_is_machine_readable(tmp_path, store):
    paths = render_tables(store.records(), tmp_path / "t")
    rows = list(csv.DictReader(io.StringIO(paths["csv"].read_text())))
    assert [(r["method"], r["encoder"]) for r in rows] == [
        ("aot", "r3d_tiny"),
        ("vcop", "r3d_tiny"),
        ("random_init", "r3d_tiny"),
        ("supervised", "r3d_tiny"),
        ("chance", ""),
    ]
    vcop = rows[1]
    values = np.array(list(VCOP.values()))
    assert float(vcop["retrieval_vcop@v1 R@1 mean"]) == pytest.approx(values.mean())
    assert float(vcop["retrieval_vcop@v1 R@1 std"]) == pytest.approx(values.std(ddof=1))
    assert vcop["retrieval_vcop@v1 R@1 n"] == "3"
    assert (vcop["retrieval_vcop@v1 R@1 seeds"], vcop["retrieval_vcop@v1 R@1 folds"]) == ("3", "1")
    assert vcop["pretrain_config_hash"] == "" and vcop["step"] == ""  # older records: neither recorded
    assert rows[3]["retrieval_vcop@v1 R@1 std"] == "" and rows[3]["retrieval_vcop@v1 R@1 n"] == "1"
    assert rows[0]["knn@v1 top1 mean"] == "" and rows[0]["knn@v1 top1 n"] == "0"
    # old records: the difference to random init, without an interval
    diff = float(vcop["retrieval_vcop@v1 R@1 diff"])
    assert diff == pytest.approx(values.mean() - np.mean(list(RANDOM.values())))
    fields = ("diff_low", "diff_high", "significance", "bold")
    assert [vcop[f"retrieval_vcop@v1 R@1 {k}"] for k in fields] == ["", "", "", ""]
    assert rows[4]["retrieval_vcop@v1 R@1 mean"] == ""  # chance: not recorded by schema /1 records


def test_html_is_static_and_self_contained(tmp_path, store):
    text = render_tables(store.records(), tmp_path / "t")["html"].read_text()
    assert text.startswith("<!DOCTYPE html>") and "<script" not in text.lower()
    assert "<link" not in text.lower() and "http" not in text.lower() and "@import" not in text


def test_latex_escapes_specials():
    recs = [make_record("my_method&co", ckpt="c0", metrics={"R@1": 1.0})]
    tex = to_latex(build_table(recs), title="50% of R_1")
    assert "my\\_method\\&co" in tex and "50\\% of R\\_1" in tex
    assert "±" not in tex and "–" not in tex


def test_explicit_columns(tmp_path, store):
    cols = [("retrieval_vcop", 1, "R@50"), Column("knn", 1, "top5")]
    paths = render_tables(store.records(), tmp_path / "t", columns=cols, plots=False)
    md = paths["md"].read_text()
    assert "| retrieval_vcop@v1 R@50 | knn@v1 top5 |" in md
    assert set(paths) == {"md", "csv", "tex", "html"}


def test_rendering_twice_is_byte_identical(tmp_path, store):
    first = render_tables(store.records(), tmp_path / "a" / "table", title="Demo")
    # the same records in another order, rendered again
    recs = list(store.records())
    random.Random(1).shuffle(recs)
    second = render_tables(recs, tmp_path / "b" / "table", title="Demo")
    assert set(first) == {"md", "csv", "tex", "html", "recall:retrieval_vcop@v1"}
    assert set(first) == set(second)
    for key in first:
        assert first[key].read_bytes() == second[key].read_bytes(), key
    png = first["recall:retrieval_vcop@v1"].read_bytes()
    assert png.startswith(b"\x89PNG") and b"Software" not in png and b"Matplotlib" not in png
    assert first["recall:retrieval_vcop@v1"].name == "table_recall_retrieval_vcop_v1.png"


def test_recall_curve_points():
    from ssl_video.results.plots import recall_curves

    curves = recall_curves(sample_records())
    assert list(curves) == [("retrieval_vcop", 1)]
    vcop = curves[("retrieval_vcop", 1)][Row("vcop", "r3d_tiny")]
    assert [k for k, _, _ in vcop] == [1, 5, 10, 20, 50]
    values = np.array(list(VCOP.values())) * 3
    assert vcop[1][1] == pytest.approx(values.mean()) and vcop[1][2] == pytest.approx(values.std(ddof=1))


def test_refuses_mixed_datasets_hash_drift_and_empty(tmp_path):
    with pytest.raises(ValueError, match="no result records"):
        build_table([])
    # official folds of one dataset are averaged (a protocol averaging splits 1-3) and listed
    pooled = build_table([make_record(), make_record(seed=1, fold=2)])
    assert any("folds 1, 2 (cells: mean over folds)" in line for line in pooled.footer)
    with pytest.raises(ValueError, match="several datasets"):
        build_table([make_record(), make_record(seed=1, dataset="hmdb51")])
    with pytest.raises(ValueError, match="without a version bump"):
        build_table([make_record(), make_record(seed=1, phash="1" * 16)])
    with pytest.raises(ValueError, match="'seed'"):
        build_table([{**make_record(), "seed": "0"}])


def test_png_ignores_user_matplotlib_settings(tmp_path):
    import matplotlib

    recs = sample_records()
    plain = render_tables(recs, tmp_path / "plain")["recall:retrieval_vcop@v1"].read_bytes()
    with matplotlib.rc_context({"lines.linewidth": 5.0, "figure.dpi": 300, "axes.grid": False}):
        styled = render_tables(recs, tmp_path / "styled")["recall:retrieval_vcop@v1"].read_bytes()
    assert plain == styled


# --------------------------------------------------------------------------------------------
# Rows are experiments, cells average seeds within a fold, then folds
# --------------------------------------------------------------------------------------------

R1 = Column("retrieval_vcop", 1, "R@1")


def run_record(
    ckpt: str,
    r1: float,
    pretrain_seed: int | None = 0,
    step: int | None = None,
    cfg: str | None = None,
    seed: int = 0,
    fold: int = 1,
    method: str = "vcop",
) -> dict:
    """A retrieval result of checkpoint ``ckpt`` (one pretraining run's file) with R@1 = ``r1``."""
    rec = make_record(method, seed=seed, ckpt=ckpt, fold=fold, metrics={"R@1": r1})
    rec["checkpoint"]["pretrain_seed"] = pretrain_seed
    if step is not None:
        rec["checkpoint"]["step"] = step
    if cfg is not None:
        rec["checkpoint"]["pretrain_config_hash"] = cfg
    return rec


def test_two_steps_of_one_run_are_two_rows_not_an_average(tmp_path):
    """The issue's case: VCOP at step 100 and at step 50,000 were averaged into 17.5 ± 17.7."""
    recs = [
        run_record("vcop-r3d_tiny-s0-step100", 5.0, step=100),
        run_record("vcop-r3d_tiny-s0-step50000", 30.0, step=50_000),
        run_record("random_init-r3d_tiny-s0", 3.0, method="random_init"),
    ]
    md = render_tables(recs, tmp_path / "t", plots=False)["md"].read_text()
    assert "17.5" not in md
    assert "| vcop (step 100) | r3d_tiny | 5.0 (n=1) |" in md
    assert "| vcop (step 50000) | r3d_tiny | 30.0 (n=1) |" in md
    assert "| random_init | r3d_tiny | 3.0 (n=1) |" in md  # one experiment: the row looks as before
    rows = list(csv.DictReader(io.StringIO((tmp_path / "t.csv").read_text())))
    assert [(r["method"], r["step"], r["retrieval_vcop@v1 R@1 mean"]) for r in rows] == [
        ("vcop", "100", "5.0"),
        ("vcop", "50000", "30.0"),
        ("random_init", "", "3.0"),
        ("chance", "", ""),
    ]


def test_different_pretraining_configs_are_separate_rows():
    cfg_a, cfg_b = "1a2b3c4d" + "0" * 8, "9f8e7d6c" + "0" * 8
    recs = [
        run_record("vcop-a-s0", 5.0, pretrain_seed=0, step=360, cfg=cfg_a),
        run_record("vcop-a-s1", 7.0, pretrain_seed=1, step=360, cfg=cfg_a),
        run_record("vcop-b-s0", 30.0, pretrain_seed=0, step=360, cfg=cfg_b),
    ]
    table = build_table(recs)
    assert [row.label for row in table.rows] == ["vcop (cfg 1a2b3c4d)", "vcop (cfg 9f8e7d6c)"]
    first, second = (table.cell(row, R1) for row in table.rows)
    assert (first.mean, first.n, second.mean, second.n) == (6.0, 2, 30.0, 1)
    # one experiment per (method, encoder): no tag, whatever its hash
    single = build_table(recs[:2])
    assert [(row.method, row.encoder, row.label) for row in single.rows] == [("vcop", "r3d_tiny", "vcop")]
    # config and step both differ: both named
    mixed = build_table([recs[0], run_record("vcop-b-s0", 30.0, step=100, cfg=cfg_b)])
    assert [row.label for row in mixed.rows] == [
        "vcop (cfg 1a2b3c4d, step 360)",
        "vcop (cfg 9f8e7d6c, step 100)",
    ]


def test_a_variant_names_its_row_and_is_an_experiment_of_its_own(tmp_path):
    """``checkpoint.variant`` is always shown after the method and keeps rows apart even with one
    config hash; cfg/step tags only tell apart experiments of the same variant."""
    cfg_a, cfg_b = "1a2b3c4d" + "0" * 8, "9f8e7d6c" + "0" * 8
    recs = [
        run_record("o3n-s0", 5.0, step=90, cfg=cfg_a, method="o3n"),
        run_record("o3n-c-s0", 9.0, step=90, cfg=cfg_a, method="o3n"),
        run_record("o3n-c2-s0", 11.0, step=90, cfg=cfg_b, method="o3n"),
    ]
    for rec in recs[1:]:
        rec["checkpoint"]["variant"] = "contrast fusion"
    for rec in recs:
        validate_record(rec)
    table = build_table(recs)
    assert [row.label for row in table.rows] == [
        "o3n",
        "o3n (contrast fusion, cfg 1a2b3c4d)",
        "o3n (contrast fusion, cfg 9f8e7d6c)",
    ]
    assert [table.cell(row, R1).mean for row in table.rows] == [5.0, 9.0, 11.0]
    alone = build_table(recs[1:2])  # a single experiment still shows its variant
    assert [row.label for row in alone.rows] == ["o3n (contrast fusion)"]
    paths = render_tables(recs[1:2], tmp_path / "t")
    assert "| o3n (contrast fusion) |" in paths["md"].read_text()
    [row] = list(csv.DictReader(io.StringIO(paths["csv"].read_text())))[:1]
    assert (row["method"], row["variant"]) == ("o3n", "contrast fusion")
    bad = dict(recs[1], checkpoint={**recs[1]["checkpoint"], "variant": ""})
    with pytest.raises(ValueError, match="checkpoint.variant"):
        validate_record(bad)


def test_two_checkpoints_with_the_same_pretraining_seed_are_refused_by_name():
    """Two files of one experiment and one pretraining seed in a cell are two runs mixed together."""
    cfg = "1a2b3c4d" * 2
    rerun = [
        run_record("vcop-run-a", 5.0, step=360, cfg=cfg),
        run_record("vcop-run-b", 30.0, step=360, cfg=cfg),
    ]
    with pytest.raises(ValueError, match=r"vcop-run-a.*vcop-run-b.*pretraining seed 0"):
        build_table(rerun)
    # older records (no config hash, no step) of two files with one seed: the same refusal
    old = [run_record("vcop-old-a", 5.0), run_record("vcop-old-b", 30.0)]
    with pytest.raises(ValueError, match=r"vcop-old-a.*vcop-old-b"):
        build_table(old)
    # the same result twice (e.g. two stores concatenated) would count one seed twice
    with pytest.raises(ValueError, match="twice"):
        build_table([old[0], old[0]])


def test_folds_mean_of_fold_means_and_pooled_seed_std_as_the_footer_says(tmp_path):
    """Folds with 2, 3 and 1 seeds: the cell is the mean of the fold means (not of all 6 numbers);
    the ± is the pooled within-fold sample std over seeds, as the footer says."""
    by_fold = {1: [10.0, 12.0], 2: [20.0, 21.0, 25.0], 3: [30.0]}
    recs = [
        run_record(f"vcop-s{s}", v, pretrain_seed=s, step=360, fold=fold)
        for fold, values in by_fold.items()
        for s, v in enumerate(values)
    ]
    random.Random(0).shuffle(recs)
    table = build_table(recs)
    cell = table.cell(table.rows[0], R1)
    fold_means = np.array([np.mean(v) for v in by_fold.values()])
    pooled = np.concatenate([np.array(v) for v in by_fold.values()])
    assert fold_means.mean() == pytest.approx(21.0) and pooled.mean() != pytest.approx(21.0)
    assert cell.mean == pytest.approx(fold_means.mean())
    ss = sum(((np.array(v) - np.mean(v)) ** 2).sum() for v in by_fold.values())
    dof = sum(len(v) - 1 for v in by_fold.values())
    assert cell.std == pytest.approx(np.sqrt(ss / dof))
    assert (cell.seeds, cell.folds, cell.n, cell.n_label) == ((2, 3, 1), 3, 6, "2+3+1")
    assert any("pooled within-fold sample std" in line and "not the spread between folds" in line
               for line in table.footer)  # fmt: skip
    assert any("folds 1, 2, 3 (cells: mean over folds)" in line for line in table.footer)
    # 2 seeds x 3 folds: n is shown as 2x3; the CSV carries mean, std, n, seeds and folds
    even = [
        run_record(f"vcop-s{s}", 10.0 * f + s * f, pretrain_seed=s, fold=f) for f in (1, 2, 3) for s in (0, 1)
    ]
    table = build_table(even)
    cell = table.cell(table.rows[0], R1)
    values = {f: np.array([10.0 * f, 11.0 * f]) for f in (1, 2, 3)}
    assert cell.mean == pytest.approx(np.mean([v.mean() for v in values.values()]))
    assert cell.std == pytest.approx(np.sqrt(np.mean([v.var(ddof=1) for v in values.values()])))
    assert cell.std != pytest.approx(np.concatenate(list(values.values())).std(ddof=1))
    assert cell.n_label == "2x3"
    paths = render_tables(even, tmp_path / "even", plots=False)
    row, chance = list(csv.DictReader(io.StringIO(paths["csv"].read_text())))
    assert chance["method"] == "chance"
    assert float(row["retrieval_vcop@v1 R@1 mean"]) == pytest.approx(cell.mean)
    assert float(row["retrieval_vcop@v1 R@1 std"]) == pytest.approx(cell.std)
    counts = [row[f"retrieval_vcop@v1 R@1 {what}"] for what in ("n", "seeds", "folds")]
    assert counts == ["6", "2", "3"]
    # one seed in each of 3 folds: no seed spread is claimed; n says 1x3
    once = build_table([run_record("vcop-s0", 10.0 * f, fold=f) for f in (1, 2, 3)])
    assert once.text(once.rows[0], R1) == "20.0 (n=1x3)"


def test_recall_curves_group_like_the_table():
    from ssl_video.results.plots import recall_curves

    recs = [
        run_record("vcop-r3d_tiny-s0-step100", 5.0, step=100),
        run_record("vcop-r3d_tiny-s0-step50000", 30.0, step=50_000),
    ]
    for rec, r5 in zip(recs, (15.0, 60.0)):
        rec["metrics"]["R@5"] = r5
    curves = recall_curves(recs)[("retrieval_vcop", 1)]
    table = build_table(recs)
    assert list(curves) == table.rows
    assert [[(k, m) for k, m, _ in points] for points in curves.values()] == [
        [(1, 5.0), (5, 15.0)],
        [(1, 30.0), (5, 60.0)],
    ]


def test_experiments_and_folds_render_byte_identically_in_any_order(tmp_path):
    recs = [
        run_record(
            f"vcop-s{s}-{step}", 1.0 + s + step / 1000 + fold, pretrain_seed=s, step=step, fold=fold, seed=e
        )
        for s in (0, 1)
        for step in (100, 2000)
        for fold in (1, 2, 3)
        for e in (0, 1)
    ]
    first = render_tables(recs, tmp_path / "a" / "t")
    random.Random(3).shuffle(recs)
    second = render_tables(recs, tmp_path / "b" / "t")
    for key in first:
        assert first[key].read_bytes() == second[key].read_bytes(), key


# --------------------------------------------------------------------------------------------
# Per-video outcomes: differences to random init with paired two-level bootstrap intervals
# --------------------------------------------------------------------------------------------

KNN = Column("knn", 1, "top1")
IDS = "c" * 64  # ids_sha256 of the test videos every record below is evaluated on


def hits_record(
    method: str,
    hits,
    pretrain_seed: int | None = 0,
    seed: int = 0,
    fold: int = 1,
    ids: str = IDS,
    chance: float = 25.0,
) -> dict:
    """A schema /2 kNN result whose top1 is the hit rate of ``hits`` (one 0/1 per test video)."""
    hits = np.asarray(hits, dtype=int)
    rec = make_record(
        method, seed=seed, ckpt=f"{method}-s{pretrain_seed}", protocol="knn", fold=fold,
        metrics={"top1": hit_rate(hits)},
    )  # fmt: skip
    rec["schema"] = SCHEMA
    rec["checkpoint"]["pretrain_seed"] = pretrain_seed
    rec["per_video"] = {"n": len(hits), "ids_sha256": ids, "outcomes": {"top1": encode_hits(hits)}}
    rec["chance"] = {"top1": chance}
    validate_record(rec)
    return rec


def draws(rng, p: float, n: int) -> np.ndarray:
    return (rng.random(n) < p).astype(int)


def naive_interval(
    method: dict, random: dict, resamples: int, rng, resample_seeds: bool = True
) -> tuple[float, float, float]:
    """An independent, loop-by-loop two-level paired bootstrap of one fold: ``method`` / ``random`` map
    a pretraining seed to the list of its results' per-video hits. Returns (low, high, sd) in %.
    ``resample_seeds=False``: the test videos only (what the table must *not* do)."""
    n = len(next(iter(method.values()))[0])
    diffs = []
    for _ in range(resamples):
        videos = rng.integers(0, n, n)
        means = []
        for side in (method, random):
            seeds = list(side)
            chosen = [seeds[i] for i in rng.integers(0, len(seeds), len(seeds))] if resample_seeds else seeds
            results = [np.asarray(h)[videos].mean() for s in chosen for h in side[s]]
            means.append(100 * np.mean(results))
        diffs.append(means[0] - means[1])
    low, high = np.percentile(diffs, [2.5, 97.5])
    return low, high, float(np.std(diffs))


def test_interval_matches_an_independent_bootstrap():
    """3 pretraining seeds x 2 evaluation seeds against a random init with 2 init seeds x 2 evaluation
    seeds, 60 test videos: the table's interval equals a naive loop implementation's up to Monte-Carlo
    error (20,000 resamples each), and its difference is the difference of the cell means."""
    rng = np.random.default_rng(0)
    method = {s: [draws(rng, 0.45 + 0.05 * s, 60) for _ in range(2)] for s in range(3)}
    random_init = {s: [draws(rng, 0.35, 60) for _ in range(2)] for s in range(2)}
    recs = [hits_record("vcop", h, s, seed=e) for s, hs in method.items() for e, h in enumerate(hs)]
    recs += [
        hits_record("random_init", h, s, seed=e) for s, hs in random_init.items() for e, h in enumerate(hs)
    ]
    table = build_table(recs, resamples=20_000)
    vcop, rand = Row("vcop", "r3d_tiny"), Row("random_init", "r3d_tiny")
    got = table.comparisons[(vcop, KNN)]
    assert got.difference == pytest.approx(table.cell(vcop, KNN).mean - table.cell(rand, KNN).mean)
    low, high, sd = naive_interval(method, random_init, 20_000, np.random.default_rng(1))
    assert sd > 3.0  # a real spread: the tolerance below is a small part of it
    assert abs(got.low - low) < 0.1 * sd and abs(got.high - high) < 0.1 * sd, (got, low, high, sd)
    # a bootstrap over the test videos alone is narrower: the seeds' spread is part of the interval
    videos_only = naive_interval(method, random_init, 20_000, np.random.default_rng(1), resample_seeds=False)
    assert videos_only[1] - videos_only[0] < (got.high - got.low) - 0.2 * sd


def test_resampled_means_equal_a_loop_over_the_drawn_results_and_videos():
    """The matrix form of one resample equals averaging the drawn results over the drawn videos, fold
    by fold (2 folds of different sizes, pretraining seeds with 1 and 3 evaluation seeds)."""
    from ssl_video.results.bootstrap import resampled_means, row_hits

    rng = np.random.default_rng(2)
    per_seed = {0: 1, 1: 3}  # evaluation seeds of each pretraining seed
    sizes = {1: 7, 2: 5}
    hits = {(f, s, e): draws(rng, 0.5, sizes[f]) for f in sizes for s in per_seed for e in range(per_seed[s])}
    recs = [hits_record("vcop", h, s, seed=e, fold=f, ids=f"{f}" * 64) for (f, s, e), h in hits.items()]
    row = row_hits(recs, "top1")
    for _ in range(20):
        seed_idx = rng.integers(0, 2, 2)
        video_idx = {f: rng.integers(0, n, n) for f, n in sizes.items()}
        seed_counts = np.bincount(seed_idx, minlength=2)[None, :].astype(float)
        video_counts = {
            (f, f"{f}" * 64, n): np.bincount(video_idx[f], minlength=n)[None, :].astype(float)
            for f, n in sizes.items()
        }
        fold_means = []
        for f in sizes:
            results = [hits[(f, s, e)][video_idx[f]].mean() for s in seed_idx for e in range(per_seed[s])]
            fold_means.append(np.mean(results))
        want = 100 * np.mean(fold_means)
        assert resampled_means(row, video_counts, seed_counts)[0] == pytest.approx(want, abs=1e-12)


def test_same_outcomes_as_random_init_is_within_noise():
    rng = np.random.default_rng(3)
    outcomes = {s: draws(rng, 0.3 + 0.1 * s, 80) for s in range(3)}
    recs = [hits_record("vcop", h, s) for s, h in outcomes.items()]
    recs += [hits_record("random_init", h, s) for s, h in outcomes.items()]
    table = build_table(recs)
    got = table.comparisons[(Row("vcop", "r3d_tiny"), KNN)]
    assert got.difference == 0.0 and got.low < 0.0 < got.high and got.mark == "" and got.note is None
    cell = table.cell(Row("vcop", "r3d_tiny"), KNN)
    assert table.text(Row("vcop", "r3d_tiny"), KNN) == f"{cell.mean:.1f} ± {cell.std:.1f}"  # no mark
    assert not table.bold


def test_clearly_better_and_clearly_worse_rows_are_marked(tmp_path):
    rng = np.random.default_rng(4)
    recs = [hits_record("vcop", draws(rng, 0.9, 100), s) for s in range(3)]
    recs += [hits_record("opn", draws(rng, 0.02, 100), s) for s in range(3)]
    recs += [hits_record("random_init", draws(rng, 0.4, 100), s) for s in range(3)]
    table = build_table(recs)
    vcop, opn = Row("vcop", "r3d_tiny"), Row("opn", "r3d_tiny")
    better, worse = table.comparisons[(vcop, KNN)], table.comparisons[(opn, KNN)]
    assert better.low > 0 and better.mark == "↑" and better.significance == "above"
    assert worse.high < 0 and worse.mark == "↓" and worse.significance == "below"
    assert table.text(vcop, KNN).endswith(" ↑") and table.text(opn, KNN).endswith(" ↓")
    assert table.is_bold(vcop, KNN)  # significantly above every other row
    paths = render_tables(recs, tmp_path / "t", plots=False)
    md = paths["md"].read_text()
    diff = table.difference_text(vcop, KNN)
    assert diff == f"{better.difference:+.1f} [{better.low:+.1f}, {better.high:+.1f}] ↑"
    assert f"| vcop | r3d_tiny | {diff} |" in md
    assert f"| vcop | r3d_tiny | **{table.text(vcop, KNN)}** |" in md
    assert "One pretraining (or init) seed" not in md  # every row has 3 seeds
    tex = paths["tex"].read_text()
    assert "$\\uparrow$" in tex and "$\\downarrow$" in tex and "↑" not in tex
    rows = {r["method"]: r for r in csv.DictReader(io.StringIO(paths["csv"].read_text()))}
    assert float(rows["vcop"]["knn@v1 top1 diff_low"]) == better.low  # full precision
    assert float(rows["vcop"]["knn@v1 top1 diff_high"]) == better.high
    assert float(rows["vcop"]["knn@v1 top1 diff"]) == better.difference
    assert (rows["vcop"]["knn@v1 top1 significance"], rows["opn"]["knn@v1 top1 significance"]) == (
        "above",
        "below",
    )
    assert (rows["vcop"]["knn@v1 top1 bold"], rows["opn"]["knn@v1 top1 bold"]) == ("1", "")
    assert rows["random_init"]["knn@v1 top1 diff"] == ""
    assert float(rows["chance"]["knn@v1 top1 mean"]) == 25.0
    assert "| chance |  | 25.0 |" in md


def test_bold_only_when_the_best_is_significantly_better_than_every_row():
    rng = np.random.default_rng(5)
    base = {s: draws(rng, 0.8, 100) for s in range(3)}
    recs = [hits_record("vcop", h, s) for s, h in base.items()]
    twin = {s: h.copy() for s, h in base.items()}
    for h in twin.values():
        h[:2] = 1 - h[:2]  # within noise of vcop
    recs += [hits_record("aot", h, s) for s, h in twin.items()]
    recs += [hits_record("random_init", draws(rng, 0.1, 100), s) for s in range(3)]
    table = build_table(recs)
    assert table.comparisons[(Row("vcop", "r3d_tiny"), KNN)].mark == "↑"
    assert table.comparisons[(Row("aot", "r3d_tiny"), KNN)].mark == "↑"
    assert not table.bold  # both far above random init, but the best is not clearly above the other


def test_intervals_need_the_same_test_videos_and_seeds_in_every_fold():
    rng = np.random.default_rng(6)
    rand = [hits_record("random_init", draws(rng, 0.3, 50), 0)]
    other = build_table(rand + [hits_record("vcop", draws(rng, 0.9, 50), 0, ids="d" * 64)])
    got = other.comparisons[(Row("vcop", "r3d_tiny"), KNN)]
    assert got.low is None and got.note == "results on other test videos than random init's"
    assert other.difference_text(Row("vcop", "r3d_tiny"), KNN).endswith(" (no CI)")
    assert any(
        "(no CI): 1 of 1 differences have no interval: 1 with results on other" in f for f in other.footer
    )
    # one pretraining seed: an interval of the test sample only, and the footer says so
    single = build_table(rand + [hits_record("vcop", draws(rng, 0.9, 50), 0)])
    assert single.comparisons[(Row("vcop", "r3d_tiny"), KNN)].low is not None
    assert any(
        "One pretraining (or init) seed in some cells of random_init, vcop" in f for f in single.footer
    )
    # seeds 0, 1 in fold 1 but only seed 0 in fold 2
    uneven = [hits_record("vcop", draws(rng, 0.9, 50), s, fold=f) for s, f in ((0, 1), (1, 1), (0, 2))]
    uneven += [hits_record("random_init", draws(rng, 0.3, 50), 0, fold=f) for f in (1, 2)]
    got = build_table(uneven).comparisons[(Row("vcop", "r3d_tiny"), KNN)]
    assert got.low is None and got.note == "pretraining seeds that differ between folds"
    # a random init row without per-video outcomes (schema /1): no interval for anyone
    old = make_record("random_init", protocol="knn", metrics={"top1": 30.0})
    got = build_table([old, hits_record("vcop", draws(rng, 0.9, 50), 0)]).comparisons[
        (Row("vcop", "r3d_tiny"), KNN)
    ]
    assert got.low is None and "per-video outcomes" in got.note


def test_rows_without_one_random_init_of_their_encoder_get_no_differences():
    rng = np.random.default_rng(8)
    none = build_table([hits_record("vcop", draws(rng, 0.5, 30), 0)])
    assert not none.comparisons and not none.difference_rows
    assert "Encoder r3d_tiny: no random_init row; its rows have no differences." in none.footer
    two = [hits_record("vcop", draws(rng, 0.5, 30), 0)]
    for cfg in ("1" * 16, "2" * 16):
        rec = hits_record("random_init", draws(rng, 0.3, 30), 0)
        rec["checkpoint"].update(pretrain_config_hash=cfg, id=f"random_init-{cfg[0]}")
        two.append(rec)
    table = build_table(two)
    assert not table.comparisons
    assert any(line.startswith("Encoder r3d_tiny: several random_init rows (random_init (cfg 11111111)")
               for line in table.footer)  # fmt: skip
    empty = build_table([hits_record("vcop", [], 0), hits_record("random_init", [], 0)])
    assert empty.comparisons[(Row("vcop", "r3d_tiny"), KNN)].note == "no test videos"


def test_significance_renders_byte_identically_in_any_order(tmp_path):
    rng = np.random.default_rng(7)
    recs = [
        hits_record(m, draws(rng, p, 40), s, seed=e, fold=f, ids=f"{f}" * 64)
        for m, p in (("vcop", 0.6), ("opn", 0.4), ("random_init", 0.35))
        for s in range(3)
        for f in (1, 2)
        for e in range(2)
    ]
    first = render_tables(recs, tmp_path / "a" / "t", plots=False)
    random.Random(5).shuffle(recs)
    second = render_tables(recs, tmp_path / "b" / "t", plots=False)
    for key in first:
        assert first[key].read_bytes() == second[key].read_bytes(), key
    # an interval does not depend on which other rows the table has
    alone = build_table([r for r in recs if r["checkpoint"]["method"] != "opn"])
    full = build_table(recs)
    assert (
        alone.comparisons[(Row("vcop", "r3d_tiny"), KNN)] == full.comparisons[(Row("vcop", "r3d_tiny"), KNN)]
    )
