"""Tables rendered from stored results: Markdown, CSV, LaTeX, HTML and PNG plots.

Nobody types numbers: every table is built from result records (see
:mod:`ssl_video.results.store`) and the same records always give byte-identical files.

Conventions (also printed in every table's footer):

* Rows are (method, encoder) groups, sorted by method then encoder, with the baselines last in
  the fixed order of :data:`BASELINE_ORDER` (``random_init``, then ``supervised``).
* Columns are (protocol, version, metric). By default the metrics of each protocol come from its
  *kind*, the first ``_``-separated word of its name (``retrieval_vcop`` is a retrieval protocol):
  see :data:`DEFAULT_METRICS`; a protocol of another kind, or one with none of its defaults, shows
  all its metrics.
* A cell is the mean ± the sample standard deviation (``ddof=1``) over all records of the group
  for that column (seeds, pretraining seeds, draws). A cell with a single record shows the mean
  followed by ``(n=1)``: no spread is claimed from one number. The CSV carries mean, std and n of
  every cell at full precision.
* Higher is better for every metric: the best mean per column, compared as displayed (rounded),
  is bold; ties are all bold.
* All records must come from one dataset (several official folds are pooled: a protocol that says
  "all three splits averaged" stores one record per fold, and its cells average them; the footer
  lists the folds), and each protocol@version from one protocol
  hash (settings changed without a version bump are an error, not an average).
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ssl_video.io_utils import atomic_write_text
from ssl_video.results.store import validate_record

BASELINE_ORDER: tuple[str, ...] = ("random_init", "supervised")
DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "retrieval": ("R@1", "R@5", "R@10"),
    "knn": ("top1",),
    "linear": ("top1",),
    "finetune": ("top1",),
}
MISSING = "–"


class Column(NamedTuple):
    """One table column: a metric of one protocol version."""

    protocol: str
    version: int
    metric: str

    @property
    def label(self) -> str:
        """Header text, e.g. ``retrieval_vcop@v1 R@1``."""
        return f"{self.protocol}@v{self.version} {self.metric}"


class Cell(NamedTuple):
    """Statistics of one (row group, column): mean, sample std (None when n == 1) and count."""

    mean: float
    std: float | None
    n: int


@dataclass
class Table:
    """A rendered-format-independent table: rows, columns, cells, bold marks and footer lines."""

    rows: list[tuple[str, str]]
    columns: list[Column]
    cells: dict[tuple[tuple[str, str], Column], Cell]
    decimals: int
    footer: list[str] = field(default_factory=list)

    def cell(self, row: tuple[str, str], column: Column) -> Cell | None:
        """The cell at (row, column), or None when the group has no record for the column."""
        return self.cells.get((row, column))

    def is_best(self, row: tuple[str, str], column: Column) -> bool:
        """Whether this cell's displayed mean is the best (highest) displayed mean of its column."""
        cell = self.cell(row, column)
        if cell is None:
            return False
        shown = [self._rounded(c.mean) for r in self.rows if (c := self.cell(r, column)) is not None]
        return self._rounded(cell.mean) == max(shown)

    def _rounded(self, value: float) -> float:
        return float(f"{value:.{self.decimals}f}")

    def text(self, row: tuple[str, str], column: Column, pm: str = "±") -> str:
        """The cell as text (no bold): ``m ± s``, ``m (n=1)`` or :data:`MISSING`."""
        cell = self.cell(row, column)
        if cell is None:
            return MISSING
        mean = f"{cell.mean:.{self.decimals}f}"
        if cell.std is None:
            return f"{mean} (n={cell.n})"
        return f"{mean} {pm} {cell.std:.{self.decimals}f}"


# --------------------------------------------------------------------------------------------
# Building the table
# --------------------------------------------------------------------------------------------


def protocol_kind(name: str) -> str:
    """The kind of a protocol: the first ``_``-separated word of its name."""
    return name.split("_", 1)[0]


