"""Decode throughput: one-pass union decode vs naive per-clip decode, per backend, in one run.

For every video a VCOP-style index plan is drawn once (3 clips x 8 frames, 4 frames apart, start
from a seeded numpy rng); every backend and both strategies decode exactly the same plans:

* one pass: ``decode_views(path, backend, views)`` -- one ``open_video`` + one ``read(union)``;
* naive:    per clip, open the video again and read that clip (3 opens + 3 reads).

Timing: ``time.perf_counter``, one warm-up pass over all videos, then the median of ``--repeats``
timed passes over all videos. Single process, ``torch.set_num_threads(1)``.

    python benchmarks/decode_throughput.py --out /tmp/bench.md
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ssl_video.datasets import load_dataset
from ssl_video.datasets.clips import decode_views
from ssl_video.datasets.synthmotion import SynthMotionConfig, generate_synthmotion
from ssl_video.video import open_video, read_metadata

CLIPS, CLIP_LEN, GAP = 3, 8, 4  # VCOP: 3 clips of 8 frames, 4 frames between consecutive clips


def vcop_plan(num_frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Indices of 3 consecutive 8-frame clips separated by 4 frames, random start."""
    span = CLIPS * CLIP_LEN + (CLIPS - 1) * GAP
    if num_frames < span:
        raise ValueError(f"video has {num_frames} frames, needs {span}")
    start = int(rng.integers(0, num_frames - span + 1))
    return [start + c * (CLIP_LEN + GAP) + np.arange(CLIP_LEN, dtype=np.int64) for c in range(CLIPS)]


def decode_naive(path: str, backend: str, views: Sequence[np.ndarray]) -> list[np.ndarray]:
    """What single-paper loaders do: reopen the video for every clip and read it separately."""
    out = []
    for v in views:
        with open_video(path, backend=backend) as reader:
            out.append(reader.read(v))
    return out


def time_pass(fn: Callable, plans: list[tuple[str, list[np.ndarray]]], backend: str) -> float:
    t0 = time.perf_counter()
    for path, views in plans:
        fn(path, backend, views)
    return time.perf_counter() - t0


def measure(fn: Callable, plans, backend: str, repeats: int) -> float:
    """Samples/s: one warm-up pass, then the median of ``repeats`` timed passes."""
    time_pass(fn, plans, backend)
    return len(plans) / statistics.median(time_pass(fn, plans, backend) for _ in range(repeats))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="UCF101-layout root (default: generate a small SynthMotion set)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="decord,torchcodec,pyav")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="write the markdown table here too")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    tmp = None
    root = args.root
    if root is None:
        tmp = tempfile.TemporaryDirectory(prefix="synthmotion-bench-")
        root = tmp.name
        generate_synthmotion(root, SynthMotionConfig(classes=12, groups=4, clips_per_group=2), workers=2)

    records = load_dataset("ucf101", root, split="train").records
    rng = np.random.default_rng(args.seed)
    plans = []
    for r in records:  # one plan per video, shared by every backend and both strategies
        n = read_metadata(r.path, backend=backends[0]).num_frames
        plans.append((r.path, vcop_plan(n, rng)))

    rows = []
    for backend in backends:
        one = measure(decode_views, plans, backend, args.repeats)
        naive = measure(decode_naive, plans, backend, args.repeats)
        rows.append((backend, one, naive))
        print(f"{backend}: one-pass {one:.1f}/s, naive {naive:.1f}/s", flush=True)

    ref = {b: (o, n) for b, o, n in rows}.get("decord")
    lines = [
        f"{len(plans)} videos, {CLIPS} clips x {CLIP_LEN} frames (gap {GAP}), "
        f"median of {args.repeats} passes after 1 warm-up, 1 thread, 1 process",
        "",
        "| backend | one pass (samples/s) | naive (samples/s) | one pass / naive | "
        "one pass vs decord | naive vs decord |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for backend, one, naive in rows:
        vs_one = f"{one / ref[0]:.2f}" if ref else "n/a"
        vs_naive = f"{naive / ref[1]:.2f}" if ref else "n/a"
        lines.append(f"| {backend} | {one:.1f} | {naive:.1f} | {one / naive:.2f} | {vs_one} | {vs_naive} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table + "\n")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
