"""Tables rendered from stored results: Markdown, CSV, LaTeX, HTML and PNG plots.

Nobody types numbers: every table is built from result records (see
:mod:`ssl_video.results.store`) and the same records, in any order, always give byte-identical files.

Conventions (also printed in every table's footer):

* A row is one *experiment*: (method, encoder, pretraining experiment), where the pretraining
  experiment is the checkpoint's ``pretrain_config_hash`` (its resolved pretraining config without
  the seed and run-location fields, plus its data: see
  :func:`ssl_video.results.record.pretrain_config_hash`) and its ``step``. Two steps of one run, or
  two recipes of one method, are different experiments: they get a row each, never an average.
  Older records have no config hash; their experiment is the step alone, and the footer says how
  many such records the table holds. A (method, encoder) with one experiment shows as before
  (``vcop``); with several, each row is tagged with what tells them apart:
  ``vcop (cfg 1a2b3c4d)``, ``vcop (step 100)`` or both. Rows are sorted by method then encoder, then
  config hash and step, with the baselines last in the fixed order of :data:`BASELINE_ORDER`
  (``random_init``, then ``supervised``).
* Within a row the runs are told apart by their pretraining seed: two *different checkpoints*
  with the same (pretraining seed, fold, protocol, evaluation seed) are two runs mixed into one
  cell (a re-run without a new seed, a file of another run): an error naming both, not an average.
  The same result given twice is an error too (it would count one seed twice).
* Columns are (protocol, version, metric). By default the metrics of each protocol come from its
  *kind*, the first ``_``-separated word of its name (``retrieval_vcop`` is a retrieval protocol):
  see :data:`DEFAULT_METRICS`; a protocol of another kind, or one with none of its defaults, shows
  all its metrics.
* A cell averages *seeds within a fold, then folds*. The seeds of a fold are its records:
  pretraining seeds x evaluation seeds (or low-shot draws). Each fold's mean is the mean over its
  seeds; the cell's mean is the mean of the fold means, so a fold with more seeds does not weigh
  more. The ± is the *seed spread*: with one fold, the sample standard deviation (``ddof=1``) over
  its seeds; with several, the pooled within-fold sample std
  ``sqrt(sum_f sum_i (x_fi - m_f)^2 / sum_f (n_f - 1))``, i.e. every fold's deviations from its own
  mean. It is chosen over the std of the fold means because every method is evaluated on the same
  folds: fold difficulty is shared by all rows (a paired effect), while seed noise is what makes two
  rows' means differ by chance; pooling (rather than averaging per-fold stds) weighs each fold by
  its degrees of freedom and is the usual estimate of one common seed variance. A cell without
  a seed spread (one seed per fold) shows its mean and ``n``: ``(n=1)``, or ``(n=1x3)`` for one
  seed in each of 3 folds. ``n`` is seeds per fold x folds (``2x3``), or the per-fold counts
  added up when folds differ (``2+3+1``). The CSV carries every cell's mean, std, n, seeds per
  fold and number of folds at full precision.
* Higher is better for every metric: the best mean per column, compared as displayed (rounded),
  is bold; ties are all bold.
* All records must come from one dataset (several official folds are averaged as above: a
  protocol that says "all three splits averaged" stores one record per fold; the footer lists
  the folds), and each protocol@version from one protocol hash (settings changed without a
  version bump are an error, not an average).
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ssl_video.io_utils import atomic_write_text
from ssl_video.results.store import key_of, validate_record

BASELINE_ORDER: tuple[str, ...] = ("random_init", "supervised")
DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "retrieval": ("R@1", "R@5", "R@10"),
    "knn": ("top1",),
    "linear": ("top1",),
    "finetune": ("top1",),
}
MISSING = "–"
TAG_HASH_DIGITS = 8  # digits of the config hash in a row tag (more when two hashes share them)


class Column(NamedTuple):
    """One table column: a metric of one protocol version."""

    protocol: str
    version: int
    metric: str

    @property
    def label(self) -> str:
        """Header text, e.g. ``retrieval_vcop@v1 R@1``."""
        return f"{self.protocol}@v{self.version} {self.metric}"


class Row(NamedTuple):
    """One table row: a pretraining experiment of a (method, encoder).

    ``config_hash`` is the checkpoints' ``pretrain_config_hash`` (None for older records) and
    ``step`` their training step (None when unknown); ``tag`` tells this row apart from the other
    experiments of its (method, encoder), and is empty when there are none.
    """

    method: str
    encoder: str
    config_hash: str | None = None
    step: int | None = None
    tag: str = ""

    @property
    def label(self) -> str:
        """The method as shown: ``vcop``, or ``vcop (step 100)`` next to other experiments."""
        return f"{self.method} ({self.tag})" if self.tag else self.method


class Cell(NamedTuple):
    """Statistics of one (row, column), see the module docstring.

    ``mean``: the mean over folds of each fold's mean over its seeds. ``std``: the seed spread, the
    pooled within-fold sample std (with one fold: the sample std, ``ddof=1``); None when no fold has
    two seeds. ``seeds``: the number of seeds (records) of each fold, in fold order.
    """

    mean: float
    std: float | None
    seeds: tuple[int, ...]

    @property
    def n(self) -> int:
        """Number of records (seeds over all folds)."""
        return sum(self.seeds)

    @property
    def folds(self) -> int:
        """Number of folds."""
        return len(self.seeds)

    @property
    def seeds_label(self) -> str:
        """Seeds per fold: ``2``, or ``2+3+1`` when the folds have different numbers of seeds."""
        return str(self.seeds[0]) if len(set(self.seeds)) == 1 else "+".join(map(str, self.seeds))

    @property
    def n_label(self) -> str:
        """``n`` as shown: ``3`` (one fold), ``2x3`` (2 seeds in each of 3 folds) or ``2+3+1``."""
        if self.folds == 1:
            return str(self.n)
        if len(set(self.seeds)) == 1:
            return f"{self.seeds[0]}x{self.folds}"
        return self.seeds_label


@dataclass
class Table:
    """A rendered-format-independent table: rows, columns, cells, bold marks and footer lines."""

    rows: list[Row]
    columns: list[Column]
    cells: dict[tuple[Row, Column], Cell]
    decimals: int
    footer: list[str] = field(default_factory=list)

    def cell(self, row: Row, column: Column) -> Cell | None:
        """The cell at (row, column), or None when the row has no record for the column."""
        return self.cells.get((row, column))

    def is_best(self, row: Row, column: Column) -> bool:
        """Whether this cell's displayed mean is the best (highest) displayed mean of its column."""
        cell = self.cell(row, column)
        if cell is None:
            return False
        shown = [self._rounded(c.mean) for r in self.rows if (c := self.cell(r, column)) is not None]
        return self._rounded(cell.mean) == max(shown)

    def _rounded(self, value: float) -> float:
        return float(f"{value:.{self.decimals}f}")

    def text(self, row: Row, column: Column, pm: str = "±") -> str:
        """The cell as text (no bold): ``m ± s``, ``m (n=1)``, ``m (n=1x3)`` or :data:`MISSING`."""
        cell = self.cell(row, column)
        if cell is None:
            return MISSING
        mean = f"{cell.mean:.{self.decimals}f}"
        if cell.std is None:
            return f"{mean} (n={cell.n_label})"
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


