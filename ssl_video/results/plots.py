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
from ssl_video.results.tables import cell_stats, protocol_kind, row_sort_key

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
) -> dict[tuple[str, int], dict[tuple[str, str], list[tuple[int, float, float | None]]]]:
    """For each retrieval protocol@version: per (method, encoder) group, ``(k, mean, std)`` sorted by k.

    Means and sample stds (``ddof=1``, None for a single record) are over the group's records.
    """
    values: dict[tuple[str, int], dict[tuple[str, str], dict[int, list[float]]]] = {}
    for record in records:
        proto = record["protocol"]
        if protocol_kind(proto["name"]) != "retrieval":
            continue
        row = (record["checkpoint"]["method"], record["checkpoint"]["encoder"])
        groups = values.setdefault((proto["name"], proto["version"]), {})
        for metric, value in record["metrics"].items():
            match = _RECALL.match(metric)
            if match:
                groups.setdefault(row, {}).setdefault(int(match.group(1)), []).append(float(value))
    curves = {}
    for proto_key in sorted(values):
        groups = values[proto_key]
        curves[proto_key] = {
            row: [(k, *cell_stats(groups[row][k])[:2]) for k in sorted(groups[row])]
            for row in sorted(groups, key=row_sort_key)
        }
    return curves


def _draw_recall(protocol: str, version: int, curves: Mapping, title: str | None) -> Figure:
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ks: set[int] = set()
    for (method, encoder), points in curves.items():
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        errs = [p[2] or 0.0 for p in points]
        ks.update(xs)
        ax.errorbar(xs, ys, yerr=errs, marker="o", markersize=3, capsize=2, label=f"{method} / {encoder}")
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
    """Write ``<out_stem>_recall_<protocol>_v<n>.png`` (x = k, y = mean R@k ± std, one line per group).

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
