"""The package's one atomic-write helper (io_utils): unique temporary files, fsync of file and
folder, replace or exclusive publish, cleanup on failure; real files, real threads."""

from __future__ import annotations

import errno
import os
import stat
import threading

import pytest

from ssl_video.io_utils import atomic_path, atomic_write_bytes, atomic_write_json, atomic_write_text

N = 8


def _race(fn, n: int = N) -> list[object]:
    """Run ``fn(i)`` in ``n`` threads released together; each one's return value or exception."""
    barrier, out = threading.Barrier(n), [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fn(i)
        except Exception as exc:  # kept, so that a failing test shows what each writer got
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return out


def _payload(i: int) -> bytes:
    """2 MiB, different for every writer, so a torn or interleaved file cannot pass as one of them."""
    return bytes([i]) * (2 << 20)


def test_threads_replacing_one_file_never_fail_and_leave_one_payload(tmp_path):
    path = tmp_path / "out.bin"
    for _ in range(5):
        out = _race(lambda i: atomic_write_bytes(path, _payload(i)))
        assert out == [path] * N
        assert path.read_bytes() in {_payload(i) for i in range(N)}
        assert os.listdir(tmp_path) == ["out.bin"]


def test_exclusive_writes_have_exactly_one_winner(tmp_path):
    for trial in range(5):
        path = tmp_path / f"t{trial}" / "out.bin"
        out = _race(lambda i, path=path: atomic_write_bytes(path, _payload(i), exclusive=True))
        winners = [i for i, o in enumerate(out) if o == path]
        assert len(winners) == 1, out
        assert all(isinstance(o, FileExistsError) for i, o in enumerate(out) if i != winners[0]), out
        assert path.read_bytes() == _payload(winners[0])
        assert os.listdir(path.parent) == ["out.bin"]


def test_exclusive_write_never_touches_an_existing_file(tmp_path):
    path = atomic_write_text(tmp_path / "a.json", "old\n")
    with pytest.raises(FileExistsError, match="a.json"):
        atomic_write_json(path, {"new": 1}, exclusive=True)
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["a.json"]
    assert atomic_write_json(path, {"new": 1}).read_text() == '{\n  "new": 1\n}\n'


def test_exclusive_without_hard_links_falls_back_to_an_exclusive_create(tmp_path, monkeypatch):
    """Filesystems without hard links (FAT, some FUSE and SMB mounts) answer link() with EPERM."""

    def no_links(src, dst, *args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted", os.fspath(src))

    monkeypatch.setattr(os, "link", no_links)
    for trial in range(5):
        path = tmp_path / f"t{trial}.bin"
        out = _race(lambda i, path=path: atomic_write_bytes(path, _payload(i), exclusive=True))
        winners = [i for i, o in enumerate(out) if o == path]
        assert len(winners) == 1 and sum(isinstance(o, FileExistsError) for o in out) == N - 1, out
        assert path.read_bytes() == _payload(winners[0])
    assert sorted(os.listdir(tmp_path)) == [f"t{t}.bin" for t in range(5)]


def test_atomic_path_yields_a_unique_hidden_sibling_with_the_suffix(tmp_path):
    path = tmp_path / "sub" / "clip.mp4"
    with atomic_path(path, suffix=".mp4") as a, atomic_path(path, suffix=".mp4") as b:
        assert a != b and a.parent == b.parent == path.parent
        assert a.name.startswith(".") and a.name.endswith(".mp4") and a.exists() and not path.exists()
        a.write_bytes(b"first")
        b.write_bytes(b"second")
    # b (the inner block) is published first, then a replaces it
    assert path.read_bytes() == b"first" and os.listdir(path.parent) == ["clip.mp4"]


def test_failure_inside_leaves_the_old_file_and_no_temporary(tmp_path):
    path = atomic_write_bytes(tmp_path / "model.pt", b"old")
    with pytest.raises(RuntimeError, match="encoder crashed"), atomic_path(path) as tmp:
        tmp.write_bytes(b"half a fi")
        raise RuntimeError("encoder crashed")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["model.pt"]


def test_file_and_folder_are_fsynced_and_the_umask_is_honoured(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def spy(fd):
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    old = os.umask(0o027)
    try:
        path = atomic_write_bytes(tmp_path / "x" / "y.bin", b"data", exclusive=True)
    finally:
        os.umask(old)
    assert synced == ["file", "dir"]
    assert path.read_bytes() == b"data" and stat.S_IMODE(path.stat().st_mode) == 0o640


# --------------------------------------------------------------------------------------------
# The package's writers that go through the helper: concurrent threads, failures
# --------------------------------------------------------------------------------------------


def _cache_writer():
    import numpy as np

    from ssl_video.datasets import VideoRecord
    from ssl_video.evaluation.cache import FeatureCache

    records = [VideoRecord(path=f"/v/{n}.mp4", rel_path=f"{n}.mp4", label=0, split="test") for n in "abc"]
    key, ok = {"entry": 1}, np.ones(3, dtype=bool)

    def write(path, i):
        FeatureCache(path.parent).save(path, key, records, np.full((3, 64), i, np.float32), ok)

    def read(path):
        features, _ = FeatureCache(path.parent).load(path, key, records)
        assert (features == features[0, 0]).all()
        return int(features[0, 0])

    return "entry.npz", write, read


def _checkpoint_writer():
    import torch

    from ssl_video.engine.checkpoint import atomic_torch_save, load_file

    def read(path):
        weights = load_file(path)["w"]
        assert (weights == weights[0]).all()
        return int(weights[0])

    return "last.pt", lambda path, i: atomic_torch_save({"w": torch.full((50_000,), i)}, path), read


def _video_writer():
    import av
    import numpy as np

    from ssl_video.video.writer import write_video

    def write(path, i):
        write_video(path, np.full((8, 16, 16, 3), 20 + 25 * i, np.uint8), fps=8)

    def read(path):
        with av.open(str(path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert len(frames) == 8
        return round((float(np.mean(frames)) - 20) / 25)

    return "clip.mp4", write, read


def _sidecar_writer():
    from ssl_video.datasets.synthmotion import _write_text

    return (
        "clip.json",
        lambda path, i: _write_text(path, f"{i}\n" * 100_000),
        lambda p: int(p.read_text()[:1]),
    )


WRITERS = {
    "feature_cache": _cache_writer,
    "checkpoint": _checkpoint_writer,
    "video": _video_writer,
    "synthmotion_sidecar": _sidecar_writer,
}


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_package_writers_with_concurrent_threads_on_one_file(tmp_path, kind):
    name, write, read = WRITERS[kind]()
    path = tmp_path / name
    for _ in range(3):
        out = _race(lambda i: write(path, i))
        assert not [o for o in out if isinstance(o, Exception)], out
        assert read(path) in range(N)
        assert os.listdir(tmp_path) == [name]


def test_package_writers_remove_their_temporary_file_on_failure(tmp_path):
    import numpy as np
    import torch

    from ssl_video.datasets import VideoRecord
    from ssl_video.engine.checkpoint import atomic_torch_save
    from ssl_video.evaluation.cache import FeatureCache
    from ssl_video.video.writer import write_video

    with pytest.raises(ValueError, match="audio must be mono"):  # raised after the muxer opened the file
        write_video(tmp_path / "clip.mp4", np.zeros((4, 16, 16, 3), np.uint8), audio=np.zeros((2, 800)))
    with pytest.raises(TypeError, match="not JSON serializable"):
        record = VideoRecord(path="/v/a.mp4", rel_path="a.mp4", label=0, split="test")
        FeatureCache(tmp_path).save(tmp_path / "e.npz", {"bad": object()}, [record], np.ones((1, 2)), [True])
    with pytest.raises(Exception, match="pickle"):
        atomic_torch_save({"w": torch.zeros(2), "fn": lambda: 0}, tmp_path / "last.pt")
    assert os.listdir(tmp_path) == []