def _metric_sort_key(name: str) -> tuple:
    """Natural order: ``R@2`` before ``R@10``."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name))


def default_columns(records: Iterable[Mapping[str, Any]]) -> list[Column]:
    """One column per (protocol, version, metric) of the default selection, sorted by protocol."""
    present: dict[tuple[str, int], set[str]] = {}
    for record in records:
        proto = record["protocol"]
        present.setdefault((proto["name"], proto["version"]), set()).update(record["metrics"])
    columns = []
    for (name, version), metrics in sorted(present.items()):
        wanted = [m for m in DEFAULT_METRICS.get(protocol_kind(name), ()) if m in metrics]
        chosen = wanted or sorted(metrics, key=_metric_sort_key)
        columns.extend(Column(name, version, m) for m in chosen)
    return columns


def row_sort_key(row: tuple[str, str]) -> tuple:
    """Methods alphabetically, then the baselines in :data:`BASELINE_ORDER`; encoder breaks ties."""
    method, encoder = row
    rank = BASELINE_ORDER.index(method) + 1 if method in BASELINE_ORDER else 0
    return (rank, method, encoder)


def cell_stats(values: list[float]) -> Cell:
    """Mean and sample std of ``values``; summed in sorted order so input order cannot change a bit."""
    arr = np.array(sorted(values), dtype=np.float64)
    std = float(np.std(arr, ddof=1)) if arr.size > 1 else None
    return Cell(float(np.mean(arr)), std, int(arr.size))


def _check_single_dataset(records: Sequence[Mapping[str, Any]]) -> tuple[str, list[int]]:
    """The records' dataset name and sorted folds; several dataset names are an error."""
    names = sorted({r["dataset"]["name"] for r in records})
    if len(names) != 1:
        raise ValueError(f"records come from several datasets ({', '.join(names)}); render one at a time")
    return names[0], sorted({r["dataset"]["fold"] for r in records})


def _protocol_hashes(records: Sequence[Mapping[str, Any]]) -> dict[tuple[str, int], str]:
    hashes: dict[tuple[str, int], set[str]] = {}
    for r in records:
        hashes.setdefault((r["protocol"]["name"], r["protocol"]["version"]), set()).add(r["protocol"]["hash"])
    for (name, version), seen in sorted(hashes.items()):
        if len(seen) > 1:
            raise ValueError(
                f"protocol {name}@v{version} has {len(seen)} hashes ({', '.join(sorted(seen))}): "
                "its settings changed without a version bump"
            )
    return {key: next(iter(seen)) for key, seen in sorted(hashes.items())}


def _describe_code(code: Mapping[str, Any]) -> str:
    commit = code.get("git_commit") or "unknown commit"
    dirty = {True: " (dirty)", False: "", None: " (dirty: unknown)"}[code.get("dirty")]
    return f"ssl_video {code.get('package')} @ {commit}{dirty}"


def _footer(records: Sequence[Mapping[str, Any]], columns: Sequence[Column], decimals: int) -> list[str]:
    dataset, folds = _check_single_dataset(records)
    hashes = _protocol_hashes(records)
    shown = sorted({(c.protocol, c.version) for c in columns})
    lines = [
        f"Protocol {name}@v{version}: hash {hashes.get((name, version), 'n/a')}" for name, version in shown
    ]
    fingerprints = sorted({r["dataset"]["fingerprint"] for r in records})
    where = f"fold {folds[0]}" if len(folds) == 1 else f"folds {', '.join(map(str, folds))} (pooled)"
    lines.append(f"Dataset {dataset} {where}: fingerprint {', '.join(fingerprints)}")
    codes = sorted({_describe_code(r["code_version"]) for r in records})
    lines.append(f"Code: {'; '.join(codes)}")
    lines.append(
        f"Cells: mean ± sample std (ddof=1) over the n records of a group (seeds, draws), {decimals} "
        "decimal(s); a single record shows its mean and (n=1); best mean per column in bold; "
        f"{MISSING} = no record."
    )
    return lines


def build_table(
    records: Iterable[Mapping[str, Any]], columns: Sequence[Column | tuple] | None = None, decimals: int = 1
) -> Table:
    """Group validated ``records`` into a :class:`Table` (see the module docstring for the rules)."""
    records = list(records)
    if not records:
        raise ValueError("no result records to render")
    for record in records:
        validate_record(record)
    cols = [Column(*c) for c in columns] if columns is not None else default_columns(records)
    if not cols:
        raise ValueError("no columns to render")
    values: dict[tuple[tuple[str, str], Column], list[float]] = {}
    rows: set[tuple[str, str]] = set()
    for record in records:
        row = (record["checkpoint"]["method"], record["checkpoint"]["encoder"])
        rows.add(row)
        proto = record["protocol"]
        for col in cols:
            if (col.protocol, col.version) == (proto["name"], proto["version"]) and col.metric in record[
                "metrics"
            ]:
                values.setdefault((row, col), []).append(float(record["metrics"][col.metric]))
    cells = {key: cell_stats(vals) for key, vals in values.items()}
    return Table(sorted(rows, key=row_sort_key), cols, cells, decimals, _footer(records, cols, decimals))


