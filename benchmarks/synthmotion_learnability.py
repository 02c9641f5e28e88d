"""Can a network learn SynthMotion's classes from labels? The measurement behind datasets/synthmotion.md's
"Why 2.1" table: train a classifier from scratch on a SynthMotion root held in memory and print the
train and test top-1 after every epoch.

    ssl-video data synth --out data/sm --groups 25 --clips-per-group 4
    python benchmarks/synthmotion_learnability.py data/sm --classes 0,1            # TranslateLeft vs Right
    python benchmarks/synthmotion_learnability.py data/sm --clip-len 8 --frame-stride 6 --epochs 20

Networks: ``r3d_tiny`` (the suite's encoder, global average pool), ``r3d_tiny_max`` (the same trunk, global
max pool) and ``conv2_mean`` / ``conv2_max`` (3x7x7 conv 32 + BN + ReLU, 3x3x3 conv 64 stride (1, 2, 2) +
BN + ReLU, then the pool). Training: AdamW, one-cycle schedule, one random clip of ``clip_len`` frames
``frame_stride`` apart and a random ``crop`` per video per epoch; test: the centre clip and crop.
Decoding is done once, up front (48 x 64 x 64 frames: 0.6 MB per video).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssl_video.datasets import load_dataset
from ssl_video.encoders import create_encoder
from ssl_video.video import open_video, read_metadata


class Conv2(nn.Module):
    """Two conv layers and a global pool: clips (B, 3, T, H, W) in [0, 1] -> (B, 64)."""

    def __init__(self, pool: str):
        super().__init__()
        self.dim, self.pool = 64, pool
        self.body = nn.Sequential(
            nn.Conv3d(3, 32, (3, 7, 7), padding=(1, 3, 3)), nn.BatchNorm3d(32), nn.ReLU(),
            nn.Conv3d(32, 64, 3, stride=(1, 2, 2), padding=1), nn.BatchNorm3d(64), nn.ReLU(),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body((x - 0.45) / 0.25)
        return h.amax((2, 3, 4)) if self.pool == "max" else h.mean((2, 3, 4))


class MaxPooled(nn.Module):
    """An encoder's last feature map, globally max-pooled: (B, 3, T, H, W) -> (B, dim)."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder, self.dim = encoder, encoder.dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.forward_features(x).amax((2, 3, 4))


def build(name: str) -> nn.Module:
    if name == "r3d_tiny":
        return create_encoder("r3d_tiny", width=16)
    if name == "r3d_tiny_max":
        return MaxPooled(create_encoder("r3d_tiny", width=16))
    return Conv2(name.split("_")[1])


def load_split(root: str, split: str, keep: list[int] | None) -> tuple[torch.Tensor, np.ndarray]:
    """All videos of a split, decoded: (N, T, H, W, 3) uint8 and labels (N,) (relabelled 0..k-1)."""
    records = load_dataset("ucf101", root, split=split).records
    if keep:
        records = [r for r in records if r.label in keep]
    frames = []
    for r in records:
        with open_video(r.path, backend="pyav") as reader:
            frames.append(reader.read(np.arange(read_metadata(r.path, backend="pyav").num_frames)))
    labels = np.array([keep.index(r.label) if keep else r.label for r in records])
    return torch.from_numpy(np.stack(frames)), labels


def clips(videos, idx, args, rng, train: bool) -> torch.Tensor:
    """(B, 3, clip_len, crop, crop) float in [0, 1] from videos (N, T, H, W, 3)."""
    n_frames, size = videos.shape[1], videos.shape[2]
    span = (args.clip_len - 1) * args.frame_stride + 1
    out = []
    for i in idx:
        if train:
            start, (top, left) = (
                rng.integers(0, n_frames - span + 1),
                rng.integers(0, size - args.crop + 1, 2),
            )
        else:
            start, top, left = (n_frames - span) // 2, (size - args.crop) // 2, (size - args.crop) // 2
        frames = videos[i, start : start + span : args.frame_stride]
        out.append(frames[:, top : top + args.crop, left : left + args.crop])
    return torch.stack(out).permute(0, 4, 1, 2, 3).float() / 255


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", help="a SynthMotion root (UCF101 layout); split 1 is used")
    p.add_argument("--classes", default="", help="comma-separated 0-based labels to keep (default: all)")
    p.add_argument(
        "--net", default="r3d_tiny", choices=("r3d_tiny", "r3d_tiny_max", "conv2_mean", "conv2_max")
    )
    p.add_argument("--clip-len", type=int, default=8)
    p.add_argument("--frame-stride", type=int, default=1)
    p.add_argument("--crop", type=int, default=56)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    keep = [int(c) for c in args.classes.split(",")] if args.classes else None
    x_train, y_train = load_split(args.root, "train", keep)
    x_test, y_test = load_split(args.root, "test", keep)
    net = build(args.net)
    head = nn.Linear(net.dim, int(y_train.max()) + 1)
    params = [*net.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    steps = len(y_train) // args.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.epochs * steps, pct_start=0.1)
    start = time.time()
    for epoch in range(args.epochs):
        net.train()
        order, correct = rng.permutation(len(y_train)), 0
        for b in range(steps):
            idx = order[b * args.batch_size : (b + 1) * args.batch_size]
            labels = torch.from_numpy(y_train[idx])
            logits = head(net(clips(x_train, idx, args, rng, train=True)))
            loss = F.cross_entropy(logits, labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            correct += int((logits.argmax(1) == labels).sum())
        net.eval()
        with torch.no_grad():
            hits = sum(
                int(
                    (
                        head(net(clips(x_test, idx, args, rng, train=False))).argmax(1)
                        == torch.from_numpy(y_test[idx])
                    ).sum()
                )
                for idx in np.array_split(np.arange(len(y_test)), max(1, len(y_test) // 64))
            )
        row = {
            "epoch": epoch, "train_top1": round(100 * correct / (steps * args.batch_size), 1),
            "test_top1": round(100 * hits / len(y_test), 1), "seconds": round(time.time() - start),
        }  # fmt: skip
        print(json.dumps(row), flush=True)
    print(
        json.dumps(
            {"args": vars(args), "root": Path(args.root).name, "n_train": len(y_train), "n_test": len(y_test)}
        )
    )


if __name__ == "__main__":
    main()
