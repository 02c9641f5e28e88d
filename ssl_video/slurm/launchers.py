"""Launchers run Jobs and hand back Handles: locally (in-process or a subprocess, one job after the
other in submission order) or on Slurm through submitit. Both report the same states (COMPLETED,
FAILED, CANCELLED, ...) so code written against one runs on the other.

On Slurm each job gets a log folder ``<log_dir>/<job id>/`` (submitit's ``<id>_<task>_log.out`` /
``.err``, the pickled job and its result); locally each job writes ``<log_dir>/<job id>_<name>.log``.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from ..config import ConfigError
from ..registry import Registry
from .cluster import SubmissionError, check_profile, query_partitions, require_slurm, sbatch_error_line
from .job import Job, JobFailed
from .profile import ClusterProfile
from .tasks import task_for

# Slurm states after which a job will not run again.
FINAL_STATES = {
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE",
    "REVOKED",
}  # fmt: skip


class Handle:
    """A submitted job: ``job_id``, ``name``, ``state()``, ``wait()``, ``cancel()``, ``log_path``."""

    job_id: str
    name: str
    log_path: Path | None

    def state(self) -> str:
        raise NotImplementedError

    def wait(self) -> None:
        raise NotImplementedError

    def cancel(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.job_id!r}, {self.name!r})"


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name)[:80]


# ------------------------------------------------------------------------------------------- local
class LocalHandle(Handle):
    def __init__(self, job_id: str, job: Job, log_path: Path):
        self.job_id, self.name, self.job, self.log_path = job_id, job.name, job, log_path
        self._state, self._error = "PENDING", ""

    def state(self) -> str:
        return self._state

    def wait(self) -> None:
        if self._state != "COMPLETED":
            raise JobFailed(
                f"job {self.job_id} ({self.name}) {self._state}: {self._error} (log: {self.log_path})"
            )

    def cancel(self) -> None:
        """Local jobs run to the end when submitted; there is nothing left to cancel."""


class LocalLauncher:
    """Runs each job when it is submitted, in this process (or a child process), one at a time."""

    def __init__(self, log_dir: str | Path, in_subprocess: bool = False):
        self.log_dir = Path(log_dir)
        self.in_subprocess = in_subprocess
        # Job ids continue after those already in log_dir, so a later launcher keeps earlier logs.
        earlier = [re.match(r"local-(\d+)_", p.name) for p in self.log_dir.glob("local-*.log")]
        self._count = max((int(m.group(1)) for m in earlier if m), default=0)

    def submit(self, job: Job, after: Sequence[Handle] = ()) -> LocalHandle:
        self._count += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        handle = LocalHandle(
            f"local-{self._count}", job, self.log_dir / f"local-{self._count}_{_safe(job.name)}.log"
        )
        blocked = [h for h in after if h.state() != "COMPLETED"]
        if blocked:  # like Slurm's afterok with --kill-on-invalid-dep
            handle._state = "CANCELLED"
            handle._error = "dependency " + ", ".join(f"{h.job_id} ({h.name}) {h.state()}" for h in blocked)
            handle.log_path.write_text(f"not run: {handle._error}\n")
            return handle
        handle._state = "RUNNING"
        if self.in_subprocess:
            self._run_subprocess(handle)
        else:
            self._run_here(handle)
        return handle

    def submit_array(self, jobs: Sequence[Job]) -> list[LocalHandle]:
        return [self.submit(job) for job in jobs]

    def _run_here(self, handle: LocalHandle) -> None:
        with open(handle.log_path, "w", encoding="utf-8") as log:
            print(f"{handle.job.command}", file=log, flush=True)
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                try:
                    handle.job()
                    handle._state = "COMPLETED"
                except Exception as e:  # the job's failure is its state, as on Slurm
                    traceback.print_exc(file=log)
                    handle._state, handle._error = "FAILED", str(e).splitlines()[0] if str(e) else repr(e)

    def _run_subprocess(self, handle: LocalHandle) -> None:
        with open(handle.log_path, "w", encoding="utf-8") as log:
            print(f"{handle.job.command}", file=log, flush=True)
            code = subprocess.call(
                [sys.executable, "-m", "ssl_video.cli", *handle.job.argv],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if code == 0:
            handle._state = "COMPLETED"
        else:
            lines = [ln for ln in handle.log_path.read_text(errors="replace").splitlines() if ln.strip()]
            handle._state = "FAILED"
            handle._error = f"exit code {code}" + (f": {lines[-1].strip()}" if lines else "")


# ------------------------------------------------------------------------------------------- Slurm
class SlurmHandle(Handle):
    """A Slurm job (or one array task) submitted through submitit."""

    def __init__(self, sjob, name: str):
        self.sjob = sjob
        self.job_id = str(sjob.job_id)
        self.name = name
        task = sjob.task(0)
        self.log_path = task.paths.stdout
        self.err_path = task.paths.stderr

    def state(self) -> str:
        """The job's state now (sacct; squeue while accounting has not seen it yet)."""
        state = self.sjob.watcher.get_info(self.job_id, mode="force").get("State", "")
        if not state:
            done = subprocess.run(
                ["squeue", "-h", "-j", self.job_id, "-o", "%T"], capture_output=True, text=True
            )
            state = (
                done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else ""
            )
        return state.split()[0].upper() if state else "UNKNOWN"

    def wait(self) -> None:
        """Block until the job has ended; unless it succeeded, raise JobFailed (state, error, log)."""
        task = self.sjob.task(0)
        state, interval, next_check = "UNKNOWN", 1.0, 0.0
        while not task.paths.result_pickle.exists():  # written by the job itself when it ends
            if time.time() >= next_check:  # Slurm's view, for jobs that end without a result
                state = self.state()
                if state in FINAL_STATES:
                    break
                interval = min(interval * 1.5, 10.0)
                next_check = time.time() + interval
            time.sleep(0.25)
        if task.paths.result_pickle.exists():
            # The job writes its result before its process exits; Slurm's accounting records the end
            # after that, which takes seconds on a busy machine (10 s was too short in CI).
            deadline = time.time() + 180.0
            while self.state() not in FINAL_STATES and time.time() < deadline:
                time.sleep(0.25)
            error = task.exception()
            if error is None:
                return
            lines = [ln.strip() for ln in str(error).splitlines() if ln.strip() and not ln.startswith("---")]
            noise = ("You can check", "or at paths", "- /")
            why = next((ln for ln in reversed(lines) if not ln.startswith(noise)), "")
            raise JobFailed(f"job {self.job_id} ({self.name}) FAILED: {why} (log: {self.err_path})")
        raise JobFailed(
            f"job {self.job_id} ({self.name}) ended {state} without a result (log: {self.err_path})"
        )

    def cancel(self) -> None:
        """scancel the job (no error if it has already ended)."""
        subprocess.run(["scancel", self.job_id], capture_output=True, text=True)


