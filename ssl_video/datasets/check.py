"""Integrity check: open (and by default fully decode) every video of a dataset and classify problems.

Run it once after preparing a dataset (``ssl-video`` exposes it as a subcommand); it never raises for
a bad video, it reports it. ``VideoDataset.exclude(report.bad_paths())`` drops the bad ones.

A truncated file (an interrupted download) often decodes cleanly: its header still declares the full
length while the readers count only the frames that are there (an AVI that lost its index to the cut
reads as 13 good frames where its header declares 99). So besides decoding errors the check compares
the frames that decode with the header's length (``ssl_video.video.declared_length``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .record import VideoDataset, VideoRecord

MISSING, EMPTY, UNREADABLE, TRUNCATED, TOO_SHORT = (
    "missing",
    "empty",
    "unreadable",
    "truncated/corrupt",
    "too_short",
)
PROBLEM_KINDS = (MISSING, EMPTY, UNREADABLE, TRUNCATED, TOO_SHORT)


@dataclass
class CheckReport:
    """Outcome of ``check_dataset``: ``problems`` maps a kind (``PROBLEM_KINDS``) to (path, reason) pairs."""

    total: int
    ok: int
    problems: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def bad_paths(self) -> set[str]:
        """Every path with a problem of any kind."""
        return {path for items in self.problems.values() for path, _ in items}

    def counts(self) -> dict[str, int]:
        """Number of problems per kind (kinds with none left out)."""
        return {kind: len(items) for kind, items in self.problems.items() if items}

    def format(self) -> str:
        """Human-readable report: totals, counts per kind, then every bad path with its reason."""
        lines = [f"checked {self.total} videos: {self.ok} ok, {self.total - self.ok} with problems"]
        lines += [f"  {kind}: {n}" for kind, n in self.counts().items()]
        for kind, items in self.problems.items():
            if items:
                lines.append(f"{kind} ({len(items)}):")
                lines += [f"  {path}: {reason}" for path, reason in items]
        return "\n".join(lines)


def _reason(error: Exception) -> str:
    reason = getattr(error, "reason", None)
    return str(reason) if reason else f"{type(error).__name__}: {error}"


# A shortfall of at most max(SHORTFALL_FRAMES, SHORTFALL_FRACTION * declared) frames is not reported.
# Healthy files differ from their header by a frame or two: rounding a duration to frames (+-1), or the
# AVI muxer's default timestamp shift for MP3 priming, which leaves 101 declared frames for 99 written
# (2 frames). A cut file misses far more (86 of 99 in the AVI).
SHORTFALL_FRAMES, SHORTFALL_FRACTION = 2, 0.02


def check_video(
    path: str, backend: str = "decord", min_frames: int = 1, decode: bool = True, chunk: int = 64
):
    """Check one file; returns None when fine, else (kind, reason). Never raises for a bad video.

    TRUNCATED when a frame fails to decode, or when fewer frames than the header declares come out
    (beyond the tolerance above) and the packets in the file also stop short of the declared length;
    the second test keeps frames dropped at capture (gaps in an AVI's timeline), frames an MP4 edit
    list hides and audio that outlasts the video from counting as missing. The reason names both numbers:
    "declared 99 frames (header frame count), decoded 13; ...". With ``decode=False`` the count is the
    reader's (its scan of the packets), which sees a cut file but not frames that fail to decode.
    """
    from ssl_video.video import open_video  # lazy: loading datasets needs no decoder

    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        return MISSING, "file not found"
    except OSError as e:
        return UNREADABLE, f"cannot stat: {e}"
    if size == 0:
        return EMPTY, "file is 0 bytes"
    try:
        reader = open_video(path, backend=backend)
    except Exception as e:
        return UNREADABLE, _reason(e)
    with reader:
        n = reader.meta.num_frames
        counted = f"the {backend} reader lists"
        if decode:
            counted = "decoded"
            for start in range(0, n, chunk):
                indices = list(range(start, min(n, start + chunk)))
                try:
                    frames = reader.read(indices)
                except Exception as e:
                    failed = f"decoding frames {start}-{indices[-1]} of {n} failed: {_reason(e)}"
                    return TRUNCATED, failed + _declared_note(path)
                if len(frames) != len(indices):
                    got = f"asked for frames {start}-{indices[-1]} of {n}, got {len(frames)}"
                    return TRUNCATED, got + _declared_note(path)
    short = _shortfall(path, n, counted)
    if short:
        return TRUNCATED, short
    if n < min_frames:
        return TOO_SHORT, f"{n} frames < min_frames={min_frames}"
    return None


def _declared(path: str):
    """The header's DeclaredLength, or None when it declares none or cannot be read."""
    from ssl_video.video import declared_length

    try:
        return declared_length(path)
    except Exception:  # the reader opened the file, so this is rare; the check then goes by decoding alone
        return None


def _declared_note(path: str) -> str:
    declared = _declared(path)
    return f"; the header declares {declared.frames} frames ({declared.source})" if declared else ""


def _shortfall(path: str, count: int, counted: str) -> str | None:
    """The reason text when ``count`` frames fall short of ``path``'s declared length, else None."""
    from ssl_video.video import packet_span

    declared = _declared(path)
    if declared is None:
        return None
    tolerance = max(SHORTFALL_FRAMES, math.ceil(SHORTFALL_FRACTION * declared.frames))
    if declared.frames - count <= tolerance:
        return None
    try:
        span = packet_span(path, declared.all_streams)
    except Exception:  # PyAV opened the header a moment ago; without a timeline the counts decide
        span = 0.0
    if span >= declared.seconds - tolerance / declared.fps:
        return None  # the timeline is complete: frames were dropped, not cut off
    which = "all streams'" if declared.all_streams else "the video"
    return (
        f"declared {declared.frames} frames ({declared.source}), {counted} {count}; "
        f"{which} packets end after {span:.2f} s of {declared.seconds:.2f} s"
    )


def check_dataset(
    ds: VideoDataset | Iterable[VideoRecord],
    backend: str = "decord",
    min_frames: int = 1,
    decode: bool = True,
    progress: bool = False,
    workers: int = 1,
) -> CheckReport:
    """Check every video of ``ds``; see ``check_video``. Videos the annotations list but that are not
    on disk (``ds.missing``) are counted as "missing" too. ``workers`` > 1 checks files in threads
    (decoders release the GIL); the report order does not depend on it."""
    records = list(ds)
    problems: dict[str, list[tuple[str, str]]] = {kind: [] for kind in PROBLEM_KINDS}
    listed_missing = list(getattr(ds, "missing", []))
    for rel in listed_missing:
        problems[MISSING].append((rel, f"listed in the annotation files but not found under {ds.root}"))

    def one(record: VideoRecord):
        return check_video(record.path, backend, min_frames, decode)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(records), desc="checking videos", unit="video")
    ok = 0
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for record, outcome in zip(records, pool.map(one, records), strict=True):
            if outcome is None:
                ok += 1
            else:
                problems[outcome[0]].append((record.path, outcome[1]))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return CheckReport(total=len(records) + len(listed_missing), ok=ok, problems=problems)
