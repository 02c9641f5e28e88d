"""Result store: layout, atomic no-clobber writes, validation, deterministic listing, code version."""

from __future__ import annotations

import copy
import json
import os

import pytest

from ssl_video.results.store import SCHEMA_V1, ResultKey, ResultStore, code_version, key_of, validate_record


def make_record(
    method: str = "vcop",
    seed: int = 0,
    ckpt: str | None = None,
    protocol: str = "retrieval_vcop",
    version: int = 1,
    metrics: dict | None = None,
    encoder: str = "r3d_tiny",
    dataset: str = "synthmotion",
    fold: int = 1,
    phash: str = "0123456789abcdef",
) -> dict:
    """A valid result record of schema ``/1`` (without per-video outcomes); every field it asks for."""
    return {
        "schema": SCHEMA_V1,
        "checkpoint": {
            "id": ckpt or f"{method}-{encoder}-s0",
            "path": None if method == "random_init" else f"runs/{method}/encoder.pt",
            "sha256": None if method == "random_init" else "a" * 64,
            "method": method,
            "encoder": encoder,
            "pretrain_seed": None if method == "random_init" else 0,
        },
        "protocol": {"name": protocol, "version": version, "hash": phash, "settings": {"ks": [1, 5, 10]}},
        "dataset": {"name": dataset, "adapter": "ucf101", "fold": fold, "fingerprint": "f" * 64},
        "seed": seed,
        "metrics": metrics if metrics is not None else {"R@1": 6.9, "R@5": 34.7, "R@10": 50.0},
        "code_version": {"package": "0.1.0", "git_commit": "abc123", "dirty": False},
        "config": {"eval": {"batch_size": 8}},
        "wall_time_s": 12.3,
        "created": "2026-11-22T07:00:00Z",
    }


def test_path_layout_and_key(tmp_path):
    store = ResultStore(tmp_path)
    rec = make_record(seed=3)
    key = key_of(rec)
    assert key == ResultKey("synthmotion", 1, "vcop-r3d_tiny-s0", "retrieval_vcop", 1, 3)
    expected = tmp_path / "synthmotion" / "fold1" / "vcop-r3d_tiny-s0" / "retrieval_vcop@v1" / "seed3.json"
    assert store.path_for(rec) == expected
    assert store.path_for(key) == expected
    assert store.path_for(tuple(key)) == expected
    assert not store.exists(key)
    assert store.write(rec)
    assert store.exists(key) and store.exists(rec)
    assert store.read(expected) == rec
    assert store.read(expected.relative_to(tmp_path)) == rec


def test_bad_key_rejected(tmp_path):
    store = ResultStore(tmp_path)
    with pytest.raises(ValueError, match="checkpoint"):
        store.path_for(("synthmotion", 1, "../evil", "retrieval_vcop", 1, 0))
    with pytest.raises(ValueError, match="seed"):
        store.path_for(("synthmotion", 1, "ok", "retrieval_vcop", 1, -1))


def test_second_write_is_noop_unless_force(tmp_path):
    store = ResultStore(tmp_path)
    first = make_record(metrics={"R@1": 1.0})
    second = make_record(metrics={"R@1": 2.0})
    assert store.write(first) is True
    path = store.path_for(first)
    before = path.read_bytes()
    assert store.write(second) is False
    assert path.read_bytes() == before
    assert store.write(second, force=True) is True
    assert store.read(path)["metrics"] == {"R@1": 2.0}


