"""The pretext accuracy of every pretraining run of a bench matrix, from the runs' own summaries.

Usage: python results/pretext_table.py benchmarks/matrices/synthmotion_cpu.yaml results/synthmotion_pretext.md

For each pretraining run of the matrix it copies the run's ``summary.json`` (written by the engine at
the end of pretraining) and its resolved config (from ``encoder.pt``) to
``results/pretrain/<matrix>/<run id>.json`` / ``.config.yaml`` when the run dir exists, then renders
one row per task from those copies: held-out pretext accuracy per seed and their mean, chance, steps.
Nothing is typed by hand: rerunning on the same files gives the same bytes.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import torch
import yaml

from ssl_video.bench import expand, load_matrix
from ssl_video.io_utils import atomic_write_text


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def copy_summaries(matrix_path: str, folder: Path) -> None:
    """Copy summary.json and the export's resolved config of every finished run into ``folder``."""
    for run in expand(load_matrix(matrix_path)).pretrain:
        summary = run.out_dir / "summary.json"
        if not (summary.is_file() and run.encoder_path.is_file()):
            continue
        export = torch.load(run.encoder_path, map_location="cpu", weights_only=True)
        config = export.get("info", {}).get("config", {})
        for field in ("out_dir",):  # a machine path: where the run happened, not what it learned
            config.get("train", {}).pop(field, None)
        config.get("data", {}).pop("root", None)
        atomic_write_text(folder / f"{run.run_id}.json", summary.read_text(encoding="utf-8"))
        atomic_write_text(folder / f"{run.run_id}.config.yaml", yaml.safe_dump(config, sort_keys=True))


def render(folder: Path, title: str) -> str:
    by_task: dict[str, list[tuple[dict, dict]]] = {}
    for path in sorted(folder.glob("*.json")):
        summary = json.loads(path.read_text(encoding="utf-8"))
        config = yaml.safe_load(path.with_suffix(".config.yaml").read_text(encoding="utf-8"))
        label = path.stem.rsplit("-s", 1)[0].split("-")[0]  # <task label>-<encoder>-<dataset>-s<seed>
        by_task.setdefault(label, []).append((summary, config))
    lines = [
        f"## {title}: pretext accuracy of each pretraining run",
        "",
        "| task | steps | held-out pretext acc per seed | mean | chance | train acc (last steps), mean |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for label, runs in sorted(by_task.items()):
        val = [s.get("val", {}).get("acc") for s, _ in runs]
        train = [s.get("train", {}).get("acc") for s, _ in runs]
        shown = ", ".join(_pct(v) for v in val)
        mean_val = statistics.fmean(val) if None not in val else None
        mean_train = statistics.fmean(train) if None not in train else None
        steps = sorted({s["steps"] for s, _ in runs})
        lines.append(
            f"| {label} | {', '.join(map(str, steps))} | {shown} | {_pct(mean_val)} "
            f"| {_pct(runs[0][0].get('chance_accuracy'))} | {_pct(mean_train)} |"
        )
    lines += [
        "",
        "- Held-out pretext acc: on the videos held out from pretraining (`data.val_videos`, drawn at"
        " random from the train split), one sample per video; – where a run held none out. Supervised"
        " runs hold none out and are not listed: their probe results are the main table. Chance:"
        " always the most frequent answer.",
        f"- Source: `{folder.as_posix()}/<run id>.json` (each run's summary.json) and `.config.yaml` (its"
        " resolved config), copied by `results/pretext_table.py` from the matrix's run dirs.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    matrix_path, out = sys.argv[1], Path(sys.argv[2])
    name = load_matrix(matrix_path).name
    folder = Path("results") / "pretrain" / name
    copy_summaries(matrix_path, folder)
    atomic_write_text(out, render(folder, name))
