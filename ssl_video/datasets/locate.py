"""Where an adapter's files are: option paths relative to the dataset root, the video folder among the
usual unpack folders, and a hint naming where the videos are when most listed ones are missing.

Rules every built-in adapter follows (and a third-party adapter gets by calling these helpers):

- A path-valued option (``video_dir``, ``annotation_dir``, ``csv``, ``manifest``, ...) that is relative
  is read under the dataset root. An absolute path (or ``~/...``) stays as is. A relative path that
  does not exist under the root but exists relative to the working directory is taken from there (how
  earlier versions read it); when it exists in neither place the root-based path is used, so errors
  name it.
- Without ``video_dir`` the adapter tries its usual folders (e.g. ``UCF-101/``, ``videos/``, the root
  itself) and takes the one holding the most listed videos, the first in its order on a tie. All
  records come from that one folder: a stray copy elsewhere never mixes in, and ``rel_path`` (hence
  the fingerprint) is the same whichever folder held the videos.
- When more than half of the listed videos are missing, the dataset carries a ``hint``: the folders
  looked in, and the folder under the root (up to 3 levels deep) whose sub-folders or files are named
  like the listed ones and that holds the most listed videos, with the ``video_dir`` to pass.
  ``load_dataset`` logs it as a warning, or raises it as a DatasetError when no listed video was found.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .annotations import VIDEO_EXTENSIONS

MAX_HINT_DEPTH = 3  # folder levels below the root scanned for the hint
MAX_HINT_DIRS = 20_000  # bound on folders listed for the hint (a root holding a whole disk)
MAX_HINT_CHECKS = 5  # best-named folders whose listed videos are counted

# locate(base) -> one entry per listed video, in listing order: where it is under base, or None.
Locate = Callable[[Path], Sequence[Any]]


def option_path(root: Path, value: str | os.PathLike) -> Path:
    """A path-valued adapter option as a path: absolute as is; relative under ``root`` (see module doc).

    Non-string values (a YAML override may give ``123``) are read as their text.
    """
    path = Path(os.path.expanduser(os.fspath(value) if isinstance(value, os.PathLike) else str(value)))
    if path.is_absolute():
        return path
    under_root = root / path
    if not under_root.exists() and path.exists():
        return Path(os.path.abspath(path))
    return under_root


def resolve_videos(base: Path, rels: Sequence[str]) -> list[str | None]:
    """For each listed ``rel`` (``'/'``-separated, under ``base``): the relative path on disk, or None.

    Same rule as ``annotations.resolve_video`` (the listed name, then the same stem with another video
    extension; a regular file or a link to one) but one directory listing per folder instead of one
    ``stat`` per candidate name, so trying a folder that holds none of 200k listed videos stays cheap.
    Names match exactly (case too).
    """
    listings: dict[str, dict[str, os.DirEntry]] = {}
    out: list[str | None] = []
    for rel in rels:
        rel = rel.replace("\\", "/").lstrip("/")
        parent, _, name = rel.rpartition("/")
        entries = listings.get(parent)
        if entries is None:
            try:
                with os.scandir(os.path.join(base, parent)) as it:
                    entries = listings[parent] = {e.name: e for e in it}
            except OSError:  # absent folder, a file, no permission: nothing there
                entries = listings[parent] = {}
        stem, ext = os.path.splitext(name)
        hit = None
        for candidate in [name] + [stem + e for e in VIDEO_EXTENSIONS if e != ext.lower()]:
            entry = entries.get(candidate)
            if entry is not None and _is_file(entry):
                hit = f"{parent}/{candidate}" if parent else candidate
                break
        out.append(hit)
    return out


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()  # follows links; no extra system call for a plain file on most systems
    except OSError:
        return False


@dataclass(frozen=True)
class VideoSearch:
    """The folder an adapter's records are under, the folders it tried, and what it found there."""

    base: Path  # the chosen folder
    tried: list[Path]  # every folder tried, in order (some may not exist)
    located: list  # locate(base): one entry per listed video, None when not found

    @property
    def total(self) -> int:
        return len(self.located)

    @property
    def found(self) -> int:
        return sum(x is not None for x in self.located)

    def looked_in(self) -> str:
        """'A, B (C, D do not exist)' or 'C, which does not exist': the folders tried, for messages."""
        there = [str(p) for p in self.tried if p.is_dir()]
        absent = [str(p) for p in self.tried if not p.is_dir()]
        if not absent:
            return ", ".join(there)
        verb = "does" if len(absent) == 1 else "do"
        if not there:
            return f"{', '.join(absent)}, which {verb} not exist"
        return f"{', '.join(there)} ({', '.join(absent)} {verb} not exist)"


