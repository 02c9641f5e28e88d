"""Spatial transforms for clips, built on torchvision.transforms.v2.functional.

Randomness comes only from the numpy Generator passed in (seeded per sample by the data pipeline),
never from a global RNG, so a sample is the same whatever worker or rank builds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF


def to_clip_tensor(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 numpy -> (T, 3, H, W) uint8 tensor (a view when possible)."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)


@dataclass(frozen=True)
class ClipTransform:
    """Resize then crop a clip; all frames share the same crop.

    resize: None (keep), an int (shorter side to this length, aspect kept) or (H, W).
    crop: side of the square crop; ``random`` draws its position from ``rng``, else centre crop.
    Output: (3, T, crop, crop) uint8, the layout clips keep until the batch reaches the device.
    """

    crop: int
    resize: int | tuple[int, int] | None = None
    random: bool = True

    def resized_size(self, height: int, width: int) -> tuple[int, int]:
        """Frame size after the resize step."""
        if self.resize is None:
            return height, width
        if isinstance(self.resize, int):
            scale = self.resize / min(height, width)
            return max(self.crop, round(height * scale)), max(self.crop, round(width * scale))
        return int(self.resize[0]), int(self.resize[1])

    def crop_origin(self, height: int, width: int, rng: np.random.Generator | None) -> tuple[int, int]:
        """Top-left corner of the crop in the resized frame; random needs ``rng``."""
        rh, rw = self.resized_size(height, width)
        if rh < self.crop or rw < self.crop:
            raise ValueError(f"crop {self.crop} is larger than the (resized) frame {rh}x{rw}")
        if self.random:
            if rng is None:
                raise ValueError("a random crop needs a numpy Generator")
            return int(rng.integers(0, rh - self.crop + 1)), int(rng.integers(0, rw - self.crop + 1))
        return (rh - self.crop) // 2, (rw - self.crop) // 2

    def __call__(self, frames: np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        """frames (T, H, W, 3) uint8 -> (3, T, crop, crop) uint8."""
        clip = to_clip_tensor(frames)
        height, width = clip.shape[-2:]
        size = self.resized_size(height, width)
        if size != (height, width):
            clip = TF.resize(clip, list(size), antialias=True)
        top, left = self.crop_origin(height, width, rng)
        clip = TF.crop(clip, top, left, self.crop, self.crop)
        return clip.permute(1, 0, 2, 3).contiguous()
