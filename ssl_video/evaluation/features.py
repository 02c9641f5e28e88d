"""Multi-clip feature extraction: one decode per video, deterministic clips, no dropped videos.

Clips are either ``num_clips`` evenly spaced ones (VCOP, ``windows="uniform"``) or every
half-overlapping window (CoCLR, ``windows="dense"``); the video descriptor is the mean over its clips.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..datasets.clips import decode_views
from ..transforms import ClipTransform
from ..video import VideoDecodeError, read_metadata

log = logging.getLogger(__name__)


def clip_span(clip_len: int, frame_stride: int = 1) -> int:
    """Frames a clip of ``clip_len`` frames ``frame_stride`` apart spans: (clip_len - 1) * stride + 1."""
    return (clip_len - 1) * frame_stride + 1


def multi_clip_indices(num_frames: int, num_clips: int, clip_len: int, frame_stride: int = 1) -> np.ndarray:
    """(num_clips, clip_len) frame indices of clips whose centres are evenly spaced over
    [span/2, num_frames - span/2] (VCOP's test sampling), each clip ``clip_len`` frames
    ``frame_stride`` apart (span = ``clip_span``). Videos shorter than a clip repeat their last frame,
    so every video yields clips."""
    half = clip_span(clip_len, frame_stride) / 2
    centres = np.linspace(half, max(half, num_frames - half), num_clips)
    starts = np.round(centres - half).astype(np.int64)
    indices = starts[:, None] + frame_stride * np.arange(clip_len)[None, :]
    return np.clip(indices, 0, num_frames - 1)


def dense_window_indices(num_frames: int, clip_len: int, frame_stride: int = 1) -> np.ndarray:
    """(K, clip_len) frame indices of every half-overlapping window (a window spans
    ``clip_span(clip_len, frame_stride)`` frames; windows start ``max(1, span // 2)`` apart) starting at
    frame 0; when the last such window stops short of the final frame, one more window ending on the
    final frame is added, so the windows cover the whole video. A video shorter than one window gives
    a single window with its last frame repeated."""
    span = clip_span(clip_len, frame_stride)
    step = max(1, span // 2)
    starts = list(range(0, max(1, num_frames - span + 1), step))
    if num_frames > span and starts[-1] + span < num_frames:
        starts.append(num_frames - span)
    indices = np.asarray(starts, dtype=np.int64)[:, None] + frame_stride * np.arange(clip_len)[None, :]
    return np.clip(indices, 0, num_frames - 1)


def clip_indices(
    num_frames: int, windows: str, num_clips: int, clip_len: int, frame_stride: int = 1
) -> np.ndarray:
    """(K, clip_len) frame indices for ``windows`` "uniform" (K = num_clips) or "dense" (all windows)."""
    if windows == "uniform":
        return multi_clip_indices(num_frames, num_clips, clip_len, frame_stride)
    if windows == "dense":
        return dense_window_indices(num_frames, clip_len, frame_stride)
    raise ValueError(f"windows must be 'uniform' or 'dense', got {windows!r}")


def pool5(feature_map: torch.Tensor) -> torch.Tensor:
    """VCOP's retrieval feature: MaxPool3d (1,2,2) on the last feature map, flattened.

    (B, C, T', H', W') -> (B, C * T' * (H' // 2) * (W' // 2)).
    """
    return nn.functional.max_pool3d(feature_map, kernel_size=(1, 2, 2), stride=(1, 2, 2)).flatten(1)


class MultiClipDataset(Dataset):
    """Item i -> (clips (K, 3, T, crop, crop) uint8, ok flag); K = num_clips for uniform windows,
    the number of windows for dense ones. An unreadable video gives one zero clip per expected clip
    (one for dense windows) and ok=False, so the caller can count it rather than silently drop it."""

    def __init__(
        self,
        paths: Sequence[str],
        backend: str,
        num_clips: int,
        clip_len: int,
        transform: ClipTransform,
        windows: str = "uniform",
        frame_stride: int = 1,
    ):
        self.paths, self.backend, self.windows = list(paths), backend, windows
        self.num_clips, self.clip_len, self.transform = num_clips, clip_len, transform
        self.frame_stride = frame_stride

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        path = self.paths[i]
        try:
            meta = read_metadata(path, backend=self.backend)
            indices = clip_indices(
                meta.num_frames, self.windows, self.num_clips, self.clip_len, self.frame_stride
            )
            clips = decode_views(path, self.backend, list(indices))
            return torch.stack([self.transform(c) for c in clips]), True
        except VideoDecodeError as e:
            log.warning("cannot extract features: %s", e)
            crop = self.transform.crop
            k = self.num_clips if self.windows == "uniform" else 1
            return torch.zeros(k, 3, self.clip_len, crop, crop, dtype=torch.uint8), False


def _collate_clips(items):
    """[(clips (K_i, 3, T, H, W), ok)] -> (all clips (sum K_i, 3, T, H, W), counts (B,), ok (B,))."""
    clips = torch.cat([c for c, _ in items])
    counts = torch.tensor([c.shape[0] for c, _ in items], dtype=torch.long)
    return clips, counts, torch.tensor([ok for _, ok in items], dtype=torch.bool)


@torch.no_grad()
def extract_video_features(
    encoder: nn.Module,
    paths: Sequence[str],
    *,
    backend: str = "decord",
    num_clips: int = 10,
    windows: str = "uniform",
    clip_len: int = 16,
    frame_stride: int = 1,
    crop: int = 112,
    resize: int | tuple[int, int] | None = (128, 171),
    feature: str = "pool",
    batch_videos: int = 4,
    num_workers: int = 2,
    device: torch.device | str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Video descriptors = mean over a video's centre-cropped clips of the clip features.

    windows: "uniform" (``num_clips`` evenly spaced clips) or "dense" (all half-overlapping windows);
    every clip has ``clip_len`` frames ``frame_stride`` apart.
    feature: "pool" (global average pool, (D,)) or "pool5" (VCOP's pooled-and-flattened map).
    Returns (features (N, D') float32, ok (N,) bool); rows of unreadable videos are zero and ok False.
    """
    if feature not in ("pool", "pool5"):
        raise ValueError(f"feature must be 'pool' or 'pool5', got {feature!r}")
    encoder = encoder.to(device).eval()
    transform = ClipTransform(crop=crop, resize=resize, random=False)
    dataset = MultiClipDataset(
        paths, backend, num_clips, clip_len, transform, windows=windows, frame_stride=frame_stride
    )
    loader = DataLoader(
        dataset,
        batch_size=batch_videos,
        num_workers=num_workers,
        shuffle=False,
        drop_last=False,
        collate_fn=_collate_clips,
    )
    features, oks = [], []
    for clips, counts, ok in loader:
        x = clips.to(device).float().div_(255.0)
        out = encoder(x) if feature == "pool" else pool5(encoder.forward_features(x))
        features.extend(part.mean(0).float().cpu() for part in out.split(counts.tolist()))
        oks.append(ok)
    if not features:
        return np.zeros((0, 0), dtype=np.float32), np.zeros(0, dtype=bool)
    feats = torch.stack(features).numpy().astype(np.float32)
    ok = torch.cat(oks).numpy().astype(bool)
    feats[~ok] = 0.0
    return feats, ok