def row_sort_key(row: Row) -> tuple:
    """Methods alphabetically, then the baselines in :data:`BASELINE_ORDER`; then encoder, config
    hash (unknown first) and step (unknown first)."""
    rank = BASELINE_ORDER.index(row.method) + 1 if row.method in BASELINE_ORDER else 0
    return (rank, row.method, row.encoder, row.config_hash or "", -1 if row.step is None else row.step)


def _experiment(record: Mapping[str, Any]) -> Row:
    """The untagged row of a record: (method, encoder, pretrain_config_hash, step)."""
    ckpt = record["checkpoint"]
    return Row(ckpt["method"], ckpt["encoder"], ckpt.get("pretrain_config_hash"), ckpt.get("step"))


def _tags(rows: Sequence[Row]) -> dict[Row, str]:
    """Tags that tell apart the experiments of one (method, encoder): what differs among them."""
    if len(rows) == 1:
        return {rows[0]: ""}
    hashes = sorted({r.config_hash for r in rows if r.config_hash is not None})
    digits = TAG_HASH_DIGITS
    while len({h[:digits] for h in hashes}) < len(hashes):
        digits += 1
    show_hash = len({r.config_hash for r in rows}) > 1
    show_step = len({r.step for r in rows}) > 1
    tags = {}
    for row in rows:
        parts = []
        if show_hash:
            parts.append("no cfg hash" if row.config_hash is None else f"cfg {row.config_hash[:digits]}")
        if show_step:
            parts.append(f"step {'?' if row.step is None else row.step}")
        tags[row] = ", ".join(parts)
    return tags


