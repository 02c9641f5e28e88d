"""Render the pretext-accuracy table of the SynthMotion runs from their stored summaries.

Usage: python results/pretext_table.py results/pretrain/synthmotion > results/synthmotion_pretext.md

Reads every ``<task>.json`` (a copy of the run's ``summary.json``, written by the engine at the end of
pretraining) and ``<task>.config.yaml`` (the run's resolved config) in the folder; one row per task,
sorted by name. Nothing is typed by hand: rerunning on the same files gives the same bytes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def render(folder: Path) -> str:
    lines = [
        "## SynthMotion: pretext accuracy of each pretraining run (r3d_tiny w16)",
        "",
        "| task | steps | epochs | pretext val acc | chance | train acc (last steps) | task parameters |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for path in sorted(folder.glob("*.json")):
        summary = json.loads(path.read_text())
        config = yaml.safe_load(path.with_suffix(".config.yaml").read_text())
        params = config["task"].get("params") or {}
        shown = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
        val = summary.get("val", {})
        val_acc = _pct(val.get("acc"))
        if "bal_acc" in val:
            val_acc += f" (balanced {_pct(val['bal_acc'])})"
        lines.append(
            f"| {summary['task']} | {summary['steps']} | {config['train']['epochs']} | {val_acc} "
            f"| {_pct(summary.get('chance_accuracy'))} | {_pct(summary.get('train', {}).get('acc'))} "
            f"| {shown} |"
        )
    lines += [
        "",
        "- Pretext val acc: on the videos held out from pretraining (`data.val_videos=48`, drawn at random"
        " from the train split), one sample per video; chance = always the most frequent answer.",
        "- Source: `results/pretrain/synthmotion/<task>.json` (the run's summary.json) and"
        " `<task>.config.yaml` (its resolved config), copied by `results/make_synthmotion.sh`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render(Path(sys.argv[1])))
