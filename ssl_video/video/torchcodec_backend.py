"""torchcodec backend: ``VideoDecoder.get_frames_at`` in exact seek mode, ``AudioDecoder`` for audio."""

from __future__ import annotations

import numpy as np
from torchcodec.decoders import AudioDecoder, VideoDecoder

from .base import AUDIO_PREROLL_S, StreamInfo, VideoReader, register_backend


@register_backend
class TorchCodecReader(VideoReader):
    """Frames via ``VideoDecoder(seek_mode="exact", num_ffmpeg_threads=1)``, whose frame count comes from a
    scan of the packets. Audio via ``AudioDecoder(sample_rate=...)`` (one kept per sample rate)."""

    backend = "torchcodec"
    _decoder: VideoDecoder | None = None
    _audio: tuple[int, AudioDecoder] | None = None

    def _open(self, info: StreamInfo) -> tuple[int, float | None]:
        self._refuse_avi_b_frames(info)
        self._decoder = VideoDecoder(
            self.path, dimension_order="NHWC", device="cpu", seek_mode="exact", num_ffmpeg_threads=1
        )
        meta = self._decoder.metadata
        # The header rate, like decord and PyAV; ``average_fps`` divides by the content duration, which
        # differs when a container leaves gaps (e.g. empty AVI index entries).
        return meta.num_frames, meta.average_fps_from_header or meta.average_fps

    def _decode_sorted(self, indices: list[int]) -> np.ndarray:
        return self._decoder.get_frames_at(indices).data.numpy()

    def _decode_audio(self, start_s: float, end_s: float, sample_rate: int) -> tuple[np.ndarray, float]:
        if self._audio is None or self._audio[0] != sample_rate:
            self._audio = (sample_rate, AudioDecoder(self.path, sample_rate=sample_rate))
        decoder = self._audio[1]
        begin = decoder.metadata.begin_stream_seconds or 0.0
        # Start a little early: torchcodec raises when the range holds no audio frame, and a window that
        # starts on an MP3 frame boundary in AVI came back one frame (8 ms) short without the margin.
        start = max(begin, start_s - AUDIO_PREROLL_S)
        stream_end = begin + (decoder.metadata.duration_seconds or np.inf)
        if end_s <= start or start >= stream_end:
            return np.zeros(0, np.float32), start_s
        samples = decoder.get_samples_played_in_range(start, end_s)
        return samples.data.numpy().mean(axis=0, dtype=np.float32), samples.pts_seconds

    def _release(self) -> None:
        self._decoder = None
        self._audio = None