def _check_one_run_per_seed(row: Row, records: Sequence[Mapping[str, Any]]) -> None:
    """Refuse a row in which two different checkpoints share (pretrain seed, fold, protocol, seed)."""
    ids: dict[tuple, set[str]] = {}
    for r in records:
        proto = r["protocol"]
        key = (
            r["checkpoint"]["pretrain_seed"],
            r["dataset"]["fold"],
            proto["name"],
            proto["version"],
            r["seed"],
        )
        ids.setdefault(key, set()).add(r["checkpoint"]["id"])
    for (pseed, fold, name, version, seed), seen in sorted(ids.items(), key=repr):
        if len(seen) > 1:
            what = "no pretraining seed" if pseed is None else f"pretraining seed {pseed}"
            raise ValueError(
                f"row {row.label} / {row.encoder}: checkpoints {', '.join(sorted(seen))} are different "
                f"checkpoints with {what} (fold {fold}, {name}@v{version}, seed {seed}): two runs would be "
                "mixed into one cell; give each run its own pretraining seed, or render them apart"
            )


def group_records(records: Iterable[Mapping[str, Any]]) -> dict[Row, list[Mapping[str, Any]]]:
    """The records of each row (tagged, see :class:`Row`), rows in :func:`row_sort_key` order.

    Raises ValueError for the same result given twice, and for two different checkpoints of one
    row with the same (pretraining seed, fold, protocol, evaluation seed), naming them.
    """
    seen: set = set()
    by_experiment: dict[Row, list[Mapping[str, Any]]] = {}
    for record in records:
        key = key_of(record)
        if key in seen:
            raise ValueError(f"result {tuple(key)} given twice: it would count one seed twice")
        seen.add(key)
        by_experiment.setdefault(_experiment(record), []).append(record)
    siblings: dict[tuple[str, str], list[Row]] = {}
    for row in by_experiment:
        siblings.setdefault((row.method, row.encoder), []).append(row)
    tags = {}
    for rows in siblings.values():
        tags.update(_tags(sorted(rows, key=row_sort_key)))
    grouped = {}
    for row in sorted(by_experiment, key=row_sort_key):
        tagged = row._replace(tag=tags[row])
        _check_one_run_per_seed(tagged, by_experiment[row])
        grouped[tagged] = by_experiment[row]
    return grouped


