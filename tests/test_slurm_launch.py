"""Launching without a cluster: job description, profiles, the profile check against partition
limits, the Slurm -> torch.distributed environment, the local executor, the missing-sbatch error and
the engine's checkpoint-request hook (the path a preemption signal takes)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import TINY_VCOP

from ssl_video.config import ConfigError, load_pretrain_config
from ssl_video.engine.checkpoint import load_file
from ssl_video.engine.distributed import dist_env_from_environ, environ_from_slurm, first_host
from ssl_video.engine.trainer import TrainingStopped, clear_checkpoint_request, pretrain, request_checkpoint
from ssl_video.slurm import ClusterProfile, Job, JobFailed, SubmissionError, load_profile, make_launcher
from ssl_video.slurm.cluster import PartitionInfo, check_profile, parse_gpus, parse_time_min
from ssl_video.slurm.tasks import PretrainTask, SlurmTask, task_for


# ------------------------------------------------------------------------------------------- jobs
def test_job_is_plain_validated_data():
    job = Job("p", ["pretrain", "vcop", "seed=1"])
    assert job.argv == ("pretrain", "vcop", "seed=1") and job == Job("p", ("pretrain", "vcop", "seed=1"))
    assert job.command == "ssl-video pretrain vcop seed=1" and job.subcommand == "pretrain"
    with pytest.raises(ValueError, match="argv"):
        Job("p", ())
    with pytest.raises(ValueError, match="name"):
        Job("", ("list",))


def test_with_resume_auto_replaces_any_resume_argument():
    assert Job("p", ("pretrain", "vcop")).with_resume_auto().argv == ("pretrain", "vcop", "--resume", "auto")
    job = Job("p", ("pretrain", "vcop", "--resume", "/x/last.pt", "seed=2"))
    assert job.with_resume_auto().argv == ("pretrain", "vcop", "seed=2", "--resume", "auto")
    assert Job("p", ("pretrain", "--resume=x", "vcop")).with_resume_auto().argv == (
        "pretrain", "vcop", "--resume", "auto",
    )  # fmt: skip


def test_only_pretraining_jobs_are_checkpointable():
    pre, other = task_for(Job("p", ("pretrain", "vcop"))), task_for(Job("e", ("eval", "knn")))
    assert isinstance(pre, PretrainTask) and hasattr(pre, "checkpoint")
    assert type(other) is SlurmTask and not hasattr(other, "checkpoint")  # submitit would requeue it
    resubmitted = pre.checkpoint()
    assert resubmitted.function.job.argv == ("pretrain", "vcop", "--resume", "auto")


def test_job_call_raises_with_the_commands_error_line(capsys):
    assert Job("cfg", ("pretrain", "vcop", "seed=5", "--print-config"))() == 0
    assert "seed: 5" in capsys.readouterr().out
    with pytest.raises(JobFailed, match=r"exited with code 2: .*unknown config key 'train.epochz'"):
        Job("bad", ("pretrain", "vcop", "train.epochz=3", "--print-config"))()
    with pytest.raises(JobFailed, match="exited with code 2"):  # argparse's SystemExit
        Job("bad", ("no-such-command",))()


# --------------------------------------------------------------------------------------- profiles
def test_profiles_load_and_unknown_keys_are_errors(tmp_path):
    local = load_profile("local")
    assert local.partition == "debug" and local.gpus_per_node == 0 and local.name == "local"
    assert local.slurm_conf_path().name == "slurm.conf" and ".slurm-local" in str(local.slurm_conf_path())
    example = load_profile("example_gpu_cluster")
    assert example.gpus_per_node == 4 and example.tasks == 4  # one task per GPU
    bad = tmp_path / "bad.yaml"
    bad.write_text("partition: gpu\ngpus_per_nod: 2\n")
    with pytest.raises(
        ConfigError, match=r"bad.yaml: unknown config key 'gpus_per_nod'; did you mean gpus_per_node"
    ):
        load_profile(bad)
    with pytest.raises(ConfigError, match="known: .*local"):
        load_profile("no_such_cluster")
    bad.write_text("time_min: 1\nsignal_delay_s: 60\n")
    with pytest.raises(ConfigError, match="signal_delay_s"):
        load_profile(bad)


def test_slurm_time_and_gres_parsing():
    assert [parse_time_min(t) for t in ("infinite", "30", "30:00", "2:00:00", "1-12", "1-00:30:00")] == [
        None, 30, 30, 120, 2160, 1470,
    ]  # fmt: skip
    assert [parse_gpus(g) for g in ("(null)", "gpu:8", "gpu:a100:4(S:0-1)", "tmp:9,gpu:2")] == [0, 8, 4, 2]


PARTITIONS = {
    "debug": PartitionInfo(
        "debug", default=True, max_time_min=120, cpus_per_node=2, mem_mb_per_node=20000, nodes=1
    ),
    "gpu": PartitionInfo(
        "gpu", max_time_min=None, cpus_per_node=64, mem_mb_per_node=512000, gpus_per_node=8, nodes=4,
        features={"a100"}, max_mem_mb_per_node=256000,
    ),
}  # fmt: skip

REFUSALS = [
    ({"gpus_per_node": 1}, r"1 GPU\(s\) per node requested but partition 'debug' has no GPUs; "
                           r"set 'gpus_per_node: 0'"),
    ({"partition": "gpu", "gpus_per_node": 16}, r"in partition 'gpu' have at most 8; set 'gpus_per_node: 8'"),
    ({"partition": "nosuch"}, r"partition 'nosuch' does not exist on this cluster \(it has: debug, gpu\)"),
    ({"time_min": 500}, r"time limit 500 min is above the 120 min partition 'debug' allows; "
                        r"set 'time_min: 120'"),
    ({"mem_gb": 30}, r"memory request 30 GB per node is above the 19.5 GB partition 'debug' allows"),
    ({"partition": "gpu", "mem_gb": 300}, r"above the 250.0 GB partition 'gpu' allows; set 'mem_gb: 250'"),
    ({"cpus_per_task": 4}, r"4 CPUs per node requested .* have 2; lower 'cpus_per_task'"),
    ({"partition": "gpu", "nodes": 5}, r"5 nodes requested but partition 'gpu' has 4"),
    ({"partition": "gpu", "constraint": "h100"}, r"constraint 'h100' matches no node feature .*a100"),
]  # fmt: skip


@pytest.mark.parametrize("change, message", REFUSALS)
def test_requests_the_cluster_cannot_satisfy_are_refused_in_one_line(change, message):
    profile = dataclasses.replace(ClusterProfile(cpus_per_task=1, source="slurm/x.yaml"), **change)
    with pytest.raises(SubmissionError, match=message) as err:
        check_profile(profile, PARTITIONS)
    assert "\n" not in str(err.value) and "slurm/x.yaml" in str(err.value)


def test_satisfiable_requests_pass_and_pick_the_partition():
    assert check_profile(ClusterProfile(cpus_per_task=1), PARTITIONS).name == "debug"  # the default
    ok = ClusterProfile(
        partition="gpu", gpus_per_node=8, cpus_per_task=8, mem_gb=250, constraint="a100", nodes=4
    )
    assert check_profile(ok, PARTITIONS).name == "gpu"


def test_missing_sbatch_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without Slurm's commands
    launcher = make_launcher("slurm", tmp_path / "logs", ClusterProfile(partition="debug"))
    with pytest.raises(SubmissionError, match=r"^sbatch not found on PATH: .*--executor local") as err:
        launcher.submit(Job("x", ("list",)))
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------------- distributed
def test_slurm_variables_map_to_torch_distributed():
    slurm = {
        "SLURM_NTASKS": "8", "SLURM_PROCID": "5", "SLURM_LOCALID": "1", "SLURM_JOB_ID": "4711",
        "SLURM_JOB_NODELIST": "gpu[07-08,12]",
    }  # fmt: skip
    env = environ_from_slurm(slurm)
    assert env == {
        "RANK": "5",
        "WORLD_SIZE": "8",
        "LOCAL_RANK": "1",
        "MASTER_ADDR": "gpu07",
        "MASTER_PORT": "24711",
    }
    dist = dist_env_from_environ(env)
    assert (dist.rank, dist.world_size, dist.local_rank, dist.is_main) == (5, 8, 1, False)
    # stale ranks inherited from the submitting shell never win; an explicit master does
    inherited = {**slurm, "RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "head", "MASTER_PORT": "1234"}
    assert environ_from_slurm(inherited) == {**env, "MASTER_ADDR": "head", "MASTER_PORT": "1234"}
    assert environ_from_slurm({"SLURM_NTASKS": "1", "SLURM_PROCID": "0"}) == {}
    assert environ_from_slurm({}) == {}


def test_first_host_of_slurm_hostlists():
    assert first_host("node1") == "node1"
    assert first_host("a1,b2") == "a1"
    assert first_host("gpu[003-010,012],cpu1") == "gpu003"
    assert first_host("rack[2,4]-n[1-3]") == "rack2-n1"


# -------------------------------------------------------------------------------- local executor
def test_local_launcher_runs_in_order_with_states_and_dependencies(tmp_path):
    launcher = make_launcher("local", tmp_path / "logs")
    ok = launcher.submit(Job("cfg", ("pretrain", "vcop", "seed=11", "--print-config")))
    assert ok.state() == "COMPLETED" and ok.wait() is None
    assert "seed: 11" in ok.log_path.read_text()
    bad = launcher.submit(Job("bad", ("pretrain", "vcop", "optim.lr=abc", "--print-config")))
    assert bad.state() == "FAILED"
    with pytest.raises(JobFailed, match=r"local-2 \(bad\) FAILED: .*optim.lr"):
        bad.wait()
    after_ok = launcher.submit(Job("next", ("pretrain", "vcop", "--print-config")), after=[ok])
    after_bad = launcher.submit(Job("never", ("pretrain", "vcop", "--print-config")), after=[ok, bad])
    assert after_ok.state() == "COMPLETED"
    assert (
        after_bad.state() == "CANCELLED"
        and "dependency local-2 (bad) FAILED" in after_bad.log_path.read_text()
    )
    array = launcher.submit_array(
        [Job(f"a{i}", ("pretrain", "vcop", f"seed={i}", "--print-config")) for i in (1, 2)]
    )
    assert [h.job_id for h in array] == ["local-5", "local-6"]
    assert all("seed: " + h.name[1:] in h.log_path.read_text() for h in array)
    again = make_launcher("local", tmp_path / "logs").submit(
        Job("cfg", ("pretrain", "vcop", "--print-config"))
    )
    assert again.job_id == "local-7" and ok.log_path.exists()  # a new launcher keeps earlier logs


def test_subprocess_executor_runs_the_same_job(tmp_path):
    launcher = make_launcher("subprocess", tmp_path / "logs")
    handle = launcher.submit(Job("cfg", ("pretrain", "vcop", "seed=13", "--print-config")))
    assert handle.state() == "COMPLETED" and "seed: 13" in handle.log_path.read_text()
    failed = launcher.submit(Job("bad", ("pretrain", "vcop", "nope=1", "--print-config")))
    with pytest.raises(JobFailed, match=r"exit code 2: .*unknown config key 'nope'"):
        failed.wait()
    with pytest.raises(ConfigError, match="unknown executor"):
        make_launcher("kubernetes", tmp_path)


# --------------------------------------------------------------------- engine: checkpoint request
def _weights(out):
    return load_file(out / "encoder.pt")["state_dict"]


def test_checkpoint_request_stops_at_a_step_boundary_and_resume_is_exact(tiny_synth, tmp_path, caplog):
    """What USR2 triggers on Slurm, without Slurm: checkpoint at the next step, stop, resume exactly."""

    def cfg(out):
        args = [*TINY_VCOP, f"data.root={tiny_synth}", f"train.out_dir={out}", "train.max_steps=3", "seed=4"]
        return load_pretrain_config("vcop", args)

    straight = tmp_path / "straight"
    request_checkpoint(stop=False)  # a checkpoint without a stop: the run goes on unchanged
    with caplog.at_level("WARNING", logger="ssl_video.engine.trainer"):
        assert pretrain(cfg(straight))["steps"] == 3
    assert "step 1: checkpoint written on request" in caplog.text

    stopped = tmp_path / "stopped"
    request_checkpoint(stop=True)  # e.g. from a signal handler before or during the loop
    with pytest.raises(TrainingStopped) as info:
        pretrain(cfg(stopped))
    assert info.value.step == 1 and load_file(stopped / "checkpoints" / "last.pt")["step"] == 1
    assert not (stopped / "encoder.pt").exists()
    assert pretrain(cfg(stopped), resume="auto")["steps"] == 3  # the request was consumed
    a, b = _weights(straight), _weights(stopped)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    clear_checkpoint_request()
