"""A pretraining job interrupted on the real local Slurm cluster continues from its checkpoint and
ends with exactly the weights of an uninterrupted run:

- the preemption / time-limit signal (USR2, what Slurm sends ``signal_delay_s`` before the limit):
  the engine checkpoints at the next step, submitit requeues the job with ``--resume auto``;
- ``scontrol requeue`` (SIGTERM, then SIGKILL; no checkpoint signal): the rerun resumes from the
  last periodic checkpoint.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest
import torch
from conftest import TINY_VCOP

from ssl_video.cli import main
from ssl_video.engine.checkpoint import load_file
from ssl_video.slurm import Job, make_launcher

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

# The job is interrupted after its first checkpoint (step 1 or 2) and must still have more work left
# than it can do before the kill lands: after `scontrol requeue` the local cluster's SIGKILL came more
# than 3 s late (linuxproc tracking; srun waits 4 s), and an idle 2-core machine runs ~35 of these
# steps per second (36 and 120 steps were once all done before the kill, 300 got to step 160).
STEPS = 400


def _argv(tiny_synth, out, checkpoint_every):
    return (
        "pretrain", "vcop", *TINY_VCOP, f"data.root={tiny_synth}", f"train.out_dir={out}",
        f"train.max_steps={STEPS}", f"train.checkpoint_every={checkpoint_every}", "seed=5",
        "--resume", "auto",
    )  # fmt: skip


@pytest.fixture(scope="module")
def uninterrupted(tiny_synth, tmp_path_factory):
    """The same job run to the end by the local executor: the reference weights."""
    out = tmp_path_factory.mktemp("straight")
    handle = make_launcher("local", out / "logs").submit(Job("straight", _argv(tiny_synth, out, 1000)))
    handle.wait()
    return load_file(out / "encoder.pt")["state_dict"]


def _wait_for(path, handle, timeout=300) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        assert time.time() < deadline, f"no {path} after {timeout} s (job {handle.state()})"
        assert handle.state() in ("PENDING", "RUNNING"), f"job ended {handle.state()} before writing {path}"
        time.sleep(0.1)


def _assert_same_weights(expected, out):
    got = load_file(out / "encoder.pt")["state_dict"]
    assert got.keys() == expected.keys()
    for key in expected:
        assert torch.equal(got[key], expected[key]), key


def _resumed_step(log: str) -> int:
    match = re.search(r"resumed from \S+ at step (\d+)", log)
    assert match, "the rerun did not resume from a checkpoint"
    return int(match.group(1))


def test_preemption_signal_checkpoints_requeues_and_resumes_exactly(
    slurm_cluster, tiny_synth, tmp_path, uninterrupted
):
    out = tmp_path / "run"
    argv = _argv(tiny_synth, out, 1000)  # no periodic checkpoint: only the signal makes one
    handle = make_launcher("slurm", tmp_path / "logs", slurm_cluster).submit(Job("pre", argv))
    _wait_for(out / "tb", handle)  # the training loop is starting
    subprocess.run(["scancel", "--signal=USR2", handle.job_id], check=True)  # what the time limit sends
    handle.wait()
    assert handle.state() == "COMPLETED"
    log = handle.log_path.read_text() + handle.err_path.read_text()
    stopped = re.search(r"stopped at step (\d+) on SIGUSR2 after writing", log)
    assert stopped, log[-3000:]
    assert "Requeued job" in log and "attempt 2" in log
    assert 1 <= int(stopped.group(1)) == _resumed_step(log) < STEPS
    assert load_file(out / "checkpoints" / "last.pt")["step"] == STEPS
    _assert_same_weights(uninterrupted, out)


def test_scontrol_requeue_resumes_from_the_periodic_checkpoint(
    slurm_cluster, tiny_synth, tmp_path, uninterrupted, capsys
):
    out = tmp_path / "run"
    args = list(_argv(tiny_synth, out, 2))[:-2]  # the CLI adds --resume auto itself
    assert main([*args, "--executor", "slurm", "--profile", slurm_cluster.source]) == 0
    printed = capsys.readouterr().out
    job_id = re.search(r"submitted Slurm job (\d+) \(pretrain-vcop\)", printed).group(1)
    assert f"logs: {out / 'slurm' / job_id}/" in printed
    handle = make_launcher("slurm", out / "slurm", slurm_cluster).attach(job_id, "pretrain-vcop")
    _wait_for(out / "checkpoints" / "last.pt", handle)
    subprocess.run(["scontrol", "requeue", job_id], check=True)
    handle.wait()
    assert handle.state() == "COMPLETED"
    log = handle.log_path.read_text() + handle.err_path.read_text()
    assert "attempt 2" in log and "SIGUSR2" not in log  # killed, not asked to checkpoint
    resumed = _resumed_step(log)
    assert 2 <= resumed < STEPS and resumed % 2 == 0  # a periodic checkpoint, written before the kill
    _assert_same_weights(uninterrupted, out)
