"""decord backend (the default): ``decord.VideoReader`` for frames, ``decord.AudioReader`` for audio."""

from __future__ import annotations

import warnings

import numpy as np

from ..blas_guard import import_without_nvblas, nvblas_libraries
from .base import StreamInfo, VideoReader, register_backend

# decord2 3.4 dlopens every library under site-packages/nvidia/*/lib with RTLD_GLOBAL when imported,
# libnvblas included, and NVBLAS then answers the CPU BLAS calls of every library loaded later (FAISS,
# torch if imported after it) with garbage on machines without a usable GPU. Import it with NVBLAS refused.
_nvblas_before = nvblas_libraries()
decord = import_without_nvblas("decord")
if _nvblas_before:
    warnings.warn(
        f"NVBLAS ({', '.join(_nvblas_before)}) was loaded into this process before ssl_video (decord2 "
        "loads it when imported first): CPU matrix products of libraries loaded after it may be "
        "wrong. Import ssl_video (or torch) before decord. ssl_video's nearest-neighbour search "
        "checks its matrix product at first use.",
        RuntimeWarning,
        stacklevel=2,
    )


@register_backend
class DecordReader(VideoReader):
    """Frames via ``decord.VideoReader(num_threads=1)``; its length comes from decord's scan of the
    packets (so a truncated file reports the frames it holds). Audio via ``decord.AudioReader``, which
    decodes and resamples the whole stream once per sample rate (kept for repeated windows)."""

    backend = "decord"
    _vr: decord.VideoReader | None = None
    _audio: tuple[int, decord.AudioReader] | None = None

    def _open(self, info: StreamInfo) -> tuple[int, float | None]:
        self._refuse_avi_b_frames(info)
        self._vr = decord.VideoReader(self.path, ctx=decord.cpu(0), num_threads=1)
        return len(self._vr), self._vr.get_avg_fps()

    def _decode_sorted(self, indices: list[int]) -> np.ndarray:
        # One accurate seek, then sequential decoding. Not ``get_batch``: in decord2 3.4 it fails for some
        # frame widths (16, 24, 32, 48, 96, 144 px: "DECORDArrayCopyFromTo: The size must exactly match")
        # and is no faster (seek + next took 0.8-1.25x its time on 320x240 H.264). For those widths ``next()``
        # returns rows with their alignment padding, e.g. (32, 16, 12) for 32x16 RGB: keep 3 * W bytes a row.
        h, w = self.meta.height, self.meta.width
        self._vr.seek_accurate(indices[0])
        frames, position = [], indices[0]
        for index in indices:
            if index > position:
                self._vr.skip_frames(index - position)
            frames.append(self._vr.next().asnumpy().reshape(h, -1)[:, : 3 * w].reshape(h, w, 3))
            position = index + 1
        return np.stack(frames)

    def _decode_audio(self, start_s: float, end_s: float, sample_rate: int) -> tuple[np.ndarray, float]:
        if self._audio is None or self._audio[0] != sample_rate:
            reader = decord.AudioReader(self.path, ctx=decord.cpu(0), sample_rate=sample_rate, mono=False)
            reader.add_padding()  # zeros before a late-starting stream, so sample 0 is at time 0
            self._audio = (sample_rate, reader)
        reader = self._audio[1]
        total = reader.shape[1]
        lo = min(max(0, int(start_s * sample_rate)), total)
        hi = min(max(lo, int(np.ceil(end_s * sample_rate)) + 1), total)
        if hi == lo:
            return np.zeros(0, np.float32), start_s
        return reader.get_batch(np.arange(lo, hi)).asnumpy().mean(axis=0, dtype=np.float32), lo / sample_rate

    def _release(self) -> None:
        self._vr = None
        self._audio = None
