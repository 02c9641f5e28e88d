"""`ssl-video bench`: matrix checks, expansion into dependent jobs, idempotency, and a local run on
tiny generated SynthMotion that ends in a table averaging the pretraining seeds."""

from __future__ import annotations

import copy
import csv
import json
import re

import pytest
import yaml
from conftest import TINY_SYNTH, TINY_VCOP

from ssl_video.bench import decide, expand, load_matrix, matrix_from_dict
from ssl_video.bench.state import load_state
from ssl_video.cli import build_parser, main
from ssl_video.config import ConfigError, load_pretrain_config
from ssl_video.results import ResultStore

# Every pretraining run of the tiny matrix: TINY_VCOP's shared settings, 2 steps each.
SHARED = [o for o in TINY_VCOP if not o.startswith(("task.", "encoder.", "data.dataset"))] + [
    "train.max_steps=2"
]
EVAL = ["num_clips=2", "clip_len=4", "crop=28", "resize=null"]


def tiny_matrix(root, out_root, name="tiny") -> dict:
    """2 pretext tasks x 1 tiny encoder x 2 seeds x 2 protocols on the tiny SynthMotion at ``root``."""
    return {
        "name": name,
        "out_root": str(out_root),
        "pretrain_overrides": SHARED,
        "pretext": [
            {"recipe": "vcop", "overrides": [o for o in TINY_VCOP if o.startswith("task.")]},
            {
                "recipe": "supervised",
                "overrides": {
                    "task.params.num_classes": len(TINY_SYNTH.classes),
                    "task.params.clip_len": 4,
                    "task.params.crop": 28,
                    "task.params.resize": None,
                },
            },
        ],
        "encoders": [{"name": "r3d_tiny", "kwargs": {"width": 8}}],
        "datasets": [{"name": "ucf101", "root": str(root), "label": "synth"}],
        "seeds": [0, 1],
        "protocols": [{"name": "retrieval_vcop", "overrides": EVAL}, {"name": "knn", "overrides": EVAL}],
        "eval": {"workers": 0},
    }


def write_matrix(path, values) -> str:
    path.write_text(yaml.safe_dump(values, sort_keys=False))
    return str(path)


# --------------------------------------------------------------------------------------------
# Matrix schema
# --------------------------------------------------------------------------------------------


def test_unknown_keys_name_the_key_and_the_closest_valid_ones(tmp_path):
    values = tiny_matrix(tmp_path / "data", tmp_path / "runs")
    values["protocls"] = values.pop("protocols")
    with pytest.raises(ConfigError, match=r"m.yaml: unknown config key 'protocls'; did you mean protocols"):
        load_matrix(write_matrix(tmp_path / "m.yaml", values))

    values = tiny_matrix(tmp_path / "data", tmp_path / "runs")
    values["pretext"][1]["overides"] = values["pretext"][1].pop("overrides")
    with pytest.raises(ConfigError, match=r"'pretext\[1\]\.overides'; did you mean pretext\[1\]\.overrides"):
        matrix_from_dict(values)

    values = tiny_matrix(tmp_path / "data", tmp_path / "runs")
    values["eval"]["worker"] = 1
    with pytest.raises(ConfigError, match=r"'eval\.worker'; did you mean eval\.workers"):
        matrix_from_dict(values)


