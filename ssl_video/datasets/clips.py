"""From video records to training batches: metadata scan, per-sample seeding, one decode per sample.

Every random choice for sample ``index`` in ``epoch`` comes from ``sample_rng(seed, epoch, index)``,
so a sample is identical whichever worker, rank or resumed run builds it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..video import VideoDecodeError, VideoMeta, open_video, read_metadata
from .record import VideoRecord

log = logging.getLogger(__name__)

# Streams keep independent random sequences apart (training samples, epoch order, validation).
STREAM_SAMPLE, STREAM_ORDER, STREAM_VAL = 0, 1, 2


def sample_rng(seed: int, epoch: int, index: int, stream: int = STREAM_SAMPLE) -> np.random.Generator:
    """Generator seeded from (seed, epoch, index, stream) only."""
    return np.random.default_rng([seed, stream, epoch, index])


@dataclass(frozen=True)
class UsableVideo:
    record: VideoRecord
    meta: VideoMeta


def scan_videos(
    records: Sequence[VideoRecord], backend: str, min_frames: int
) -> tuple[list[UsableVideo], list[tuple[str, str]]]:
    """Read every video's metadata; keep the ones with at least ``min_frames`` frames.

    Returns (usable videos, skipped [(path, reason)]). Never raises for a bad file.
    """
    usable, skipped = [], []
    for record in records:
        try:
            meta = read_metadata(record.path, backend=backend)
        except VideoDecodeError as e:
            skipped.append((record.path, e.reason))
            continue
        if meta.num_frames < min_frames:
            skipped.append((record.path, f"too short: {meta.num_frames} frames < {min_frames} needed"))
            continue
        usable.append(UsableVideo(record, meta))
    return usable, skipped


def _read_views(reader, views: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Decode the union of all views' frames in one pass; one (T_v, H, W, 3) array per view."""
    union = np.unique(np.concatenate([np.asarray(v, dtype=np.int64) for v in views]))
    frames = reader.read(union)
    return [frames[np.searchsorted(union, np.asarray(v, dtype=np.int64))] for v in views]


def decode_views(path: str, backend: str, views: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Decode the union of all views' frames in one pass; return one (T_v, H, W, 3) array per view."""
    with open_video(path, backend=backend) as reader:
        return _read_views(reader, views)


def plan_and_read(task, meta: VideoMeta, reader, rng: np.random.Generator):
    """Plan one sample with ``task`` and read its views from ``reader`` -> (plan, views).

    ``reader`` is anything with ``read(indices) -> (N, H, W, 3) uint8`` (an open ``VideoReader``, or
    frames held in memory, as the shortcut audit does). Without a probe this is ``task.plan(meta, rng)``
    then one read of the union of the views' frames. A task whose ``probe_frames(meta)`` names frames
    first gets them read (one extra sparse pass) and is planned with
    ``plan(meta, rng, probe=Probe(indices, frames))``.
    """
    probe_indices = task.probe_frames(meta)
    if probe_indices is None:
        plan = task.plan(meta, rng)
    else:
        from ..pretext.base import Probe  # the data layer depends on the task interface only here

        indices = np.asarray(probe_indices, dtype=np.int64)
        plan = task.plan(meta, rng, probe=Probe(indices, reader.read(indices)))
    return plan, _read_views(reader, plan.views)


def plan_and_decode(task, video: UsableVideo, backend: str, rng: np.random.Generator):
    """Plan one sample of ``video`` with ``task`` and decode its views (``plan_and_read`` on the opened
    file) -> (plan, views)."""
    with open_video(video.record.path, backend=backend) as reader:
        return plan_and_read(task, video.meta, reader, rng)


class PretextDataset(Dataset):
    """Map-style dataset indexed by ``(epoch, index)`` pairs (see ``EpochBatchSampler``).

    Every sample carries ``label`` (the record's class, -1 if unlabeled) besides the task's tensors;
    pretext tasks never read it, the supervised baseline does.
    A video that fails to decode at training time is replaced by the next video (deterministically)
    and its path is reported in the sample's ``failed`` list, so one bad file never stops a run.
    """

    max_retries = 8

    def __init__(
        self, videos: Sequence[UsableVideo], task, backend: str, seed: int, stream: int = STREAM_SAMPLE
    ):
        if not videos:
            raise ValueError("no usable videos to sample from")
        self.videos = list(videos)
        self.task = task
        self.backend = backend
        self.seed = seed
        self.stream = stream

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, index = key
        failed: list[str] = []
        for attempt in range(self.max_retries):
            video = self.videos[(index + attempt) % len(self.videos)]
            rng = sample_rng(self.seed, epoch, index + attempt, self.stream)
            try:
                plan, views = plan_and_decode(self.task, video, self.backend, rng)
            except VideoDecodeError as e:
                log.warning("skipping unreadable video %s", e)
                failed.append(video.record.path)
                continue
            sample = self.task.make_sample(views, plan, rng)
            # the record's class (-1 if unlabeled); only the supervised baseline reads it
            label = video.record.label
            sample["label"] = torch.tensor(-1 if label is None else label, dtype=torch.int64)
            sample["failed"] = failed
            return sample
        raise VideoDecodeError(
            self.videos[index].record.path, f"{self.max_retries} videos in a row failed to decode"
        )


class EpochBatchSampler(Sampler):
    """Batches of (epoch, index) for one epoch: a seeded permutation, sharded by rank, without a
    partial last batch (pretraining only; evaluation never drops videos). ``skip`` batches are
    skipped at the start, which is how a resumed run continues mid-epoch.
    """

    def __init__(
        self, size: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1, skip: int = 0
    ):
        self.size, self.batch_size, self.seed, self.epoch = size, batch_size, seed, epoch
        self.rank, self.world, self.skip = rank, world, skip

    @staticmethod
    def batches_per_epoch(size: int, batch_size: int, world: int = 1) -> int:
        return (size // world) // batch_size

    def __len__(self) -> int:
        return self.batches_per_epoch(self.size, self.batch_size, self.world) - self.skip

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        order = np.random.default_rng([self.seed, STREAM_ORDER, self.epoch]).permutation(self.size)
        shard = order[self.rank :: self.world]
        for b in range(self.skip, self.skip + len(self)):
            yield [(self.epoch, int(i)) for i in shard[b * self.batch_size : (b + 1) * self.batch_size]]


def collate_samples(samples: list[dict]) -> dict:
    """Stack every tensor field into a batch; concatenate the ``failed`` path lists."""
    batch = {key: torch.stack([s[key] for s in samples]) for key in samples[0] if key != "failed"}
    batch["failed"] = [path for s in samples for path in s.get("failed", [])]
    return batch
