"""Submitting to the real local Slurm cluster (slurm/local/up.sh, started by the slurm_cluster fixture):
a job and its result, a job array, a dependency chain, cancelling, and requests the cluster cannot
satisfy refused at submission in one line. Jobs print a resolved config (no torch import), so each
takes about a second on the cluster."""

from __future__ import annotations

import dataclasses
import subprocess
import time

import pytest
from conftest import TINY_VCOP

from ssl_video.cli import main
from ssl_video.slurm import Job, JobFailed, SubmissionError, make_launcher

pytestmark = pytest.mark.slurm


def _config_job(name: str, seed: int, *extra: str) -> Job:
    return Job(name, ("pretrain", "vcop", f"seed={seed}", *extra, "--print-config"))


def _sacct(job_id: str, field: str) -> str:
    done = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-j", job_id, "-o", field], capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[0]


def _wait_state(handle, wanted: set[str], timeout: float = 120) -> str:
    deadline = time.time() + timeout
    while (state := handle.state()) not in wanted:
        assert time.time() < deadline, f"job {handle.job_id} still {state} after {timeout} s"
        time.sleep(0.5)
    return state


def test_submit_and_get_the_same_result_as_locally(slurm_cluster, tmp_path):
    job = _config_job("config", 7, "train.epochs=3")
    handle = make_launcher("slurm", tmp_path / "slurm", slurm_cluster).submit(job)
    assert handle.job_id.isdigit()
    handle.wait()
    assert handle.state() == "COMPLETED"
    script = (tmp_path / "slurm" / handle.job_id / f"{handle.job_id}_submission.sh").read_text()
    assert "#SBATCH --job-name=config" in script and "#SBATCH --partition=debug" in script
    local = make_launcher("local", tmp_path / "local").submit(job)
    assert local.state() == "COMPLETED"
    printed = local.log_path.read_text().split("\n", 1)[1]  # after the command line
    assert "seed: 7" in printed and "epochs: 3" in printed
    assert printed in handle.log_path.read_text()  # the same job printed the same config on Slurm
    assert handle.log_path.parent == tmp_path / "slurm" / handle.job_id


def test_job_array_runs_every_task_and_reports_each(slurm_cluster, tmp_path):
    launcher = make_launcher("slurm", tmp_path, slurm_cluster)
    jobs = [_config_job(f"arr-{seed}", seed) for seed in (1, 2, 3)]
    jobs.append(_config_job("arr-bad", 4, "train.epochz=1"))
    handles = launcher.submit_array(jobs)
    array_id = handles[0].job_id.split("_")[0]
    assert [h.job_id for h in handles] == [f"{array_id}_{i}" for i in range(4)]
    for seed, handle in zip((1, 2, 3), handles):
        handle.wait()
        assert handle.state() == "COMPLETED" and f"seed: {seed}" in handle.log_path.read_text()
    with pytest.raises(
        JobFailed, match=rf"job {array_id}_3 \(arr-bad\) FAILED: .*unknown config key 'train.epochz'"
    ):
        handles[3].wait()
    assert handles[3].state() == "FAILED"


def test_dependency_chain_runs_in_order_and_a_failure_cancels_its_dependents(slurm_cluster, tmp_path):
    launcher = make_launcher("slurm", tmp_path, slurm_cluster)
    first = launcher.submit(_config_job("first", 1))
    second = launcher.submit(_config_job("second", 2), after=[first])
    third = launcher.submit(_config_job("third", 3), after=[first, second])
    broken = launcher.submit(_config_job("broken", 4, "nope=1"))
    never = launcher.submit(_config_job("never", 5), after=[broken])
    third.wait()
    assert [h.state() for h in (first, second, third)] == ["COMPLETED"] * 3
    assert _sacct(second.job_id, "Start") >= _sacct(first.job_id, "End")
    assert _sacct(third.job_id, "Start") >= _sacct(second.job_id, "End")
    script = (tmp_path / third.job_id / f"{third.job_id}_submission.sh").read_text()
    assert f"#SBATCH --dependency=afterok:{first.job_id}:{second.job_id}" in script
    with pytest.raises(JobFailed, match="FAILED"):
        broken.wait()
    with pytest.raises(JobFailed, match=rf"job {never.job_id} \(never\) ended CANCELLED"):
        never.wait()


