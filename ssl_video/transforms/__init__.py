"""Clip transforms: one random draw per view, applied identically to all frames of the view."""

from .clip import ClipTransform, to_clip_tensor

__all__ = ["ClipTransform", "to_clip_tensor"]
