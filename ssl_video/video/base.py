"""The video reader protocol shared by all decoding backends, and the backend registry.

A backend subclasses :class:`VideoReader` and supplies four small methods: ``_open`` (metadata),
``_decode_sorted`` (frames for a sorted list of unique indices, in one pass), ``_decode_audio``
(mono samples around a time window) and ``_release``. Everything users see is implemented once
here: index validation, "decode the sorted union, gather back into requested order", cutting and
zero-padding audio windows, and wrapping library exceptions into :class:`VideoDecodeError`.

Header facts every backend needs (frame size, durations, the audio stream) are read once with PyAV
without decoding (:func:`probe`), so that every backend rejects missing, empty and non-video files
with the same clear reason before its own library touches them.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

import av
import numpy as np

from ..registry import Registry

# Seconds of audio decoded before a window's start when a backend seeks: decoders need a little history
# after a jump (Opus pre-roll is 80 ms; the MP3 bit reservoir and the AAC overlap are about one frame).
AUDIO_PREROLL_S = 0.25


@dataclass(frozen=True)
class VideoMeta:
    path: str
    num_frames: int  # decodable video frames as the backend reports them
    fps: float  # average frame rate
    duration: float  # seconds of the video stream (num_frames / fps if the container gives none)
    width: int
    height: int
    has_audio: bool
    audio_sample_rate: int | None  # native rate of the first audio stream, None without audio


class VideoDecodeError(RuntimeError):
    """A video that cannot be opened or decoded; ``str(e) == f"{path}: {reason}"``."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # picklable, so DataLoader workers can send it back unchanged
        return type(self), (self.path, self.reason)


@dataclass(frozen=True)
class StreamInfo:
    """Container header facts read by :func:`probe` (no decoding)."""

    width: int
    height: int
    fps: float | None  # average frame rate of the video stream, None if unknown
    duration: float | None  # seconds of the video stream, None if the header has none
    audio_sample_rate: int | None  # native rate of the first audio stream
    # AVI stores decode-order timestamps only; with B-frames, decord and torchcodec map indices to the
    # wrong frames (measured: index 17 -> frame 1 resp. 18), so they refuse such files.
    avi_with_b_frames: bool


def probe(path: str) -> StreamInfo:
    """Read ``path``'s header facts with PyAV; VideoDecodeError if it is no readable video."""
    with _library_errors(path, "not a readable video file"), av.open(path) as container:
        if not container.streams.video:
            raise VideoDecodeError(path, "no video stream")
        video = container.streams.video[0]
        if not video.width or not video.height:
            raise VideoDecodeError(path, "video stream has no frame size (corrupt header?)")
        rate = video.average_rate or video.guessed_rate
        duration = float(video.duration * video.time_base) if video.duration and video.time_base else None
        audio = container.streams.audio[0].sample_rate if container.streams.audio else None
        avi_b = container.format.name == "avi" and bool(video.codec_context.has_b_frames)
        return StreamInfo(
            video.width, video.height, float(rate) if rate else None, duration, audio or None, avi_b
        )