def test_write_is_atomic_and_canonical(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    rec = make_record()
    published = []
    real_link, real_replace = os.link, os.replace

    def spy(real):
        def publish(src, dst, *args, **kwargs):
            published.append((real.__name__, os.fspath(src), os.fspath(dst)))
            return real(src, dst, *args, **kwargs)

        return publish

    monkeypatch.setattr(os, "link", spy(real_link))
    monkeypatch.setattr(os, "replace", spy(real_replace))
    path = store.path_for(rec)
    # a new result is published from a complete temporary file in the same folder, only if absent
    # (hard link: fails if the name exists); a forced one replaces the old file by a rename
    for force, how in ((False, "link"), (True, "replace")):
        published.clear()
        assert store.write(rec, force=force) is True
        assert [(name, dst) for name, _, dst in published] == [(how, os.fspath(path))]
        tmp = published[0][1]
        assert os.path.dirname(tmp) == os.fspath(path.parent) and os.path.basename(tmp).startswith(".")
        # no temporary file left behind; sorted keys, so the same record always gives the same bytes
        assert sorted(p.name for p in path.parent.iterdir()) == ["seed0.json"]
        assert path.read_text() == json.dumps(rec, indent=2, sort_keys=True) + "\n"
        if not force:
            store.path_for(rec).unlink()


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    rec = make_record()

    def boom(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "link", boom)
    monkeypatch.setattr(os, "replace", boom)
    for force in (False, True):
        with pytest.raises(OSError, match="disk gone"):
            store.write(rec, force=force)
        assert not store.exists(rec)
        assert list(store.path_for(rec).parent.iterdir()) == []


def _set(record: dict, dotted: str, value) -> dict:
    rec = copy.deepcopy(record)
    *parents, last = dotted.split(".")
    node = rec
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return rec


_DELETE = object()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("schema", "ssl_video.result/0"),
        ("schema", _DELETE),
        ("checkpoint", _DELETE),
        ("checkpoint.id", _DELETE),
        ("checkpoint.id", "a/b"),
        ("checkpoint.id", ".."),
        ("checkpoint.sha256", "xyz"),
        ("checkpoint.method", ""),
        ("checkpoint.encoder", 3),
        ("checkpoint.pretrain_seed", "0"),
        ("checkpoint.pretrain_config_hash", "1a2b3c4d"),
        ("checkpoint.pretrain_config_hash", None),
        ("protocol.name", _DELETE),
        ("protocol.version", "1"),
        ("protocol.version", True),
        ("protocol.hash", "0123"),
        ("protocol.settings", []),
        ("dataset.fold", 1.0),
        ("dataset.fingerprint", "F" * 64),
        ("dataset.adapter", None),
        ("seed", None),
        ("metrics", {}),
        ("metrics.R@1", float("nan")),
        ("metrics.R@1", "6.9"),
        ("code_version.dirty", "no"),
        ("code_version.git_commit", "not hex"),
        ("code_version", _DELETE),
        ("config", None),
        ("wall_time_s", -1),
        ("created", "yesterday"),
    ],
)
def test_malformed_records_rejected_naming_the_field(tmp_path, field, value):
    rec = _set(make_record(), field, value)
    store = ResultStore(tmp_path)
    # name the field: the dotted path, or its top-level section when the section itself is missing
    with pytest.raises(ValueError, match=f"'{field}'"):
        store.write(rec)
    assert list(tmp_path.iterdir()) == []


def test_non_mapping_and_unserialisable_rejected():
    with pytest.raises(ValueError, match="expected a mapping"):
        validate_record([1, 2])
    with pytest.raises(ValueError, match="JSON"):
        validate_record(_set(make_record(), "config", {"obj": object()}))


def test_valid_record_passes_with_optional_fields():
    validate_record(make_record(method="random_init"))
    validate_record(_set(make_record(), "checkpoint.step", 1000))
    validate_record(_set(make_record(), "checkpoint.pretrain_config_hash", "1a2b3c4d5e6f7a8b"))
    validate_record(_set(make_record(), "created", "2026-11-22T07:00:00.123456+00:00"))


