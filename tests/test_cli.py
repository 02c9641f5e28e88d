"""The command line as a user meets it: help, list, config errors, and the quick demo end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ssl_video.cli import main


def test_help_lists_every_command():
    out = subprocess.run(
        [sys.executable, "-m", "ssl_video.cli", "--help"], capture_output=True, text=True
    ).stdout
    for command in ("pretrain", "eval", "data", "demo", "list"):
        assert command in out


def test_list_shows_registries(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "vcop" in out and "r3d_tiny" in out and "ucf101" in out


def test_unknown_override_key_is_a_clear_error(capsys):
    assert main(["pretrain", "vcop", "train.batchsize=4", "--print-config"]) == 2
    err = capsys.readouterr().err
    assert "train.batchsize" in err and "train.batch_size" in err


def test_print_config_resolves_overrides(capsys):
    assert main(["pretrain", "vcop", "train.epochs=2", "--print-config"]) == 0
    assert "epochs: 2" in capsys.readouterr().out


def test_quick_demo_prints_the_table(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| encoder init")
    assert any(r.startswith("| VCOP |") for r in rows) and any(r.startswith("| random init |") for r in rows)
    results = json.loads((tmp_path / "demo_results.json").read_text())
    for row in results["rows"]:
        assert row["n_queries"] > 0 and not row["failed_queries"]
        assert all(0.0 <= v <= 100.0 for v in row["metrics"].values())
        # R@k can only grow with k
        values = [row["metrics"][f"R@{k}"] for k in (1, 5, 10, 20, 50)]
        assert values == sorted(values)


@pytest.mark.parametrize("argv", [["data", "info", "--root", "/nonexistent/ucf"]])
def test_missing_dataset_is_a_clear_error(argv, capsys):
    assert main(argv) == 2
    assert "/nonexistent/ucf" in capsys.readouterr().err
