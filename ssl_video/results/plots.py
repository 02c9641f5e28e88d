"""Deterministic PNG plots of stored results (matplotlib, Agg, no timestamps or version stamps).

Figures are drawn on their own Agg canvas (``matplotlib.figure.Figure``, never pyplot), so
plotting neither needs a display nor changes the process-wide backend.

The figures are drawn under matplotlib's default style (whatever the user's matplotlibrc says),
with a fixed size and dpi, and saved without the ``Software`` PNG text chunk, so the same records
give byte-identical PNGs on the same matplotlib/freetype installation.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import matplotlib.style
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ssl_video.io_utils import atomic_write_bytes
from ssl_video.results.tables import Row, cell_stats, group_records, protocol_kind

FIGSIZE = (5.0, 3.5)
DPI = 100
_RECALL = re.compile(r"^R@(\d+)$")


def figure_png(fig: Figure) -> bytes:
    """PNG bytes of ``fig`` with a fixed dpi and no metadata that varies between runs."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def recall_curves(
    records: Iterable[Mapping[str, Any]],
) -> dict[tuple[str, int], dict[Row, list[tuple[int, float, float | None]]]]:
    """For each retrieval protocol@version: per table row, ``(k, mean, std)`` sorted by k.

    Rows, means and spreads are the table's (:func:`ssl_video.results.tables.group_records` and
    :func:`~ssl_video.results.tables.cell_stats`): one curve per experiment, the mean over folds of
    each fold's mean over seeds, ± the seed spread (None without one).
    """
    values: dict[tuple[str, int], dict[Row, dict[int, dict[int, list[float]]]]] = {}
    for row, group in group_records(records).items():
        for record in group:
            proto = record["protocol"]
            if protocol_kind(proto["name"]) != "retrieval":
                continue
            ks = values.setdefault((proto["name"], proto["version"]), {}).setdefault(row, {})
            for metric, value in record["metrics"].items():
                match = _RECALL.match(metric)
                if match:
                    by_fold = ks.setdefault(int(match.group(1)), {})
                    by_fold.setdefault(record["dataset"]["fold"], []).append(float(value))
    curves = {}
    for proto_key in sorted(values):
        rows = values[proto_key]  # in table order: group_records sorts its rows
        curves[proto_key] = {
            row: [(k, *cell_stats(rows[row][k])[:2]) for k in sorted(rows[row])] for row in rows
        }
    return curves


def _draw_recall(protocol: str, version: int, curves: Mapping, title: str | None) -> Figure:
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ks: set[int] = set()
    for row, points in curves.items():
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        errs = [p[2] or 0.0 for p in points]
        ks.update(xs)
        ax.errorbar(
            xs, ys, yerr=errs, marker="o", markersize=3, capsize=2, label=f"{row.label} / {row.encoder}"
        )
    ax.set_xscale("log")
    ax.set_xticks(sorted(ks), labels=[str(k) for k in sorted(ks)])
    ax.minorticks_off()
    ax.set_xlabel("k")
    ax.set_ylabel("R@k (%)")
    ax.set_title(f"{title + ': ' if title else ''}{protocol}@v{version}", fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_recall_curves(
    records: Iterable[Mapping[str, Any]], out_stem: str | Path, title: str | None = None
) -> dict[str, Path]:
    """Write ``<out_stem>_recall_<protocol>_v<n>.png`` (x = k, y = mean R@k ± seed spread, one line per row).

    One PNG per retrieval protocol@version with R@k metrics; returns them keyed
    ``recall:<protocol>@v<n>``.
    """
    stem = Path(out_stem)
    written = {}
    with matplotlib.style.context("default"):
        for (protocol, version), curves in recall_curves(records).items():
            if not curves:
                continue
            fig = _draw_recall(protocol, version, curves, title)
            path = stem.with_name(f"{stem.name}_recall_{protocol}_v{version}.png")
            written[f"recall:{protocol}@v{version}"] = atomic_write_bytes(path, figure_png(fig))
    return written
