"""Process-group set-up from torchrun's or Slurm's environment variables.

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT. Under Slurm (one task per
GPU) SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID give the same; ``environ_from_slurm`` derives all
five variables from Slurm's (what the Slurm launcher sets in each task before training). A single
process needs nothing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def dist_env_from_environ(environ: dict[str, str] | None = None) -> DistEnv:
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" in env and "RANK" in env:
        return DistEnv(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)))
    if int(env.get("SLURM_NTASKS", "1")) > 1 and "MASTER_ADDR" in env:
        return DistEnv(int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"]), int(env.get("SLURM_LOCALID", 0)))
    return DistEnv()


def first_host(nodelist: str) -> str:
    """The first host of a Slurm hostlist: ``"gpu[07-09,12],cpu1"`` -> ``"gpu07"``."""
    first = re.split(r",(?![^\[]*\])", nodelist.strip(), maxsplit=1)[0]
    host = re.sub(r"\[([^\]]*)\]", lambda m: re.split(r"[,-]", m.group(1))[0], first)
    if not host:
        raise ValueError(f"cannot read a host name from the Slurm node list {nodelist!r}")
    return host


def environ_from_slurm(environ: dict[str, str] | None = None) -> dict[str, str]:
    """RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT for a task of a multi-task Slurm job step.

    One task per GPU: the rank is SLURM_PROCID, the world size SLURM_NTASKS, the local rank
    SLURM_LOCALID; the master is the job's first node and the port is derived from the job id (so
    two jobs sharing a node do not collide). MASTER_ADDR and MASTER_PORT already set in ``environ``
    win (a user's choice); the ranks always come from Slurm. Returns {} for a single-task job or
    outside Slurm.
    """
    env = os.environ if environ is None else environ
    ntasks = int(env.get("SLURM_NTASKS", "1"))
    if ntasks <= 1 or "SLURM_PROCID" not in env:
        return {}
    nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST") or ""
    return {
        "RANK": env["SLURM_PROCID"],
        "WORLD_SIZE": str(ntasks),
        "LOCAL_RANK": env.get("SLURM_LOCALID", "0"),
        "MASTER_ADDR": env.get("MASTER_ADDR") or (first_host(nodelist) if nodelist else "127.0.0.1"),
        "MASTER_PORT": env.get("MASTER_PORT") or str(20000 + int(env.get("SLURM_JOB_ID", "0")) % 20000),
    }


def init_distributed(env: DistEnv, device: torch.device) -> None:
    """Join the process group (NCCL on GPU, Gloo on CPU) when more than one process runs."""
    if env.enabled and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=env.rank, world_size=env.world_size)


def shutdown_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def resolve_device(name: str, env: DistEnv) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        return torch.device("cuda", env.local_rank)
    return torch.device(name)
