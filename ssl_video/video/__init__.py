"""Video decoding: one reader protocol (:class:`VideoReader`), backends decord | torchcodec | pyav, audio.

>>> with open_video("clip.mp4", backend="decord") as reader:
...     frames = reader.read([0, 8, 16])  # (3, H, W, 3) uint8 RGB
...     audio = reader.read_audio(0.0, 1.0, sample_rate=16000)  # (16000,) float32 mono
"""

from . import decord_backend, pyav_backend, torchcodec_backend  # noqa: F401  (register the backends)
from .base import BACKENDS, VideoDecodeError, VideoMeta, VideoReader, open_video, read_metadata
from .declared import DeclaredLength, declared_length, packet_span

__all__ = [
    "BACKENDS",
    "DeclaredLength",
    "VideoDecodeError",
    "VideoMeta",
    "VideoReader",
    "declared_length",
    "open_video",
    "packet_span",
    "read_metadata",
]
