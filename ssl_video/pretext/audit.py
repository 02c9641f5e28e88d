"""The shortcut audit: can global photometric statistics alone predict a pretext task's target?

A pretext task is only worth training if its target needs the content of the video. On footage with
a global exposure ramp, for instance, a rule reading each clip's mean brightness sorts VCOP's clips
(97% on the old SynthMotion). :func:`shortcut_audit` measures that kind of leak for any task:

1. every video (an in-memory (T, H, W, 3) uint8 array, or a zero-argument callable returning one) is
   sampled ``samples_per_video`` times exactly as the training data layer does it: ``probe_frames``,
   ``plan`` and the view reads go through ``datasets.clips.plan_and_read`` (here on the array instead
   of a decoder), then ``make_sample``; draw ``j`` of video ``i`` uses ``sample_rng(seed, j, i)``,
   the generator the engine gives sample ``i`` in epoch ``j``;
2. from the sample's pixel tensors only global photometric statistics are kept: for every frame of
   every view, in the order the task feeds them, the spatial mean and standard deviation of luma
   (BT.601: 0.299 R + 0.587 G + 0.114 B) and of R, G and B, in [0, 1] units (8 numbers per frame,
   ``frame_statistics``); nothing about where pixels are. The classifiers see them minus their mean
   over the sample's frames, plus those means (``classifier_inputs``): an invertible linear
   re-expression; no differences or other combinations of frames are computed for them;
3. classifiers (default: standardised multinomial logistic regression, histogram gradient boosting
   and a small MLP on standardised inputs, ``default_classifiers``) are trained on the samples of one
   part of the videos and tested on the samples of the others (split by video, never by sample).
   One classifier input is a whole sample, or with ``unit="element"`` one view of it with its own
   target entry, for tasks whose head scores every view alone (SpeedNet: the two clips of a pair
   share frames, and matching them tells the denser one, a comparison its model never makes);
4. the best held-out accuracy over the classifiers (so the audit is demanding) is compared with
   chance, the majority-class rate of the held-out targets: the task passes when
   ``accuracy <= chance + tolerance`` (default 5 points).

Pixel tensors are the sample's uint8 tensors (the engine's contract: every uint8 tensor is pixels).
Their layout is inferred from the number of dims: 5 = (K, C, T, H, W) a tuple of K clips, 4 =
(C, T, H, W) one clip, 3 = (C, H, W) one frame; ``layouts={"frames": "KCHW"}`` overrides it per key
with any order of the letters K (views), T (frames), C (channels), H and W (C, H and W required).
C is the channel dim (3 = RGB, or 1 = grey: R = G = B = luma); K x T give the frames, in that order.
A channel-split element (OPN: one channel copied to all three) simply has equal R, G and B stats.
The target is the sample's ``target`` tensor of integers; with ``unit="sample"`` a multi-element
target (SpeedNet's (2,) per-slot speeds) counts as one class per distinct value.

>>> from ssl_video.pretext import create_task
>>> from ssl_video.pretext.audit import shortcut_audit
>>> task = create_task("vcop", {"clip_len": 8, "interval": 4, "crop": 28, "resize": None})
>>> result = shortcut_audit(task, videos, samples_per_video=16)  # videos: list of (T, H, W, 3) uint8
>>> result.passed, result.summary()
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ..datasets.clips import plan_and_read, sample_rng
from ..video import VideoMeta
from .base import PretextTask

STATS_PER_FRAME = 8  # mean and std of luma, R, G, B
STAT_NAMES = ("luma_mean", "luma_std", "r_mean", "r_std", "g_mean", "g_std", "b_mean", "b_std")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_DEFAULT_LAYOUT = {5: "KCTHW", 4: "CTHW", 3: "CHW"}

Video = np.ndarray | Callable[[], np.ndarray]


def default_classifiers(seed: int) -> dict[str, object]:
    """The audit's classifiers (unfitted scikit-learn estimators), by name.

    Sized on the five built-in tasks with a brightness ramp (see tests/test_shortcut_audit.py): the
    MLP finds order leaks the linear model cannot (sorting means, |slope|), boosting catches
    thresholds on single statistics; full-batch L-BFGS keeps every fit deterministic and fast.
    """
    return {
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)),
        "boosting": HistGradientBoostingClassifier(
            max_iter=50, max_depth=3, max_bins=32, max_features=0.5, random_state=seed
        ),
        "mlp": make_pipeline(
            StandardScaler(),
            MLPClassifier(
                hidden_layer_sizes=(64,), alpha=1.0, solver="lbfgs", max_iter=300, random_state=seed
            ),
        ),
    }


@dataclass(frozen=True)
class AuditResult:
    """What the audit measured.

    accuracy: best held-out accuracy over the classifiers (``best_classifier``); ``classifier_accuracy``
    has every one. chance: majority-class rate of the held-out targets; task_chance: the task's
    ``chance_accuracy`` (None if it declares none). margin = accuracy - chance. stderr: standard error
    of ``accuracy`` over the held-out videos (samples of one video are not independent).
    passed = accuracy <= chance + tolerance. unit: ``sample`` or ``element`` (what one classifier
    input is); train_units / test_units count them. skipped: (video index, reason) for unusable videos.
    """

    task: str
    accuracy: float
    best_classifier: str
    classifier_accuracy: dict[str, float]
    chance: float
    task_chance: float | None
    margin: float
    stderr: float
    tolerance: float
    passed: bool
    num_classes: int
    num_features: int
    train_videos: int
    test_videos: int
    unit: str
    train_units: int
    test_units: int
    skipped: tuple[tuple[int, str], ...] = field(default=())
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: verdict, accuracy +- stderr vs chance, per-classifier accuracies, counts."""
        verdict = "passed" if self.passed else "FAILED (shortcut)"
        per = ", ".join(f"{k} {v:.3f}" for k, v in self.classifier_accuracy.items())
        task_chance = "none" if self.task_chance is None else f"{self.task_chance:.3f}"
        return (
            f"shortcut audit of {self.task}: {verdict}: accuracy {self.accuracy:.3f} +- {self.stderr:.3f} "
            f"({self.best_classifier}) vs chance {self.chance:.3f} (task {task_chance}), tolerance "
            f"{self.tolerance:.2f}; [{per}]; {self.train_videos}/{self.test_videos} videos, "
            f"{self.train_units}/{self.test_units} {self.unit}s (train/test), {self.num_features} features, "
            f"{len(self.skipped)} skipped, {self.seconds:.1f} s"
        )


