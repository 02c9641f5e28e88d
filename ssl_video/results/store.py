"""The result store: one validated JSON file per (dataset, fold, checkpoint, protocol, seed).

Layout under the store root::

    <dataset.name>/fold<fold>/<checkpoint.id>/<protocol.name>@v<protocol.version>/seed<seed>.json

Files are written atomically (temporary file, fsync, rename or hard link, folder fsync) with sorted
keys, so the same record always gives the same bytes. A result that already exists is never
overwritten unless asked to (``force=True``), also when several processes write the same key at once:
re-running an evaluation does not silently replace a published number.

A record (schema ``ssl_video.result/2``) carries, besides its provenance and ``metrics``, a
``per_video`` section (``n`` test videos, ``ids_sha256`` of their ids in the test split's order, and
per metric that is a percentage of per-video hits a string of ``n`` characters ``0``/``1``: see
:mod:`ssl_video.results.outcomes`) and ``chance`` (per such metric, its chance level in %). Records of
schema ``/1`` have neither and are still read.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from ssl_video import __version__
from ssl_video.io_utils import atomic_write_json
from ssl_video.results.outcomes import decode_hits, hit_rate

# Schema of the records written now. ``/2`` adds ``per_video`` (each test video's hit for the metrics
# that are a percentage of hits, see :mod:`ssl_video.results.outcomes`) and ``chance`` (each such
# metric's chance level, in %). Records of ``/1`` (without either) stay readable: tables render them
# without confidence intervals and say so.
SCHEMA = "ssl_video.result/2"
SCHEMA_V1 = "ssl_video.result/1"
READABLE_SCHEMAS = (SCHEMA_V1, SCHEMA)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=-]*$")
_HEX = re.compile(r"^[0-9a-f]+$")


class ResultKey(NamedTuple):
    """What identifies one stored result; two records with equal keys share one file."""

    dataset: str
    fold: int
    checkpoint: str
    protocol: str
    version: int
    seed: int


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _fail(field: str, problem: str) -> ValueError:
    return ValueError(f"invalid result record: field {field!r} {problem}")


def _get(record: Mapping[str, Any], field: str) -> Any:
    """Value at dotted ``field`` in ``record``; ValueError naming the field when it is missing."""
    node: Any = record
    walked = []
    for part in field.split("."):
        walked.append(part)
        if not isinstance(node, Mapping):
            raise _fail(".".join(walked[:-1]), "must be a mapping")
        if part not in node:
            raise _fail(".".join(walked), "is missing")
        node = node[part]
    return node


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(record: Mapping[str, Any], field: str, optional: bool = False, minimum: int = 0) -> None:
    value = _get(record, field)
    if value is None and optional:
        return
    if not _is_int(value) or value < minimum:
        kind = f"an integer >= {minimum}" + (" or null" if optional else "")
        raise _fail(field, f"must be {kind}, got {value!r}")


def _check_str(record: Mapping[str, Any], field: str, optional: bool = False) -> None:
    value = _get(record, field)
    if value is None and optional:
        return
    if not isinstance(value, str) or not value:
        raise _fail(field, f"must be a non-empty string{' or null' if optional else ''}, got {value!r}")


def _check_name(record: Mapping[str, Any], field: str) -> None:
    """A string that is safe as one path component (it names a directory of the store)."""
    value = _get(record, field)
    if not isinstance(value, str) or not _SAFE_NAME.match(value):
        raise _fail(
            field,
            f"must be a name of letters, digits and ._+=- (not starting with one of ._+=-), got {value!r}",
        )


def _check_hex(record: Mapping[str, Any], field: str, length: int, optional: bool = False) -> None:
    value = _get(record, field)
    if value is None and optional:
        return
    if not isinstance(value, str) or len(value) != length or not _HEX.match(value):
        raise _fail(
            field, f"must be {length} lowercase hex digits{' or null' if optional else ''}, got {value!r}"
        )


def _check_mapping(record: Mapping[str, Any], field: str) -> None:
    if not isinstance(_get(record, field), Mapping):
        raise _fail(field, "must be a mapping")


def _check_metrics(record: Mapping[str, Any]) -> None:
    metrics = _get(record, "metrics")
    if not isinstance(metrics, Mapping) or not metrics:
        raise _fail("metrics", "must be a non-empty mapping of metric name to number")
    for name, value in metrics.items():
        if not isinstance(name, str) or not name:
            raise _fail("metrics", f"has a bad metric name {name!r}")
        if not _is_number(value):
            raise _fail(f"metrics.{name}", f"must be a finite number, got {value!r}")


def _check_created(record: Mapping[str, Any]) -> None:
    value = _get(record, "created")
    text = value[:-1] + "+00:00" if isinstance(value, str) and value.endswith("Z") else value
    try:
        datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise _fail("created", f"must be an ISO-8601 timestamp string, got {value!r}") from None


def _check_code_version(record: Mapping[str, Any]) -> None:
    _check_mapping(record, "code_version")
    _check_str(record, "code_version.package")
    commit = _get(record, "code_version.git_commit")
    if commit is not None and (not isinstance(commit, str) or not _HEX.match(commit)):
        raise _fail("code_version.git_commit", f"must be a lowercase hex string or null, got {commit!r}")
    dirty = _get(record, "code_version.dirty")
    if dirty is not None and not isinstance(dirty, bool):
        raise _fail("code_version.dirty", f"must be true, false or null, got {dirty!r}")


def _check_split_fingerprints(record: Mapping[str, Any]) -> None:
    """``dataset.fingerprints``: a non-empty mapping of split name to a 64-hex dataset fingerprint."""
    splits = _get(record, "dataset.fingerprints")
    if not isinstance(splits, Mapping) or not splits:
        raise _fail(
            "dataset.fingerprints", f"must be a non-empty mapping of split to fingerprint, got {splits!r}"
        )
    for split, value in splits.items():
        if not isinstance(split, str) or not _SAFE_NAME.match(split):
            raise _fail("dataset.fingerprints", f"has a bad split name {split!r}")
        if not isinstance(value, str) or len(value) != 64 or not _HEX.match(value):
            raise _fail(f"dataset.fingerprints.{split}", f"must be 64 lowercase hex digits, got {value!r}")


def _check_per_video(record: Mapping[str, Any]) -> None:
    """``per_video``: ``n`` test videos, the hash of their ids and, per metric, a string of n hits whose
    :func:`~ssl_video.results.outcomes.hit_rate` is exactly the stored metric."""
    _check_mapping(record, "per_video")
    _check_int(record, "per_video.n")
    _check_hex(record, "per_video.ids_sha256", 64)
    _check_mapping(record, "per_video.outcomes")
    n, metrics = record["per_video"]["n"], record["metrics"]
    for name, text in record["per_video"]["outcomes"].items():
        field = f"per_video.outcomes.{name}"
        if name not in metrics:
            raise _fail(field, "names no metric of the record")
        try:
            hits = decode_hits(text)
        except ValueError as exc:
            raise _fail(field, str(exc)) from None
        if hits.size != n:
            raise _fail(field, f"must have per_video.n = {n} characters, got {hits.size}")
        if hit_rate(hits) != metrics[name]:
            raise _fail(field, f"has hit rate {hit_rate(hits)!r}, but metrics.{name} is {metrics[name]!r}")


def _check_chance(record: Mapping[str, Any]) -> None:
    """``chance``: a mapping of metric name to its chance level, a number in [0, 100]."""
    _check_mapping(record, "chance")
    for name, value in record["chance"].items():
        if name not in record["metrics"]:
            raise _fail(f"chance.{name}", "names no metric of the record")
        if not _is_number(value) or not 0 <= value <= 100:
            raise _fail(f"chance.{name}", f"must be a number in [0, 100], got {value!r}")


def validate_record(record: Any) -> None:
    """Raise ValueError naming the first missing or malformed field of a result record.

    Records of every schema in :data:`READABLE_SCHEMAS` are accepted; ``per_video`` and ``chance`` are
    required from ``ssl_video.result/2`` on (and checked whenever present).
    """
    if not isinstance(record, Mapping):
        raise ValueError(f"invalid result record: expected a mapping, got {type(record).__name__}")
    if _get(record, "schema") not in READABLE_SCHEMAS:
        readable = ", ".join(map(repr, READABLE_SCHEMAS))
        raise _fail("schema", f"must be one of {readable}, got {record['schema']!r}")
    for section in ("checkpoint", "protocol", "dataset"):
        _check_mapping(record, section)
    _check_name(record, "checkpoint.id")
    _check_str(record, "checkpoint.path", optional=True)
    _check_hex(record, "checkpoint.sha256", 64, optional=True)
    _check_str(record, "checkpoint.method")
    _check_str(record, "checkpoint.encoder")
    _check_int(record, "checkpoint.pretrain_seed", optional=True)
    if "step" in record["checkpoint"]:
        _check_int(record, "checkpoint.step", optional=True)
    if "pretrain_config_hash" in record["checkpoint"]:  # optional: older records lack it
        _check_hex(record, "checkpoint.pretrain_config_hash", 16)
    if "variant" in record["checkpoint"]:  # optional: what tables show after the method name
        _check_str(record, "checkpoint.variant")
    _check_name(record, "protocol.name")
    _check_int(record, "protocol.version")
    _check_hex(record, "protocol.hash", 16)
    _check_mapping(record, "protocol.settings")
    _check_name(record, "dataset.name")
    _check_str(record, "dataset.adapter")
    _check_int(record, "dataset.fold")
    _check_hex(record, "dataset.fingerprint", 64)
    if "fingerprints" in record["dataset"]:  # per-split fingerprints; records written before them lack it
        _check_split_fingerprints(record)
    _check_int(record, "seed")
    _check_metrics(record)
    if record["schema"] != SCHEMA_V1 or "per_video" in record:
        _check_per_video(record)
    if record["schema"] != SCHEMA_V1 or "chance" in record:
        _check_chance(record)
    _check_code_version(record)
    _check_mapping(record, "config")
    wall = _get(record, "wall_time_s")
    if not _is_number(wall) or wall < 0:
        raise _fail("wall_time_s", f"must be a finite number >= 0, got {wall!r}")
    _check_created(record)
    try:
        json.dumps(record, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"invalid result record: not JSON-serialisable ({exc})") from None


def key_of(record: Mapping[str, Any]) -> ResultKey:
    """The key of a (validated) record."""
    return ResultKey(
        dataset=record["dataset"]["name"],
        fold=record["dataset"]["fold"],
        checkpoint=record["checkpoint"]["id"],
        protocol=record["protocol"]["name"],
        version=record["protocol"]["version"],
        seed=record["seed"],
    )


# --------------------------------------------------------------------------------------------
# Code version
# --------------------------------------------------------------------------------------------


def _git(args: list[str], cwd: Path) -> str | None:
    """stdout of ``git <args>`` run in ``cwd``, or None if git is missing or fails."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def code_version(repo: str | Path | None = None) -> dict[str, Any]:
    """``{"package", "git_commit", "dirty"}`` for the code that produces a result.

    ``repo`` is any directory inside the git work tree to describe; by default the directory of
    the ``ssl_video`` package. ``git_commit`` is ``git rev-parse HEAD`` and ``dirty`` whether
    tracked files differ from it (untracked files are ignored); both are None when the directory
    is not in a git work tree or git is unavailable. Never raises.
    """
    where = Path(repo) if repo is not None else Path(__file__).resolve().parent.parent
    commit = _git(["rev-parse", "HEAD"], where) if where.is_dir() else None
    commit = commit.strip() if commit else None
    dirty = None
    if commit:
        status = _git(["status", "--porcelain", "--untracked-files=no"], where)
        dirty = None if status is None else bool(status.strip())
    return {"package": __version__, "git_commit": commit or None, "dirty": dirty}


