"""Clip transforms: one random draw per view, applied identically to all frames of the view."""

from .clip import ClipTransform, to_clip_tensor
from .frames import TupleTransform, channel_split, jittered_origins
from .speed import RandomRescaleCrop, resample_indices

__all__ = [
    "ClipTransform",
    "RandomRescaleCrop",
    "TupleTransform",
    "channel_split",
    "jittered_origins",
    "resample_indices",
    "to_clip_tensor",
]
