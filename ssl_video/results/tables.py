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
* Chance: a ``chance`` row under the table gives each column's chance level, the mean of the
  ``chance`` its results record (schema ``ssl_video.result/2``): top-k accuracy ``min(k, C) / C``
  (a uniform random ranking of the C classes), R@k the expected hit rate of k gallery videos drawn
  at random without replacement (:func:`ssl_video.evaluation.retrieval.recall_chance`).
* Differences to random init: every row of an encoder that has one ``random_init`` row is compared
  with it, column by column: the difference of the two cell means (percentage points) with a 95 %
  confidence interval from a paired two-level bootstrap over pretraining seeds and test videos
  (:mod:`ssl_video.results.bootstrap`), from the results' per-video outcomes. A cell whose interval
  lies above 0 is marked :data:`ABOVE` (significantly above random init), below 0 :data:`BELOW`;
  the differences and intervals form a second table. Results without per-video outcomes (schema
  ``/1``) give a difference without an interval (``(no CI)``), and the footer says how many.
* Higher is better for every metric. A cell is bold only when it is the best of its column and the
  paired bootstrap interval of its difference to *every* other row of the column lies above 0; a
  best mean within noise of another row is not bold. Without per-video outcomes nothing is bold.
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
from ssl_video.results import bootstrap
from ssl_video.results.store import SCHEMA, key_of, validate_record

BASELINE_ORDER: tuple[str, ...] = ("random_init", "supervised")
DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "retrieval": ("R@1", "R@5", "R@10"),
    "knn": ("top1",),
    "linear": ("top1",),
    "finetune": ("top1",),
}
MISSING = "–"
ABOVE = "↑"  # after a cell: its difference to random init has a 95 % interval above 0
BELOW = "↓"  # ... below 0
CHANCE_LABEL = "chance"
NO_CI = "(no CI)"
OTHER_VIDEOS = "results on other test videos than random init's"
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
    ``step`` their training step (None when unknown); ``variant`` what the checkpoints say sets this
    experiment apart from the method's paper recipe (``CheckpointInfo.variant``; part of the row's
    identity); ``tag`` is shown after the method: the variant, plus what tells this row apart from
    the other experiments of its (method, encoder, variant); empty when there is nothing to say.
    """

    method: str
    encoder: str
    config_hash: str | None = None
    step: int | None = None
    variant: str = ""  # the checkpoints' ``variant`` (e.g. "contrast fusion"); always shown
    tag: str = ""

    @property
    def label(self) -> str:
        """The method as shown: ``vcop``, ``o3n (contrast fusion)``, or ``vcop (step 100)`` next to
        other experiments."""
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


class Comparison(NamedTuple):
    """A row's cell minus the cell of its encoder's random init row, in one column.

    ``difference``: the difference of the two cell means in percentage points; ``low`` / ``high``:
    its 95 % paired two-level bootstrap interval (:mod:`ssl_video.results.bootstrap`), both None when
    there is none, and then ``note`` says why.
    """

    difference: float
    low: float | None = None
    high: float | None = None
    note: str | None = None

    @property
    def significance(self) -> str:
        """``"above"`` (interval above 0), ``"below"`` (interval below 0) or ``""`` (within noise)."""
        if self.low is not None and self.low > 0:
            return "above"
        if self.high is not None and self.high < 0:
            return "below"
        return ""

    @property
    def mark(self) -> str:
        """:data:`ABOVE`, :data:`BELOW` or ``""``."""
        return {"above": ABOVE, "below": BELOW, "": ""}[self.significance]


@dataclass
class Table:
    """A rendered-format-independent table: rows, columns, cells, chance, differences to random init,
    bold marks and footer lines.

    ``references`` maps each row that is compared with random init to its encoder's random init row;
    ``comparisons`` holds, per (row, column) where both have a cell, the :class:`Comparison`;
    ``bold`` the (row, column) cells that are significantly the best of their column.
    """

    rows: list[Row]
    columns: list[Column]
    cells: dict[tuple[Row, Column], Cell]
    decimals: int
    footer: list[str] = field(default_factory=list)
    chance: dict[Column, float] = field(default_factory=dict)
    references: dict[Row, Row] = field(default_factory=dict)
    comparisons: dict[tuple[Row, Column], Comparison] = field(default_factory=dict)
    bold: frozenset[tuple[Row, Column]] = frozenset()

    def cell(self, row: Row, column: Column) -> Cell | None:
        """The cell at (row, column), or None when the row has no record for the column."""
        return self.cells.get((row, column))

    def is_bold(self, row: Row, column: Column) -> bool:
        """Whether this cell is the best of its column, significantly better than every other row."""
        return (row, column) in self.bold

    def _fmt(self, value: float, sign: bool = False) -> str:
        return f"{value:{'+' if sign else ''}.{self.decimals}f}"

    def text(self, row: Row, column: Column, pm: str = "±") -> str:
        """The cell as text (no bold): ``m ± s``, ``m (n=1)``, ``m (n=1x3)`` or :data:`MISSING`, then
        the significance mark (:data:`ABOVE` / :data:`BELOW`) of its difference to random init."""
        cell = self.cell(row, column)
        if cell is None:
            return MISSING
        mean = self._fmt(cell.mean)
        text = f"{mean} (n={cell.n_label})" if cell.std is None else f"{mean} {pm} {self._fmt(cell.std)}"
        comparison = self.comparisons.get((row, column))
        return f"{text} {comparison.mark}" if comparison and comparison.mark else text

    def chance_text(self, column: Column) -> str:
        """The column's chance level, or :data:`MISSING` when no result of the column records one."""
        return self._fmt(self.chance[column]) if column in self.chance else MISSING

    @property
    def difference_rows(self) -> list[Row]:
        """The rows compared with a random init row, in table order."""
        return [row for row in self.rows if row in self.references]

    def difference_text(self, row: Row, column: Column) -> str:
        """``+6.1 [+2.0, +10.3] ↑`` (difference to random init [95 % CI] and mark), ``+6.1 (no CI)``,
        or :data:`MISSING` when the row or its random init has no cell in the column."""
        comparison = self.comparisons.get((row, column))
        if comparison is None:
            return MISSING
        diff = self._fmt(comparison.difference, sign=True)
        if comparison.low is None:
            return f"{diff} {NO_CI}"
        text = f"{diff} [{self._fmt(comparison.low, sign=True)}, {self._fmt(comparison.high, sign=True)}]"
        return f"{text} {comparison.mark}" if comparison.mark else text


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
    step = -1 if row.step is None else row.step
    return (rank, row.method, row.encoder, row.variant, row.config_hash or "", step)


