"""Video decoding backends on real files written with ``write_video`` (no mocks).

Frame ``i`` of the test video shows a bright 8x8 square at grid cell ``i`` (6 rows x 8 columns), so a
decoded frame tells which frame it is; the audio is silence with a 440 Hz burst at 1.5-1.6 s.
"""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest

from ssl_video.video import BACKENDS, VideoDecodeError, open_video, read_metadata
from ssl_video.video.writer import write_video

T, H, W, FPS, RATE = 48, 64, 64, 16, 16000
BURST_S = (1.5, 1.6)
CONTAINERS = [".mp4", ".avi", ".webm"]
NAMES = sorted(BACKENDS)


def pattern_frames() -> np.ndarray:
    """(T, H, W, 3) uint8: frame i is dark with a bright square at grid cell i."""
    frames = np.full((T, H, W, 3), 30, np.uint8)
    for i in range(T):
        row, col = divmod(i, 8)
        frames[i, 8 + 8 * row : 16 + 8 * row, 8 * col : 8 * col + 8] = 230
    return frames


def frame_ids(frames: np.ndarray) -> list[int]:
    """Which frame each decoded (N, H, W, 3) frame is: the brightest grid cell."""
    cells = frames[:, 8:56].astype(np.float32).mean(-1).reshape(len(frames), 6, 8, 8, 8).mean(axis=(2, 4))
    return cells.reshape(len(frames), -1).argmax(1).tolist()