def test_per_split_fingerprints_checked_when_present():
    """dataset.fingerprints ({split: sha256 hex}) is optional (older records lack it), checked when there."""
    splits = {"train": "a" * 64, "test": "b" * 64}
    validate_record(_set(make_record(), "dataset.fingerprints", splits))
    bad = [
        ("f" * 64, "dataset.fingerprints"),
        ({}, "dataset.fingerprints"),
        ({"train": "a" * 64, "": "b" * 64}, "dataset.fingerprints"),
        ({"train": "a" * 64, "test": "XYZ"}, "dataset.fingerprints.test"),
    ]
    for value, field in bad:
        with pytest.raises(ValueError, match=f"'{field}'"):
            validate_record(_set(make_record(), "dataset.fingerprints", value))


def test_read_rejects_corrupt_files(tmp_path):
    store = ResultStore(tmp_path)
    rec = make_record()
    store.write(rec)
    path = store.path_for(rec)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        store.read(path)
    path.write_text(json.dumps(_set(rec, "seed", _DELETE)))
    with pytest.raises(ValueError, match=r"seed0\.json.*'seed' is missing"):
        store.read(path)


def test_records_sorted_and_filtered(tmp_path):
    store = ResultStore(tmp_path)
    recs = [
        make_record(method=m, seed=s, dataset=d)
        for m in ("vcop", "random_init", "supervised")
        for s in (2, 0, 1)
        for d in ("synthmotion", "hmdb51")
    ]
    for rec in reversed(recs):
        store.write(rec)
    listed = list(store.records())
    assert len(listed) == len(recs)
    rel = [store.path_for(r).relative_to(tmp_path).as_posix() for r in listed]
    assert rel == sorted(rel)
    # a second store filled in another order lists the same records in the same order
    other = ResultStore(tmp_path / "other")
    for rec in recs:
        other.write(rec)
    assert list(other.records()) == listed
    only = list(store.records(dataset="hmdb51"))
    assert len(only) == 9 and {r["dataset"]["name"] for r in only} == {"hmdb51"}
    assert list(ResultStore(tmp_path / "missing").records()) == []


def test_records_rejects_misplaced_file(tmp_path):
    store = ResultStore(tmp_path)
    rec = make_record(seed=0)
    store.write(rec)
    moved = store.path_for(rec).with_name("seed7.json")
    store.path_for(rec).rename(moved)
    with pytest.raises(ValueError, match="belongs at"):
        list(store.records())


def test_code_version_inside_this_repo():
    info = code_version()
    assert info["package"] == "0.1.0"
    assert isinstance(info["git_commit"], str) and len(info["git_commit"]) == 40
    assert isinstance(info["dirty"], bool)
    assert ResultStore.code_version() == info


