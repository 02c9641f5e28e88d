"""Tables rendered from the result store: statistics, bold, footer, formats and byte determinism."""

from __future__ import annotations

import csv
import io
import random

import numpy as np
import pytest
from test_results_store import make_record

from ssl_video.results.store import ResultStore
from ssl_video.results.tables import Column, build_table, default_columns, render_tables, to_latex

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
        ("aot", "r3d_tiny"),
        ("vcop", "r3d_tiny"),
        ("random_init", "r3d_tiny"),
        ("supervised", "r3d_tiny"),
    ]


def test_mean_std_match_numpy_sample_std():
    table = build_table(sample_records())
    r1 = Column("retrieval_vcop", 1, "R@1")
    cell = table.cell(("vcop", "r3d_tiny"), r1)
    values = np.array(list(VCOP.values()))
    assert cell.n == 3
    assert cell.mean == pytest.approx(values.mean())
    assert cell.std == pytest.approx(values.std(ddof=1))
    assert table.text(("vcop", "r3d_tiny"), r1) == f"{values.mean():.1f} ± {values.std(ddof=1):.1f}"
    single = table.cell(("supervised", "r3d_tiny"), r1)
    assert single.std is None and single.n == 1
    assert table.text(("supervised", "r3d_tiny"), r1) == "20.0 (n=1)"
    assert table.cell(("aot", "r3d_tiny"), Column("knn", 1, "top1")) is None


def test_statistics_do_not_depend_on_record_order():
    recs = sample_records()
    shuffled = recs[:]
    random.Random(0).shuffle(shuffled)
    assert build_table(recs).cells == build_table(shuffled).cells


def test_bold_marks_best_and_ties(tmp_path, store):
    paths = render_tables(store.records(), tmp_path / "out" / "table", title="Demo")
    md = paths["md"].read_text()
    assert "| supervised | r3d_tiny | – | **20.0 (n=1)** |" in md
    assert "**40.5 ± 0.7**" in md  # the only kNN row is the best of its column
    assert md.count("**") == 2 * 4  # one bold cell per column
    assert "\\textbf{20.0 (n=1)}" in paths["tex"].read_text()
    assert "<b>20.0 (n=1)</b>" in paths["html"].read_text()
    tie = [make_record("a", metrics={"R@1": 5.01}), make_record("b", metrics={"R@1": 4.99})]
    table = build_table(tie)
    col = Column("retrieval_vcop", 1, "R@1")
    assert table.is_best(("a", "r3d_tiny"), col) and table.is_best(("b", "r3d_tiny"), col)


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
    ]
    vcop = rows[1]
    values = np.array(list(VCOP.values()))
    assert float(vcop["retrieval_vcop@v1 R@1 mean"]) == pytest.approx(values.mean())
    assert float(vcop["retrieval_vcop@v1 R@1 std"]) == pytest.approx(values.std(ddof=1))
    assert vcop["retrieval_vcop@v1 R@1 n"] == "3"
    assert rows[3]["retrieval_vcop@v1 R@1 std"] == "" and rows[3]["retrieval_vcop@v1 R@1 n"] == "1"
    assert rows[0]["knn@v1 top1 mean"] == "" and rows[0]["knn@v1 top1 n"] == "0"


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
    vcop = curves[("retrieval_vcop", 1)][("vcop", "r3d_tiny")]
    assert [k for k, _, _ in vcop] == [1, 5, 10, 20, 50]
    values = np.array(list(VCOP.values())) * 3
    assert vcop[1][1] == pytest.approx(values.mean()) and vcop[1][2] == pytest.approx(values.std(ddof=1))


def test_refuses_mixed_datasets_hash_drift_and_empty(tmp_path):
    with pytest.raises(ValueError, match="no result records"):
        build_table([])
    # official folds of one dataset are pooled (a protocol averaging splits 1-3) and listed
    pooled = build_table([make_record(), make_record(seed=1, fold=2)])
    assert any("folds 1, 2 (pooled)" in line for line in pooled.footer)
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