def burst_audio() -> np.ndarray:
    audio = np.zeros(T * RATE // FPS, np.float32)
    start, stop = (round(t * RATE) for t in BURST_S)
    audio[start:stop] = 0.5 * np.sin(2 * np.pi * 440 * np.arange(stop - start) / RATE)
    return audio


def energy_centre(audio: np.ndarray, rate: int) -> float:
    """Time (s from the window start) of the centre of mass of the signal energy."""
    energy = audio.astype(np.float64) ** 2
    return float((energy * np.arange(len(audio))).sum() / energy.sum() / rate)


def write_faststart_truncated(src, dst) -> None:
    """Remux ``src`` (video only) with the index first, then cut it in the middle of the packet 40% into
    the stream, so the header promises all frames but the data of the later ones is missing."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    data = dst.read_bytes()
    with av.open(str(dst)) as inp:
        packets = [(p.pos, p.size) for p in inp.demux(video=0) if p.size]
    pos, size = sorted(packets)[int(0.4 * len(packets))]
    dst.write_bytes(data[: pos + size // 2])


def write_avi_with_b_frames(path, frames: np.ndarray) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = W, H, "yuv420p", 400_000
        stream.codec_context.max_b_frames = 2
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("videos")
    frames = pattern_frames()
    paths = {
        ext: write_video(root / f"clip{ext}", frames, FPS, audio=burst_audio(), audio_rate=RATE)
        for ext in CONTAINERS
    }
    paths["silent"] = write_video(root / "silent.mp4", frames, FPS)
    (root / "empty.mp4").write_bytes(b"")
    (root / "random.mp4").write_bytes(
        np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    )
    (root / "text.mp4").write_text("this is not a video\n" * 100)
    data = paths[".mp4"].read_bytes()  # FFmpeg writes the index (moov) last: a cut file has none
    (root / "truncated.mp4").write_bytes(data[: int(0.4 * len(data))])
    write_faststart_truncated(paths["silent"], root / "truncated_faststart.mp4")
    write_avi_with_b_frames(root / "bframes.avi", frames)
    paths.update({name: root / f"{name}.mp4" for name in ("empty", "random", "text", "truncated")})
    paths["missing"] = root / "missing.mp4"
    paths["truncated_faststart"] = root / "truncated_faststart.mp4"
    paths["bframes"] = root / "bframes.avi"
    return paths


@pytest.mark.parametrize("ext", CONTAINERS)
def test_backends_agree_and_decode_the_right_frames(videos, ext):
    metas, decoded = {}, {}
    for name in NAMES:
        with open_video(videos[ext], name) as reader:
            assert reader.backend == name
            metas[name] = reader.meta
            decoded[name] = reader.read(range(T))
            shuffled = [40, 3, 3, 17, 0, 47]
            assert frame_ids(reader.read(shuffled)) == shuffled
    for meta in metas.values():
        assert (meta.num_frames, meta.width, meta.height, meta.has_audio) == (T, W, H, True)
        assert meta.fps == pytest.approx(FPS, abs=1e-3)
        assert meta.duration == pytest.approx(T / FPS, abs=0.1)
    assert len({m.audio_sample_rate for m in metas.values()}) == 1
    for name, frames in decoded.items():
        assert frame_ids(frames) == list(range(T)), name
        mad = np.abs(frames.astype(np.int16) - decoded["pyav"]).mean()
        assert mad < 2.0, f"{name} vs pyav: mean abs difference {mad:.2f}"
    assert read_metadata(videos[ext], "pyav") == metas["pyav"]


@pytest.mark.parametrize("width", [16, 48, 96, 80])
def test_frame_widths_that_decord_pads(tmp_path, width):
    """decord2 returns rows with alignment padding for some widths (e.g. (32, 16, 12) for 32x16)."""
    frames = np.random.default_rng(width).integers(0, 256, (12, 32, width, 3), dtype=np.uint8)
    path = write_video(tmp_path / "clip.mp4", frames, FPS)
    decoded = {}
    for name in NAMES:
        with open_video(path, name) as reader:
            decoded[name] = reader.read([7, 0, 11, 7])
        assert decoded[name].shape == (4, 32, width, 3)
        assert np.abs(decoded[name].astype(np.int16) - decoded["decord"]).mean() < 2.0, name


@pytest.mark.parametrize("backend", NAMES)
def test_read_returns_requested_order_and_validates_indices(videos, backend):
    path = videos[".mp4"]
    with open_video(path, backend) as reader:
        frames = reader.read(np.array([5, 2, 2, 9]))
        assert frames.shape == (4, H, W, 3) and frames.dtype == np.uint8 and frames.flags.c_contiguous
        assert frame_ids(frames) == [5, 2, 2, 9]
        assert np.array_equal(frames[1], frames[2])
        assert reader.read([]).shape == (0, H, W, 3)
        for bad in (-1, T):
            with pytest.raises(IndexError, match=rf"{re.escape(str(path))}.*index {bad}\b"):
                reader.read([0, bad])
        with pytest.raises(TypeError):
            reader.read([0.5])
    with pytest.raises(ValueError, match="closed"):
        reader.read([0])


@pytest.mark.parametrize("backend", NAMES)
def test_read_decodes_the_sorted_union_in_one_call(videos, backend):
    with open_video(videos[".mp4"], backend) as reader:
        calls = []
        decode = reader._decode_sorted

        def spy(indices):
            calls.append(list(indices))
            return decode(indices)

        reader._decode_sorted = spy
        assert frame_ids(reader.read([0, 47, 24, 0])) == [0, 47, 24, 0]
        assert calls == [[0, 24, 47]]


@pytest.mark.parametrize("ext", CONTAINERS)
@pytest.mark.parametrize("backend", NAMES)
def test_read_audio_length_position_and_padding(videos, ext, backend):
    with open_video(videos[ext], backend) as reader:
        for rate in (16000, 8000):
            window = reader.read_audio(1.0, 2.25, rate)
            assert window.shape == (round(1.25 * rate),) and window.dtype == np.float32
            # the burst's energy centre lies within one video frame of where it was written
            assert energy_centre(window, rate) + 1.0 == pytest.approx(np.mean(BURST_S), abs=1 / FPS)
        tail = reader.read_audio(2.9, 3.5, 8000)  # the stream ends at ~3.0 s (+ codec padding)
        assert tail.shape == (4800,) and not tail[round(0.2 * 8000) :].any()
        assert not reader.read_audio(-1.0, -0.5, 8000).any()
        assert reader.read_audio(1.0, 1.0).shape == (0,)


@pytest.mark.parametrize("ext", CONTAINERS)
def test_audio_agrees_between_backends(videos, ext):
    """Same samples up to a sub-millisecond shift (WebM stores ms timestamps, Opus skips 6.5 ms)."""
    windows = {}
    for name in NAMES:
        with open_video(videos[ext], name) as reader:
            windows[name] = reader.read_audio(1.2, 2.0)
    for name, audio in windows.items():
        lags = range(-16, 17)  # +-1 ms at 16 kHz
        errors = [np.abs(np.roll(audio, lag) - windows["pyav"])[16:-16].max() for lag in lags]
        assert min(errors) < 1e-3, name


@pytest.mark.parametrize("backend", NAMES)
def test_read_audio_without_audio_stream(videos, backend):
    with open_video(videos["silent"], backend) as reader:
        assert not reader.meta.has_audio and reader.meta.audio_sample_rate is None
        with pytest.raises(VideoDecodeError, match="no audio stream") as info:
            reader.read_audio(0.0, 1.0)
        assert info.value.path == str(videos["silent"])


@pytest.mark.parametrize("case", ["missing", "empty", "random", "text", "truncated"])
@pytest.mark.parametrize("backend", NAMES)
def test_unreadable_files_raise_video_decode_error(videos, backend, case):
    path = videos[case]
    with pytest.raises(VideoDecodeError) as info:
        open_video(path, backend)
    assert str(info.value).startswith(f"{path}: ") and info.value.path == str(path)
    with pytest.raises(VideoDecodeError):
        read_metadata(path, backend)


def test_truncated_frame_data_raises_on_the_missing_frames(videos):
    """A file whose index survives but whose frame data is cut: every backend counts the packets that
    are present and raises VideoDecodeError for the cut frames, never returns wrong ones."""
    path = videos["truncated_faststart"]
    counts = set()
    for name in NAMES:
        with open_video(path, name) as reader:
            n = reader.meta.num_frames
            counts.add(n)
            try:
                assert frame_ids(reader.read([0, 1])) == [0, 1]
            except VideoDecodeError:
                assert name == "decord"  # its decoder reads ahead into the cut packet even for frame 0
            with pytest.raises(VideoDecodeError, match=re.escape(str(path))):
                reader.read([n - 1])
            with pytest.raises(IndexError):
                reader.read([T - 1])
    assert len(counts) == 1 and 0 < counts.pop() < T


def test_avi_with_b_frames(videos):
    """Only PyAV indexes AVI B-frame streams exactly; decord and torchcodec refuse instead of
    returning wrong frames."""
    path = videos["bframes"]
    with open_video(path, "pyav") as reader:
        assert reader.meta.num_frames == T
        assert frame_ids(reader.read(range(T))) == list(range(T))
        assert frame_ids(reader.read([40, 3, 3, 17, 0, 47])) == [40, 3, 3, 17, 0, 47]
    for name in ("decord", "torchcodec"):
        with pytest.raises(VideoDecodeError, match="B-frames"):
            open_video(path, name)


def test_writer_avi_frame_count_is_exact(videos):
    with av.open(str(videos[".avi"])) as container:
        assert container.streams.video[0].frames == T


def test_registry_and_error_type():
    assert set(BACKENDS) == {"decord", "torchcodec", "pyav"}
    with pytest.raises(ValueError, match="decord, pyav, torchcodec"):
        open_video("x.mp4", backend="opencv")
    error = pickle.loads(pickle.dumps(VideoDecodeError("a.mp4", "broken")))
    assert (str(error), error.path, error.reason) == ("a.mp4: broken", "a.mp4", "broken")


def test_importing_the_decoders_first_keeps_torch_matmul_working():
    """decord2 preloads libnvblas globally; torch loaded after it segfaulted in nn.Linear."""
    code = "import ssl_video.video, torch; print(torch.nn.Linear(8, 4)(torch.randn(2, 8)).shape)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
