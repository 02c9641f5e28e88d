"""What submitit pickles and runs inside a Slurm job: a Job, plus the Slurm-side set-up.

Every task of a job step gets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT from
Slurm's variables (one task per GPU), then runs the Job like the local executor does.

Pretraining jobs are submitit-Checkpointable. On the preemption / time-limit signal (USR2, sent
``signal_delay_s`` before the limit) the training loop is asked to checkpoint at its next step and
stop; then submitit's own handler runs: it calls ``checkpoint()`` (the same job with
``--resume auto``), requeues the job and exits (at once when the signal comes before the engine is
loaded: there is nothing to save yet). After ``scontrol requeue`` (SIGTERM, then SIGKILL)
the job reruns as submitted; a rerun always resumes (``SLURM_RESTART_COUNT`` > 0), from the last
periodic checkpoint.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

import submitit

from .job import Job


def _preemption_signal() -> signal.Signals:
    return getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"))


def _restart_count() -> int:
    return int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0)


class SlurmTask:
    """Runs ``job`` in a Slurm task (any ``ssl-video`` command)."""

    def __init__(self, job: Job):
        self.job = job

    def _prepare(self) -> Job:
        if int(os.environ.get("SLURM_NTASKS", "1")) > 1:  # DDP: one task per GPU (imports torch)
            from ..engine.distributed import environ_from_slurm

            os.environ.update(environ_from_slurm())
        logging.getLogger("ssl_video").setLevel(logging.INFO)  # batch logs: show the engine's info lines
        print(
            f"ssl-video job {self.job.name!r}: Slurm job {os.environ.get('SLURM_JOB_ID', '?')}, "
            f"task {os.environ.get('SLURM_PROCID', '0')}, attempt {_restart_count() + 1}: {self.job.command}",
            flush=True,
        )
        return self.job

    def __call__(self) -> int:
        return self._prepare()()


class PretrainTask(SlurmTask, submitit.helpers.Checkpointable):
    """A pretraining job that checkpoints and requeues itself on preemption or time limit."""

    def _prepare(self) -> Job:
        if _restart_count() > 0:  # requeued (scontrol requeue, node failure): continue, never restart
            self.job = self.job.with_resume_auto()
        return super()._prepare()

    def __call__(self) -> int:
        job = self._prepare()
        signum = _preemption_signal()
        submitit_handler = signal.getsignal(signum)
        if not callable(submitit_handler) or "--print-config" in job.argv:  # nothing to train
            return job()
        # Imported before the handler is set, so that the handler finds it whole. A signal that
        # comes earlier reaches submitit's handler: requeue at once (there is nothing to save yet).
        from ..engine import trainer

        trainer.clear_checkpoint_request()
        signal.signal(signum, lambda *_: trainer.request_checkpoint(stop=True))
        try:
            return job()
        except trainer.TrainingStopped as e:
            print(
                f"ssl-video job {job.name!r}: stopped at step {e.step} on {signum.name} after writing "
                f"{e.path}; requeueing with --resume auto",
                flush=True,
            )
            # submitit: checkpoint() -> requeue -> exit on rank 0; returns on the other ranks.
            signal.signal(signum, submitit_handler)
            submitit_handler(signum, None)
            sys.exit(-1)
        finally:
            signal.signal(signum, submitit_handler)

    def checkpoint(self, *args, **kwargs) -> submitit.helpers.DelayedSubmission:
        """The job to requeue: the same pretraining, continuing from its latest checkpoint."""
        return submitit.helpers.DelayedSubmission(PretrainTask(self.job.with_resume_auto()))


def task_for(job: Job) -> SlurmTask:
    return PretrainTask(job) if job.subcommand == "pretrain" else SlurmTask(job)