# --------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(table: Table, title: str | None = None) -> str:
    """GitHub-flavoured Markdown: optional heading, the table, then the footer as a list."""
    header = ["Method", "Encoder", *(c.label for c in table.columns)]
    lines = [f"## {_md_escape(title)}", ""] if title else []
    lines.append("| " + " | ".join(_md_escape(h) for h in header) + " |")
    lines.append("|" + "|".join([" --- ", " --- "] + [" ---: "] * len(table.columns)) + "|")
    for row in table.rows:
        cells = []
        for col in table.columns:
            text = table.text(row, col)
            cells.append(f"**{text}**" if table.is_best(row, col) else text)
        lines.append("| " + " | ".join(_md_escape(x) for x in [*row, *cells]) + " |")
    lines.append("")
    lines.extend(f"- {_md_escape(line)}" for line in table.footer)
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """One row per group; for each column ``<label> mean``, ``std`` and ``n`` at full precision.

    A missing cell is empty (n is 0); std is empty when n == 1. Floats are written with ``repr``.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["method", "encoder"]
    for col in table.columns:
        header += [f"{col.label} mean", f"{col.label} std", f"{col.label} n"]
    writer.writerow(header)
    for row in table.rows:
        line = list(row)
        for col in table.columns:
            cell = table.cell(row, col)
            if cell is None:
                line += ["", "", "0"]
            else:
                line += [repr(cell.mean), "" if cell.std is None else repr(cell.std), str(cell.n)]
        writer.writerow(line)
    return out.getvalue()


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "–": "--",
}


def tex_escape(text: str) -> str:
    """Escape LaTeX special characters (and spell ± and – in ASCII LaTeX)."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(table: Table, title: str | None = None) -> str:
    """A ``table`` float with a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``) and the footer."""
    spec = "ll" + "r" * len(table.columns)
    header = ["Method", "Encoder", *(c.label for c in table.columns)]
    lines = [r"\begin{table}[t]", r"\centering"]
    if title:
        lines.append(rf"\caption{{{tex_escape(title)}}}")
    lines += [
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(tex_escape(h) for h in header) + r" \\",
    ]
    lines.append(r"\midrule")
    for row in table.rows:
        cells = []
        for col in table.columns:
            text = tex_escape(table.text(row, col))
            cells.append(rf"\textbf{{{text}}}" if table.is_best(row, col) else text)
        lines.append(" & ".join([*(tex_escape(x) for x in row), *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\par\smallskip", r"{\footnotesize"]
    lines += [tex_escape(line) + r"\\" for line in table.footer]
    lines += ["}", r"\end{table}"]
    return "\n".join(lines) + "\n"


_CSS = (
    "body{font-family:sans-serif;margin:2em}"
    "table{border-collapse:collapse}"
    "th,td{border:1px solid #bbb;padding:4px 8px}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "ul.footer{font-size:smaller;color:#444}"
)


def to_html(table: Table, title: str | None = None) -> str:
    """A static, self-contained HTML page (inline CSS only, no scripts or external resources)."""
    esc = html.escape
    heading = title or "Results"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{esc(heading)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h2>{esc(heading)}</h2>",
        "<table>",
        "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in ["Method", "Encoder"]),
    ]
    parts[-1] += "".join(f"<th>{esc(c.label)}</th>" for c in table.columns) + "</tr></thead>"
    parts.append("<tbody>")
    for row in table.rows:
        cells = "".join(f"<td>{esc(x)}</td>" for x in row)
        for col in table.columns:
            text = esc(table.text(row, col))
            cells += f'<td class="num">{"<b>" + text + "</b>" if table.is_best(row, col) else text}</td>'
        parts.append(f"<tr>{cells}</tr>")
    parts += ["</tbody>", "</table>", '<ul class="footer">']
    parts += [f"<li>{esc(line)}</li>" for line in table.footer]
    parts += ["</ul>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------------
# Everything at once
# --------------------------------------------------------------------------------------------


def render_tables(
    records: Iterable[Mapping[str, Any]],
    out_stem: str | Path,
    columns: Sequence[Column | tuple] | None = None,
    title: str | None = None,
    decimals: int = 1,
    plots: bool = True,
) -> dict[str, Path]:
    """Write ``<out_stem>.md``, ``.csv``, ``.tex``, ``.html`` and (``plots``) PNG R@k curves.

    Returns the written paths keyed ``md``, ``csv``, ``tex``, ``html`` and ``recall:<protocol>@v<n>``
    (one PNG per retrieval protocol, see :func:`ssl_video.results.plots.plot_recall_curves`).
    Every file is written atomically and is a pure function of the records' content.
    """
    records = list(records)
    table = build_table(records, columns, decimals)
    stem = Path(out_stem)
    written = {
        "md": atomic_write_text(stem.with_name(stem.name + ".md"), to_markdown(table, title)),
        "csv": atomic_write_text(stem.with_name(stem.name + ".csv"), to_csv(table)),
        "tex": atomic_write_text(stem.with_name(stem.name + ".tex"), to_latex(table, title)),
        "html": atomic_write_text(stem.with_name(stem.name + ".html"), to_html(table, title)),
    }
    if plots:
        from ssl_video.results.plots import plot_recall_curves

        written.update(plot_recall_curves(records, stem, title=title))
    return written