def test_code_version_outside_a_repo(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert code_version(tmp_path) == {"package": "0.1.0", "git_commit": None, "dirty": None}
    assert code_version(tmp_path / "does-not-exist")["git_commit"] is None


def test_code_version_without_git(monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert code_version() == {"package": "0.1.0", "git_commit": None, "dirty": None}


# --------------------------------------------------------------------------------------------
# Concurrent writers: bench arrays and `eval all` fan out to many writers of the same store
# --------------------------------------------------------------------------------------------

WRITERS, TRIALS = 8, 4


def _race_one_key(root: str, writer: int, trials: int, barrier, results, force: bool = False) -> None:
    """Writer ``writer``: for each trial, wait for all writers, then store its own record under
    the trial's key (seed = trial; metric R@1 = writer). Puts (trial, writer, outcome) on ``results``;
    the outcome is write()'s return value or the name of the exception it raised."""
    store = ResultStore(root)
    for trial in range(trials):
        record = make_record(seed=trial, metrics={"R@1": float(writer)})
        barrier.wait()
        try:
            outcome = store.write(record, force=force)
        except Exception as exc:  # reported, so that the test says how a writer failed
            outcome = type(exc).__name__
        results.put((trial, writer, outcome))


def _collect(results, n: int) -> dict[int, dict[int, object]]:
    """{trial: {writer: outcome}} from ``n`` items of a queue."""
    by_trial: dict[int, dict[int, object]] = {}
    for _ in range(n):
        trial, writer, outcome = results.get(timeout=120)
        by_trial.setdefault(trial, {})[writer] = outcome
    return by_trial


def _check_one_winner(store: ResultStore, by_trial: dict[int, dict[int, object]]) -> None:
    """Each trial: exactly one writer was told "written" (True), every other "exists" (False), and
    the file holds exactly the winner's complete record; no temporary file is left."""
    assert sorted(by_trial) == list(range(TRIALS))
    for trial, outcomes in sorted(by_trial.items()):
        summary = sorted(map(repr, outcomes.values()))
        assert summary == ["False"] * (WRITERS - 1) + ["True"], f"trial {trial}: {outcomes}"
        winner = next(w for w, o in outcomes.items() if o is True)
        path = store.path_for(make_record(seed=trial))
        assert store.read(path) == make_record(seed=trial, metrics={"R@1": float(winner)})
        assert path.read_text() == json.dumps(store.read(path), indent=2, sort_keys=True) + "\n"
    # every trial's key is a file in one folder; nothing else is left there
    assert sorted(p.name for p in path.parent.iterdir()) == [f"seed{t}.json" for t in range(TRIALS)]


def test_concurrent_processes_one_key_exactly_one_written(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WRITERS), ctx.Queue()
    procs = [
        ctx.Process(target=_race_one_key, args=(str(tmp_path), w, TRIALS, barrier, results))
        for w in range(WRITERS)
    ]
    for p in procs:
        p.start()
    try:
        by_trial = _collect(results, WRITERS * TRIALS)
    finally:
        for p in procs:
            p.join(timeout=60)
    assert all(p.exitcode == 0 for p in procs)
    _check_one_winner(ResultStore(tmp_path), by_trial)


def _race_threads(root, force: bool, trials: int = TRIALS) -> dict[int, dict[int, object]]:
    import queue
    import threading

    barrier, results = threading.Barrier(WRITERS), queue.Queue()
    threads = [
        threading.Thread(target=_race_one_key, args=(str(root), w, trials, barrier, results, force))
        for w in range(WRITERS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return _collect(results, WRITERS * trials)


def test_concurrent_threads_one_key_exactly_one_written(tmp_path):
    _check_one_winner(ResultStore(tmp_path), _race_threads(tmp_path, force=False))


def test_concurrent_forced_writes_never_raise_and_leave_one_record(tmp_path):
    store = ResultStore(tmp_path)
    for trial, outcomes in sorted(_race_threads(tmp_path, force=True).items()):
        assert list(outcomes.values()) == [True] * WRITERS, f"trial {trial}: {outcomes}"
        path = store.path_for(make_record(seed=trial))
        stored = store.read(path)
        assert stored in [make_record(seed=trial, metrics={"R@1": float(w)}) for w in range(WRITERS)]
    assert sorted(p.name for p in path.parent.iterdir()) == [f"seed{t}.json" for t in range(TRIALS)]


def test_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    rec = make_record()

    def boom(fd):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", boom)
    for force in (False, True):
        with pytest.raises(OSError, match="disk gone"):
            store.write(rec, force=force)
        assert not store.exists(rec)
        assert list(store.path_for(rec).parent.iterdir()) == []


def test_stale_temporary_files_are_not_listed(tmp_path):
    """A writer killed mid-write leaves its hidden temporary file; listing and reading skip it."""
    import subprocess
    import sys

    store = ResultStore(tmp_path)
    rec = make_record()
    store.write(rec)
    path = store.path_for(rec)
    killed = (
        "import os, sys\n"
        "from ssl_video.io_utils import atomic_path\n"
        "tmp = atomic_path(sys.argv[1]).__enter__()\n"
        "tmp.write_text('{')\n"
        "os._exit(9)\n"
    )
    done = subprocess.run([sys.executable, "-c", killed, str(path)], check=False)
    assert done.returncode == 9
    stale = [p for p in path.parent.iterdir() if p != path]
    assert len(stale) == 1 and stale[0].name.startswith(".")
    assert store.paths() == [path] and list(store.records()) == [rec]
