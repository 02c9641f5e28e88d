"""DDP through Slurm on the local cluster, on CPUs (Gloo): a job with 2 tasks gets its ranks and
rendezvous from Slurm's variables, trains as one 2-process group, and, interrupted by USR2, stops
both ranks at the same step, requeues and resumes. It must end with exactly the weights of the same
run under torchrun (which proves both tasks formed one process group: 2 independent processes
would train on different data)."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import time

import pytest
import torch
from conftest import TINY_VCOP

from ssl_video.engine.checkpoint import load_file
from ssl_video.slurm import Job, make_launcher

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

STEPS = 12


def _args(tiny_synth, out):
    return [
        *TINY_VCOP, f"data.root={tiny_synth}", f"train.out_dir={out}", f"train.max_steps={STEPS}",
        "train.checkpoint_every=1000", "train.threads=1", "train.device=cpu", "seed=6",
    ]  # fmt: skip


def _weights(out):
    return load_file(out / "encoder.pt")["state_dict"]


def test_two_task_slurm_job_is_one_ddp_group_and_resumes_after_usr2(slurm_cluster, tiny_synth, tmp_path):
    reference = tmp_path / "torchrun"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29541",
        "-m", "ssl_video.cli", "pretrain", "vcop", *_args(tiny_synth, reference),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]

    out = tmp_path / "slurm"
    two_tasks = dataclasses.replace(slurm_cluster, tasks_per_node=2, cpus_per_task=1)
    launcher = make_launcher("slurm", tmp_path / "logs", two_tasks)
    handle = launcher.submit(Job("ddp", ("pretrain", "vcop", *_args(tiny_synth, out), "--resume", "auto")))
    deadline = time.time() + 300
    while not (out / "tb").exists():  # rank 0's training loop is starting
        assert time.time() < deadline and handle.state() in ("PENDING", "RUNNING"), handle.state()
        time.sleep(0.1)
    subprocess.run(["scancel", "--signal=USR2", handle.job_id], check=True)
    handle.wait()
    assert handle.state() == "COMPLETED"
    logs = {
        task: "".join(p.read_text() for p in sorted(handle.log_path.parent.glob(f"*_{task}_log.*")))
        for task in (0, 1)
    }
    for task, log in logs.items():
        assert f"task {task}, attempt 2" in log, log[-2000:]
    stops = [re.findall(r"stopped at step (\d+) on SIGUSR2", log) for log in logs.values()]
    assert stops[0] and stops[0] == stops[1], stops  # both ranks stopped at the same step
    assert "Requeued job" in logs[0]
    got, expected = _weights(out), _weights(reference)
    assert all(torch.equal(got[k], expected[k]) for k in expected)
