"""``ssl-video bench run | status | collect``: submit what is missing, show job states, render tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..config import ConfigError
from ..results import ResultStore, render_tables
from .check import BenchError, decide, pretrain_status
from .matrix import Matrix
from .plan import BenchPlan, EvalRun, expand
from .state import JobRecord, append_submission, latest_jobs, load_state, state_path

Printer = Callable[[str], None]

# Slurm states in which a job may still run.
ACTIVE_STATES = frozenset(
    {
        "PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "COMPLETING",
        "SUSPENDED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED",
    }
)  # fmt: skip


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Plain aligned text table."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def current_states(matrix: Matrix) -> dict[str, tuple[JobRecord, str]]:
    """Every job name the state file knows -> (its latest record, its state now).

    Local jobs ran to their end before they were recorded, so their recorded state is final. Slurm
    jobs are asked from Slurm (sacct, or squeue before accounting has seen them) through handles the
    launcher re-attaches with the profile they were submitted with.
    """
    from ..slurm import load_profile, make_launcher

    launchers: dict[str | None, object] = {}
    states = {}
    for name, (sub, job) in latest_jobs(load_state(matrix.bench_dir, matrix.name)).items():
        if sub.executor != "slurm":
            states[name] = (job, job.state or "UNKNOWN")
            continue
        if sub.profile not in launchers:
            profile = load_profile(sub.profile) if sub.profile else None
            launchers[sub.profile] = make_launcher("slurm", matrix.bench_dir / "logs", profile)
        states[name] = (job, launchers[sub.profile].attach(job.job_id, name).state())
    return states


def _stored(store: ResultStore, ev: EvalRun) -> int:
    return sum(store.exists(key) for key in ev.keys)


def _describe_plan(plan: BenchPlan, decision) -> str:
    actions = {r.job.name: "submit" for r in decision.pretrain}
    for ev, dep in decision.evals:
        actions[ev.job.name] = "submit" + (f", after {dep.job.name}" if dep is not None else "")
    actions.update({name: f"skip: {why}" for name, why in decision.skipped})
    rows = [[job.name, actions[job.name]] for _, job in _jobs(plan)]
    return _table(["job", "action"], rows)


def _jobs(plan: BenchPlan) -> list[tuple[str, object]]:
    """(kind, job) of every job of the plan: each pretraining run followed by its evaluations, then
    the random-init evaluations."""
    jobs = []
    for run in plan.pretrain:
        jobs += [("pretrain", run.job), *(("eval", ev.job) for ev in plan.evals_of(run))]
    return jobs + [("eval", ev.job) for ev in plan.evals_of(None)]


def run_bench(
    matrix: Matrix,
    executor: str | None = None,
    profile: str | None = None,
    dry_run: bool = False,
    wait: bool = False,
    out: Printer = print,
) -> int:
    """Submit every pretraining run and evaluation of ``matrix`` that is not done yet.

    Pretraining runs go out as one job array; an evaluation waits for its run (``afterok``) when that
    run is submitted too. The local executor runs everything in this process, in order, before this
    returns; with Slurm, ``wait`` waits for the jobs. Returns 0, or 1 when a job failed (local/wait).
    """
    from ..slurm import load_profile, make_launcher

    executor = executor or matrix.executor
    profile = profile or matrix.profile or None
    plan = expand(matrix)
    decision = decide(plan)
    if dry_run:
        out(_describe_plan(plan, decision))
        out(
            f"dry run: would submit {len(decision.pretrain)} pretraining and {len(decision.evals)} "
            f"evaluation job(s) to {executor}; nothing submitted"
        )
        return 0
    if decision.empty:
        out(
            f"nothing submitted: all {sum(len(ev.keys) for ev in plan.evals)} results of matrix "
            f"{matrix.name!r} are in {matrix.store_dir}"
        )
        return 0
    if executor == "slurm" and not profile:
        raise ConfigError(
            "the slurm executor needs a cluster profile: --profile NAME (slurm/NAME.yaml, e.g. local) "
            "or a path, or 'profile:' in the matrix"
        )
    active = sorted((n, s) for n, (_, s) in current_states(matrix).items() if s in ACTIVE_STATES)
    if active:
        listed = ", ".join(f"{n} ({s})" for n, s in active[:4])
        raise BenchError(
            f"{len(active)} job(s) of matrix {matrix.name!r} are still queued or running ({listed}); "
            "wait for them (ssl-video bench status) or cancel them, then run again"
        )

    launcher = make_launcher(
        executor, matrix.bench_dir / "logs", profile=load_profile(profile) if profile else None
    )
    records: list[JobRecord] = []
    handles = []
    try:
        by_run = {}
        if decision.pretrain:
            array = launcher.submit_array([run.job for run in decision.pretrain])
            for run, handle in zip(decision.pretrain, array):
                by_run[run.run_id] = handle
                handles.append(handle)
                records.append(JobRecord(run.job.name, "pretrain", handle.job_id))
        for ev, dep in decision.evals:
            after = [by_run[dep.run_id]] if dep is not None else []
            handle = launcher.submit(ev.job, after=after)
            handles.append(handle)
            records.append(JobRecord(ev.job.name, "eval", handle.job_id, [h.job_id for h in after]))
        if executor == "local":
            _wait_all(handles)
    finally:
        if records:  # also after a failed submission: what went out must be known to `bench status`
            if executor == "local":
                for record, handle in zip(records, handles):
                    record.state = handle.state()
            append_submission(matrix.bench_dir, matrix.name, executor, profile, records)
    n_pre = sum(r.kind == "pretrain" for r in records)
    out(
        f"submitted {n_pre} pretraining and {len(records) - n_pre} evaluation job(s) to {executor}; "
        f"state file {state_path(matrix.bench_dir)}"
    )
    if executor == "local" or wait:
        if executor != "local":
            _wait_all(handles)
        return print_status(matrix, out)
    out("follow them with: ssl-video bench status MATRIX.yaml")
    return 0


def _wait_all(handles) -> None:
    """Wait for every handle; a failed job does not stop the wait for the others (status shows it)."""
    for handle in handles:
        try:
            handle.wait()
        except Exception:  # the job's own failure; its state says FAILED and its log says why
            pass


def job_outputs(plan: BenchPlan) -> dict[str, str]:
    """What each job left behind: the run's training state, or how many of its results are stored."""
    store = ResultStore(plan.matrix.store_dir)
    outputs = {}
    for run in plan.pretrain:
        outputs[run.job.name] = pretrain_status(run)[1]
    for ev in plan.evals:
        outputs[ev.job.name] = f"{_stored(store, ev)}/{len(ev.keys)} results stored"
    return outputs