class VideoReader(ABC):
    """An open video: ``meta``, ``read(indices)``, ``read_audio(start_s, end_s)``; a context manager."""

    backend: ClassVar[str]
    meta: VideoMeta

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._closed = False
        _check_file(self.path)
        info = probe(self.path)
        try:
            with _library_errors(self.path, f"{self.backend} cannot open it"):
                num_frames, fps = self._open(info)
        except BaseException:
            self.close()
            raise
        fps = float(fps or info.fps or 0.0)
        if num_frames <= 0 or fps <= 0:
            self.close()
            raise VideoDecodeError(self.path, f"no decodable video frames ({num_frames} frames at {fps} fps)")
        self.meta = VideoMeta(
            path=self.path,
            num_frames=num_frames,
            fps=fps,
            duration=info.duration or num_frames / fps,
            width=info.width,
            height=info.height,
            has_audio=info.audio_sample_rate is not None,
            audio_sample_rate=info.audio_sample_rate,
        )

    # --- what a backend supplies -------------------------------------------------------------------
    @abstractmethod
    def _open(self, info: StreamInfo) -> tuple[int, float | None]:
        """Open the file with the backend's library; return (num_frames, fps or None for the header's)."""

    @abstractmethod
    def _decode_sorted(self, indices: list[int]) -> np.ndarray:
        """Decode sorted, unique, in-range ``indices`` in one pass -> (len(indices), H, W, 3) uint8 RGB."""

    @abstractmethod
    def _decode_audio(self, start_s: float, end_s: float, sample_rate: int) -> tuple[np.ndarray, float]:
        """Decode mono audio at ``sample_rate`` covering the part of [start_s, end_s] inside the stream.

        Returns (samples (S,) float32, time in seconds of samples[0]); samples may extend beyond the
        window on either side (the caller cuts) and may be empty if the window misses the stream.
        """

    @abstractmethod
    def _release(self) -> None:
        """Release the library handles; must work on a partially opened reader."""

    # --- the public API, implemented once -----------------------------------------------------------
    def read(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` (any order, duplicates allowed) -> (N, H, W, 3) uint8 RGB, C-contiguous.

        The sorted union of the indices is decoded in one pass, then gathered into the requested order.
        """
        self._check_open()
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise TypeError(
                f"{self.path}: frame indices must be a 1-D sequence of ints, got {idx.dtype} {idx.shape}"
            )
        n, h, w = self.meta.num_frames, self.meta.height, self.meta.width
        bad = idx[(idx < 0) | (idx >= n)]
        if bad.size:
            raise IndexError(f"{self.path}: frame index {int(bad[0])} out of range for {n} frames")
        if not idx.size:
            return np.empty((0, h, w, 3), np.uint8)
        unique, inverse = np.unique(idx, return_inverse=True)
        with _library_errors(self.path, f"cannot decode frames {unique[0]}..{unique[-1]}"):
            frames = self._decode_sorted(unique.tolist())
        if frames.shape != (len(unique), h, w, 3) or frames.dtype != np.uint8:
            raise VideoDecodeError(
                self.path,
                f"decoder returned {frames.dtype} {frames.shape} for {len(unique)} frames of {h}x{w}",
            )
        return np.ascontiguousarray(frames[inverse.reshape(-1)])

    def read_audio(self, start_s: float, end_s: float, sample_rate: int = 16000) -> np.ndarray:
        """Mono float32 (S,) with S == round((end_s - start_s) * sample_rate), channels averaged.

        The audio is resampled to ``sample_rate``; the part of the window outside the audio stream is
        zero-padded. VideoDecodeError(path, "no audio stream") for a video without audio.
        """
        self._check_open()
        if not (math.isfinite(start_s) and math.isfinite(end_s) and end_s >= start_s):
            raise ValueError(f"{self.path}: invalid audio window [{start_s}, {end_s}]")
        if int(sample_rate) != sample_rate or sample_rate <= 0:
            raise ValueError(f"{self.path}: sample_rate must be a positive int, got {sample_rate}")
        if not self.meta.has_audio:
            raise VideoDecodeError(self.path, "no audio stream")
        out = np.zeros(round((end_s - start_s) * sample_rate), np.float32)
        if not out.size:
            return out
        with _library_errors(self.path, f"cannot decode audio {start_s:.3f}-{end_s:.3f} s"):
            samples, t0 = self._decode_audio(start_s, end_s, int(sample_rate))
        offset = round((t0 - start_s) * sample_rate)  # position of samples[0] in out
        lo, hi = max(0, offset), min(len(out), offset + len(samples))
        if hi > lo:
            out[lo:hi] = samples[lo - offset : hi - offset]
        return out

    def close(self) -> None:
        """Release the file; idempotent."""
        self._closed = True
        self._release()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def _refuse_avi_b_frames(self, info: StreamInfo) -> None:
        """For backends that return wrong frames from AVI B-frame streams: fail loudly instead."""
        if info.avi_with_b_frames:
            raise VideoDecodeError(
                self.path,
                f"AVI with B-frames: {self.backend} maps indices to wrong frames; use backend='pyav'",
            )

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self.path}: reader is closed")


BACKENDS: Registry[type[VideoReader]] = Registry(
    "video backend",
    "ssl_video.video_backends",
    accept=lambda obj: isinstance(obj, type) and issubclass(obj, VideoReader),
)


def register_backend(cls: type[VideoReader]) -> type[VideoReader]:
    """Class decorator: make ``cls`` available to :func:`open_video` under ``cls.backend``."""
    return BACKENDS.add(cls.backend, cls)


def open_video(path: str | os.PathLike, backend: str = "decord") -> VideoReader:
    """Open ``path`` with ``backend``; ValueError for an unknown backend, VideoDecodeError for a bad file."""
    return BACKENDS.get_or_raise(backend, ValueError)(path)


def read_metadata(path: str | os.PathLike, backend: str = "decord") -> VideoMeta:
    """Open ``path``, return its :class:`VideoMeta`, close it."""
    with open_video(path, backend) as reader:
        return reader.meta


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise VideoDecodeError(path, "file not found")
    if not os.path.isfile(path):
        raise VideoDecodeError(path, "not a regular file")
    if os.path.getsize(path) == 0:
        raise VideoDecodeError(path, "empty file (0 bytes)")


@contextmanager
def _library_errors(path: str, what: str) -> Iterator[None]:
    """Re-raise any library exception as VideoDecodeError(path, f"{what} (<type>: <message>)"), chained."""
    try:
        yield
    except VideoDecodeError:
        raise
    except Exception as e:
        message = (str(e).strip().splitlines() or [""])[0][:300]
        raise VideoDecodeError(path, f"{what} ({type(e).__name__}: {message})") from e
