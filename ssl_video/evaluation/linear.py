"""Linear probe on cached frozen features (PRETEXT_SPEC §12.B, "cached" mode).

Features are L2-normalised (so one learning rate transfers across methods), then a single
``nn.Linear`` is trained on the train split with minibatch SGD (momentum, cosine learning-rate
schedule, fixed seed) and evaluated on the test split: top1, top5 and mean class accuracy in %.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..results.outcomes import hit_rate
from .knn import topk_hits
from .neighbours import l2_normalize
from .protocols import LinearProtocol


def train_linear(
    features: np.ndarray, labels: np.ndarray, num_classes: int, protocol: LinearProtocol, seed: int = 0
) -> nn.Linear:
    """Fit nn.Linear(D, num_classes) on L2-normalised features (N, D) with labels (N,); deterministic
    for a given seed (own generator for init and shuffling; CPU float32)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(l2_normalize(features))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    model = nn.Linear(x.shape[1], num_classes)
    with torch.no_grad():
        bound = 1.0 / math.sqrt(max(1, x.shape[1]))
        model.weight.copy_(torch.empty_like(model.weight).uniform_(-bound, bound, generator=gen))
        model.bias.zero_()
    opt = torch.optim.SGD(
        model.parameters(), lr=protocol.lr, momentum=protocol.momentum, weight_decay=protocol.weight_decay
    )
    steps_per_epoch = max(1, math.ceil(len(x) / protocol.batch_size))
    total = protocol.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    if len(x) == 0:
        return model
    for _ in range(protocol.epochs):
        perm = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), protocol.batch_size):
            batch = perm[start : start + protocol.batch_size]
            loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model


def mean_class_accuracy(pred: np.ndarray, labels: np.ndarray, ok: np.ndarray | None = None) -> float:
    """Mean over the classes present in ``labels`` (N,) of their accuracy in %; pred (N,) class ids;
    rows with ``ok`` False count as wrong."""
    correct = pred == labels
    if ok is not None:
        correct &= ok
    classes = np.unique(labels)
    return float(100.0 * np.mean([correct[labels == c].mean() for c in classes])) if len(classes) else 0.0


def linear_metrics(
    protocol: LinearProtocol,
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray, np.ndarray],
    num_classes: int,
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Train on the usable train videos; return (metrics, hits): top1 / top5 / mean_class_acc (%) on
    the test split, and the per-test-video hits ((M,) bool) of top1 and top5, whose hit rates they are
    (mean class accuracy is not a mean over videos: it has none). Inputs are (features (N, D),
    labels (N,), ok (N,)); failed test videos count as misses."""
    (x, y, x_ok), (t, ty, t_ok) = train, test
    model = train_linear(x[x_ok], y[x_ok], num_classes, protocol, seed)
    with torch.no_grad():
        scores = model(torch.from_numpy(l2_normalize(t))).double().numpy()
    hits = topk_hits(scores, ty, (1, 5), t_ok)
    metrics = {name: hit_rate(h) for name, h in hits.items()}
    pred = np.lexsort((np.broadcast_to(np.arange(num_classes), scores.shape), -scores), axis=1)[:, 0]
    metrics["mean_class_acc"] = mean_class_accuracy(pred, np.asarray(ty), np.asarray(t_ok, dtype=bool))
    return metrics, hits