def print_status(matrix: Matrix, out: Printer = print) -> int:
    """A table of every job of the matrix (kind, job id, state, output); 1 if a job failed, else 0."""
    plan = expand(matrix)
    states = current_states(matrix)
    outputs = job_outputs(plan)
    rows, failed = [], 0
    for kind, job in _jobs(plan):
        record, state = states.get(job.name, (None, "not submitted"))
        failed += state not in ACTIVE_STATES | {"COMPLETED", "not submitted"}
        rows.append([job.name, kind, record.job_id if record else "-", state, outputs[job.name]])
    out(_table(["job", "kind", "job id", "state", "output"], rows))
    store = ResultStore(matrix.store_dir)
    stored, total = sum(_stored(store, ev) for ev in plan.evals), sum(len(ev.keys) for ev in plan.evals)
    out(
        f"{stored}/{total} results stored in {matrix.store_dir}"
        + (f"; {failed} job(s) failed" if failed else "")
    )
    return 1 if failed else 0


def collect(matrix: Matrix, out: Printer = print) -> int:
    """Render one table set (md, csv, tex, html, png) per dataset from the matrix's stored results.

    Only this matrix's checkpoints, protocols and seeds are read, so other results in a shared store
    never leak into its tables. Returns 1 when a dataset has no result at all, else 0.
    """
    plan = expand(matrix)
    store = ResultStore(matrix.store_dir)
    status = 0
    for ds in matrix.datasets:
        keys = [key for ev in plan.evals if ev.dataset.label == ds.label for key in ev.keys]
        present = [key for key in keys if store.exists(key)]
        if not present:
            out(f"{ds.label}: no results in {matrix.store_dir} yet (see ssl-video bench status)")
            status = 1
            continue
        records = [store.read(store.path_for(key)) for key in present]
        written = render_tables(
            records, Path(matrix.tables_dir) / ds.label, title=f"{matrix.name}: {ds.label} fold {ds.fold}"
        )
        missing = len(keys) - len(present)
        out(f"{ds.label}: {len(present)} results" + (f" ({missing} missing, shown as –)" if missing else ""))
        several = sorted({k.protocol for k in present if sum(o[:5] == k[:5] for o in present) > 1})
        if several:  # tables.py pools the seeds of a fold: evaluation seeds count like pretraining seeds
            out(
                f"  note: {', '.join(several)} stored several evaluation seeds per checkpoint; their cells "
                "are mean ± std over pretraining and evaluation seeds together"
            )
        for path in written.values():
            out(f"  {path}")
    return status
