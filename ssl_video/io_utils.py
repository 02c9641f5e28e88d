"""Atomic file writes, the one implementation for the whole package.

A write goes to a new temporary file next to the target (hidden: ``.<name>.<pid>-<thread>-<random>.tmp``,
created with ``O_EXCL``, so no two writers, processes or threads, ever share one), which is fsynced and
then published under the target name, and the folder is fsynced so the new name survives a crash.
Readers therefore see the old file, the new one or none, never a torn one; a crash or SIGKILL leaves at
most a hidden temporary file, which no listing of the package picks up (they skip names starting with
``.``). A failed write removes its temporary file.

Publishing either replaces the target (``os.replace``: the last writer wins) or, with
``exclusive=True``, happens only if the target does not exist: ``os.link(tmp, target)`` fails
atomically with FileExistsError when the name is taken, so of many concurrent writers exactly one
wins and the file is always one writer's complete content. On filesystems without hard links (FAT,
some FUSE or SMB mounts) the name is claimed with ``O_CREAT | O_EXCL`` and the complete file then
renamed over the claim; there a reader may briefly see an empty file (never a partial one), and a crash
between the two steps leaves that empty file behind.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# errno values with which link() says "this filesystem has no hard links" (not "the name is taken")
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK}
# errno values with which fsync() of a folder says "not supported here" (nothing to make durable)
_NO_DIR_FSYNC = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF, errno.EISDIR}


def fsync_dir(folder: str | Path) -> None:
    """fsync ``folder`` so that names created, renamed or removed in it survive a crash."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except PermissionError:  # a folder we may write but not open (or Windows): nothing more to do
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_DIR_FSYNC:
            raise
    finally:
        os.close(fd)


def _new_temp_file(path: Path, suffix: str) -> Path:
    """Create an empty, new file next to ``path`` that no other writer can be using; its path."""
    # the pid, the thread and 64 random bits keep names apart; O_EXCL makes sure of it. The target's
    # name is cut so that the temporary name stays within the usual 255-byte limit.
    stem = f".{path.name[:150]}.{os.getpid()}-{threading.get_native_id()}"
    for _ in range(100):
        tmp = path.with_name(f"{stem}-{secrets.token_hex(8)}.tmp{suffix}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(errno.EEXIST, "could not create a unique temporary file", str(path.parent))


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish_exclusive(tmp: Path, path: Path) -> None:
    """Give ``tmp``'s content the name ``path`` only if ``path`` does not exist (FileExistsError)."""
    taken = FileExistsError(errno.EEXIST, "already exists, not overwritten", str(path))
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        raise taken from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
    try:  # no hard links here: claim the name, then rename the complete file over the claim
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except FileExistsError:
        raise taken from None
    os.replace(tmp, path)


@contextmanager
def atomic_path(path: str | Path, exclusive: bool = False, suffix: str = "") -> Iterator[Path]:
    """Yield a new temporary path next to ``path`` to write into; publish it at ``path`` on success.

    For writers that need a path or open the file themselves (``torch.save``, video muxers). The
    temporary file exists (empty) when yielded and ends with ``suffix`` (a muxer picks the container
    from it). When the block completes, the file is fsynced and renamed over ``path`` (or, with
    ``exclusive``, linked to ``path`` only if nothing is there: FileExistsError otherwise) and the
    folder fsynced. If the block or the publishing raises, the temporary file is removed and ``path``
    is left as it was. The parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temp_file(path, suffix)
    try:
        yield tmp
        _fsync_file(tmp)
        if exclusive:
            _publish_exclusive(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # gone after a rename; a second name after a link; or a failure
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes, exclusive: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); returns ``path``.

    With ``exclusive``, raises FileExistsError (and changes nothing) when ``path`` already exists,
    also when another writer creates it concurrently."""
    path = Path(path)
    with atomic_path(path, exclusive=exclusive) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return path


def atomic_write_text(path: str | Path, text: str, exclusive: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"), exclusive=exclusive)


def atomic_write_json(path: str | Path, data: Any, exclusive: bool = False) -> Path:
    """Write ``data`` as JSON (2-space indent, sorted keys, final newline) to ``path`` atomically;
    the same data always gives the same bytes. See :func:`atomic_write_bytes`."""
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n", exclusive=exclusive)
