"""``ssl-video <command>``: pretrain, evaluate, prepare and check data, run the demo."""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import sys
from pathlib import Path

from .config import ConfigError, parse_overrides

PROTOCOL_ALIASES = {"retrieval": "retrieval_vcop"}

EPILOG_EVAL = """examples:
  ssl-video eval retrieval_vcop --checkpoint runs/vcop/encoder.pt --dataset ucf101 --root data/ucf101
  ssl-video eval all --random-init r3d_10 --dataset ucf101 --root data/ucf101
  ssl-video eval all clip_len=8 crop=56 resize=null --checkpoint runs/vcop/encoder.pt \\
      --random-init r3d_tiny --encoder-kwargs '{width: 16}' --dataset ucf101 --root data/synthmotion \\
      --name synthmotion
  ssl-video eval all clip_len=8 crop=56 resize=null finetune.epochs=10 ... (finetune only)
Protocol overrides (KEY=VALUE) go right after the protocol name; with 'all', a key prefixed with a
protocol name (finetune.epochs=10) applies to that protocol only, the others to every protocol.
Seeds: retrieval and kNN are deterministic and run once (seed 0); linear, finetune and lowshot run
every --eval-seed (default: 0; lowshot: its draws 0..draws-1), one stored result per seed, and
tables show mean ± std over them.
Results go to the store (one JSON per checkpoint, protocol, dataset, fold and seed, with each test
video's hit and the chance level); a result the store already holds is skipped unless --force.
Features are cached, so protocols that share an extraction decode each video once. 'retrieval' is
short for retrieval_vcop."""

EPILOG_PRETRAIN = """examples:
  ssl-video pretrain vcop data.root=data/ucf101 train.out_dir=runs/vcop
  ssl-video pretrain pretext/vcop.yaml encoder.name=r3d_tiny train.epochs=5 --resume auto
  ssl-video pretrain vcop train.out_dir=runs/vcop --executor slurm --profile local --wait
Overrides are dotted keys (see pretext/*.yaml); an unknown key is an error naming the closest valid keys.
--executor slurm submits the same command to Slurm (profile: slurm/NAME.yaml or a YAML path) with
--resume auto, so a preempted or timed-out job checkpoints, requeues itself and continues; Slurm logs
go to --log-dir (default TRAIN.OUT_DIR/slurm/JOBID/), results to train.out_dir as for a local run."""


