"""Spatial transforms for the elements of one tuple (clips or single frames) against low-level shortcuts.

Order tasks feed K elements of one video and ask about their temporal order. A network can cheat by
matching pixels across elements instead of modelling motion (PRETEXT_SPEC §13), so the elements of a
tuple are cropped in one of two ways:

* independent crops (``jitter=None``): every element gets its own uniformly random crop, as VCOP and
  Shuffle&Learn do; crop positions cannot chain the elements together;
* jittered crops (``jitter=j``): one crop origin is shared by the tuple and every element is moved by
  its own uniform offset in [-j, j] px per axis (OPN's per-frame spatial jittering): the elements stay
  roughly aligned but never pixel-exactly.

``channel_split`` replicates one randomly chosen RGB channel of each element to all three channels
(OPN's channel splitting), which removes chromatic-aberration cues; ``flip`` mirrors the whole tuple
horizontally with probability 0.5. All frames of one element share its crop and channel.

Randomness comes only from the numpy Generator passed in (seeded per sample by the data layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF

from .clip import ClipTransform, to_clip_tensor


def jittered_origins(
    height: int, width: int, crop: int, jitter: int, count: int, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """``count`` crop origins (top, left): one shared origin plus an independent offset in [-jitter, jitter]
    per element and axis. The shared origin is drawn uniformly among those that keep every jittered crop
    inside the ``height`` x ``width`` frame."""
    if crop + 2 * jitter > min(height, width):
        raise ValueError(
            f"crop {crop} + 2 x jitter {jitter} does not fit the (resized) frame {height}x{width}; "
            "lower task.params.crop or task.params.jitter"
        )
    top = int(rng.integers(jitter, height - crop - jitter + 1))
    left = int(rng.integers(jitter, width - crop - jitter + 1))
    offsets = rng.integers(-jitter, jitter + 1, size=(count, 2))
    return [(top + int(dy), left + int(dx)) for dy, dx in offsets]


def channel_split(clip: torch.Tensor, channel: int) -> torch.Tensor:
    """(3, T, H, W) -> (3, T, H, W) with every channel a copy of ``channel`` (0 = R, 1 = G, 2 = B)."""
    return clip[channel : channel + 1].expand_as(clip).contiguous()


@dataclass(frozen=True)
class TupleTransform:
    """Crop (and optionally flip and channel-split) the K elements of one tuple.

    crop, resize: as ``ClipTransform`` (square crop side; resize None, shorter side or (H, W)).
    jitter: None for an independent random crop per element; an int for a shared origin plus a
        per-element offset in [-jitter, jitter] px (needs crop + 2 jitter <= the resized frame).
    flip: one horizontal mirror with p = 0.5 for the whole tuple.
    channel_split: per element, one random RGB channel replicated to all three.

    Call: list of K arrays (T_k, H, W, 3) uint8 -> list of K tensors (3, T_k, crop, crop) uint8.
    """

    crop: int
    resize: int | tuple[int, int] | None = None
    jitter: int | None = None
    flip: bool = False
    channel_split: bool = False

    def __call__(self, elements: list[np.ndarray], rng: np.random.Generator) -> list[torch.Tensor]:
        if not elements or len({e.shape[1:] for e in elements}) != 1:
            raise ValueError(f"expected K >= 1 elements of one frame size, got {[e.shape for e in elements]}")
        base = ClipTransform(crop=self.crop, resize=self.resize, random=True)
        height, width = elements[0].shape[1:3]
        size = base.resized_size(height, width)
        mirror = bool(rng.integers(2)) if self.flip else False
        if self.jitter is None:
            origins = [base.crop_origin(height, width, rng) for _ in elements]
        else:
            origins = jittered_origins(*size, self.crop, self.jitter, len(elements), rng)
        clips = []
        for frames in elements:
            if any(stride < 0 for stride in frames.strides):  # e.g. a time-reversed view
                frames = frames.copy()
            clip = to_clip_tensor(frames)  # (T, 3, H, W)
            if size != (height, width):
                clip = TF.resize(clip, list(size), antialias=True)
            clips.append(clip)
        out = []
        for clip, (top, left) in zip(clips, origins, strict=True):
            clip = TF.crop(clip, top, left, self.crop, self.crop)
            if mirror:
                clip = TF.horizontal_flip(clip)
            clip = clip.permute(1, 0, 2, 3)  # (3, T, crop, crop)
            if self.channel_split:
                clip = channel_split(clip, int(rng.integers(3)))
            out.append(clip.contiguous())
        return out