class _ArrayReader:
    """Frames held in memory behind the reader interface ``plan_and_read`` uses."""

    def __init__(self, frames: np.ndarray, where: str):
        self.frames, self.where = frames, where

    def read(self, indices) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self.frames)):
            raise ValueError(
                f"{self.where}: the task asked for frames {idx.min()}..{idx.max()} of a "
                f"{len(self.frames)}-frame video"
            )
        return self.frames[idx]


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """torch, BLAS and OpenMP on one thread, restored afterwards. The audit's tensors and models are
    small: on a loaded 2-core machine two threads made it 10-50x slower (spinning workers)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(threads)


def _check_video(video: Video, index: int) -> np.ndarray:
    frames = video() if callable(video) else video
    if not isinstance(frames, np.ndarray):
        raise ValueError(
            f"videos[{index}]: expected a numpy array (T, H, W, 3) uint8, got {type(frames).__name__}"
        )
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or 0 in frames.shape:
        raise ValueError(
            f"videos[{index}]: expected a (T, H, W, 3) uint8 array with T, H, W >= 1, got "
            f"{frames.dtype} {tuple(frames.shape)}"
        )
    return frames


def frame_statistics(
    sample: Mapping[str, torch.Tensor], layouts: Mapping[str, str] | None = None
) -> dict[str, np.ndarray]:
    """Global photometric statistics of every frame of every pixel tensor of one sample.

    Pixel tensors are the uint8 values of ``sample``; see the module docstring for layouts. Returns
    {key: (K, T, 8) float64} in [0, 1] units, in the sample's key order: view k in feeding order,
    its frame t, columns ``STAT_NAMES``.
    """
    layouts = layouts or {}
    parts = {}
    for key, value in sample.items():
        if not isinstance(value, torch.Tensor) or value.dtype != torch.uint8:
            continue
        layout = layouts.get(key) or _DEFAULT_LAYOUT.get(value.dim())
        if layout is None:
            raise ValueError(
                f"pixel tensor {key!r} has shape {tuple(value.shape)}: give its layout, e.g. "
                f"layouts={{{key!r}: 'KCTHW'}}"
            )
        if len(layout) != value.dim() or len(set(layout)) != len(layout) or not set("CHW") <= set(layout):
            raise ValueError(
                f"layout {layout!r} of pixel tensor {key!r} does not fit shape {tuple(value.shape)}"
            )
        if not set(layout) <= set("KTCHW"):
            raise ValueError(f"layout {layout!r} of {key!r} may only use the letters K, T, C, H, W")
        for letter in "KT":  # add missing view / frame dims of size 1
            if letter not in layout:
                value, layout = value.unsqueeze(0), letter + layout
        x = value.permute(*(layout.index(d) for d in "KTCHW")).numpy()  # (K, T, C, H, W) uint8
        channels = x.shape[2]
        if channels not in (1, 3):
            raise ValueError(f"pixel tensor {key!r}: channel dim C has {channels} entries, expected 1 or 3")
        x = x.reshape(*x.shape[:3], -1).astype(np.float32)  # (K, T, C, P)
        if channels == 1:
            x = np.repeat(x, 3, axis=2)
        luma = np.tensordot(_LUMA, x, axes=([0], [2]))[:, :, None]  # (K, T, 1, P)
        planes = np.concatenate([luma, x], axis=2)  # (K, T, 4, P): luma, R, G, B
        mean = planes.mean(axis=3, dtype=np.float64)
        std = planes.std(axis=3, dtype=np.float64)
        parts[key] = np.stack([mean, std], axis=3).reshape(*x.shape[:2], STATS_PER_FRAME) / 255.0
    if not parts:
        raise ValueError(f"the sample has no uint8 pixel tensor (keys: {', '.join(sample)})")
    return parts


def classifier_inputs(stats: np.ndarray) -> np.ndarray:
    """(S, N, 8) frame statistics of S units (samples or elements, N frames each) -> (S, (N + 1) x 8)
    classifier inputs: every statistic minus its mean over the unit's N frames, then those 8 means.

    An invertible linear re-expression of the statistics (nothing is added or lost). It matters: a
    frame's mean brightness varies far more across videos than between the frames of one sample,
    so after standardisation the within-sample changes that order and speed leaks live in would sit
    below the classifiers' resolution (measured: SpeedNet pairs over a non-uniform background with
    1% flicker, 52% held-out accuracy from the raw statistics, 89% from these).
    """
    level = stats.mean(axis=1, keepdims=True)  # (S, 1, 8)
    return np.concatenate([stats - level, level], axis=1).reshape(len(stats), -1)


def _target(sample: Mapping[str, torch.Tensor]) -> tuple[int, ...]:
    target = sample.get("target")
    if not isinstance(target, torch.Tensor) or target.is_floating_point() or target.is_complex():
        raise ValueError("the shortcut audit needs an integer 'target' tensor in every sample")
    return tuple(int(v) for v in target.flatten().tolist())


def _units(
    stats: dict[str, np.ndarray], target: tuple[int, ...], unit: str
) -> tuple[list[np.ndarray], list[tuple[int, ...]]]:
    """One sample -> (per unit (N, 8) statistics, per unit target): the whole sample for ``sample``;
    for ``element`` every view k of its one pixel tensor, with ``target[k]``."""
    if unit == "sample":
        return [np.concatenate([v.reshape(-1, STATS_PER_FRAME) for v in stats.values()])], [target]
    (key, views), *others = stats.items()
    if others or len(views) != len(target):
        shapes = {k: v.shape[:2] for k, v in stats.items()}
        raise ValueError(
            f"unit='element' needs one pixel tensor of K views and a (K,) target, got views {shapes} and "
            f"{len(target)} target values"
        )
    return list(views), [(y,) for y in target]


def _collect(
    task: PretextTask,
    videos: Sequence[Video],
    samples_per_video: int,
    seed: int,
    fps: float,
    layouts: Mapping[str, str] | None,
    unit: str,
):
    """Classifier inputs and targets of every usable video -> (inputs {i: (S, F)}, targets
    {i: [U tuples]}, skipped [(i, reason)]); U = units per video."""
    need = task.min_frames()
    features, targets, skipped = {}, {}, []
    width = None
    for i, video in enumerate(videos):
        frames = _check_video(video, i)
        t, h, w, _ = frames.shape
        if t < need:
            skipped.append((i, f"too short: {t} frames < {need} needed"))
            continue
        meta = VideoMeta(f"<videos[{i}]>", t, fps, t / fps, w, h, False, None)
        reader = _ArrayReader(frames, f"videos[{i}]")
        rows, ys = [], []
        for j in range(samples_per_video):
            rng = sample_rng(seed, j, i)
            plan, views = plan_and_read(task, meta, reader, rng)
            sample = task.make_sample(views, plan, rng)
            unit_stats, unit_targets = _units(frame_statistics(sample, layouts), _target(sample), unit)
            for row in unit_stats:
                if width is None:
                    width = row.shape[0]
                elif row.shape[0] != width:
                    raise ValueError(
                        f"videos[{i}]: sample {j} has {row.shape[0]} frames per {unit}, earlier samples "
                        f"{width}: the task's pixel tensors must have one shape"
                    )
            rows += unit_stats
            ys += unit_targets
        features[i], targets[i] = classifier_inputs(np.stack(rows)), ys
    return features, targets, skipped


def shortcut_audit(
    task: PretextTask,
    videos: Sequence[Video],
    samples_per_video: int = 16,
    seed: int = 0,
    tolerance: float = 0.05,
    test_fraction: float = 0.4,
    unit: str = "sample",
    fps: float = 25.0,
    layouts: Mapping[str, str] | None = None,
    classifiers: Mapping[str, object] | None = None,
) -> AuditResult:
    """Audit ``task`` for photometric shortcuts on ``videos`` (see the module docstring).

    videos: (T, H, W, 3) uint8 arrays, or zero-argument callables returning one (loaded one at a
        time); videos shorter than ``task.min_frames()`` are skipped and listed in ``skipped``.
    samples_per_video: samples drawn per video (draw j uses ``sample_rng(seed, j, video index)``).
    seed: drives the samples, the video split and the classifiers: same seed, same result.
    tolerance: how far above chance the best held-out accuracy may be and still pass.
    test_fraction: share of the usable videos whose samples are held out (at least one video).
    unit: what one classifier input is. ``sample`` (default): all frames of the sample, target = the
        whole ``target`` tensor, for tasks whose head sees the views together (VCOP, OPN, O3N,
        Shuffle&Learn). ``element``: every view k of the sample's one (K, ...) pixel tensor on its
        own, target = ``target[k]``, for tasks whose head scores each view alone (SpeedNet); their
        views are never compared with each other by the model, so comparing them here would report
        leaks the model cannot use (two clips cut around one moment share frames).
    fps: frame rate written into each video's ``VideoMeta``.
    layouts: pixel-tensor layouts by sample key, when the number of dims does not say it.
    classifiers: unfitted scikit-learn estimators by name (default ``default_classifiers(seed)``).

    Runs on one thread (torch, BLAS, OpenMP; restored afterwards). Raises ValueError naming the video
    for a wrong dtype or shape, and when fewer than two videos are usable or the training videos
    show a single class.
    """
    started = time.perf_counter()
    if samples_per_video < 1:
        raise ValueError(f"samples_per_video must be >= 1, got {samples_per_video}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if unit not in ("sample", "element"):
        raise ValueError(f"unit must be 'sample' or 'element', got {unit!r}")
    with _one_thread():
        features, targets, skipped = _collect(task, videos, samples_per_video, seed, fps, layouts, unit)
        usable = sorted(features)
        if len(usable) < 2:
            raise ValueError(
                f"the shortcut audit needs >= 2 usable videos (train and test), got {len(usable)} of "
                f"{len(videos)}; skipped: {skipped}"
            )
        order = np.random.default_rng([seed, 0xA0D1]).permutation(usable)
        n_test = min(len(usable) - 1, max(1, round(test_fraction * len(usable))))
        test_ids, train_ids = sorted(order[:n_test].tolist()), sorted(order[n_test:].tolist())

        classes = sorted({y for ys in targets.values() for y in ys})
        code = {y: c for c, y in enumerate(classes)}
        x_train = np.concatenate([features[i] for i in train_ids])
        y_train = np.array([code[y] for i in train_ids for y in targets[i]])
        x_test = np.concatenate([features[i] for i in test_ids])
        y_test = np.array([code[y] for i in test_ids for y in targets[i]])
        if len(np.unique(y_train)) < 2:
            raise ValueError("the training videos' samples all have one target: draw more samples per video")
        predictions = _fit_and_predict(classifiers or default_classifiers(seed), x_train, y_train, x_test)
    accuracy = {name: float(np.mean(pred == y_test)) for name, pred in predictions.items()}
    best = max(accuracy, key=accuracy.get)  # the first of tied ones, in classifier order
    correct = (predictions[best] == y_test).reshape(len(test_ids), -1)  # (test videos, units per video)
    per_video = correct.mean(axis=1)
    stderr = float(per_video.std(ddof=1) / np.sqrt(len(per_video))) if len(per_video) > 1 else float("nan")
    chance = float(np.bincount(y_test).max() / len(y_test))
    task_chance = getattr(task, "chance_accuracy", None)
    return AuditResult(
        task=getattr(task, "name", type(task).__name__),
        accuracy=accuracy[best],
        best_classifier=best,
        classifier_accuracy=accuracy,
        chance=chance,
        task_chance=None if task_chance is None else float(task_chance),
        margin=accuracy[best] - chance,
        stderr=stderr,
        tolerance=tolerance,
        passed=accuracy[best] <= chance + tolerance,
        num_classes=len(classes),
        num_features=x_train.shape[1],
        train_videos=len(train_ids),
        test_videos=len(test_ids),
        unit=unit,
        train_units=len(y_train),
        test_units=len(y_test),
        skipped=tuple(skipped),
        seconds=time.perf_counter() - started,
    )


def _fit_and_predict(classifiers: Mapping[str, object], x_train, y_train, x_test) -> dict[str, np.ndarray]:
    """Fit every classifier on the training units; their predictions for the test units, by name."""
    predictions = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, estimator in classifiers.items():
            predictions[name] = np.asarray(estimator.fit(x_train, y_train).predict(x_test))
    return predictions
