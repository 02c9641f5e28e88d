"""PyAV backend: an index of the video packets, one keyframe seek per read, sequential decode."""

from __future__ import annotations

import av
import numpy as np

from .base import AUDIO_PREROLL_S, StreamInfo, VideoDecodeError, VideoReader, register_backend


@register_backend
class PyAVReader(VideoReader):
    """Frames via PyAV with single-threaded decoding.

    On open, the video packets are scanned once (demux only, no decoding): the frame count is the
    number of non-empty packets, like decord's and torchcodec's scans, and frame ``i`` is the frame
    whose pts is the ``i``-th smallest packet pts, exact whatever the container's frame-rate metadata
    or gaps say. ``read`` seeks to the last keyframe at or before the first wanted frame, by the
    keyframe's dts (container indexes are in dts; an AVI B-frame stream's keyframe pts lies after the
    next frames' dts, so seeking by pts would skip them), decodes sequentially up to the last wanted
    frame and keeps frames whose pts are wanted.
    """

    backend = "pyav"
    _container: av.container.InputContainer | None = None

    def _open(self, info: StreamInfo) -> tuple[int, float | None]:
        self._container = av.open(self.path)
        stream = self._container.streams.video[0]
        stream.thread_count = 1
        pts, dts, keyframe = [], [], []
        for packet in self._container.demux(stream):
            if packet.size and packet.pts is not None:
                pts.append(packet.pts)
                dts.append(packet.pts if packet.dts is None else packet.dts)
                keyframe.append(packet.is_keyframe)
        order = np.argsort(pts, kind="stable")  # presentation order
        self._pts_index = {int(t): i for i, t in enumerate(np.asarray(pts, np.int64)[order])}
        self._seek_ts = np.asarray(dts, np.int64)[order]
        self._key_index = np.flatnonzero(np.asarray(keyframe, bool)[order])
        return len(pts), None

    def _decode_sorted(self, indices: list[int]) -> np.ndarray:
        stream = self._container.streams.video[0]
        keys = self._key_index[self._key_index <= indices[0]]
        start = int(keys[-1]) if keys.size else 0
        self._container.seek(int(self._seek_ts[start]), stream=stream, backward=True)
        wanted = {index: k for k, index in enumerate(indices)}
        out = np.empty((len(indices), self.meta.height, self.meta.width, 3), np.uint8)
        found = np.zeros(len(indices), bool)
        for frame in self._container.decode(stream):
            index = self._pts_index.get(frame.pts)
            k = wanted.get(index)
            if k is not None:
                out[k] = frame.to_ndarray(format="rgb24")
                found[k] = True
            if index is not None and index >= indices[-1]:
                break
        if not found.all():
            missing = np.asarray(indices)[~found].tolist()
            raise VideoDecodeError(self.path, f"frames {missing} could not be decoded (stream ends early?)")
        return out

    def _decode_audio(self, start_s: float, end_s: float, sample_rate: int) -> tuple[np.ndarray, float]:
        stream = self._container.streams.audio[0]
        seek_s = max(0.0, start_s - AUDIO_PREROLL_S)
        self._container.seek(int(seek_s / stream.time_base), stream=stream, backward=True)
        resampler = av.AudioResampler(format="fltp", layout=stream.layout, rate=sample_rate)
        chunks, t0 = [], None
        for frame in self._container.decode(stream):
            if frame.time is not None and frame.time > end_s:
                break
            if t0 is None:
                t0 = frame.time if frame.time is not None else seek_s
            chunks += [f.to_ndarray() for f in resampler.resample(frame)]
        chunks += [f.to_ndarray() for f in resampler.resample(None)]
        if t0 is None or not chunks:
            return np.zeros(0, np.float32), start_s
        return np.concatenate(chunks, axis=1).mean(axis=0, dtype=np.float32), t0

    def _release(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
