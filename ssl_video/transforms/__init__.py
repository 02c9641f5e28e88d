"""Clip transforms: one random draw per view, applied identically to all frames of the view."""

from .augment import CVRL_VIEWS, SLIC_VIEW, AugmentParams, ClipAugment, clip_contrast
from .clip import ClipTransform, to_clip_tensor
from .frames import TupleTransform, channel_split, jittered_origins
from .speed import RandomRescaleCrop, resample_indices

__all__ = [
    "CVRL_VIEWS",
    "SLIC_VIEW",
    "AugmentParams",
    "ClipAugment",
    "ClipTransform",
    "clip_contrast",
    "RandomRescaleCrop",
    "TupleTransform",
    "channel_split",
    "jittered_origins",
    "resample_indices",
    "to_clip_tensor",
]