def _add_dataset_args(p: argparse.ArgumentParser, split: bool = True) -> None:
    p.add_argument(
        "--dataset", default="ucf101", help="adapter name (ssl-video list shows them; default ucf101)"
    )
    p.add_argument("--root", required=True, help="dataset folder")
    if split:
        p.add_argument("--fold", type=int, default=1, help="official split number (default 1)")
    else:  # evaluation: the protocol says which splits
        p.add_argument(
            "--fold", type=int, default=None, help="only this official split (default: the protocol's folds)"
        )
    if split:
        p.add_argument("--split", default="all", help="train | test | val | all (default all)")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="adapter option, e.g. video_dir=videos (a relative path is read under --root)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssl-video", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "pretrain",
        help="pretrain an encoder with a pretext task",
        epilog=EPILOG_PRETRAIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("recipe", help="recipe name under pretext/ (e.g. vcop) or a YAML path")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    p.add_argument(
        "--resume", default=None, help="'auto' (latest checkpoint in train.out_dir, if any) or a path"
    )
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument(
        "--executor", choices=("local", "slurm"), default="local", help="run here (default) or on Slurm"
    )
    p.add_argument("--profile", help="cluster profile for --executor slurm: NAME (slurm/NAME.yaml) or a path")
    p.add_argument("--log-dir", help="Slurm log folder (default: TRAIN.OUT_DIR/slurm)")
    p.add_argument("--wait", action="store_true", help="with --executor slurm: wait for the job to end")

    p = sub.add_parser(
        "eval",
        help="evaluate a checkpoint with a protocol (or all) and store the result",
        epilog=EPILOG_EVAL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("protocol", help="protocol name under evaluation/ (ssl-video list), a YAML path, or 'all'")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="protocol overrides, e.g. crop=56")
    p.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        help="encoder.pt export or training checkpoint (repeatable)",
    )
    p.add_argument("--random-init", metavar="ENCODER", help="also evaluate this encoder at random init")
    p.add_argument(
        "--encoder-kwargs", default="{}", help="YAML mapping for --random-init (e.g. '{width: 16}')"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random init (default 0)")
    p.add_argument(
        "--eval-seed",
        type=int,
        action="append",
        default=None,
        help="seed of training/drawing in linear, finetune, lowshot (repeatable; see below)",
    )
    p.add_argument("--checkpoint-id", help="store name of a single checkpoint (default: derived from it)")
    p.add_argument(
        "--variant",
        help="what tables show after the method name, for a recipe or data other than the paper's "
        "(e.g. 'contrast fusion'); part of the table row's identity",
    )
    _add_dataset_args(p, split=False)
    p.add_argument("--name", help="dataset name in the store and tables (default: the adapter name)")
    p.add_argument("--store", default="results/store", help="result store folder (default results/store)")
    p.add_argument("--force", action="store_true", help="re-run results the store already holds")
    p.add_argument(
        "--cache", default="runs/feature_cache", help="feature cache folder (default runs/feature_cache)"
    )
    p.add_argument("--backend", default="decord", help="decord | torchcodec | pyav")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", help="also write the last result record (JSON) here")

    p = sub.add_parser(
        "table",
        help="render comparison tables (md, csv, tex, html, png) from the store: mean ± seed std, chance, "
        "and each row's difference to random init with a 95%% bootstrap interval",
    )
    p.add_argument("--store", default="results/store", help="result store folder (default results/store)")
    p.add_argument("--dataset", required=True, help="dataset name as stored (the --name given to eval)")
    p.add_argument(
        "--fold", type=int, default=None, help="only this fold (default: every stored fold, pooled)"
    )
    p.add_argument("--out", required=True, help="output path without suffix, e.g. results/synthmotion")
    p.add_argument("--title", help="table title")

    p = sub.add_parser("data", help="generate, describe and check datasets")
    dsub = p.add_subparsers(dest="data_command", required=True)
    s = dsub.add_parser("synth", help="generate SynthMotion (UCF101 layout, H.264 + AAC)")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument(
        "--preset",
        choices=("cpu", "paper"),
        default="cpu",
        help="named size: cpu (25 groups x 8 clips x 12 classes, 64 px, 48 frames: the published table's) "
        "or paper (128 px, 160 frames: every recipe's paper parameters fit); the options below override it",
    )
    s.add_argument(
        "--class-set",
        choices=("benchmark", "transfer"),
        default="benchmark",
        help="benchmark: the 12 benchmark classes; transfer: the 8 disjoint classes of the transfer gate",
    )
    s.add_argument("--classes", type=int, help="number of classes (the first N of the class set)")
    s.add_argument(
        "--exposure-drift",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        help="shortcut probe: a brightness ramp over each video (total change in [LOW, HIGH]); default off",
    )
    s.add_argument("--groups", type=int)
    s.add_argument("--clips-per-group", type=int)
    s.add_argument("--size", type=int, help="frame height and width")
    s.add_argument("--frames", type=int)
    s.add_argument("--fps", type=int)
    s.add_argument("--seed", type=int)
    s.add_argument("--workers", type=int, default=2)
    i = dsub.add_parser("info", help="counts per split and class, missing files, fingerprint")
    _add_dataset_args(i)
    c = dsub.add_parser("check", help="find unreadable, empty, truncated and too-short videos")
    _add_dataset_args(c)
    c.add_argument("--backend", default="decord")
    c.add_argument("--min-frames", type=int, default=1, help="shorter videos are reported (default 1)")
    c.add_argument(
        "--no-decode",
        action="store_true",
        help="open only, no decoding (fast): a cut file is still found (the reader counts fewer frames "
        "than the header declares), frames that fail to decode are not",
    )

    p = sub.add_parser("demo", help="SynthMotion -> VCOP on a tiny encoder -> retrieval vs random init")
    p.add_argument(
        "--quick", action="store_true", help="a tiny version of the same path (well under a minute)"
    )
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--workers", type=int, default=2)

    sub.add_parser("list", help="registered pretext tasks, encoders and dataset adapters")
    _add_bench_parser(sub)
    return parser


def _options(items: list[str]) -> dict:
    return parse_overrides(items) if items else {}


def cmd_pretrain(args) -> int:
    from .config import load_pretrain_config, to_dict

    cfg = load_pretrain_config(args.recipe, args.overrides)
    if args.print_config:
        import yaml

        print(yaml.safe_dump(to_dict(cfg), sort_keys=False))
        return 0
    if args.executor == "slurm":
        return _submit_pretrain(args, cfg)
    from .engine import pretrain  # imports torch: not needed to print or submit

    summary = pretrain(cfg, resume=args.resume)
    print(json.dumps({k: summary[k] for k in ("task", "steps", "train", "val", "chance_accuracy")}, indent=2))
    print(f"encoder export: {Path(cfg.train.out_dir) / 'encoder.pt'}")
    return 0


def _submit_pretrain(args, cfg) -> int:
    """Submit this pretraining to Slurm as a Job (the same command, continuing with --resume auto)."""
    from .slurm import Job, JobFailed, SubmissionError, load_profile, make_launcher

    if not args.profile:
        raise ConfigError("--executor slurm needs --profile NAME (slurm/NAME.yaml, e.g. local) or a path")
    argv = ("pretrain", args.recipe, *args.overrides, "--resume", args.resume or "auto")
    job = Job(f"pretrain-{cfg.task.name}", argv)
    log_dir = Path(args.log_dir or Path(cfg.train.out_dir) / "slurm")
    launcher = make_launcher("slurm", log_dir, load_profile(args.profile))
    try:
        handle = launcher.submit(job)
    except SubmissionError as e:
        print(f"ssl-video: cannot submit: {e}", file=sys.stderr)
        return 2
    print(f"submitted Slurm job {handle.job_id} ({job.name}): {job.command}")
    print(f"logs: {handle.log_path.parent}/   results: {cfg.train.out_dir}/")
    if not args.wait:
        return 0
    try:
        handle.wait()
    except JobFailed as e:
        print(f"ssl-video: {e}", file=sys.stderr)
        return 1
    print(f"job {handle.job_id} {handle.state()}; encoder export: {Path(cfg.train.out_dir) / 'encoder.pt'}")
    return 0


def cmd_eval(args) -> int:
    import yaml

    from .evaluation import FeatureCache, evaluate, list_protocols, load_protocol
    from .evaluation.protocols import evaluation_seeds
    from .io_utils import atomic_write_json
    from .results import ResultStore
    from .results.record import make_record

    names = (
        list_protocols() if args.protocol == "all" else [PROTOCOL_ALIASES.get(args.protocol, args.protocol)]
    )
    overrides = parse_overrides(args.overrides)
    # every protocol is checked before any work
    known = set(list_protocols()) | set(names)
    protocols = [load_protocol(name, protocol_overrides(overrides, name, known)) for name in names]
    if not args.checkpoint and not args.random_init:
        raise ConfigError("give --checkpoint PATH (repeatable) and/or --random-init ENCODER")
    if args.checkpoint_id and len(args.checkpoint) + bool(args.random_init) > 1:
        raise ConfigError("--checkpoint-id names a single checkpoint; give one --checkpoint or --random-init")
    store, cache = ResultStore(args.store), FeatureCache(args.cache)
    dataset_name = args.name or args.dataset
    options = _options(args.option)
    record = None
    for encoder, sha, info in _encoders_to_evaluate(args):
        config = {
            "backend": args.backend, "device": args.device, "options": options, "overrides": overrides,
            "encoder_kwargs": None if sha else yaml.safe_load(args.encoder_kwargs),
        }  # fmt: skip
        for protocol in protocols:
            folds = [args.fold] if args.fold is not None else list(protocol.folds)
            for fold, seed in itertools.product(folds, evaluation_seeds(protocol, args.eval_seed)):
                key = (dataset_name, fold, info.id, protocol.name, protocol.version, seed)
                label = f"{info.id} {protocol.name}@v{protocol.version} fold {fold} seed {seed}"
                if store.exists(key) and not args.force:
                    print(f"{label}: already stored, skipped")
                    continue
                result = evaluate(
                    protocol, encoder, sha, args.dataset, args.root, fold=fold, cache=cache,
                    backend=args.backend, num_workers=args.workers, device=args.device, seed=seed,
                    options=options,
                )  # fmt: skip
                record = make_record(result, info, dataset_name, args.dataset, config)
                written = store.write(record, force=args.force)
                metrics = ", ".join(f"{k} {v:.1f}" for k, v in record["metrics"].items())
                print(
                    f"{label}: {metrics} ({result['n_test']} test / {result['n_train']} train videos, "
                    f"{len(result['failed'])} failed, {result['seconds']:.0f} s)"
                )
                if not written:  # another run of the same evaluation stored it after our check above
                    print(
                        f"{label}: already stored meanwhile by another run; kept that result, not this one "
                        "(use --force to replace it)"
                    )
    if args.out and record is not None:
        atomic_write_json(args.out, record)
    print(f"feature cache: {cache.stats}")
    return 0


def protocol_overrides(overrides: dict, name: str, names) -> dict:
    """The overrides for protocol ``name``: every key that is not a protocol name (``names``: all
    known protocol names), then the mapping under ``name`` itself on top
    (``finetune.epochs=10`` -> ``{"finetune": {"epochs": 10}}``)."""
    from .config import deep_merge

    shared = {k: v for k, v in overrides.items() if k not in names}
    own = overrides.get(name, {})
    if not isinstance(own, dict):
        raise ConfigError(f"override '{name}={own}': a protocol name needs a key, e.g. {name}.epochs=10")
    return deep_merge(shared, own)


def _encoders_to_evaluate(args):
    """Yield (encoder, checkpoint file sha256 or None, CheckpointInfo) for every requested source."""
    import torch
    import yaml

    from .encoders import create_encoder
    from .engine import load_encoder
    from .engine.checkpoint import file_sha256
    from .results.record import checkpoint_info_from_export, random_init_info

    for path in args.checkpoint:
        encoder, export = load_encoder(path)
        sha = file_sha256(path)
        yield encoder, sha, checkpoint_info_from_export(path, export, sha, args.checkpoint_id, args.variant)
    if args.random_init:
        torch.manual_seed(args.seed)
        kwargs = yaml.safe_load(args.encoder_kwargs) or {}
        encoder = create_encoder(args.random_init, **kwargs)
        info = random_init_info(args.random_init, args.seed, kwargs)
        yield encoder, None, dataclasses.replace(info, id=args.checkpoint_id or info.id, variant=args.variant)


def cmd_table(args) -> int:
    from .results import ResultStore, render_tables

    records = [
        r
        for r in ResultStore(args.store).records(args.dataset)
        if args.fold is None or r["dataset"]["fold"] == args.fold
    ]
    if not records:
        print(f"ssl-video: no results for dataset {args.dataset!r} in {args.store}", file=sys.stderr)
        return 2
    written = render_tables(records, args.out, title=args.title)
    for path in written.values():
        print(path)
    return 0


def cmd_data(args) -> int:
    from .datasets import check_dataset, dataset_fingerprint, load_dataset

    if args.data_command == "synth":
        from .datasets.synthmotion import (
            BENCHMARK_CLASSES,
            TRANSFER_CLASSES,
            SynthMotionConfig,
            generate_synthmotion,
        )

        fields = ("groups", "clips_per_group", "size", "frames", "fps", "seed", "exposure_drift")
        overrides = {k: getattr(args, k) for k in fields if getattr(args, k) is not None}
        names = TRANSFER_CLASSES if args.class_set == "transfer" else BENCHMARK_CLASSES
        overrides["classes"] = names[: args.classes] if args.classes else names
        cfg = SynthMotionConfig.preset(args.preset, **overrides)
        summary = generate_synthmotion(args.out, cfg, workers=args.workers, progress=True)
        print(json.dumps(summary, indent=2, default=str))
        return 0
    ds = load_dataset(args.dataset, args.root, split=args.split, fold=args.fold, **_options(args.option))
    if args.data_command == "info":
        info = ds.summary()
        info["fingerprint"] = dataset_fingerprint(ds)
        print(json.dumps(info, indent=2, default=str))
        return 0
    report = check_dataset(
        ds, backend=args.backend, min_frames=args.min_frames, decode=not args.no_decode, progress=True
    )
    print(report.format())
    return 0 if report.ok == report.total else 1


def cmd_list(_args) -> int:
    from .datasets import list_datasets
    from .encoders import list_encoders
    from .evaluation import PROTOCOL_KINDS, list_protocols
    from .pretext import list_tasks

    print("pretext tasks: ", ", ".join(list_tasks()))
    print("encoders:      ", ", ".join(list_encoders()))
    print("datasets:      ", ", ".join(list_datasets()))
    print("protocols:     ", ", ".join(list_protocols()))
    print("protocol kinds:", ", ".join(PROTOCOL_KINDS.names()))
    return 0


EPILOG_BENCH = """examples:
  ssl-video bench benchmarks/matrices/synthmotion_small.yaml              # = bench run ... (local)
  ssl-video bench run benchmarks/matrices/synthmotion_small.yaml --executor slurm --profile local
  ssl-video bench run benchmarks/matrices/synthmotion_small.yaml --dry-run  # what would be submitted
  ssl-video bench status benchmarks/matrices/synthmotion_small.yaml
  ssl-video bench collect benchmarks/matrices/synthmotion_small.yaml
A matrix expands pretext x encoder x dataset x seed into pretraining jobs (one Slurm job array) and,
per run, one evaluation job per protocol that waits for it (afterok). What is done is not submitted
again: a run whose encoder.pt was trained with the same settings, a result the store holds."""

BENCH_COMMANDS = ("run", "status", "collect")


def _add_bench_parser(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="run a benchmark matrix (pretraining + evaluation jobs), show job states, collect tables",
        epilog=EPILOG_BENCH,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bsub = p.add_subparsers(dest="bench_command", required=True)
    r = bsub.add_parser("run", help="submit the jobs the store and run dirs do not hold yet")
    r.add_argument("matrix", help="matrix YAML (see benchmarks/matrices/)")
    r.add_argument("--executor", choices=("local", "slurm"), help="default: the matrix's (local)")
    r.add_argument("--profile", help="cluster profile for slurm, a name under slurm/ or a YAML path")
    r.add_argument("--dry-run", action="store_true", help="print what would be submitted, submit nothing")
    r.add_argument("--wait", action="store_true", help="slurm: wait for the jobs, then print their states")
    s = bsub.add_parser("status", help="a table of the matrix's jobs: id, state, what they left behind")
    s.add_argument("matrix", help="matrix YAML")
    c = bsub.add_parser("collect", help="render the matrix's tables (md, csv, tex, html, png) from the store")
    c.add_argument("matrix", help="matrix YAML")


def _bench_argv(argv: list[str]) -> list[str]:
    """``bench MATRIX.yaml ...`` means ``bench run MATRIX.yaml ...``."""
    argv = list(argv)
    words = [i for i, a in enumerate(argv) if not a.startswith("-")]
    if words and argv[words[0]] == "bench" and len(words) > 1:
        nxt = words[1]
        if argv[nxt] not in BENCH_COMMANDS and all(not a.startswith("-h") for a in argv[words[0] + 1 : nxt]):
            argv.insert(nxt, "run")
    return argv


def cmd_bench(args) -> int:
    from .bench import collect, load_matrix, print_status, run_bench
    from .slurm import SubmissionError

    matrix = load_matrix(args.matrix)
    if args.bench_command == "run":
        try:
            return run_bench(
                matrix, executor=args.executor, profile=args.profile, dry_run=args.dry_run, wait=args.wait
            )
        except SubmissionError as e:  # what did go out is in the state file (ssl-video bench status)
            print(f"ssl-video: cannot submit: {e}", file=sys.stderr)
            return 2
    if args.bench_command == "status":
        return print_status(matrix)
    return collect(matrix)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(_bench_argv(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "pretrain":
            return cmd_pretrain(args)
        if args.command == "eval":
            return cmd_eval(args)
        if args.command == "table":
            return cmd_table(args)
        if args.command == "data":
            return cmd_data(args)
        if args.command == "bench":
            return cmd_bench(args)
        if args.command == "demo":
            from .demo import run_demo

            print(run_demo(args.out, quick=args.quick, num_workers=args.workers))
            return 0
        return cmd_list(args)
    except ConfigError as e:
        print(f"ssl-video: config error: {e}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, KeyError) as e:
        if args.verbose:
            raise
        print(f"ssl-video: error: {e} (run with -v for the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
