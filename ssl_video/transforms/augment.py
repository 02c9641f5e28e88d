"""Strong, temporally consistent clip augmentation for contrastive and clustering tasks (CVRL, SLIC).

One parameter draw per clip, shared by all its frames, so that motion survives the augmentation
(PRETEXT_SPEC §7, "temporally consistent spatial augmentation"): a random resized crop, a horizontal
flip, colour jitter (brightness, contrast, saturation, hue in random order), grayscale, Gaussian blur
and solarisation, in CVRL's order:

    resized crop + flip (uint8) -> [0, 1] -> jitter -> grayscale -> blur -> solarise -> clip to [0, 1]

Contrast uses the **clip-wide** mean grey level (CVRL jitters the T frames as one tall image), not a
per-frame mean, so a clip whose brightness varies over time keeps that variation's direction. Every
other operation is per pixel or per frame with the clip's one parameter. The result is rounded back
to uint8, the layout every clip keeps until its batch reaches the device (the rounding error is at
most half a grey level).

Randomness comes only from the numpy Generator passed in (seeded per sample by the data layer), so a
view is the same whatever worker or rank builds it. :data:`CVRL_VIEWS` and :data:`SLIC_VIEW` are the
papers' settings; a task draws each view with its own :class:`ClipAugment`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF

from .clip import to_clip_tensor

JITTER_OPS = ("brightness", "contrast", "saturation", "hue")
_GREY = torch.tensor([0.299, 0.587, 0.114])  # ITU-R 601 luma, as torchvision's rgb_to_grayscale


@dataclass(frozen=True)
class AugmentParams:
    """One clip's draw. ``box`` = (top, left, height, width) of the crop in the input frame;
    ``jitter`` = the colour operations with their factors, in the order they are applied (empty when
    the jitter was not drawn); ``blur_sigma`` None = no blur."""

    box: tuple[int, int, int, int]
    flip: bool
    jitter: tuple[tuple[str, float], ...]
    grayscale: bool
    blur_sigma: float | None
    solarize: bool


@dataclass(frozen=True)
class ClipAugment:
    """Random resized crop to ``size`` x ``size`` and the colour operations, one draw per clip.

    ``area`` / ``aspect``: the crop's fraction of the frame area and its width/height ratio (aspect
    drawn log-uniformly; after 10 draws that do not fit, the largest centred crop within ``aspect``,
    as torchvision's RandomResizedCrop). Colour jitter (probability ``jitter_p``) draws brightness
    and contrast and saturation factors in ``[max(0, 1 - x), 1 + x]`` and a hue shift in
    ``[-hue, hue]`` (fraction of the colour circle), applied in a random order. ``blur_kernel``:
    the Gaussian kernel's size as a fraction of ``size`` (CVRL: crop // 10, made odd).
    """

    size: int
    area: tuple[float, float] = (0.3, 1.0)
    aspect: tuple[float, float] = (0.5, 2.0)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.8
    contrast: float = 0.8
    saturation: float = 0.8
    hue: float = 0.2
    grayscale_p: float = 0.2
    blur_p: float = 1.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_kernel: float = 0.1
    solarize_p: float = 0.0

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"size must be >= 1, got {self.size}")
        for name in ("area", "aspect", "blur_sigma"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high, got {(low, high)}")
        if self.area[1] > 1:
            raise ValueError(f"area fractions must be <= 1, got {self.area}")
        for name in ("flip_p", "jitter_p", "grayscale_p", "blur_p", "solarize_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")
        if not 0 <= self.hue <= 0.5:
            raise ValueError(f"hue must be in [0, 0.5], got {self.hue}")
        if min(self.brightness, self.contrast, self.saturation) < 0:
            raise ValueError("brightness, contrast and saturation strengths must be >= 0")

    @property
    def kernel_size(self) -> int:
        """Odd Gaussian kernel size: radius ``round(size * blur_kernel) // 2``, at least 3 taps."""
        return max(3, 2 * (round(self.size * self.blur_kernel) // 2) + 1)

    def crop_box(self, height: int, width: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """(top, left, h, w) of a random crop with the area and aspect ranges of this transform."""
        total = height * width
        log_low, log_high = math.log(self.aspect[0]), math.log(self.aspect[1])
        for _ in range(10):
            target = total * rng.uniform(*self.area)
            ratio = math.exp(rng.uniform(log_low, log_high))
            w = round(math.sqrt(target * ratio))
            h = round(math.sqrt(target / ratio))
            if 0 < w <= width and 0 < h <= height:
                return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
        ratio = width / height  # fallback: the whole frame, narrowed to the aspect range
        if ratio < self.aspect[0]:
            w, h = width, round(width / self.aspect[0])
        elif ratio > self.aspect[1]:
            h, w = height, round(height * self.aspect[1])
        else:
            h, w = height, width
        return (height - h) // 2, (width - w) // 2, h, w

    def draw(self, height: int, width: int, rng: np.random.Generator) -> AugmentParams:
        """One clip's parameters for frames of ``height`` x ``width``."""
        box = self.crop_box(height, width, rng)
        flip = bool(rng.random() < self.flip_p)
        jitter: tuple[tuple[str, float], ...] = ()
        if rng.random() < self.jitter_p:
            factors = {
                "brightness": rng.uniform(max(0.0, 1 - self.brightness), 1 + self.brightness),
                "contrast": rng.uniform(max(0.0, 1 - self.contrast), 1 + self.contrast),
                "saturation": rng.uniform(max(0.0, 1 - self.saturation), 1 + self.saturation),
                "hue": rng.uniform(-self.hue, self.hue),
            }
            jitter = tuple((JITTER_OPS[i], float(factors[JITTER_OPS[i]])) for i in rng.permutation(4))
        grayscale = bool(rng.random() < self.grayscale_p)
        blur_sigma = float(rng.uniform(*self.blur_sigma)) if rng.random() < self.blur_p else None
        solarize = bool(rng.random() < self.solarize_p)
        return AugmentParams(box, flip, jitter, grayscale, blur_sigma, solarize)

    def apply(self, clip: torch.Tensor, params: AugmentParams) -> torch.Tensor:
        """clip (T, 3, H, W) uint8 -> (3, T, size, size) uint8, every frame with ``params``."""
        top, left, h, w = params.box
        out = TF.resized_crop(clip, top, left, h, w, [self.size, self.size], antialias=True)
        if params.flip:
            out = TF.horizontal_flip(out)
        x = out.float() / 255.0
        for name, factor in params.jitter:
            x = _JITTER[name](x, factor)
        if params.grayscale:
            x = TF.rgb_to_grayscale(x, num_output_channels=3)
        if params.blur_sigma is not None:
            k = self.kernel_size
            x = TF.gaussian_blur(x, [k, k], [params.blur_sigma, params.blur_sigma])
        if params.solarize:
            x = torch.where(x >= 0.5, 1.0 - x, x)
        out = (x.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
        return out.permute(1, 0, 2, 3).contiguous()

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """frames (T, H, W, 3) uint8 -> (3, T, size, size) uint8 with one draw from ``rng``."""
        clip = to_clip_tensor(frames)
        return self.apply(clip, self.draw(clip.shape[-2], clip.shape[-1], rng))


def clip_contrast(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Contrast about the clip-wide mean grey level: x (T, 3, H, W) float in [0, 1]."""
    mean = torch.tensordot(x, _GREY.to(x.dtype), dims=([1], [0])).mean()
    return (factor * x + (1.0 - factor) * mean).clamp(0.0, 1.0)


_JITTER = {
    "brightness": lambda x, f: TF.adjust_brightness(x, f),
    "contrast": clip_contrast,
    "saturation": lambda x, f: TF.adjust_saturation(x, f),
    "hue": lambda x, f: TF.adjust_hue(x, f),
}

# CVRL (PRETEXT_SPEC §7): two deliberately asymmetric views; a task shuffles which clip gets which.
CVRL_VIEWS = (
    ClipAugment(224, blur_p=1.0, solarize_p=0.0),
    ClipAugment(224, blur_p=0.1, solarize_p=0.2),
)
# SLIC (PRETEXT_SPEC §8): one setting for every view.
SLIC_VIEW = ClipAugment(
    128, area=(0.25, 1.0), aspect=(0.75, 4 / 3), brightness=0.5, contrast=0.5, saturation=0.5, hue=0.5,
    blur_p=0.2,
)  # fmt: skip
