"""``ssl-video <command>``: pretrain, evaluate, prepare and check data, run the demo."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .config import REPO_ROOT, ConfigError, from_dict, load_yaml, parse_overrides

EPILOG_PRETRAIN = """examples:
  ssl-video pretrain vcop data.root=data/ucf101 train.out_dir=runs/vcop
  ssl-video pretrain pretext/vcop.yaml encoder.name=r3d_tiny train.epochs=5 --resume auto
Overrides are dotted keys (see pretext/*.yaml); an unknown key is an error naming the closest valid keys."""


def _add_dataset_args(p: argparse.ArgumentParser, split: bool = True) -> None:
    p.add_argument(
        "--dataset", default="ucf101", help="adapter name (ssl-video list shows them; default ucf101)"
    )
    p.add_argument("--root", required=True, help="dataset folder")
    p.add_argument("--fold", type=int, default=1, help="official split number (default 1)")
    if split:
        p.add_argument("--split", default="all", help="train | test | val | all (default all)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="adapter option")


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

    p = sub.add_parser("eval", help="evaluate a checkpoint")
    esub = p.add_subparsers(dest="protocol", required=True)
    r = esub.add_parser("retrieval", help="nearest-neighbour retrieval R@k (test queries vs train gallery)")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="encoder.pt export or a training checkpoint")
    src.add_argument("--random-init", metavar="ENCODER", help="evaluate this encoder at random init instead")
    r.add_argument(
        "--encoder-kwargs", default="{}", help="YAML mapping for --random-init (e.g. '{width: 16}')"
    )
    r.add_argument("--seed", type=int, default=0, help="seed of the random init (default 0)")
    _add_dataset_args(r, split=False)
    r.add_argument(
        "--protocol-file",
        default=str(REPO_ROOT / "evaluation" / "retrieval_vcop.yaml"),
        help="protocol YAML (default: the repo's evaluation/retrieval_vcop.yaml)",
    )
    r.add_argument("--backend", default="decord", help="decord | torchcodec | pyav")
    r.add_argument("--workers", type=int, default=2)
    r.add_argument("--device", default="cpu")
    r.add_argument("--out", help="write the result JSON here")
    r.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="protocol overrides, e.g. crop=56")

    p = sub.add_parser("data", help="generate, describe and check datasets")
    dsub = p.add_subparsers(dest="data_command", required=True)
    s = dsub.add_parser("synth", help="generate SynthMotion (UCF101 layout, H.264 + AAC)")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--classes", type=int, help="number of classes (first N of the default 12)")
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
    c.add_argument("--no-decode", action="store_true", help="metadata only (fast; misses truncation)")

    p = sub.add_parser("demo", help="SynthMotion -> VCOP on a tiny encoder -> retrieval vs random init")
    p.add_argument(
        "--quick", action="store_true", help="a tiny version of the same path (well under a minute)"
    )
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--workers", type=int, default=2)

    sub.add_parser("list", help="registered pretext tasks, encoders and dataset adapters")
    return parser


def _options(items: list[str]) -> dict:
    return parse_overrides(items) if items else {}


def cmd_pretrain(args) -> int:
    from .config import load_pretrain_config, to_dict
    from .engine import pretrain

    cfg = load_pretrain_config(args.recipe, args.overrides)
    if args.print_config:
        import yaml

        print(yaml.safe_dump(to_dict(cfg), sort_keys=False))
        return 0
    summary = pretrain(cfg, resume=args.resume)
    print(json.dumps({k: summary[k] for k in ("task", "steps", "train", "val", "chance_accuracy")}, indent=2))
    print(f"encoder export: {Path(cfg.train.out_dir) / 'encoder.pt'}")
    return 0


def cmd_eval(args) -> int:
    import torch
    import yaml

    from .encoders import create_encoder
    from .engine import load_encoder
    from .engine.checkpoint import file_sha256
    from .evaluation import RetrievalProtocol, run_retrieval
    from .io_utils import atomic_write_json

    values = load_yaml(args.protocol_file) if args.protocol_file else {}
    values.update(parse_overrides(args.overrides))
    protocol = from_dict(RetrievalProtocol, values, "protocol")
    if args.checkpoint:
        encoder, _ = load_encoder(args.checkpoint)
    else:
        torch.manual_seed(args.seed)
        encoder = create_encoder(args.random_init, **(yaml.safe_load(args.encoder_kwargs) or {}))
    result = run_retrieval(
        encoder,
        args.dataset,
        args.root,
        protocol,
        fold=args.fold,
        backend=args.backend,
        num_workers=args.workers,
        device=args.device,
        options=_options(args.option),
    )
    result["checkpoint"] = args.checkpoint or f"random-init:{args.random_init}:seed{args.seed}"
    result["checkpoint_sha256"] = file_sha256(args.checkpoint) if args.checkpoint else None
    if args.out:
        atomic_write_json(args.out, result)
    print(json.dumps(result["metrics"], indent=2))
    print(
        f"{result['n_queries']} queries, {result['n_gallery']} gallery videos; "
        f"failed: {len(result['failed_queries'])} queries, {len(result['failed_gallery'])} gallery"
    )
    return 0


def cmd_data(args) -> int:
    from .datasets import check_dataset, dataset_fingerprint, load_dataset

    if args.data_command == "synth":
        from .datasets.synthmotion import SynthMotionConfig, generate_synthmotion

        fields = ("classes", "groups", "clips_per_group", "size", "frames", "fps", "seed")
        cfg = SynthMotionConfig(**{k: getattr(args, k) for k in fields if getattr(args, k) is not None})
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
    from .pretext import list_tasks

    print("pretext tasks:", ", ".join(list_tasks()))
    print("encoders:     ", ", ".join(list_encoders()))
    print("datasets:     ", ", ".join(list_datasets()))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "pretrain":
            return cmd_pretrain(args)
        if args.command == "eval":
            return cmd_eval(args)
        if args.command == "data":
            return cmd_data(args)
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
