"""A job is plain data: "run ``ssl-video <argv>``". The same object runs in-process, in a local
subprocess, or on Slurm (pickled by submitit), so every executor runs identical code."""

from __future__ import annotations

import io
import shlex
import sys
from dataclasses import dataclass


class JobFailed(RuntimeError):
    """A job's ``ssl-video`` command ended with a non-zero exit code."""


@dataclass(frozen=True)
class Job:
    """``name``: a label (Slurm job name, log names); ``argv``: the ``ssl-video`` arguments."""

    name: str
    argv: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"Job name must be a non-empty string, got {self.name!r}")
        argv = tuple(self.argv) if isinstance(self.argv, (list, tuple)) else self.argv
        if not isinstance(argv, tuple) or not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError(
                f"Job {self.name!r}: argv must be a non-empty sequence of strings, got {self.argv!r}"
            )
        object.__setattr__(self, "argv", argv)

    @property
    def command(self) -> str:
        """The equivalent shell command."""
        return "ssl-video " + shlex.join(self.argv)

    @property
    def subcommand(self) -> str:
        """The ``ssl-video`` subcommand (the first argument that is not an option)."""
        return next((a for a in self.argv if not a.startswith("-")), "")

    def with_resume_auto(self) -> Job:
        """The same job continuing from its latest checkpoint (``--resume auto``; pretraining only)."""
        argv, out, skip = self.argv, [], False
        for i, arg in enumerate(argv):
            if skip:
                skip = False
                continue
            if arg == "--resume":
                skip = i + 1 < len(argv)
                continue
            if arg.startswith("--resume="):
                continue
            out.append(arg)
        return Job(self.name, (*out, "--resume", "auto"))

    def __call__(self) -> int:
        """Run ``ssl_video.cli.main(argv)`` here; raise JobFailed (with the command's last error line)
        if it exits non-zero. Returns 0."""
        from ..cli import main

        tail = _TailWriter(sys.stderr)
        sys.stderr, saved = tail, sys.stderr
        try:
            code = main(list(self.argv))
        except SystemExit as e:  # argparse usage errors
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        finally:
            sys.stderr = saved
        if code != 0:
            why = tail.last_line()
            raise JobFailed(
                f"job {self.name!r} ({self.command}) exited with code {code}" + (f": {why}" if why else "")
            )
        return 0


class _TailWriter(io.TextIOBase):
    """Passes writes through to ``stream`` and keeps the last few lines (for error messages)."""

    def __init__(self, stream, keep: int = 4096):
        self.stream, self.keep, self.buffer = stream, keep, ""

    def write(self, text: str) -> int:
        self.buffer = (self.buffer + text)[-self.keep :]
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False

    def last_line(self) -> str:
        lines = [ln.strip() for ln in self.buffer.replace("\r", "\n").splitlines() if ln.strip()]
        return lines[-1] if lines else ""