def search_video_dir(root: Path, video_dir: Any, candidates: Sequence[str], locate: Locate) -> VideoSearch:
    """Choose the folder holding the listed videos.

    ``video_dir`` (the option, None when not given) is the only folder tried when given, read with
    ``option_path``. Otherwise each of ``candidates`` (relative to root; "" = root) that exists is
    tried in order and the one where ``locate`` finds the most listed videos wins, the first on a tie;
    the search stops at the first folder holding all of them.
    """
    if video_dir is not None:
        base = option_path(root, video_dir)
        return VideoSearch(base, [base], list(locate(base)))
    tried = [root / c if c else root for c in candidates]
    best: VideoSearch | None = None
    for folder in tried:
        if not folder.is_dir():
            continue
        search = VideoSearch(folder, tried, list(locate(folder)))
        if best is None or search.found > best.found:
            best = search
        if search.found == search.total:
            break
    if best is None:  # no candidate exists (only when the root is not among them)
        best = VideoSearch(tried[0], tried, list(locate(tried[0])))
    return best


def mostly_missing(found: int, total: int) -> bool:
    """More than half of ``total`` listed videos are not on disk."""
    return 2 * (total - found) > total


def named_folders(root: Path, folder_names: Collection[str], file_stems: Collection[str]) -> list[Path]:
    """Folders under ``root`` (itself and up to MAX_HINT_DEPTH levels below) that hold sub-folders named
    in ``folder_names`` or video files whose stem is in ``file_stems``, most such names first (then
    shallowest, then by path). Hidden folders are skipped; at most MAX_HINT_DIRS folders are listed."""
    folder_names, file_stems = set(folder_names), set(file_stems)
    scored: list[tuple[int, int, str, Path]] = []
    queue: deque[tuple[Path, int]] = deque([(root, 0)])
    listed = 0
    while queue and listed < MAX_HINT_DIRS:
        folder, depth = queue.popleft()
        listed += 1
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        score = 0
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                score += entry.name in folder_names
                if depth < MAX_HINT_DEPTH:
                    queue.append((Path(entry.path), depth + 1))
            else:
                stem, ext = os.path.splitext(entry.name)
                score += ext.lower() in VIDEO_EXTENSIONS and stem in file_stems
        if score:
            scored.append((-score, depth, str(folder), folder))
    return [folder for *_, folder in sorted(scored)]


def missing_hint(
    name: str,
    root: Path,
    search: VideoSearch,
    locate: Locate | None,
    kind: str,
    folder_names: Collection[str] = (),
    file_stems: Collection[str] = (),
    option: str | None = "video_dir",
    advice: str = "",
) -> str | None:
    """The hint for a dataset whose listed videos are mostly missing, or None when most are there.

    Says how many were found and where the adapter looked; then scans ``root`` for folders holding
    ``kind`` (sub-folders named in ``folder_names``, files with a stem in ``file_stems``), counts the
    listed videos under the best-named few with ``locate`` and names the one holding the most, with
    the ``option`` that selects it (or, without an option, the ``advice``). Folders already tried are
    not suggested.
    """
    if search.total == 0 or not mostly_missing(search.found, search.total):
        return None
    text = f"{name}: {search.found} of {search.total} listed videos found; looked in {search.looked_in()}"
    tried = {p.resolve() for p in search.tried}
    named = [f for f in named_folders(root, folder_names, file_stems) if f.resolve() not in tried]
    counted = []
    if locate is not None:
        for folder in named[:MAX_HINT_CHECKS]:
            found = sum(x is not None for x in locate(folder))
            if found:
                counted.append((-found, named.index(folder), folder))
    if counted:
        found, _, folder = min(counted)
        rel = folder.relative_to(root).as_posix()
        text += f"; {kind} were found under {folder} ({-found} of the {search.total} listed videos there)"
        if option:
            text += f": pass the option {option}={rel} (command line: --option {option}={rel})"
        elif advice:
            text += f": {advice}"
    elif named:
        text += f"; {kind} were found under {named[0]}, but none of the listed videos"
    else:
        text += f"; no folder under {root} (up to {MAX_HINT_DEPTH} levels deep) holds {kind}"
    return text