class SlurmLauncher:
    """Submits Jobs with submitit's SlurmExecutor using a ClusterProfile.

    The profile is checked against the cluster (partitions, limits, GPUs) before the first
    submission. A profile with ``slurm_conf`` sets SLURM_CONF in this process's environment, since
    submitit runs sbatch / sacct / scancel with it.
    """

    def __init__(self, log_dir: str | Path, profile: ClusterProfile | None = None):
        self.log_dir = Path(log_dir).resolve()
        self.profile = profile or ClusterProfile(name="default")
        conf = self.profile.slurm_conf_path()
        if conf is not None:
            os.environ["SLURM_CONF"] = str(conf)
        self._checked = False

    def check(self) -> None:
        """Raise SubmissionError if this cluster cannot run the profile's request (cached)."""
        if not self._checked:
            require_slurm(self.profile)
            check_profile(self.profile, query_partitions(self.profile))
            self._checked = True

    def _executor(self, name: str, dependency: str = ""):
        import submitit

        p = self.profile
        executor = submitit.SlurmExecutor(
            folder=self.log_dir / "%j", max_num_timeout=p.max_requeues, python=p.python or None
        )
        params = {
            "job_name": name, "time": p.time_min, "nodes": p.nodes, "ntasks_per_node": p.tasks,
            "cpus_per_task": p.cpus_per_task, "array_parallelism": p.array_parallelism,
            "signal_delay_s": p.signal_delay_s, "setup": list(p.setup), "stderr_to_stdout": False,
        }  # fmt: skip
        optional = {"partition": p.partition, "account": p.account, "qos": p.qos, "constraint": p.constraint}
        params.update({k: v for k, v in optional.items() if v})
        if p.gpus_per_node:
            params["gpus_per_node"] = p.gpus_per_node
        if p.mem_gb:
            params["mem"] = f"{int(p.mem_gb * 1024)}M"
        extra = dict(p.extra_sbatch)
        if dependency:
            params["dependency"] = dependency
            extra["kill_on_invalid_dep"] = "yes"  # a failed dependency cancels the job (not pending forever)
        if extra:
            params["additional_parameters"] = extra
        try:
            executor.update_parameters(**params)
        except ValueError as e:
            raise ConfigError(f"{p.source}: {e}") from None
        return executor

    def _refused(self, name: str, error: Exception) -> SubmissionError:
        return SubmissionError(
            f"sbatch refused job '{name}': {sbatch_error_line(str(error))} "
            f"(profile {self.profile.source or 'default'})"
        )

    def submit(self, job: Job, after: Sequence[Handle] = ()) -> SlurmHandle:
        """Submit one job; ``after``: it starts only when all of these completed (afterok)."""
        from submitit.core.utils import FailedJobError

        self.check()
        for h in after:
            if not isinstance(h, SlurmHandle):
                raise TypeError(f"a Slurm job can only depend on Slurm jobs, got {h!r}")
        dependency = "afterok:" + ":".join(h.job_id for h in after) if after else ""
        executor = self._executor(job.name, dependency)
        try:
            sjob = executor.submit(task_for(job))
        except FailedJobError as e:
            raise self._refused(job.name, e) from None
        return SlurmHandle(sjob, job.name)

    def submit_array(self, jobs: Sequence[Job]) -> list[SlurmHandle]:
        """Submit jobs as one Slurm job array (at most ``array_parallelism`` running at once)."""
        from submitit.core.utils import FailedJobError

        jobs = list(jobs)
        if not jobs:
            return []
        self.check()
        prefix = os.path.commonprefix([j.name for j in jobs]).rstrip("-_.") or "ssl-video"
        executor = self._executor(prefix if len(jobs) > 1 else jobs[0].name)
        try:
            with executor.batch():
                sjobs = [executor.submit(task_for(job)) for job in jobs]
        except FailedJobError as e:
            raise self._refused(prefix, e) from None
        return [SlurmHandle(sjob, job.name) for sjob, job in zip(sjobs, jobs)]

    def attach(self, job_id: str, name: str = "") -> SlurmHandle:
        """A handle for a job submitted earlier with the same ``log_dir`` (e.g. to poll its state)."""
        import submitit

        return SlurmHandle(
            submitit.SlurmJob(folder=self.log_dir / "%j", job_id=str(job_id)), name or str(job_id)
        )


# ``factory(log_dir, profile) -> launcher``; third-party executors register through the
# ``ssl_video.launchers`` entry-point group.
LAUNCHERS: Registry[Callable[..., LocalLauncher | SlurmLauncher]] = Registry(
    "executor", "ssl_video.launchers"
)
LAUNCHERS.add("local", lambda log_dir, profile=None: LocalLauncher(log_dir))
LAUNCHERS.add("subprocess", lambda log_dir, profile=None: LocalLauncher(log_dir, in_subprocess=True))
LAUNCHERS.add("slurm", lambda log_dir, profile=None: SlurmLauncher(log_dir, profile))


def make_launcher(
    executor: str, log_dir: str | Path, profile: ClusterProfile | None = None
) -> LocalLauncher | SlurmLauncher:
    """``local`` (in-process, the default), ``subprocess`` (a child process per job), ``slurm``, or a
    registered third-party executor."""
    return LAUNCHERS.get_or_raise(executor, ConfigError)(log_dir, profile)
