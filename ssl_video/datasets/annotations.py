"""Helpers shared by the adapters: finding annotation files, parsing split-file lines, and resolving
listed videos on disk (with the extension fallback for transcoded copies).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .record import DatasetError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov")


def find_file(names: Sequence[str], dirs: Sequence[Path], what: str) -> Path:
    """The first ``dir/name`` that exists; otherwise a DatasetError naming every path looked at."""
    tried = [Path(d) / n for d in dirs for n in names]
    for path in tried:
        if path.is_file():
            return path
    raise DatasetError(f"{what} not found; looked for: " + ", ".join(str(p) for p in tried))


def first_dir(candidates: Iterable[Path], fallback: Path) -> Path:
    """The first candidate that is a directory, else ``fallback``."""
    for path in candidates:
        if path.is_dir():
            return path
    return fallback


def read_split_file(path: Path, min_fields: int, max_fields: int) -> list[tuple[int, list[str]]]:
    """Whitespace-separated fields of each non-blank line, with 1-based line numbers.

    Tolerates CRLF, a UTF-8 BOM and trailing spaces. A line with too few or too many fields raises a
    DatasetError naming the file and the line.
    """
    rows = []
    with open(path, encoding="utf-8-sig", newline=None) as f:
        for lineno, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            if not min_fields <= len(fields) <= max_fields:
                want = str(min_fields) if min_fields == max_fields else f"{min_fields}-{max_fields}"
                raise DatasetError(
                    f"expected {want} whitespace-separated fields, got {len(fields)}: {line.strip()!r}",
                    str(path),
                    lineno,
                )
            rows.append((lineno, fields))
    return rows


def parse_int(text: str, path: Path, lineno: int, what: str) -> int:
    """``int(text)`` or a DatasetError at ``path:lineno`` saying which field was not an integer."""
    try:
        return int(text)
    except ValueError:
        raise DatasetError(f"{what} must be an integer, got {text!r}", str(path), lineno) from None


def load_json(path: Path) -> Any:
    """Parse a JSON file; syntax errors become DatasetError with the file and line."""
    text = path.read_text(encoding="utf-8-sig")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DatasetError(f"invalid JSON: {e.msg} (column {e.colno})", str(path), e.lineno) from None


def load_json_list(path: Path) -> list[tuple[int, Any]]:
    """Parse a JSON file whose top level is a list; each item comes with the line it starts on."""
    text = path.read_text(encoding="utf-8-sig")
    decoder = json.JSONDecoder()
    items: list[tuple[int, Any]] = []
    pos = _skip_ws(text, 0)
    try:
        if pos >= len(text) or text[pos] != "[":
            raise DatasetError("expected a JSON list at the top level", str(path), _line_of(text, pos))
        pos = _skip_ws(text, pos + 1)
        if pos < len(text) and text[pos] == "]":
            return items
        while True:
            obj, end = decoder.raw_decode(text, pos)
            items.append((_line_of(text, pos), obj))
            pos = _skip_ws(text, end)
            if pos < len(text) and text[pos] == ",":
                pos = _skip_ws(text, pos + 1)
            elif pos < len(text) and text[pos] == "]":
                break
            else:
                raise DatasetError("expected ',' or ']' between list items", str(path), _line_of(text, pos))
    except json.JSONDecodeError as e:
        raise DatasetError(f"invalid JSON: {e.msg} (column {e.colno})", str(path), e.lineno) from None
    return items


def json_key_line(path: Path, key: str) -> int | None:
    """Line of the first occurrence of ``"key"`` in a JSON file (for error messages), or None."""
    text = path.read_text(encoding="utf-8-sig")
    pos = text.find(json.dumps(key, ensure_ascii=False))
    if pos < 0:
        pos = text.find(json.dumps(key))
    return _line_of(text, pos) if pos >= 0 else None


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def is_video_file(path: Path) -> bool:
    """A visible file with a known video extension (hidden files such as writers' temp files skipped)."""
    return path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".") and path.is_file()


def scan_videos(folder: Path) -> list[Path]:
    """Every video file under ``folder`` (recursive, hidden folders skipped), sorted by path."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            path = Path(dirpath) / name
            if is_video_file(path):
                found.append(path)
    return sorted(found)


def resolve_video(bases: Sequence[Path], rel: str) -> tuple[Path, str] | None:
    """Find a listed video: ``base/rel`` for each base, then the same stem with another video extension.

    UCF101 and HMDB51 lists name ``.avi`` files but users often transcode them. Returns the base it
    was found under and the relative path with the extension actually on disk, or None.
    """
    rel = rel.replace("\\", "/").lstrip("/")
    stem, ext = os.path.splitext(rel)
    alternatives = [rel] + [stem + e for e in VIDEO_EXTENSIONS if e != ext.lower()]
    for base in bases:
        for candidate in alternatives:
            if (base / candidate).is_file():
                return base, candidate
    return None


def rel_posix(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` with '/' separators."""
    return Path(os.path.relpath(path, base)).as_posix()