def test_matrix_refuses_what_would_corrupt_runs_or_tables(tmp_path):
    base = tiny_matrix(tmp_path / "data", tmp_path / "runs")
    bad = copy.deepcopy(base)
    bad["pretrain_overrides"] = [*SHARED, "seed=3"]  # the seeds axis owns the seed
    with pytest.raises(ConfigError, match="'seed' is set by the matrix itself"):
        matrix_from_dict(bad)
    bad = copy.deepcopy(base)
    bad["pretext"][0]["overrides"].append("train.out_dir=/tmp/elsewhere")
    with pytest.raises(ConfigError, match=r"pretext\[0\]\.overrides: 'train.out_dir' is set by the matrix"):
        matrix_from_dict(bad)
    bad = copy.deepcopy(base)  # two variants of one task: one setting per task in a matrix
    bad["pretext"].append({"recipe": "vcop", "label": "vcop2", "overrides": base["pretext"][0]["overrides"]})
    with pytest.raises(ConfigError, match="two entries have the task 'vcop'; one setting per task"):
        expand(matrix_from_dict(bad))
    bad = copy.deepcopy(base)
    bad["protocols"][0]["overrides"] = ["clip_lenn=4"]
    with pytest.raises(ConfigError, match=r"protocols\[0\].*clip_lenn"):
        expand(matrix_from_dict(bad))
    bad = copy.deepcopy(base)
    bad["pretext"][1]["overrides"]["task.params.num_classes"] = 0  # the task's own params check, at load
    with pytest.raises(ConfigError, match=r"pretext\[1\].*num_classes"):
        expand(matrix_from_dict(bad))
    bad = copy.deepcopy(base)
    bad["seeds"] = [0, 0]
    with pytest.raises(ConfigError, match="seed '0' twice"):
        matrix_from_dict(bad)


# --------------------------------------------------------------------------------------------
# Expansion
# --------------------------------------------------------------------------------------------


def test_expansion_counts_names_argv_and_dependencies(tmp_path):
    root, runs = tmp_path / "data", tmp_path / "runs"
    plan = expand(matrix_from_dict(tiny_matrix(root, runs)))
    assert len(plan.pretrain) == 2 * 1 * 1 * 2 and len(plan.evals) == 4 * 2
    assert [r.run_id for r in plan.pretrain] == [
        "vcop-r3d_tiny-synth-s0", "vcop-r3d_tiny-synth-s1",
        "supervised-r3d_tiny-synth-s0", "supervised-r3d_tiny-synth-s1",
    ]  # fmt: skip
    parser = build_parser()
    for run in plan.pretrain:
        assert run.out_dir == (runs / "tiny" / run.run_id).absolute()
        assert run.job.name == f"pretrain-{run.run_id}"
        # the job is a valid `ssl-video pretrain` command line whose config is the run's
        args = parser.parse_args(list(run.job.argv))
        assert args.command == "pretrain" and args.resume == "auto"
        cfg = load_pretrain_config(args.recipe, args.overrides)
        assert cfg == run.config
        assert cfg.seed == run.seed and cfg.task.name == run.method and cfg.encoder.kwargs == {"width": 8}
        assert cfg.train.out_dir == str(run.out_dir) and cfg.data.root == str(root.absolute())
        assert cfg.train.max_steps == 2 and cfg.train.num_workers == 0
    sup = load_pretrain_config(*_recipe_and_overrides(parser, plan.pretrain[2].job.argv))
    assert sup.task.params["num_classes"] == len(TINY_SYNTH.classes) and sup.task.params["resize"] is None

    for ev in plan.evals:
        args = parser.parse_args(list(ev.job.argv))
        assert args.command == "eval" and args.protocol == ev.protocol
        assert args.checkpoint == [str(ev.run.out_dir / "encoder.pt")]  # its own run's export
        assert args.checkpoint_id == f"tiny-{ev.run.task}-r3d_tiny-s{ev.run.seed}"
        assert (args.name, args.fold, args.store) == ("synth", 1, str((runs / "tiny" / "store").absolute()))
        assert args.overrides == EVAL and args.eval_seed == [0]
        assert ev.job.name == f"eval-{ev.run.run_id}-{ev.protocol}"
        # deterministic protocols store seed 0 only
        assert [tuple(k) for k in ev.keys] == [("synth", 1, args.checkpoint_id, ev.protocol, 1, 0)]
    assert len({ev.job.name for ev in plan.evals}) == 8 and len({ev.keys for ev in plan.evals}) == 8

    decision = decide(plan)  # nothing done yet: everything goes, each evaluation after its own run
    assert [r.run_id for r in decision.pretrain] == [r.run_id for r in plan.pretrain]
    assert [(ev.job.name, dep.run_id) for ev, dep in decision.evals] == [
        (ev.job.name, ev.run.run_id) for ev in plan.evals
    ]
    # the expansion is deterministic
    again = expand(matrix_from_dict(tiny_matrix(root, runs)))
    assert [j.job for j in again.pretrain + again.evals] == [j.job for j in plan.pretrain + plan.evals]


