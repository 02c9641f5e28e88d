"""Video encoders with one interface. Importing this package registers the built-in encoders.

``create_encoder(name, **kwargs)`` builds one; ``list_encoders()`` names them. Every encoder maps
clips (B, 3, T, H, W) in [0, 1] to pooled features (B, dim) and, with ``forward_features``, to its
last-stage map (B, dim, T', H', W'); see ``base.VideoEncoder``.

Built-in names: ``c3d_bn`` (VCOP's C3D), ``r3d_tiny`` / ``r2plus1d_tiny`` / ``r3d_10`` (tiny and
VCOP-size R3D / R(2+1)D-10), ``r3d_18`` / ``mc3_18`` / ``r2plus1d_18`` / ``s3d`` (torchvision).
"""

from . import c3d, frame2d, tiny, torchvision_models  # noqa: F401  (register the built-in encoders)
from .base import (
    ENCODERS,
    ENTRY_POINT_GROUP,
    EncoderArgumentError,
    UnknownEncoderError,
    VideoEncoder,
    create_encoder,
    list_encoders,
    register_encoder,
)

__all__ = [
    "ENCODERS",
    "ENTRY_POINT_GROUP",
    "EncoderArgumentError",
    "UnknownEncoderError",
    "VideoEncoder",
    "create_encoder",
    "list_encoders",
    "register_encoder",
]
