"""What a container's header declares about the length of its video, and how far its packets reach.

A download cut short keeps its header: an AVI whose idx1 index (at the end) is lost still counts every
frame in its stream header, an MP4 with its index first still lists every sample, a WebM still states
its duration. The readers count the frames that are there (decord, torchcodec and the PyAV backend scan
the packets), so such a file opens and decodes like a healthy short video. Comparing the header's
length (:func:`declared_length`) with what decodes finds it; :func:`packet_span` tells a file that ends
early from one whose frames are fewer than its length says but whose timeline is complete (an AVI
with dropped frames, frames hidden by an MP4 edit list, audio outlasting the video).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

import av

# Containers whose header stores durations. For others FFmpeg estimates one (from the timestamps it
# reads or the bit rate, also from an index-less AVI's size), which a cut file makes short: only a
# frame count is trusted there.
_DURATION_IN_HEADER = ("mov", "matroska")
_HMS = re.compile(r"^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")


@dataclass(frozen=True)
class DeclaredLength:
    """The length of a file's first video stream according to its header (no packet is read)."""

    frames: int  # declared number of frames (a header frame count, or round(seconds * fps))
    seconds: float  # the same length in seconds
    fps: float  # the stream's average frame rate from the header
    source: str  # where it comes from, for messages: "header frame count", "video duration 3.96 s x 25 fps"
    all_streams: bool  # True for a container duration, which covers the audio too


def declared_length(path: str | os.PathLike) -> DeclaredLength | None:
    """The header's length of ``path``'s first video stream, or None when the header declares none.

    In order: the stream's frame count (AVI stream header, MP4 sample table); the video stream's
    duration (MP4 track header, the DURATION tag FFmpeg writes for every Matroska/WebM track); the
    container duration (Matroska segment info). Durations count only for MP4/MOV and Matroska/WebM.
    Raises av.FFmpegError for a file PyAV cannot open.
    """
    with av.open(os.fspath(path)) as container:
        if not container.streams.video:
            return None
        video = container.streams.video[0]
        rate = video.average_rate or video.guessed_rate
        if not rate or rate <= 0:
            return None
        fps = float(rate)
        if video.frames > 0:
            return DeclaredLength(video.frames, video.frames / fps, fps, "header frame count", False)
        if not any(name in container.format.name.split(",") for name in _DURATION_IN_HEADER):
            return None
        seconds, what, everything = _video_seconds(video), "video duration", False
        if seconds is None and container.duration and container.duration > 0:
            seconds, what, everything = container.duration / av.time_base, "container duration", True
        if not seconds or not math.isfinite(seconds) or seconds <= 0:
            return None
        source = f"{what} {seconds:.2f} s x {fps:g} fps"
        return DeclaredLength(round(seconds * fps), seconds, fps, source, everything)


def packet_span(path: str | os.PathLike, all_streams: bool = False) -> float:
    """Seconds from the earliest packet's start to the latest packet's end (pts + duration) among the
    packets actually in ``path``: of its first video stream, or of all audio and video streams.

    Demuxes the whole file without decoding; a demuxer error at a cut ends the scan there. 0.0 when
    no packet has a timestamp.
    """
    first, last = math.inf, -math.inf
    with av.open(os.fspath(path)) as container:
        streams = [*container.streams.video, *container.streams.audio] if all_streams else []
        try:
            for packet in container.demux(*(streams or [container.streams.video[0]])):
                if packet.pts is None or not packet.size:
                    continue
                first = min(first, float(packet.pts * packet.time_base))
                last = max(last, float((packet.pts + (packet.duration or 0)) * packet.time_base))
        except av.FFmpegError:
            pass  # the data stops here: what was read so far is what the file holds
    return max(0.0, last - first) if last > -math.inf else 0.0


def _video_seconds(video) -> float | None:
    """The video stream's own duration: the stream header's, else Matroska's per-track DURATION tag."""
    if video.duration and video.time_base:
        return float(video.duration * video.time_base)
    match = _HMS.match(video.metadata.get("DURATION", "").strip())
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