def _experiment(record: Mapping[str, Any]) -> Row:
    """The untagged row of a record: (method, encoder, pretrain_config_hash, step, variant)."""
    ckpt = record["checkpoint"]
    return Row(
        ckpt["method"], ckpt["encoder"], ckpt.get("pretrain_config_hash"), ckpt.get("step"),
        ckpt.get("variant") or "",
    )  # fmt: skip


def _tags(rows: Sequence[Row]) -> dict[Row, str]:
    """Tags of the experiments of one (method, encoder): each row's variant, then what tells apart
    the experiments that share it (config hash, step)."""
    tags = {}
    for variant in sorted({r.variant for r in rows}):
        same = [r for r in rows if r.variant == variant]
        for row, tag in _distinctions(same).items():
            tags[row] = ", ".join(t for t in (variant, tag) if t)
    return tags


def _distinctions(rows: Sequence[Row]) -> dict[Row, str]:
    """What differs among experiments of one (method, encoder, variant): their cfg hash and step."""
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
    if any(r["checkpoint"].get("variant") for r in records):
        rows += (
            " A tag in words (e.g. 'contrast fusion') is the checkpoints' variant: what their recipe or "
            "data does differently from the method's paper."
        )
    unhashed = sum("pretrain_config_hash" not in r["checkpoint"] for r in records)
    if unhashed:
        rows += (
            f" {unhashed} of {len(records)} results have no pretraining config hash (older records): "
            "their experiment is told apart by checkpoint step only."
        )
    lines.append(rows)
    common = (
        f"{decimals} decimal(s); {MISSING} = no record; the CSV gives every cell's mean, std, n, seeds per "
        "fold and folds, its difference to random init with the interval bounds and the significance."
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
    records: Iterable[Mapping[str, Any]],
    columns: Sequence[Column | tuple] | None = None,
    decimals: int = 1,
    resamples: int = bootstrap.RESAMPLES,
) -> Table:
    """Group validated ``records`` into a :class:`Table` (see the module docstring for the rules);
    ``resamples``: bootstrap resamples per interval."""
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
    by_cell: dict[tuple[Row, Column], list[Mapping[str, Any]]] = {}
    for row, group in groups.items():
        for record in group:
            proto = record["protocol"]
            for col in cols:
                if (col.protocol, col.version) == (proto["name"], proto["version"]) and col.metric in record[
                    "metrics"
                ]:
                    by_cell.setdefault((row, col), []).append(record)
    cells = {}
    for key, cell_records in by_cell.items():
        by_fold: dict[int, list[float]] = {}
        for record in cell_records:
            by_fold.setdefault(record["dataset"]["fold"], []).append(float(record["metrics"][key[1].metric]))
        cells[key] = cell_stats(by_fold)
    table = Table(list(groups), cols, cells, decimals, footer, chance=_chance(records, cols))
    table.references, unmatched = _references(table.rows)
    single_seed = _compare(table, by_cell, resamples)
    table.footer += _significance_footer(table, records, unmatched, single_seed, resamples)
    return table