def _recipe_and_overrides(parser, argv):
    args = parser.parse_args(list(argv))
    return args.recipe, args.overrides


def test_bench_matrix_is_the_default_subcommand(tmp_path, capsys):
    path = write_matrix(tmp_path / "m.yaml", tiny_matrix(tmp_path / "data", tmp_path / "runs"))
    assert main(["bench", path, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would submit 4 pretraining and 8 evaluation job(s)" in out
    assert re.search(
        r"^eval-supervised-r3d_tiny-synth-s1-knn +submit, after pretrain-supervised-r3d_tiny-synth-s1$",
        out,
        re.M,
    )
    assert not (tmp_path / "runs").exists()  # a dry run writes nothing
    assert main(["bench", "collect", path]) == 1  # nothing stored yet
    assert main(["bench", "run", str(tmp_path / "missing.yaml")]) == 2


def test_example_matrix_expands_to_the_documented_jobs():
    plan = expand(load_matrix("benchmarks/matrices/synthmotion_small.yaml"))
    assert {r.method for r in plan.pretrain} == {"vcop", "supervised"}
    assert {r.encoder.name for r in plan.pretrain} == {"r3d_tiny"} and {r.seed for r in plan.pretrain} == {
        0,
        1,
    }
    assert {e.protocol for e in plan.evals} == {"retrieval_vcop", "knn"}
    assert len(plan.pretrain) == 4 and len(plan.evals) == 8
    assert all(r.config.encoder.kwargs == {"width": 16} for r in plan.pretrain)


# --------------------------------------------------------------------------------------------
# Local executor, end to end
# --------------------------------------------------------------------------------------------


def _mtimes(folder):
    return {p: p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()}


def test_local_run_then_nothing_twice_then_table(tiny_synth, tmp_path, capsys):
    path = write_matrix(tmp_path / "m.yaml", tiny_matrix(tiny_synth, tmp_path / "runs"))
    bench = tmp_path / "runs" / "tiny"
    assert main(["bench", "run", path, "--executor", "local"]) == 0
    out = capsys.readouterr().out
    assert "submitted 4 pretraining and 8 evaluation job(s) to local" in out
    status_lines = [line for line in out.splitlines() if line.startswith(("pretrain-", "eval-"))]
    assert len(status_lines) == 12 and all(" COMPLETED " in line for line in status_lines), out
    store = ResultStore(bench / "store")
    records = list(store.records("synth"))
    assert len(records) == 8
    assert {r["checkpoint"]["id"] for r in records} == {
        f"tiny-{t}-r3d_tiny-s{s}" for t in ("vcop", "supervised") for s in (0, 1)
    }
    for r in records:  # each result was made from its own run's encoder export
        seed = r["checkpoint"]["pretrain_seed"]
        assert r["checkpoint"]["path"] == str(
            bench / f"{r['checkpoint']['method']}-r3d_tiny-synth-s{seed}" / "encoder.pt"
        )
        assert r["checkpoint"]["id"].endswith(f"-s{seed}")
    [submission] = load_state(bench, "tiny")
    assert submission.executor == "local" and len(submission.jobs) == 12
    pretrain_ids = {j.name: j.job_id for j in submission.jobs if j.kind == "pretrain"}
    for job in submission.jobs:
        if job.kind == "eval":  # afterok on its own pretraining job
            run = job.name[len("eval-") :].rsplit("-", 1)[0]
            assert job.after == [pretrain_ids[f"pretrain-{run}"]], job
        assert job.state == "COMPLETED"

    # a second run submits nothing and touches nothing
    before = _mtimes(bench)
    assert main(["bench", path]) == 0
    assert "nothing submitted: all 8 results" in capsys.readouterr().out
    assert _mtimes(bench) == before and len(load_state(bench, "tiny")) == 1

    # a lost result is evaluated again from the existing encoder: no pretraining, no dependency
    lost = store.path_for(("synth", 1, "tiny-vcop-r3d_tiny-s1", "knn", 1, 0))
    lost.unlink()
    assert main(["bench", "run", path, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would submit 0 pretraining and 1 evaluation job(s)" in out
    assert re.search(r"^eval-vcop-r3d_tiny-synth-s1-knn +submit$", out, re.M)  # no dependency
    assert re.search(r"^pretrain-vcop-r3d_tiny-synth-s1 +skip: trained \(2 steps\)$", out, re.M)
    assert main(["bench", path]) == 0
    assert "submitted 0 pretraining and 1 evaluation job(s)" in capsys.readouterr().out
    assert lost.is_file()

    # tables: one row per (method, encoder); each cell is mean ± std over the 2 pretraining seeds
    assert main(["bench", "collect", path]) == 0
    table = bench / "tables" / "synth"
    *rows, chance = list(csv.DictReader(table.with_suffix(".csv").open()))
    assert [(r["method"], r["encoder"]) for r in rows] == [("vcop", "r3d_tiny"), ("supervised", "r3d_tiny")]
    assert chance["method"] == "chance" and float(chance["knn@v1 top1 mean"]) > 0
    for row in rows:
        assert row["knn@v1 top1 n"] == "2" and row["retrieval_vcop@v1 R@1 n"] == "2"
        for method_records in [[r for r in records if r["checkpoint"]["method"] == row["method"]]]:
            knn = sorted(r["metrics"]["top1"] for r in method_records if r["protocol"]["name"] == "knn")
            assert float(row["knn@v1 top1 mean"]) == pytest.approx(sum(knn) / 2)
    md = table.with_suffix(".md").read_text()
    assert md.startswith("## tiny: synth fold 1") and "| vcop | r3d_tiny |" in md

    # status reads the state file: every job completed, every result stored
    assert main(["bench", "status", path]) == 0
    out = capsys.readouterr().out
    assert "8/8 results stored" in out
    eval_line = next(line for line in out.splitlines() if line.startswith("eval-vcop-r3d_tiny-synth-s1-knn "))
    assert "COMPLETED" in eval_line and "1/1 results stored" in eval_line


def test_changed_protocol_settings_are_an_error_not_a_silent_skip(tiny_synth, tmp_path, capsys):
    """A stored result made with other protocol settings (same version) must not count as done."""
    values = tiny_matrix(tiny_synth, tmp_path / "runs")
    values["pretext"] = values["pretext"][:1]
    values["seeds"] = [0]
    values["protocols"] = values["protocols"][1:]  # knn only
    path = write_matrix(tmp_path / "m.yaml", values)
    assert main(["bench", path]) == 0
    capsys.readouterr()
    values["protocols"][0]["overrides"] = [*EVAL, "k=5"]
    write_matrix(tmp_path / "m.yaml", values)
    assert main(["bench", path, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "was made with other knn@v1 settings" in err and "seed0.json" in err

    # a longer training makes the finished run stale: it is resubmitted (resumed), its result refused
    values["protocols"][0]["overrides"] = EVAL
    values["pretrain_overrides"] = [o for o in SHARED if not o.startswith("train.max_steps")] + [
        "train.max_steps=3"
    ]
    write_matrix(tmp_path / "m.yaml", values)
    assert main(["bench", path, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "must be trained again (trained with other settings (train.max_steps)" in err
    run_dir = tmp_path / "runs" / "tiny" / "vcop-r3d_tiny-synth-s0"
    assert json.loads((run_dir / "summary.json").read_text())["steps"] == 2

    # with the stale result gone, the run is resumed from its checkpoint to the new length
    for stale in (tmp_path / "runs" / "tiny" / "store").rglob("seed0.json"):
        stale.unlink()
    assert main(["bench", path]) == 0
    assert "submitted 1 pretraining and 1 evaluation job(s)" in capsys.readouterr().out
    assert json.loads((run_dir / "summary.json").read_text())["steps"] == 3
    log = next((tmp_path / "runs" / "tiny" / "logs").glob("local-3_pretrain-*.log")).read_text()
    assert "--resume auto" in log.splitlines()[0]

    # a change that --resume refuses is caught before anything is submitted
    for stale in (tmp_path / "runs" / "tiny" / "store").rglob("seed0.json"):
        stale.unlink()
    values["pretrain_overrides"] = [*values["pretrain_overrides"], "optim.lr=0.5"]
    write_matrix(tmp_path / "m.yaml", values)
    assert main(["bench", path, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "was trained with other settings (optim.lr), which --resume auto refuses" in err
    assert str(run_dir) in err


def test_failed_pretraining_cancels_its_evaluations_and_is_submitted_again(tiny_synth, tmp_path, capsys):
    values = tiny_matrix(tiny_synth, tmp_path / "runs")
    values["pretext"] = values["pretext"][1:]  # supervised, told there are 2 classes: labels 2, 3 fail
    values["pretext"][0]["overrides"]["task.params.num_classes"] = 2
    values["seeds"], values["protocols"] = [0], values["protocols"][1:]
    path = write_matrix(tmp_path / "m.yaml", values)
    assert main(["bench", path]) == 1
    out = capsys.readouterr().out
    assert re.search(
        r"^pretrain-supervised-r3d_tiny-synth-s0 +pretrain +local-1 +FAILED +no encoder.pt", out, re.M
    )
    assert re.search(
        r"^eval-supervised-r3d_tiny-synth-s0-knn +eval +local-2 +CANCELLED +0/1 results", out, re.M
    )
    log = next((tmp_path / "runs" / "tiny" / "logs").glob("local-1_*.log")).read_text()
    assert "supervised training needs labels in [0, 2)" in log
    assert main(["bench", path, "--dry-run"]) == 0  # nothing is done: both are submitted again
    assert "would submit 1 pretraining and 1 evaluation job(s)" in capsys.readouterr().out


def test_random_init_rows_and_a_baseline_pretrained_on_other_data(tiny_synth, tmp_path, capsys):
    """``random_init: true`` evaluates each encoder at random init once per seed (no pretraining);
    a task with its own ``data`` trains once on it and is evaluated on the matrix's dataset, and its
    ``variant`` names its table row."""
    values = tiny_matrix(tiny_synth, tmp_path / "runs")
    supervised = values["pretext"][1]
    values["pretext"] = [
        supervised,
        {
            **supervised,
            "label": "sup_other",
            "variant": "other data",
            "data": {"root": str(tiny_synth), "label": "other"},
        },
    ]
    values["random_init"] = True
    values["protocols"] = values["protocols"][1:]  # knn only
    path = write_matrix(tmp_path / "m.yaml", values)
    plan = expand(load_matrix(path))
    assert [r.run_id for r in plan.pretrain] == [
        "supervised-r3d_tiny-synth-s0", "supervised-r3d_tiny-synth-s1",
        "sup_other-r3d_tiny-other-s0", "sup_other-r3d_tiny-other-s1",
    ]  # fmt: skip
    parser = build_parser()
    by_name = {ev.job.name: parser.parse_args(list(ev.job.argv)) for ev in plan.evals}
    assert list(by_name) == [
        "eval-supervised-r3d_tiny-synth-s0-knn", "eval-supervised-r3d_tiny-synth-s1-knn",
        "eval-sup_other-r3d_tiny-other-s0-synth-knn", "eval-sup_other-r3d_tiny-other-s1-synth-knn",
        "eval-random_init-r3d_tiny-synth-s0-knn", "eval-random_init-r3d_tiny-synth-s1-knn",
    ]  # fmt: skip
    other = by_name["eval-sup_other-r3d_tiny-other-s1-synth-knn"]
    assert (other.name, other.variant, other.checkpoint_id) == (
        "synth",
        "other data",
        "tiny-sup_other-r3d_tiny-s1",
    )
    assert other.checkpoint == [
        str((tmp_path / "runs/tiny/sup_other-r3d_tiny-other-s1/encoder.pt").absolute())
    ]
    rand = by_name["eval-random_init-r3d_tiny-synth-s1-knn"]
    assert (rand.random_init, yaml.safe_load(rand.encoder_kwargs), rand.seed) == ("r3d_tiny", {"width": 8}, 1)
    assert rand.checkpoint == [] and rand.checkpoint_id == "tiny-random_init-r3d_tiny-s1"
    assert [dep for ev, dep in decide(plan).evals if ev.run is None] == [None, None]  # nothing to wait for

    assert main(["bench", path]) == 0
    out = capsys.readouterr().out
    assert "submitted 4 pretraining and 6 evaluation job(s)" in out
    assert re.search(
        r"^eval-random_init-r3d_tiny-synth-s0-knn +eval +local-\d+ +COMPLETED +1/1 results", out, re.M
    )
    records = list(ResultStore(tmp_path / "runs/tiny/store").records("synth"))
    assert sorted((r["checkpoint"]["method"], r["checkpoint"].get("variant", "")) for r in records) == [
        ("random_init", ""), ("random_init", ""), ("supervised", ""), ("supervised", ""),
        ("supervised", "other data"), ("supervised", "other data"),
    ]  # fmt: skip
    assert main(["bench", path]) == 0 and "nothing submitted: all 6 results" in capsys.readouterr().out

    assert main(["bench", "collect", path]) == 0
    table = tmp_path / "runs/tiny/tables/synth"
    *rows, chance = list(csv.DictReader(table.with_suffix(".csv").open()))
    assert [(r["method"], r["variant"]) for r in rows] == [
        ("random_init", ""),
        ("supervised", ""),
        ("supervised", "other data"),
    ]
    assert all(r["knn@v1 top1 n"] == "2" for r in rows)
    md = table.with_suffix(".md").read_text()
    assert "| supervised (other data) | r3d_tiny |" in md and "variant" in md


def test_published_synthmotion_matrix_expands_to_every_row():
    """benchmarks/matrices/synthmotion_cpu.yaml: 7 pretraining entries x 3 seeds, random init x 3,
    2 protocols; the transfer row trains on its own root and O3N's row names its fusion."""
    plan = expand(load_matrix("benchmarks/matrices/synthmotion_cpu.yaml"))
    assert len(plan.pretrain) == 7 * 3 and len(plan.evals) == (7 + 1) * 3 * 2
    methods = sorted({(r.task, r.method) for r in plan.pretrain})
    assert methods == [
        ("o3n", "o3n"), ("opn", "opn"), ("shuffle_learn", "shuffle_learn"), ("speednet", "speednet"),
        ("supervised", "supervised"), ("supervised_transfer", "supervised"), ("vcop", "vcop"),
    ]  # fmt: skip
    transfer = [r for r in plan.pretrain if r.task == "supervised_transfer"]
    assert all(r.config.data.root.endswith("data/synthmotion_transfer") for r in transfer)
    assert all(r.config.task.params["num_classes"] == 8 for r in transfer)
    parser = build_parser()
    for ev in plan.evals:
        args = parser.parse_args(list(ev.job.argv))
        assert args.root.endswith("data/synthmotion") and args.name == "synthmotion"
        task = ev.run.task if ev.run is not None else "random_init"
        assert args.variant == {"o3n": "contrast fusion", "supervised_transfer": "transfer classes"}.get(task)
    o3n = next(r for r in plan.pretrain if r.task == "o3n")
    assert o3n.config.task.params["fusion"] == "contrast"
    speednet = next(r for r in plan.pretrain if r.task == "speednet")
    assert list(speednet.config.task.params["scale"]) == [1.0, 1.0]  # full-frame views (shortcut audit)