# --------------------------------------------------------------------------------------------
# Store
# --------------------------------------------------------------------------------------------


class ResultStore:
    """A directory of result records, one JSON file per :class:`ResultKey`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    @staticmethod
    def key(record_or_key: Mapping[str, Any] | ResultKey | tuple) -> ResultKey:
        """A :class:`ResultKey` from a key, a plain 6-tuple or a (validated) record."""
        if isinstance(record_or_key, Mapping):
            validate_record(record_or_key)
            return key_of(record_or_key)
        key = ResultKey(*record_or_key)
        for field in ("dataset", "checkpoint", "protocol"):
            if not isinstance(getattr(key, field), str) or not _SAFE_NAME.match(getattr(key, field)):
                raise ValueError(f"invalid result key: {field} {getattr(key, field)!r} is not a safe name")
        for field in ("fold", "version", "seed"):
            if not _is_int(getattr(key, field)) or getattr(key, field) < 0:
                raise ValueError(
                    f"invalid result key: {field} {getattr(key, field)!r} is not an integer >= 0"
                )
        return key

    def path_for(self, record_or_key: Mapping[str, Any] | ResultKey | tuple) -> Path:
        """Where the result with this key (or of this record) lives."""
        k = self.key(record_or_key)
        return (
            self.root
            / k.dataset
            / f"fold{k.fold}"
            / k.checkpoint
            / f"{k.protocol}@v{k.version}"
            / f"seed{k.seed}.json"
        )

    def exists(self, record_or_key: Mapping[str, Any] | ResultKey | tuple) -> bool:
        """Whether a result with this key is stored."""
        return self.path_for(record_or_key).is_file()

    @staticmethod
    def code_version(repo: str | Path | None = None) -> dict[str, Any]:
        """See :func:`code_version`."""
        return code_version(repo)

    def write(self, record: Mapping[str, Any], force: bool = False) -> bool:
        """Validate and store ``record`` atomically; safe with many concurrent writers.

        Returns True when written; False (and writes nothing) when a result with the same key
        already exists and ``force`` is false, also when another process or thread stores it at the
        same time: of concurrent writers of one key exactly one gets True (an exclusive create,
        see :func:`ssl_video.io_utils.atomic_path`). With ``force`` the file is replaced (the last
        writer wins). Either way the file always holds one writer's complete record. Raises
        ValueError for a malformed record.
        """
        path = self.path_for(record)
        if not force and path.exists():  # the common case, without writing a temporary file
            return False
        try:
            atomic_write_json(path, record, exclusive=not force)
        except FileExistsError:
            return False
        return True

    def read(self, path: str | Path) -> dict[str, Any]:
        """Load and validate the record at ``path`` (absolute, or relative to the store root)."""
        path = Path(path)
        if not path.is_absolute() and not path.exists():
            path = self.root / path
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
        try:
            validate_record(record)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        return record

    def paths(self, dataset: str | None = None) -> list[Path]:
        """Paths of all stored records (of one dataset if given), sorted by their path in the store."""
        if not self.root.is_dir():
            return []
        pattern = f"{dataset if dataset is not None else '*'}/fold*/*/*@v*/seed*.json"
        return sorted(self.root.glob(pattern), key=lambda p: p.relative_to(self.root).as_posix())

    def records(self, dataset: str | None = None) -> Iterator[dict[str, Any]]:
        """Every stored record (of one dataset if given), validated, in sorted path order.

        Raises ValueError for a malformed file or one whose content does not belong at its path
        (a hand-copied or renamed result).
        """
        for path in self.paths(dataset):
            record = self.read(path)
            if self.path_for(record) != path:
                raise ValueError(f"{path}: record belongs at {self.path_for(record)} (file moved or copied?)")
            yield record
