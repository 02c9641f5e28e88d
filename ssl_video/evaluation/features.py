"""Multi-clip feature extraction: one decode per video, deterministic clips, no dropped videos."""

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


def multi_clip_indices(num_frames: int, num_clips: int, clip_len: int) -> np.ndarray:
    """(num_clips, clip_len) frame indices of clips whose centres are evenly spaced over
    [clip_len/2, num_frames - clip_len/2] (VCOP's test sampling). Videos shorter than a clip repeat
    their last frame, so every video yields clips."""
    half = clip_len / 2
    centres = np.linspace(half, max(half, num_frames - half), num_clips)
    starts = np.round(centres - half).astype(np.int64)
    indices = starts[:, None] + np.arange(clip_len)[None, :]
    return np.clip(indices, 0, num_frames - 1)


def pool5(feature_map: torch.Tensor) -> torch.Tensor:
    """VCOP's retrieval feature: MaxPool3d (1,2,2) on the last feature map, flattened.

    (B, C, T', H', W') -> (B, C * T' * (H' // 2) * (W' // 2)).
    """
    return nn.functional.max_pool3d(feature_map, kernel_size=(1, 2, 2), stride=(1, 2, 2)).flatten(1)


class MultiClipDataset(Dataset):
    """Item i -> (clips (num_clips, 3, T, crop, crop) uint8, ok flag). An unreadable video gives
    zeros and ok=False, so the caller can count it rather than silently drop it."""

    def __init__(
        self, paths: Sequence[str], backend: str, num_clips: int, clip_len: int, transform: ClipTransform
    ):
        self.paths, self.backend = list(paths), backend
        self.num_clips, self.clip_len, self.transform = num_clips, clip_len, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        path = self.paths[i]
        try:
            meta = read_metadata(path, backend=self.backend)
            clips = decode_views(
                path, self.backend, list(multi_clip_indices(meta.num_frames, self.num_clips, self.clip_len))
            )
            return torch.stack([self.transform(c) for c in clips]), True
        except VideoDecodeError as e:
            log.warning("cannot extract features: %s", e)
            crop = self.transform.crop
            return torch.zeros(self.num_clips, 3, self.clip_len, crop, crop, dtype=torch.uint8), False


@torch.no_grad()
def extract_video_features(
    encoder: nn.Module,
    paths: Sequence[str],
    *,
    backend: str = "decord",
    num_clips: int = 10,
    clip_len: int = 16,
    crop: int = 112,
    resize: int | tuple[int, int] | None = (128, 171),
    feature: str = "pool",
    batch_videos: int = 4,
    num_workers: int = 2,
    device: torch.device | str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Video descriptors = mean over ``num_clips`` centre-cropped clips of the clip features.

    feature: "pool" (global average pool, (D,)) or "pool5" (VCOP's pooled-and-flattened map).
    Returns (features (N, D') float32, ok (N,) bool); rows of unreadable videos are zero and ok False.
    """
    if feature not in ("pool", "pool5"):
        raise ValueError(f"feature must be 'pool' or 'pool5', got {feature!r}")
    encoder = encoder.to(device).eval()
    dataset = MultiClipDataset(
        paths, backend, num_clips, clip_len, ClipTransform(crop=crop, resize=resize, random=False)
    )
    loader = DataLoader(
        dataset, batch_size=batch_videos, num_workers=num_workers, shuffle=False, drop_last=False
    )
    features, oks = [], []
    for clips, ok in loader:
        b = clips.shape[0]
        x = clips.flatten(0, 1).to(device).float().div_(255.0)
        out = encoder(x) if feature == "pool" else pool5(encoder.forward_features(x))
        features.append(out.view(b, num_clips, -1).mean(1).float().cpu())
        oks.append(ok)
    feats = torch.cat(features).numpy().astype(np.float32)
    ok = torch.cat(oks).numpy().astype(bool)
    feats[~ok] = 0.0
    return feats, ok
