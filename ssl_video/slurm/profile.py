"""Cluster profiles: what a job asks Slurm for, one YAML file per cluster under the repo's ``slurm/``.

Keys mirror ClusterProfile's fields; an unknown key is an error naming the closest valid ones (the
same checks as pretraining configs). ``load_profile("local")`` reads ``slurm/local.yaml``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import REPO_ROOT, ConfigError, from_dict, load_yaml

PROFILE_DIR = REPO_ROOT / "slurm"


@dataclass(frozen=True)
class ClusterProfile:
    partition: str = ""  # "" = the cluster's default partition
    account: str = ""
    qos: str = ""
    nodes: int = 1
    gpus_per_node: int = 0  # DDP runs one task per GPU
    tasks_per_node: int = 1  # used when gpus_per_node is 0 (CPU jobs)
    cpus_per_task: int = 2
    mem_gb: float = 0.0  # per node; 0 = the cluster's default
    time_min: int = 60
    constraint: str = ""
    array_parallelism: int = 16  # array tasks running at once
    signal_delay_s: int = 120  # USR2 this long before the time limit: checkpoint, then requeue
    max_requeues: int = 3  # time-limit requeues before a job counts as failed (preemption: unlimited)
    setup: list[str] = field(default_factory=list)  # shell lines run before the job (module load ...)
    # any other sbatch option, e.g. {exclusive: true}
    extra_sbatch: dict[str, Any] = field(default_factory=dict)
    python: str = ""  # the interpreter on the compute nodes; "" = the one submitting
    slurm_conf: str = ""  # SLURM_CONF for the Slurm commands; relative to the profile file; "" = default
    name: str = ""  # set from the file name
    source: str = ""  # the file it was read from

    @property
    def tasks(self) -> int:
        """Tasks per node: one per GPU, else ``tasks_per_node``."""
        return self.gpus_per_node if self.gpus_per_node > 0 else self.tasks_per_node

    def check(self) -> None:
        where = self.source or "the profile"
        for key in ("nodes", "tasks_per_node", "cpus_per_task", "time_min", "array_parallelism"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{where}: {key} must be at least 1, got {getattr(self, key)}")
        for key in ("gpus_per_node", "mem_gb", "signal_delay_s", "max_requeues"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{where}: {key} must not be negative, got {getattr(self, key)}")
        if self.signal_delay_s >= self.time_min * 60:
            raise ConfigError(
                f"{where}: signal_delay_s={self.signal_delay_s} leaves no run time within time_min="
                f"{self.time_min}; lower signal_delay_s below {self.time_min * 60}"
            )

    def slurm_conf_path(self) -> Path | None:
        if not self.slurm_conf:
            return None
        path = Path(self.slurm_conf)
        base = Path(self.source).parent if self.source else PROFILE_DIR
        return path if path.is_absolute() else (base / path).resolve()


def list_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def load_profile(name_or_path: str | Path) -> ClusterProfile:
    """``"local"`` -> ``slurm/local.yaml``; a path to a YAML file is read as is."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = PROFILE_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise ConfigError(
                f"cluster profile {str(name_or_path)!r} not found (known: "
                f"{', '.join(list_profiles()) or 'none'}; or give a YAML path)"
            )
    elif not path.exists():
        raise ConfigError(f"cluster profile file {path} does not exist")
    values = load_yaml(path)
    for key in ("name", "source"):
        if key in values:
            raise ConfigError(f"{path}: '{key}' is set from the file, remove it")
    try:
        profile = from_dict(ClusterProfile, values)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    profile = dataclasses.replace(profile, name=path.stem, source=str(path))
    profile.check()
    return profile
