"""Protocols that train on decoded clips (PRETEXT_SPEC §12.B-C) and test on many views per video.

* End-to-end linear probe: the encoder is frozen (``eval()``: BatchNorm uses its running statistics,
  no dropout), its pooled feature is L2-normalised and fed to one ``nn.Linear``; training sees one
  random clip per video per epoch with training-time augmentation (random crop position after the
  resize, optional horizontal flip), which is why its features cannot be cached.
* Full finetuning: the same data path, but the encoder trains too (BatchNorm in train mode), with
  dropout before the linear classifier, as in VCOP's fine-tuning recipe.

Both test every video with ``num_clips`` evenly spaced clips x ``spatial_crops`` crops (1 = centre,
3 = start / centre / end along the longer side), average the softmax over the views (video metrics)
and also score each view on its own (clip metrics). Every random draw comes from
``sample_rng(seed, epoch, index, STREAM_EVAL)`` or a seeded torch Generator, so the numbers do not
depend on the number of data workers. A video that cannot be decoded is skipped in training
(counted) and counts as a miss at test time: nothing is silently dropped.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Sequence

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..datasets import VideoRecord
from ..datasets.clips import decode_views, sample_rng
from ..results.outcomes import hit_rate
from ..transforms import ClipTransform
from ..transforms.clip import to_clip_tensor
from ..video import VideoDecodeError, read_metadata
from .features import multi_clip_indices
from .knn import topk_accuracy, topk_hits
from .linear import mean_class_accuracy

log = logging.getLogger(__name__)

STREAM_EVAL = 7  # sample_rng stream of evaluation training clips (apart from pretraining's streams)


def spatial_crop_origins(height: int, width: int, crop: int, n: int) -> list[tuple[int, int]]:
    """Top-left corners of ``n`` test crops in a (height, width) frame: 1 = the centre crop; 3 = the
    start, centre and end of the longer side (PySlowFast's 3-crop test), centred on the other side."""
    if height < crop or width < crop:
        raise ValueError(f"crop {crop} is larger than the (resized) frame {height}x{width}")
    top, left = (height - crop) // 2, (width - crop) // 2
    if n == 1:
        return [(top, left)]
    if n != 3:
        raise ValueError(f"spatial_crops must be 1 or 3, got {n}")
    if width >= height:
        return [(top, 0), (top, left), (top, width - crop)]
    return [(0, left), (top, left), (height - crop, left)]


class RandomClipDataset(Dataset):
    """Key (epoch, index) -> (clip (3, T, crop, crop) uint8, label, ok).

    One clip of ``clip_len`` frames ``frame_stride`` apart per video per epoch, start uniform over the
    video (a video shorter than the clip's span repeats its last frame), resized, randomly cropped and, with
    ``flip``, mirrored with probability 1/2. An unreadable video gives a zero clip and ok=False.
    """

    def __init__(
        self,
        records: Sequence[VideoRecord],
        backend: str,
        clip_len: int,
        crop: int,
        resize: int | tuple[int, int] | None,
        flip: bool,
        seed: int,
        frame_stride: int = 1,
    ):
        self.records, self.backend, self.clip_len, self.flip, self.seed = (
            list(records),
            backend,
            clip_len,
            flip,
            seed,
        )
        self.frame_stride = frame_stride
        self.transform = ClipTransform(crop=crop, resize=resize, random=True)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        record = self.records[index]
        rng = sample_rng(self.seed, epoch, index, STREAM_EVAL)
        try:
            n = read_metadata(record.path, backend=self.backend).num_frames
            offsets = self.frame_stride * np.arange(self.clip_len)
            start = int(rng.integers(0, max(1, n - int(offsets[-1]))))
            indices = np.clip(start + offsets, 0, n - 1)
            (frames,) = decode_views(record.path, self.backend, [indices])
        except VideoDecodeError as e:
            log.warning("skipping an evaluation training clip: %s", e)
            crop = self.transform.crop
            return torch.zeros(3, self.clip_len, crop, crop, dtype=torch.uint8), record.label, False
        clip = self.transform(frames, rng)
        if self.flip and rng.random() < 0.5:
            clip = clip.flip(-1)
        return clip, record.label, True


class MultiViewDataset(Dataset):
    """Item i -> (views (V, 3, T, crop, crop) uint8, ok), V = num_clips x spatial_crops, clip-major
    (the crops of clip 0 first). An unreadable video gives zero views and ok=False."""

    def __init__(
        self,
        records: Sequence[VideoRecord],
        backend: str,
        num_clips: int,
        clip_len: int,
        crop: int,
        resize: int | tuple[int, int] | None,
        spatial_crops: int,
        frame_stride: int = 1,
    ):
        self.records, self.backend = list(records), backend
        self.num_clips, self.clip_len, self.crop, self.spatial_crops = (
            num_clips,
            clip_len,
            crop,
            spatial_crops,
        )
        self.frame_stride = frame_stride
        self.resizer = ClipTransform(crop=crop, resize=resize, random=False)

    def __len__(self) -> int:
        return len(self.records)

    def views(self, clip_frames: np.ndarray) -> torch.Tensor:
        """(T, H, W, 3) uint8 -> (spatial_crops, 3, T, crop, crop) uint8."""
        clip = to_clip_tensor(clip_frames)
        size = self.resizer.resized_size(*clip.shape[-2:])
        if size != tuple(clip.shape[-2:]):
            clip = TF.resize(clip, list(size), antialias=True)
        origins = spatial_crop_origins(size[0], size[1], self.crop, self.spatial_crops)
        crops = [TF.crop(clip, top, left, self.crop, self.crop) for top, left in origins]
        return torch.stack([c.permute(1, 0, 2, 3) for c in crops])

    def __getitem__(self, i: int):
        record = self.records[i]
        try:
            n = read_metadata(record.path, backend=self.backend).num_frames
            indices = multi_clip_indices(n, self.num_clips, self.clip_len, self.frame_stride)
            clips = decode_views(record.path, self.backend, list(indices))
        except VideoDecodeError as e:
            log.warning("cannot test a video: %s", e)
            v = self.num_clips * self.spatial_crops
            return torch.zeros(v, 3, self.clip_len, self.crop, self.crop, dtype=torch.uint8), False
        return torch.cat([self.views(c) for c in clips]).contiguous(), True


def _collate_train(items):
    clips, labels, ok = zip(*items)
    return torch.stack(clips), torch.tensor(labels, dtype=torch.long), torch.tensor(ok, dtype=torch.bool)


def _collate_views(items):
    views, ok = zip(*items)
    return torch.stack(views), torch.tensor(ok, dtype=torch.bool)


class ClipClassifier(nn.Module):
    """encoder -> (optional L2 normalisation) -> dropout -> Linear; (B, 3, T, H, W) -> (B, C)."""

    def __init__(self, encoder: nn.Module, num_classes: int, normalize: bool, dropout: float):
        super().__init__()
        self.encoder, self.normalize = encoder, normalize
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(encoder.dim, num_classes)

    def forward(self, x: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        if frozen:
            with torch.no_grad():
                features = self.encoder(x)
        else:
            features = self.encoder(x)
        if self.normalize:
            features = nn.functional.normalize(features, dim=1)
        return self.fc(self.dropout(features))


def _optimizer(params, protocol) -> torch.optim.Optimizer:
    name = getattr(protocol, "optimizer", "sgd")
    if name == "adamw":
        return torch.optim.AdamW(params, lr=protocol.lr, weight_decay=protocol.weight_decay)
    return torch.optim.SGD(
        params, lr=protocol.lr, momentum=protocol.momentum, weight_decay=protocol.weight_decay
    )


def train_clip_classifier(
    model: ClipClassifier,
    records: Sequence[VideoRecord],
    protocol,
    frozen: bool,
    seed: int,
    backend: str,
    num_workers: int,
    device: torch.device,
) -> dict:
    """Train ``model`` (only its ``fc`` when ``frozen``) for ``protocol.epochs`` epochs, one random
        clip per video per epoch, minibatches of ``protocol.batch_size`` in a seeded order (the last
        partial batch kept). Returns {"steps", "skipped_clips", "final_loss", "failed_train" (paths of the
    videos that failed to decode at least once, sorted)}."""
    dataset = RandomClipDataset(
        records, backend, protocol.clip_len, protocol.crop, protocol.resize, protocol.flip, seed,
        protocol.frame_stride,
    )  # fmt: skip
    params = model.fc.parameters() if frozen else model.parameters()
    opt = _optimizer(params, protocol)
    steps_per_epoch = math.ceil(len(records) / protocol.batch_size)
    total = max(1, protocol.epochs * steps_per_epoch)
    cosine = getattr(protocol, "schedule", "cosine") == "cosine"
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, (lambda s: 0.5 * (1 + math.cos(math.pi * s / total))) if cosine else (lambda s: 1.0)
    )
    torch.manual_seed(seed)  # dropout masks
    steps, skipped, loss_value, failed = 0, 0, float("nan"), set()
    for epoch in range(protocol.epochs):
        model.train()
        if frozen:
            model.encoder.eval()  # BN running statistics, no dropout inside the trunk
        order = np.random.default_rng([seed, STREAM_EVAL, epoch]).permutation(len(records))
        batches = [
            [(epoch, int(i)) for i in order[s : s + protocol.batch_size]]
            for s in range(0, len(order), protocol.batch_size)
        ]
        loader = DataLoader(
            dataset, batch_sampler=batches, num_workers=num_workers, collate_fn=_collate_train
        )
        for keys, (clips, labels, ok) in zip(batches, loader):
            skipped += int((~ok).sum())
            failed.update(records[i].path for (_, i), good in zip(keys, ok.tolist()) if not good)
            if not ok.any():
                sched.step()
                continue
            x = clips[ok].to(device).float().div_(255.0)
            loss = nn.functional.cross_entropy(model(x, frozen=frozen), labels[ok].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            steps += 1
            loss_value = float(loss.detach())
    return {
        "steps": steps,
        "skipped_clips": skipped,
        "final_loss": loss_value,
        "failed_train": sorted(failed),
    }


@torch.no_grad()
def predict_views(
    model: ClipClassifier,
    records: Sequence[VideoRecord],
    protocol,
    backend: str,
    num_workers: int,
    device: torch.device,
    batch_videos: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Softmax of every test view: (probabilities (N, V, C) float64, ok (N,) bool)."""
    model.eval()
    dataset = MultiViewDataset(
        records, backend, protocol.num_clips, protocol.clip_len, protocol.crop, protocol.resize,
        protocol.spatial_crops, protocol.frame_stride,
    )  # fmt: skip
    loader = DataLoader(
        dataset, batch_size=batch_videos, num_workers=num_workers, shuffle=False, collate_fn=_collate_views
    )
    probs, oks = [], []
    for views, ok in loader:
        b, v = views.shape[:2]
        x = views.flatten(0, 1).to(device).float().div_(255.0)
        probs.append(model(x).softmax(dim=1).double().cpu().view(b, v, -1))
        oks.append(ok)
    if not probs:
        return np.zeros((0, 0, 0)), np.zeros(0, dtype=bool)
    return torch.cat(probs).numpy(), torch.cat(oks).numpy()


def view_metrics(
    probs: np.ndarray, labels: np.ndarray, ok: np.ndarray
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """(metrics, hits) from per-view softmax (N, V, C). Metrics in %: ``clip_top1`` (every view scored
    on its own), ``top1`` / ``top5`` / ``mean_class_acc`` of the view-averaged prediction; failed
    videos miss. Hits: the per-video (N,) bool correctness of ``top1`` and ``top5``, whose hit rates
    they are (clip_top1 and mean class accuracy are not means of one hit per video)."""
    labels, ok = np.asarray(labels), np.asarray(ok, dtype=bool)
    n, v, c = probs.shape
    clip = topk_accuracy(probs.reshape(n * v, c), np.repeat(labels, v), (1,), np.repeat(ok, v))
    video_scores = probs.mean(axis=1)
    hits = topk_hits(video_scores, labels, (1, 5), ok)
    metrics = {"clip_top1": clip["top1"], **{name: hit_rate(h) for name, h in hits.items()}}
    pred = np.lexsort((np.broadcast_to(np.arange(c), video_scores.shape), -video_scores), axis=1)[:, 0]
    metrics["mean_class_acc"] = mean_class_accuracy(pred, labels, ok)
    return metrics, hits


def run_clip_protocol(
    protocol,
    encoder: nn.Module,
    train_records: Sequence[VideoRecord],
    test_records: Sequence[VideoRecord],
    num_classes: int,
    seed: int = 0,
    backend: str = "decord",
    num_workers: int = 2,
    device: str = "cpu",
) -> tuple[dict[str, float], dict[str, np.ndarray], dict]:
    """Train (linear end-to-end: frozen trunk; finetune: everything) on the train records, test on
    the test records. The caller's encoder is never modified (a deep copy trains).
    Returns (metrics, per-test-video hits of top1 / top5 (see :func:`view_metrics`),
    details {"steps", "skipped_clips", "final_loss", "failed_train", "failed_test"})."""
    finetune = protocol.kind == "finetune"
    dev = torch.device(device)
    encoder = copy.deepcopy(encoder).to(dev)
    if not finetune:
        encoder.requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    model = ClipClassifier(
        encoder, num_classes, normalize=not finetune, dropout=getattr(protocol, "dropout", 0.0)
    ).to(dev)
    with torch.no_grad():
        bound = 1.0 / math.sqrt(encoder.dim)
        model.fc.weight.copy_(torch.empty(model.fc.weight.shape).uniform_(-bound, bound, generator=gen))
        model.fc.bias.zero_()
    details = train_clip_classifier(
        model, train_records, protocol, not finetune, seed, backend, num_workers, dev
    )
    probs, ok = predict_views(model, test_records, protocol, backend, num_workers, dev)
    labels = np.array([r.label for r in test_records], dtype=np.int64)
    metrics, hits = view_metrics(probs, labels, ok)
    details["failed_test"] = [r.path for r, good in zip(test_records, ok) if not good]
    return metrics, hits, details
