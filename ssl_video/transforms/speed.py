"""Temporal resampling and spatial rescaling that keep speed-prediction tasks honest (PRETEXT_SPEC §5).

A speed task (SpeedNet) must not read its label from anything but the motion. Two augmentations
take the easy cues away:

* ``resample_indices``: frame indices on a float grid with a jittered step, rounded to the nearest
  frame, so neither class has a perfectly regular skip pattern (and the grid's phase moves with the
  float centre);
* ``RandomRescaleCrop``: the whole clip is rescaled by a random factor before a fixed-size crop, so
  the absolute pixel displacement between frames (which also grows with speed) varies within a class.

Randomness comes only from the numpy Generator passed in, as in ``clip.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .clip import ClipTransform


def resample_indices(center: float, length: int, step: float) -> np.ndarray:
    """``length`` frame indices centred on the float position ``center``, ``step`` frames apart.

    Positions ``center + (k - (length - 1) / 2) * step`` (k = 0..length-1) are rounded half up, so a
    non-integer step gives an irregular skip pattern (e.g. step 1.5 -> gaps 1, 2, 1, 2, ...). With
    ``step >= 1`` the indices are strictly increasing. Returns (length,) int64; the caller keeps them
    inside the video (the first index is ``>= 0`` iff ``center >= (length - 1) * step / 2``).
    """
    if length < 1:
        raise ValueError(f"resample_indices: length must be >= 1, got {length}")
    if not step > 0:
        raise ValueError(f"resample_indices: step must be > 0, got {step}")
    positions = center + (np.arange(length, dtype=np.float64) - (length - 1) / 2.0) * step
    return np.floor(positions + 0.5).astype(np.int64)


@dataclass(frozen=True)
class RandomRescaleCrop:
    """Rescale a clip so its shorter side is ``round(crop * u)``, u ~ U(scale), then crop ``crop``.

    All frames share the scale and the crop. ``scale[0] >= 1`` keeps the crop inside the frame (no
    padding, which would be an artefact of its own). A clip moving v pixels per frame moves about
    ``v * crop * u / min(H, W)`` pixels per frame after the transform, so within one class the
    displacement varies by the factor ``scale[1] / scale[0]``.

    Input (T, H, W, 3) uint8 -> (3, T, crop, crop) uint8 (``ClipTransform`` does the resize and crop).
    To give several clips the same draw, concatenate their frames along T and split the output.
    """

    crop: int
    scale: tuple[float, float] = (1.0, 1.5)

    def __post_init__(self) -> None:
        lo, hi = (float(s) for s in self.scale)
        if self.crop < 1:
            raise ValueError(f"RandomRescaleCrop: crop must be >= 1, got {self.crop}")
        if not 1.0 <= lo <= hi:
            raise ValueError(
                f"RandomRescaleCrop: scale must be (lo, hi) with 1 <= lo <= hi, got {tuple(self.scale)}"
            )

    def draw_short_side(self, rng: np.random.Generator) -> int:
        """The shorter side after rescaling, in pixels (>= crop)."""
        lo, hi = self.scale
        return max(self.crop, int(math.floor(self.crop * float(rng.uniform(lo, hi)) + 0.5)))

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """frames (T, H, W, 3) uint8 -> (3, T, crop, crop) uint8."""
        return ClipTransform(crop=self.crop, resize=self.draw_short_side(rng), random=True)(frames, rng)
