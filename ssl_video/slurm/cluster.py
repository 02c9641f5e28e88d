"""What the cluster offers (``sinfo``, ``scontrol``) and the check of a profile against it.

Requests the cluster cannot satisfy (a GPU where there is none, an unknown partition, more time,
memory or CPUs than a partition allows, no ``sbatch`` at all) are refused at submission time with
one line that says what to change, instead of an sbatch traceback or a job pending forever.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from .profile import ClusterProfile

LOCAL_CLUSTER_HINT = "the local test cluster starts with: sudo bash slurm/local/up.sh"


class SubmissionError(Exception):
    """A job cannot be submitted; the one-line message says what to change."""


@dataclass
class PartitionInfo:
    """One partition, aggregated over its nodes (maxima per node)."""

    name: str
    default: bool = False
    max_time_min: int | None = None  # None = unlimited
    cpus_per_node: int = 0
    mem_mb_per_node: int = 0
    gpus_per_node: int = 0
    nodes: int = 0
    features: set[str] = field(default_factory=set)
    max_mem_mb_per_node: int | None = None  # the partition's MaxMemPerNode, if set


def slurm_environ(profile: ClusterProfile | None) -> dict[str, str]:
    """The environment for Slurm commands: SLURM_CONF from the profile when it names one."""
    env = dict(os.environ)
    conf = profile.slurm_conf_path() if profile is not None else None
    if conf is not None:
        env["SLURM_CONF"] = str(conf)
    return env


def require_slurm(profile: ClusterProfile | None) -> None:
    """Refuse early when the Slurm commands or the profile's slurm.conf are missing."""
    if shutil.which("sbatch") is None:
        raise SubmissionError(
            "sbatch not found on PATH: submit from a Slurm login node, or run with --executor local"
            f" ({LOCAL_CLUSTER_HINT})"
        )
    conf = profile.slurm_conf_path() if profile is not None else None
    if conf is not None and not conf.exists():
        raise SubmissionError(
            f"profile '{profile.name}' uses slurm.conf {conf}, which does not exist; {LOCAL_CLUSTER_HINT}"
        )


