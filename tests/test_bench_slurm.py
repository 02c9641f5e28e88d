"""`ssl-video bench` on the local Slurm cluster: a job array of pretraining runs, evaluation jobs
that wait for them (afterok), and tables byte-identical to those of the same matrix run locally.

What may legitimately differ between the two runs is kept out of the tables by construction: wall
times, timestamps, job ids, run dirs, store paths and checkpoint paths live only in the records and
the state file; the tables show method, encoder, metrics (mean ± std over the pretraining seeds),
protocol hashes, the dataset fingerprint and the code version, which must all be equal. Both runs
pin the same thread count (train.threads; evaluation uses the machine's cores in both), and use
separate feature caches, so the Slurm run really extracts its own features."""

from __future__ import annotations

import re
import time

import pytest
from test_bench import tiny_matrix, write_matrix

from ssl_video.bench import load_matrix
from ssl_video.bench.run import ACTIVE_STATES, current_states
from ssl_video.bench.state import load_state
from ssl_video.cli import main
from ssl_video.results import ResultStore

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def test_slurm_bench_matches_the_local_table_byte_for_byte(slurm_cluster, tiny_synth, tmp_path, capsys):
    # the same matrix (same name: same checkpoint ids and title), two out roots
    local = write_matrix(tmp_path / "local.yaml", tiny_matrix(tiny_synth, tmp_path / "local"))
    slurm = write_matrix(tmp_path / "slurm.yaml", tiny_matrix(tiny_synth, tmp_path / "slurm"))

    assert main(["bench", local]) == 0
    profile = ["--profile", slurm_cluster.source]
    assert main(["bench", "run", slurm, "--executor", "slurm", *profile]) == 0
    assert "submitted 4 pretraining and 8 evaluation job(s) to slurm" in capsys.readouterr().out
    # while they are queued or running, nothing more is submitted
    assert main(["bench", "run", slurm, "--executor", "slurm", *profile]) == 2
    assert "are still queued or running" in capsys.readouterr().err
    matrix, deadline = load_matrix(slurm), time.monotonic() + 1200
    while any(state in ACTIVE_STATES for _, state in current_states(matrix).values()):
        assert time.monotonic() < deadline, current_states(matrix)
        time.sleep(3)

    # one job array for the pretraining runs; each evaluation waited for its own run (afterok)
    [submission] = load_state(tmp_path / "slurm" / "tiny", "tiny")
    assert submission.executor == "slurm" and submission.profile == slurm_cluster.source
    pretrain = {j.name: j.job_id for j in submission.jobs if j.kind == "pretrain"}
    assert len(pretrain) == 4 and all(re.fullmatch(r"\d+_\d", i) for i in pretrain.values())
    assert len({i.split("_")[0] for i in pretrain.values()}) == 1, pretrain  # a single array
    evals = [j for j in submission.jobs if j.kind == "eval"]
    assert len(evals) == 8
    for job in evals:
        run = job.name[len("eval-") :].rsplit("-", 1)[0]
        assert job.after == [pretrain[f"pretrain-{run}"]] and re.fullmatch(r"\d+", job.job_id)

    # status asks Slurm's accounting: every job COMPLETED
    assert main(["bench", "status", slurm]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith(("pretrain-", "eval-"))]
    assert len(lines) == 12 and all(" COMPLETED " in line for line in lines), out
    assert "8/8 results stored" in out

    # a second run submits nothing
    assert main(["bench", "run", slurm, "--executor", "slurm", *profile]) == 0
    assert "nothing submitted" in capsys.readouterr().out
    assert len(load_state(tmp_path / "slurm" / "tiny", "tiny")) == 1

    # the records differ where they may (paths, times), the tables not at all
    local_records = list(ResultStore(tmp_path / "local" / "tiny" / "store").records("synth"))
    slurm_records = list(ResultStore(tmp_path / "slurm" / "tiny" / "store").records("synth"))
    assert [r["metrics"] for r in local_records] == [r["metrics"] for r in slurm_records]
    assert local_records[0]["checkpoint"]["path"] != slurm_records[0]["checkpoint"]["path"]
    assert main(["bench", "collect", local]) == 0 and main(["bench", "collect", slurm]) == 0
    local_tables = sorted((tmp_path / "local" / "tiny" / "tables").iterdir())
    slurm_tables = sorted((tmp_path / "slurm" / "tiny" / "tables").iterdir())
    assert [p.name for p in local_tables] == [p.name for p in slurm_tables]
    assert {p.suffix for p in local_tables} >= {".md", ".csv", ".tex", ".html", ".png"}
    for a, b in zip(local_tables, slurm_tables):
        assert a.read_bytes() == b.read_bytes(), f"{a.name} differs between the local and the Slurm run"
