"""Integrity check: open (and by default fully decode) every video of a dataset and classify problems.

Run it once after preparing a dataset (``ssl-video`` exposes it as a subcommand); it never raises for
a bad video, it reports it. ``VideoDataset.exclude(report.bad_paths())`` drops the bad ones.
"""

from __future__ import annotations

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


def check_video(
    path: str, backend: str = "decord", min_frames: int = 1, decode: bool = True, chunk: int = 64
):
    """Check one file; returns None when fine, else (kind, reason). Never raises for a bad video."""
    from ssl_video.video import open_video, read_metadata  # lazy: loading datasets needs no decoder

    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        return MISSING, "file not found"
    except OSError as e:
        return UNREADABLE, f"cannot stat: {e}"
    if size == 0:
        return EMPTY, "file is 0 bytes"
    if not decode:
        try:
            meta = read_metadata(path, backend=backend)
        except Exception as e:
            return UNREADABLE, _reason(e)
        if meta.num_frames < min_frames:
            return TOO_SHORT, f"{meta.num_frames} frames < min_frames={min_frames}"
        return None
    try:
        reader = open_video(path, backend=backend)
    except Exception as e:
        return UNREADABLE, _reason(e)
    with reader:
        n = reader.meta.num_frames
        if n < min_frames:
            return TOO_SHORT, f"{n} frames < min_frames={min_frames}"
        for start in range(0, n, chunk):
            indices = list(range(start, min(n, start + chunk)))
            try:
                frames = reader.read(indices)
            except Exception as e:
                return TRUNCATED, f"decoding frames {start}-{indices[-1]} of {n} failed: {_reason(e)}"
            if len(frames) != len(indices):
                return TRUNCATED, f"asked for frames {start}-{indices[-1]} of {n}, got {len(frames)}"
    return None


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
