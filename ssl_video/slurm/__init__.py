"""Launching ``ssl-video`` jobs locally or on Slurm (through submitit) from one job description.

    from ssl_video.slurm import Job, load_profile, make_launcher
    launcher = make_launcher("slurm", "runs/logs", load_profile("local"))
    handle = launcher.submit(Job("pretrain-vcop", ("pretrain", "vcop", "--resume", "auto")))
    handle.wait()

Cluster profiles live in the repo's ``slurm/`` folder; ``slurm/local/up.sh`` starts a local test
cluster that ``load_profile("local")`` targets.
"""

from .cluster import SubmissionError
from .job import Job, JobFailed
from .launchers import Handle, LocalLauncher, SlurmLauncher, make_launcher
from .profile import ClusterProfile, list_profiles, load_profile

__all__ = [
    "ClusterProfile",
    "Handle",
    "Job",
    "JobFailed",
    "LocalLauncher",
    "SlurmLauncher",
    "SubmissionError",
    "list_profiles",
    "load_profile",
    "make_launcher",
]