# --------------------------------------------------------------------------------------------
# Chance, differences to random init, significance
# --------------------------------------------------------------------------------------------


def _chance(records: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> dict[Column, float]:
    """Per column, the mean of the chance levels its results record (none recorded: absent)."""
    chance = {}
    for col in columns:
        values = sorted(
            float(r["chance"][col.metric])
            for r in records
            if (r["protocol"]["name"], r["protocol"]["version"]) == (col.protocol, col.version)
            and col.metric in r.get("chance", {})
        )
        if values:
            chance[col] = float(np.mean(values))
    return chance


def _references(rows: Sequence[Row]) -> tuple[dict[Row, Row], dict[str, list[Row]]]:
    """Each non-random-init row -> the random init row of its encoder, when there is exactly one;
    and the encoders whose rows have none (no random init row, or several: which is meant is unclear),
    with their random init rows."""
    randoms: dict[str, list[Row]] = {}
    for row in rows:
        if row.method == "random_init":
            randoms.setdefault(row.encoder, []).append(row)
    references, unmatched = {}, {}
    for row in rows:
        if row.method == "random_init":
            continue
        candidates = randoms.get(row.encoder, [])
        if len(candidates) == 1:
            references[row] = candidates[0]
        else:
            unmatched[row.encoder] = candidates
    return references, unmatched


def _stable_key(row: Row) -> tuple:
    """A row's identity without its tag (the tag depends on the other rows)."""
    return (row.method, row.encoder, row.config_hash, row.step)


def _compare(
    table: Table, by_cell: Mapping[tuple[Row, Column], Sequence[Mapping[str, Any]]], resamples: int
) -> set[str]:
    """Fill ``table.comparisons`` and ``table.bold`` (see the module docstring); returns the labels of
    the rows with one pretraining seed in a cell that has an interval."""
    comparisons, bold, single_seed = {}, set(), set()
    interval = bootstrap.percentile_interval
    for col in table.columns:
        hits: dict[Row, bootstrap.RowHits] = {}
        reasons: dict[Row, str] = {}
        for row in table.rows:
            if (row, col) in by_cell:
                found = bootstrap.row_hits(by_cell[(row, col)], col.metric)
                if isinstance(found, str):
                    reasons[row] = found
                else:
                    hits[row] = found
        stable = {_stable_key(r): h for r, h in hits.items()}
        keyed = bootstrap.column_resamples(stable, tuple(col), resamples)
        means = {row: keyed[_stable_key(row)] for row in hits}
        for row, ref in table.references.items():
            if (row, col) not in table.cells or (ref, col) not in table.cells:
                continue
            diff = table.cells[(row, col)].mean - table.cells[(ref, col)].mean
            note = reasons.get(row) or reasons.get(ref)
            if note is None and hits[row].videos != hits[ref].videos:
                note = OTHER_VIDEOS
            if note is not None:
                comparisons[(row, col)] = Comparison(diff, note=note)
                continue
            comparisons[(row, col)] = Comparison(diff, *interval(means[row] - means[ref]))
            single_seed.update(r.label for r in (row, ref) if len(hits[r].seeds) == 1)
        present = [row for row in table.rows if (row, col) in table.cells]
        if len(present) < 2 or any(row not in hits for row in present):
            continue
        best = max(present, key=lambda r: table.cells[(r, col)].mean)
        if all(hits[r].videos == hits[best].videos for r in present) and all(
            interval(means[best] - means[r])[0] > 0 for r in present if r != best
        ):
            bold.add((best, col))
    table.comparisons, table.bold = comparisons, frozenset(bold)
    return single_seed


def _significance_footer(
    table: Table,
    records: Sequence[Mapping[str, Any]],
    unmatched: Mapping[str, Sequence[Row]],
    single_seed: set[str],
    resamples: int,
) -> list[str]:
    lines = [
        "Chance (last row): top-k accuracy min(k, C)/C, the accuracy of a uniform random ranking of the C "
        "classes (the standard chance level, the same for every test video; the majority-class rate is "
        "not used: it depends on the label frequencies and rewards a classifier that ignores the video); "
        "R@k the expected hit rate of k gallery videos drawn at random without replacement, "
        "1 - C(G - n_c, k) / C(G, k) averaged over queries (n_c of the G gallery videos share the "
        "query's class); the mean over the column's results, which record it "
        f"(schema {SCHEMA}; {MISSING}: none do).",
        "Bold: the best cell of a column, only when the paired bootstrap 95 % interval of its difference "
        "to every other row of the column lies above 0 (none otherwise: a best mean within noise of "
        "another row is not bold).",
    ]
    if table.references:
        level = round(100 * bootstrap.LEVEL)
        lines.append(
            f"Difference to random init (second table): a row's cell mean minus the cell mean of the "
            f"random_init row of its encoder, in percentage points, with a {level} % interval: the "
            f"percentile interval of {resamples} paired two-level bootstrap resamples (seed "
            f"{bootstrap.SEED}): each resample draws the row's pretraining seeds with replacement (random "
            "init's init seeds likewise; a seed's evaluation seeds or draws stay together), and in each "
            "fold the test videos with replacement, the same videos for the row and for random init. "
            f"{ABOVE} after a cell: interval above 0 (significantly above random init); {BELOW}: interval "
            "below 0 (significantly below); no mark: within noise."
        )
    if single_seed:
        lines.append(
            f"One pretraining (or init) seed in some cells of {', '.join(sorted(single_seed))}: there the "
            "interval covers the test-video sample only, not the variation between pretraining runs."
        )
    old = sum("per_video" not in r for r in records)
    if old:
        lines.append(
            f"{old} of {len(records)} results have no per-video outcomes (written before schema {SCHEMA}): "
            f"their cells get no interval, no {ABOVE}/{BELOW} mark and no bold."
        )
    notes: dict[str, int] = {}
    for comparison in table.comparisons.values():
        if comparison.note is not None:
            notes[comparison.note] = notes.get(comparison.note, 0) + 1
    if notes:
        reasons = "; ".join(f"{count} with {note}" for note, count in sorted(notes.items()))
        total = f"{sum(notes.values())} of {len(table.comparisons)}"
        lines.append(f"{NO_CI}: {total} differences have no interval: {reasons}.")
    for encoder, randoms in sorted(unmatched.items()):
        if randoms:
            which = ", ".join(r.label for r in randoms)
            lines.append(f"Encoder {encoder}: several random_init rows ({which}); no differences computed.")
        else:
            lines.append(f"Encoder {encoder}: no random_init row; its rows have no differences.")
    return lines


# --------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


DIFFERENCE_TITLE = "Difference to random init (percentage points, 95 % CI)"

# One sub-table: (heading or None, header, rows of (text, bold) cells).
Block = tuple[str | None, list[str], list[list[tuple[str, bool]]]]


def _blocks(table: Table) -> list[Block]:
    """The sub-tables every format shows: the results with a last ``chance`` row, then (when some row
    has a random init to compare with) the differences to random init."""
    header = ["Method", "Encoder", *(c.label for c in table.columns)]
    main = [
        [(row.label, False), (row.encoder, False)]
        + [(table.text(row, col), table.is_bold(row, col)) for col in table.columns]
        for row in table.rows
    ]
    main.append([(CHANCE_LABEL, False), ("", False)] + [(table.chance_text(c), False) for c in table.columns])
    blocks: list[Block] = [(None, header, main)]
    if table.difference_rows:
        diffs = [
            [(row.label, False), (row.encoder, False)]
            + [(table.difference_text(row, col), False) for col in table.columns]
            for row in table.difference_rows
        ]
        blocks.append((DIFFERENCE_TITLE, header, diffs))
    return blocks


def to_markdown(table: Table, title: str | None = None) -> str:
    """GitHub-flavoured Markdown: optional heading, the table (with its chance row), the differences
    to random init under a heading of their own, then the footer as a list."""
    lines = [f"## {_md_escape(title)}", ""] if title else []
    for heading, header, rows in _blocks(table):
        if heading:
            lines += [f"### {_md_escape(heading)}", ""]
        lines.append("| " + " | ".join(_md_escape(h) for h in header) + " |")
        lines.append("|" + "|".join([" --- ", " --- "] + [" ---: "] * (len(header) - 2)) + "|")
        for row in rows:
            cells = [f"**{_md_escape(text)}**" if bold else _md_escape(text) for text, bold in row]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines.extend(f"- {_md_escape(line)}" for line in table.footer)
    return "\n".join(lines) + "\n"


CSV_FIELDS = ("mean", "std", "n", "seeds", "folds", "diff", "diff_low", "diff_high", "significance", "bold")


def to_csv(table: Table) -> str:
    """One line per row: ``method``, ``encoder``, ``pretrain_config_hash``, ``step`` (empty when
    unknown) and ``variant`` (empty for none), then for each column ``<label> mean``, ``std``,
    ``n``, ``seeds``, ``folds``, ``diff``, ``diff_low``, ``diff_high``, ``significance`` and
    ``bold``; a last line with method ``chance``.

    ``mean`` is the mean of the fold means, ``std`` the seed spread the table shows after ± (empty
    when there is none), ``n`` the number of records, ``seeds`` the seeds per fold (``2``, or
    ``2+3+1`` in fold order when folds differ) and ``folds`` the number of folds; see
    :class:`Cell`. ``diff`` is the difference to the encoder's random init row (percentage points),
    ``diff_low`` / ``diff_high`` its 95 % interval and ``significance`` ``above``, ``below`` or empty
    (see :class:`Comparison`; all empty without a comparison, the bounds empty without an interval);
    ``bold`` is ``1`` for a cell that is significantly the best of its column. A missing cell is
    empty with n 0. The ``chance`` line has the chance level as ``mean`` and nothing else. Floats are
    written with ``repr``.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["method", "encoder", "pretrain_config_hash", "step", "variant"]
    for col in table.columns:
        header += [f"{col.label} {what}" for what in CSV_FIELDS]
    writer.writerow(header)
    for row in table.rows:
        step = "" if row.step is None else str(row.step)
        line = [row.method, row.encoder, row.config_hash or "", step, row.variant]
        for col in table.columns:
            cell = table.cell(row, col)
            if cell is None:
                line += ["", "", "0", "", ""]
            else:
                std = "" if cell.std is None else repr(cell.std)
                line += [repr(cell.mean), std, str(cell.n), cell.seeds_label, str(cell.folds)]
            comparison = table.comparisons.get((row, col))
            if comparison is None:
                line += ["", "", "", ""]
            else:
                low = "" if comparison.low is None else repr(comparison.low)
                high = "" if comparison.high is None else repr(comparison.high)
                line += [repr(comparison.difference), low, high, comparison.significance]
            line.append("1" if table.is_bold(row, col) else "")
        writer.writerow(line)
    chance = [CHANCE_LABEL, "", "", "", ""]
    for col in table.columns:
        chance += [repr(table.chance[col]) if col in table.chance else ""] + [""] * (len(CSV_FIELDS) - 1)
    writer.writerow(chance)
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
    ABOVE: r"$\uparrow$",
    BELOW: r"$\downarrow$",
}


def tex_escape(text: str) -> str:
    """Escape LaTeX special characters (and spell ±, –, ↑ and ↓ in ASCII LaTeX)."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(table: Table, title: str | None = None) -> str:
    """A ``table`` float with booktabs ``tabular``s (needs ``\\usepackage{booktabs}``): the results,
    the differences to random init, then the footer."""
    spec = "ll" + "r" * len(table.columns)
    lines = [r"\begin{table}[t]", r"\centering"]
    if title:
        lines.append(rf"\caption{{{tex_escape(title)}}}")
    for heading, header, rows in _blocks(table):
        if heading:
            lines += [r"\par\medskip", tex_escape(heading) + r"\par\smallskip"]
        lines += [
            rf"\begin{{tabular}}{{{spec}}}",
            r"\toprule",
            " & ".join(tex_escape(h) for h in header) + r" \\",
            r"\midrule",
        ]
        for row in rows:
            cells = [rf"\textbf{{{tex_escape(t)}}}" if bold else tex_escape(t) for t, bold in row]
            lines.append(" & ".join(cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [r"\par\smallskip", r"{\footnotesize"]
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
    """A static, self-contained HTML page (inline CSS only, no scripts or external resources): the
    results, the differences to random init, then the footer."""
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
    ]
    for block_heading, header, rows in _blocks(table):
        if block_heading:
            parts.append(f"<h3>{esc(block_heading)}</h3>")
        parts += ["<table>", "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr></thead>"]
        parts.append("<tbody>")
        for row in rows:
            cells = "".join(f"<td>{esc(text)}</td>" for text, _ in row[:2])
            for text, bold in row[2:]:
                cells += f'<td class="num">{"<b>" + esc(text) + "</b>" if bold else esc(text)}</td>'
            parts.append(f"<tr>{cells}</tr>")
        parts += ["</tbody>", "</table>"]
    parts.append('<ul class="footer">')
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