def cell_stats(values_by_fold: Mapping[int, Sequence[float]]) -> Cell:
    """A :class:`Cell` from each fold's values (one per seed): mean of fold means, pooled seed std.

    Values are summed in sorted order and folds in fold order, so input order cannot change a bit.
    """
    folds = [np.array(sorted(values_by_fold[f]), dtype=np.float64) for f in sorted(values_by_fold)]
    if not folds or any(v.size == 0 for v in folds):
        raise ValueError("a cell needs at least one value in each of its folds")
    means = [float(np.mean(v)) for v in folds]
    dof = sum(v.size - 1 for v in folds)
    squares = sum(float(np.sum((v - m) ** 2)) for v, m in zip(folds, means))
    std = math.sqrt(squares / dof) if dof > 0 else None
    return Cell(float(np.mean(means)), std, tuple(int(v.size) for v in folds))


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
    where = (
        f"fold {folds[0]}"
        if len(folds) == 1
        else f"folds {', '.join(map(str, folds))} (cells: mean over folds)"
    )
    lines.append(f"Dataset {dataset} {where}: fingerprint {', '.join(fingerprints)}")
    codes = sorted({_describe_code(r["code_version"]) for r in records})
    lines.append(f"Code: {'; '.join(codes)}")
    rows = (
        "Rows: one per (method, encoder, pretraining experiment); the experiment is the checkpoint's "
        "pretraining config hash (its config without seed and run-location fields, plus its data) and "
        "its step; several experiments of one method get a row each, tagged by what differs (cfg, step)."
    )
    unhashed = sum("pretrain_config_hash" not in r["checkpoint"] for r in records)
    if unhashed:
        rows += (
            f" {unhashed} of {len(records)} results have no pretraining config hash (older records): "
            "their experiment is told apart by checkpoint step only."
        )
    lines.append(rows)
    common = (
        f"{decimals} decimal(s); best mean per column in bold; {MISSING} = no record; the CSV gives every "
        "cell's mean, std, n, seeds per fold and folds."
    )
    if len(folds) == 1:
        lines.append(
            "Cells: mean ± sample std (ddof=1) over the n seeds of a row (pretraining seeds x evaluation "
            f"seeds or draws); a cell with one seed shows its mean and (n=1); {common}"
        )
    else:
        lines.append(
            "Cells: each fold's mean over its seeds (pretraining seeds x evaluation seeds or draws), "
            "averaged over folds, ± the pooled within-fold sample std over seeds, "
            "sqrt(sum_f sum_i (x_fi - m_f)^2 / sum_f (n_f - 1)): the seed spread, not the spread between "
            "folds; n = seeds per fold x folds (2x3; 2+3+1 when folds differ), shown when there is no "
            f"seed spread (n=1x3); {common}"
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
    footer = _footer(records, cols, decimals)
    groups = group_records(records)
    values: dict[tuple[Row, Column], dict[int, list[float]]] = {}
    for row, group in groups.items():
        for record in group:
            proto = record["protocol"]
            for col in cols:
                if (col.protocol, col.version) == (proto["name"], proto["version"]) and col.metric in record[
                    "metrics"
                ]:
                    by_fold = values.setdefault((row, col), {})
                    by_fold.setdefault(record["dataset"]["fold"], []).append(
                        float(record["metrics"][col.metric])
                    )
    cells = {key: cell_stats(by_fold) for key, by_fold in values.items()}
    return Table(list(groups), cols, cells, decimals, footer)


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
        lines.append("| " + " | ".join(_md_escape(x) for x in [row.label, row.encoder, *cells]) + " |")
    lines.append("")
    lines.extend(f"- {_md_escape(line)}" for line in table.footer)
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """One line per row: ``method``, ``encoder``, ``pretrain_config_hash`` and ``step`` (empty when
    unknown), then for each column ``<label> mean``, ``std``, ``n``, ``seeds`` and ``folds``.

    ``mean`` is the mean of the fold means, ``std`` the seed spread the table shows after ± (empty
    when there is none), ``n`` the number of records, ``seeds`` the seeds per fold (``2``, or
    ``2+3+1`` in fold order when folds differ) and ``folds`` the number of folds; see
    :class:`Cell`. A missing cell is empty with n 0. Floats are written with ``repr``.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["method", "encoder", "pretrain_config_hash", "step"]
    for col in table.columns:
        header += [f"{col.label} {what}" for what in ("mean", "std", "n", "seeds", "folds")]
    writer.writerow(header)
    for row in table.rows:
        line = [row.method, row.encoder, row.config_hash or "", "" if row.step is None else str(row.step)]
        for col in table.columns:
            cell = table.cell(row, col)
            if cell is None:
                line += ["", "", "0", "", ""]
            else:
                std = "" if cell.std is None else repr(cell.std)
                line += [repr(cell.mean), std, str(cell.n), cell.seeds_label, str(cell.folds)]
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
        lines.append(" & ".join([tex_escape(row.label), tex_escape(row.encoder), *cells]) + r" \\")
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
        cells = "".join(f"<td>{esc(x)}</td>" for x in (row.label, row.encoder))
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