def test_cancel_a_running_and_a_pending_job(slurm_cluster, tmp_path, tiny_synth):
    launcher = make_launcher("slurm", tmp_path / "logs", slurm_cluster)
    out = tmp_path / "run"
    argv = (
        "pretrain",
        "vcop",
        *TINY_VCOP,
        f"data.root={tiny_synth}",
        f"train.out_dir={out}",
        "train.max_steps=9999",
    )
    running = launcher.submit(Job("long", argv))
    later = dataclasses.replace(slurm_cluster, extra_sbatch={"begin": "now+600"})
    pending = make_launcher("slurm", tmp_path / "logs", later).submit(_config_job("later", 1))
    assert _wait_state(pending, {"PENDING"}) == "PENDING"
    pending.cancel()
    with pytest.raises(JobFailed, match=rf"job {pending.job_id} \(later\) ended CANCELLED"):
        pending.wait()
    assert _wait_state(running, {"RUNNING"}) == "RUNNING"
    running.cancel()
    with pytest.raises(JobFailed, match="ended CANCELLED"):
        running.wait()
    assert not (out / "encoder.pt").exists()
    running.cancel()  # cancelling an ended job is harmless


def test_gpu_request_is_refused_at_submission_in_one_line(slurm_cluster, tmp_path):
    gpu = dataclasses.replace(slurm_cluster, gpus_per_node=1)
    with pytest.raises(SubmissionError) as err:
        make_launcher("slurm", tmp_path, gpu).submit(_config_job("gpu", 1))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("1 GPU(s) per node requested but partition 'debug' has no GPUs;")
    assert "set 'gpus_per_node: 0' in" in message and "local.yaml" in message
    # Without the check, sbatch itself refuses; its error becomes the same kind of one-liner.
    launcher = make_launcher("slurm", tmp_path, gpu)
    launcher._checked = True
    with pytest.raises(
        SubmissionError, match=r"^sbatch refused job 'gpu': .*Invalid generic resource"
    ) as err:
        launcher.submit(_config_job("gpu", 1))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"partition": "nosuch"},
            r"^partition 'nosuch' does not exist on this cluster \(it has: debug\); set",
        ),
        ({"time_min": 600}, r"^time limit 600 min is above the 120 min partition 'debug' allows"),
        ({"mem_gb": 10000}, r"^memory request 10000 GB per node is above the .* GB partition 'debug' allows"),
        ({"cpus_per_task": 64}, r"^64 CPUs per node requested .* lower 'cpus_per_task'"),
    ],
)
def test_impossible_requests_are_refused_at_submission(slurm_cluster, tmp_path, change, message):
    profile = dataclasses.replace(slurm_cluster, **change)
    with pytest.raises(SubmissionError, match=message) as err:
        make_launcher("slurm", tmp_path, profile).submit(_config_job("x", 1))
    assert "\n" not in str(err.value)


def test_cli_submits_pretraining_and_reports_refusals(slurm_cluster, tmp_path, capsys):
    gpu_profile = tmp_path / "gpu.yaml"
    gpu_profile.write_text(
        f"partition: debug\ngpus_per_node: 2\nslurm_conf: {slurm_cluster.slurm_conf_path()}\n"
    )
    args = ["pretrain", "vcop", f"train.out_dir={tmp_path / 'run'}"]
    assert main([*args, "--executor", "slurm", "--profile", str(gpu_profile)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ssl-video: cannot submit: 2 GPU(s) per node requested") and "\n" not in err
    assert main([*args, "--executor", "slurm"]) == 2
    assert "needs --profile" in capsys.readouterr().err