def _run(cmd: list[str], env: dict[str, str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SubmissionError(f"cannot query Slurm ({' '.join(cmd[:1])}: {e}); is the cluster up?") from None
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise SubmissionError(
            f"cannot reach the Slurm controller ({cmd[0]} failed: {why}); is the cluster up? "
            f"({LOCAL_CLUSTER_HINT})"
        )
    return done.stdout


def parse_time_min(text: str) -> int | None:
    """Slurm time limit (``infinite``, ``30``, ``2:00:00``, ``1-12:00:00``) -> minutes (None = unlimited)."""
    text = text.strip()
    if text.lower() in ("infinite", "unlimited", "n/a", ""):
        return None
    days, _, rest = text.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if days:  # days-hours[:minutes[:seconds]]
        hours, minutes, seconds = (parts + [0, 0])[:3]
    elif len(parts) == 3:  # hours:minutes:seconds
        hours, minutes, seconds = parts
    else:  # minutes[:seconds]
        hours, minutes, seconds = 0, parts[0], (parts[1] if len(parts) > 1 else 0)
    minutes = hours * 60 + minutes + (seconds > 0)
    return minutes + int(days or 0) * 24 * 60


def parse_gpus(gres: str) -> int:
    """GPUs in a node's GRES string: ``(null)`` -> 0, ``gpu:a100:4(S:0-1),tmp:1`` -> 4."""
    return sum(int(n) for n in re.findall(r"\bgpu(?::[^:,()]+)?:(\d+)", gres))


def query_partitions(profile: ClusterProfile | None = None) -> dict[str, PartitionInfo]:
    """Partitions with their limits, from ``sinfo`` (nodes) and ``scontrol show partition`` (limits)."""
    env = slurm_environ(profile)
    out = _run(["sinfo", "--noheader", "--format=%P|%l|%c|%m|%D|%G|%f"], env)
    parts: dict[str, PartitionInfo] = {}
    for line in out.splitlines():
        fields = line.strip().split("|")
        if len(fields) != 7:
            continue
        name, limit, cpus, mem, count, gres, features = fields
        info = parts.setdefault(name.rstrip("*"), PartitionInfo(name.rstrip("*")))
        info.default = info.default or name.endswith("*")
        info.max_time_min = parse_time_min(limit)
        info.cpus_per_node = max(info.cpus_per_node, _int(cpus))
        info.mem_mb_per_node = max(info.mem_mb_per_node, _int(mem))
        info.gpus_per_node = max(info.gpus_per_node, parse_gpus(gres))
        info.nodes += _int(count)
        info.features |= {f for f in features.split(",") if f and f != "(null)"}
    for line in _run(["scontrol", "--oneliner", "show", "partition"], env).splitlines():
        name = re.search(r"PartitionName=(\S+)", line)
        limit = re.search(r"MaxMemPerNode=(\d+)", line)
        if name and limit and name.group(1) in parts:
            parts[name.group(1)].max_mem_mb_per_node = int(limit.group(1))
    return parts


def _int(text: str) -> int:
    match = re.match(r"\d+", text.strip())
    return int(match.group()) if match else 0


def check_profile(profile: ClusterProfile, partitions: dict[str, PartitionInfo]) -> PartitionInfo:
    """Raise SubmissionError (one line: what to change, where) if the cluster cannot run the request."""
    src = profile.source or f"profile '{profile.name}'"
    if not partitions:
        raise SubmissionError("the cluster reports no partitions (sinfo printed nothing); ask its admins")
    if profile.partition:
        part = partitions.get(profile.partition)
        if part is None:
            raise SubmissionError(
                f"partition '{profile.partition}' does not exist on this cluster (it has: "
                f"{', '.join(sorted(partitions))}); set 'partition:' in {src}"
            )
    else:
        part = next((p for p in partitions.values() if p.default), None)
        if part is None:
            raise SubmissionError(
                f"the cluster has no default partition; set 'partition:' in {src} "
                f"(one of: {', '.join(sorted(partitions))})"
            )
    where = f"partition '{part.name}'"
    if profile.gpus_per_node > part.gpus_per_node:
        if part.gpus_per_node == 0:
            raise SubmissionError(
                f"{profile.gpus_per_node} GPU(s) per node requested but {where} has no GPUs; "
                f"set 'gpus_per_node: 0' in {src} (or choose a partition with GPUs)"
            )
        raise SubmissionError(
            f"{profile.gpus_per_node} GPUs per node requested but nodes in {where} have at most "
            f"{part.gpus_per_node}; set 'gpus_per_node: {part.gpus_per_node}' (or fewer) in {src}"
        )
    if part.max_time_min is not None and profile.time_min > part.max_time_min:
        raise SubmissionError(
            f"time limit {profile.time_min} min is above the {part.max_time_min} min {where} allows; "
            f"set 'time_min: {part.max_time_min}' (or less) in {src}"
        )
    mem_limit = min((m for m in (part.mem_mb_per_node, part.max_mem_mb_per_node) if m), default=0)
    if profile.mem_gb > 0 and mem_limit and profile.mem_gb * 1024 > mem_limit:
        raise SubmissionError(
            f"memory request {profile.mem_gb:g} GB per node is above the {mem_limit / 1024:.1f} GB {where} "
            f"allows; set 'mem_gb: {int(mem_limit / 1024)}' (or less) in {src}"
        )
    cpus = profile.cpus_per_task * profile.tasks
    if part.cpus_per_node and cpus > part.cpus_per_node:
        raise SubmissionError(
            f"{cpus} CPUs per node requested ({profile.tasks} task(s) x cpus_per_task "
            f"{profile.cpus_per_task}) but nodes in {where} have {part.cpus_per_node}; "
            f"lower 'cpus_per_task' in {src}"
        )
    if profile.nodes > part.nodes:
        raise SubmissionError(
            f"{profile.nodes} nodes requested but {where} has {part.nodes}; set 'nodes: {part.nodes}' "
            f"(or fewer) in {src}"
        )
    if profile.constraint and re.fullmatch(r"[\w.-]+", profile.constraint):
        if profile.constraint not in part.features:
            have = ", ".join(sorted(part.features)) or "none"
            raise SubmissionError(
                f"constraint '{profile.constraint}' matches no node feature in {where} (features: {have}); "
                f"change 'constraint:' in {src}"
            )
    return part


def sbatch_error_line(text: str) -> str:
    """The sbatch error lines of a failed submission, joined into one line."""
    lines = [ln.strip() for ln in str(text).splitlines() if "error" in ln.lower() and ln.strip()]
    lines = [re.sub(r"^sbatch: error: ", "", ln) for ln in lines]
    return "; ".join(dict.fromkeys(lines)) or str(text).strip().splitlines()[-1]
