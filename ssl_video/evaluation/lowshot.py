"""Low-shot classification on cached frozen features (PRETEXT_SPEC §12, SEVERE's sample efficiency).

For each regime, a labelled subset of the usable train videos is drawn, a linear probe (the same
trainer as ``linear_cached``: L2-normalised features, SGD, cosine schedule) is fitted on it and
scored on the whole test split. Regimes: ``shots`` = k videos per class; ``examples`` = n videos drawn
uniformly from the whole train split (SEVERE's 1000-example regime). One evaluation = one draw, and
the draw is fixed by the evaluation seed, so ``seed`` 0..draws-1 give the protocol's draws (stored as
one result each; tables show their mean ± std) and every checkpoint sees the same subsets.
"""

from __future__ import annotations

import numpy as np
import torch

from ..results.outcomes import hit_rate
from .knn import topk_hits
from .linear import train_linear
from .neighbours import l2_normalize


def draw_per_class(labels: np.ndarray, usable: np.ndarray, shots: int, seed: int) -> np.ndarray:
    """Sorted indices of ``shots`` usable videos per class (every class present in ``labels``);
    raises ValueError naming the class when it has fewer usable videos."""
    rng = np.random.default_rng([seed, 1, shots])
    chosen = []
    for c in np.unique(labels):
        pool = np.flatnonzero((labels == c) & usable)
        if len(pool) < shots:
            raise ValueError(f"lowshot: class {c} has {len(pool)} usable train videos, {shots} shots asked")
        chosen.append(rng.choice(pool, size=shots, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def draw_examples(usable: np.ndarray, examples: int, seed: int) -> np.ndarray:
    """Sorted indices of ``examples`` videos drawn uniformly without replacement from the usable ones."""
    pool = np.flatnonzero(usable)
    if len(pool) < examples:
        raise ValueError(
            f"lowshot: {examples} examples asked but the train split has {len(pool)} usable videos"
        )
    return np.sort(np.random.default_rng([seed, 2, examples]).choice(pool, size=examples, replace=False))


def lowshot_metrics(
    protocol,
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray, np.ndarray],
    num_classes: int,
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """(metrics, hits): ``top1_<k>shot`` per shot count and ``top1_<n>ex`` per example count (%, on the
    test split; failed test videos miss), and each one's per-test-video hits ((M,) bool). Inputs are
    (features (N, D), labels (N,), ok (N,)) per split."""
    (x, y, x_ok), (t, ty, t_ok) = train, test
    y, x_ok = np.asarray(y), np.asarray(x_ok, dtype=bool)
    regimes = [(f"top1_{k}shot", draw_per_class(y, x_ok, k, seed)) for k in protocol.shots]
    regimes += [(f"top1_{n}ex", draw_examples(x_ok, n, seed)) for n in protocol.examples]
    test_features = torch.from_numpy(l2_normalize(t))
    hits = {}
    for name, subset in regimes:
        model = train_linear(x[subset], y[subset], num_classes, protocol, seed)
        with torch.no_grad():
            scores = model(test_features).double().numpy()
        hits[name] = topk_hits(scores, ty, (1,), t_ok)["top1"]
    return {name: hit_rate(h) for name, h in hits.items()}, hits
