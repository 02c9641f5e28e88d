"""Write real, compressed video files with PyAV (H.264/MPEG-4/VP9 video, AAC/MP3/Opus audio).

Used by the SynthMotion generator and by tests that need real files in several containers.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..io_utils import atomic_path

# container suffix -> (video codec, audio codec, pixel format)
CONTAINER_CODECS: dict[str, tuple[str, str, str]] = {
    ".mp4": ("libx264", "aac", "yuv420p"),
    ".avi": ("mpeg4", "mp3", "yuv420p"),
    ".webm": ("libvpx-vp9", "libopus", "yuv420p"),
    ".mkv": ("libx264", "aac", "yuv420p"),
}
# Containers that cannot tell the decoder to drop the audio encoder's priming samples (MP4 has edit
# lists, Matroska/WebM a codec delay; AVI has nothing), so decoded audio would lag the video by them.
_NO_PRIMING_SKIP = {".avi"}


def write_video(
    path: str | Path,
    frames: np.ndarray,
    fps: int = 16,
    audio: np.ndarray | None = None,
    audio_rate: int = 16000,
    video_codec: str | None = None,
    audio_codec: str | None = None,
    crf: int = 18,
) -> Path:
    """Encode ``frames`` (T, H, W, 3) uint8 RGB and optional mono ``audio`` (S,) float32 in [-1, 1].

    The codecs default to the usual ones for the suffix (see ``CONTAINER_CODECS``). H and W must be
    even (yuv420p). The file is written to a unique temporary name, fsynced and renamed (see
    :func:`ssl_video.io_utils.atomic_path`), so a crash never leaves a half-written video under the
    final name and concurrent writers of one path never mix their files.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CONTAINER_CODECS:
        raise ValueError(f"{path}: unsupported container {suffix!r}; use one of {sorted(CONTAINER_CODECS)}")
    frames = np.ascontiguousarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise ValueError(f"frame size must be even for yuv420p, got {h}x{w}")
    default_v, default_a, pix_fmt = CONTAINER_CODECS[suffix]
    video_codec = video_codec or default_v
    audio_codec = audio_codec or default_a

    # AVI stores no per-packet timestamps (a packet's time is its position), so the muxer's default of
    # shifting all streams to make the MP3 encoder's negative priming timestamps non-negative left a gap
    # in the video index that readers count as empty frames: 48 frames written, nb_frames 50. Keep the
    # timestamps as they are; the priming is then played at t=0, so the signal is shifted earlier by it.
    options = {"avoid_negative_ts": "disabled"} if suffix in _NO_PRIMING_SKIP else {}
    # the temporary file keeps the suffix: the muxer picks the container from it
    with atomic_path(path, suffix=suffix) as tmp, av.open(str(tmp), mode="w", options=options) as container:
        vstream = container.add_stream(video_codec, rate=fps)
        vstream.width, vstream.height, vstream.pix_fmt = w, h, pix_fmt
        if video_codec == "libx264":
            vstream.options = {"crf": str(crf), "preset": "veryfast", "x264-params": "mbtree=0"}
        elif video_codec == "libvpx-vp9":
            vstream.options = {"crf": str(crf + 12), "b:v": "0", "deadline": "realtime", "cpu-used": "8"}
        else:
            vstream.bit_rate = max(200_000, h * w * fps * 2)
            # AVI keeps decode-order timestamps only; decord and torchcodec mis-index AVI B-frame streams.
            vstream.codec_context.max_b_frames = 0
        astream = None
        if audio is not None:
            astream = container.add_stream(audio_codec, rate=audio_rate)
            astream.layout = "mono"
        for i in range(t):
            frame = av.VideoFrame.from_ndarray(frames[i], format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in vstream.encode(frame):
                container.mux(packet)
        for packet in vstream.encode():
            container.mux(packet)
        if astream is not None:
            audio = np.asarray(audio, dtype=np.float32)
            if suffix in _NO_PRIMING_SKIP:  # keeps A/V sync; the signal's first priming samples are lost
                audio = audio[_encoder_priming(astream.codec_context.name, audio_rate) :]
            _encode_audio(container, astream, audio, audio_rate)
    return path


def _encode_audio(container, astream, audio: np.ndarray, rate: int) -> None:
    """Encode mono float audio through a resampler to the codec's native sample format."""
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono (S,), got shape {audio.shape}")
    samples = np.clip(audio, -1.0, 1.0).astype(np.float32)[None, :]
    frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
    frame.sample_rate = rate
    frame.pts = 0
    frame.time_base = Fraction(1, rate)
    resampler = av.AudioResampler(format=astream.codec_context.format or "fltp", layout="mono", rate=rate)
    for rframe in resampler.resample(frame) + resampler.resample(None):
        for packet in astream.encode(rframe):
            container.mux(packet)
    for packet in astream.encode(None):
        container.mux(packet)


def _encoder_priming(codec: str, rate: int) -> int:
    """Samples the mono ``codec`` encoder emits before the signal starts (LAME MP3: 1105).

    Measured by encoding one silent frame: the first packet's pts is minus the priming.
    """
    enc = av.CodecContext.create(codec, "w")
    enc.sample_rate, enc.layout, enc.time_base = rate, "mono", Fraction(1, rate)
    enc.format = enc.codec.audio_formats[0].name
    enc.open()
    frame = av.AudioFrame(format=enc.format.name, layout="mono", samples=enc.frame_size or 1024)
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    frame.sample_rate, frame.pts, frame.time_base = rate, 0, enc.time_base
    packets = enc.encode(frame) + enc.encode(None)
    return max(0, -packets[0].pts) if packets else 0
