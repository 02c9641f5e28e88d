"""Truncated videos: a file cut short (an interrupted download) whose header still declares the full
length. Real encoded files in each container the suite reads (AVI, MP4, WebM) are cut the way such
files come out, and ``data check`` must report them with both numbers while passing healthy files."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from ssl_video.cli import main
from ssl_video.datasets import check_dataset, load_dataset
from ssl_video.datasets.check import TRUNCATED, check_video
from ssl_video.video import declared_length, open_video
from ssl_video.video.writer import write_video

FRAMES, KEEP, FPS = 99, 13, 25
BACKENDS = ["decord", "pyav", "torchcodec"]


def scrolling(num_frames: int = FRAMES, size: int = 48, seed: int = 0) -> np.ndarray:
    """A noise texture scrolling sideways: every frame differs, like real footage."""
    texture = np.random.default_rng(seed).integers(0, 256, (size, 4 * size, 3), dtype=np.uint8)
    return np.stack([np.roll(texture, 2 * t, axis=1)[:, :size] for t in range(num_frames)])


def tone(seconds: float, rate: int = 16000) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def riff_chunks(data: bytes, start: int, end: int):
    """(fourcc, offset, size) of the RIFF chunks in data[start:end]."""
    offset = start
    while offset + 8 <= end:
        fourcc, size = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        yield fourcc, offset, size
        offset += 8 + size + (size & 1)


def cut_avi(src: Path, dst: Path, keep: int) -> Path:
    """Copy ``src`` up to its ``keep``-th video chunk: the idx1 index (after the movi list) is lost and
    the first ``keep`` frames remain, as in an interrupted download; the headers are left untouched."""
    data = src.read_bytes()
    movi = next(
        o for c, o, _ in riff_chunks(data, 12, len(data)) if c == b"LIST" and data[o + 8 : o + 12] == b"movi"
    )
    movi_end = movi + 8 + struct.unpack("<I", data[movi + 4 : movi + 8])[0]
    video = [o for c, o, _ in riff_chunks(data, movi + 12, movi_end) if c[2:] in (b"dc", b"db")]
    dst.write_bytes(data[: video[keep]])
    return dst


def faststart(src: Path, dst: Path) -> Path:
    """Remux an MP4 with its index (moov) first, as streaming sites serve them."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    return dst


def cut_mp4(src: Path, dst: Path, keep: int) -> Path:
    """A faststart copy of ``src`` cut in its media data (mdat) where the ``keep``-th video sample starts:
    the index still lists every sample, the bytes of all but the first ``keep`` are gone."""
    fast = faststart(src, dst.with_name(f"fast_{dst.name}"))
    with av.open(str(fast)) as container:
        positions = [p.pos for p in container.demux(container.streams.video[0]) if p.size]
    data = fast.read_bytes()
    dst.write_bytes(data[: sorted(positions)[keep]])
    return dst


def cut_tail(src: Path, dst: Path, fraction: float = 0.4) -> Path:
    """Keep the first ``fraction`` of the bytes (WebM: the cues and the later clusters are lost)."""
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


CUT = {".avi": cut_avi, ".mp4": cut_mp4, ".webm": lambda src, dst, keep: cut_tail(src, dst)}


@pytest.fixture(scope="module")
def cut_videos(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Per container: (a healthy 99-frame video with audio, a truncated copy of it)."""
    folder = tmp_path_factory.mktemp("cut")
    out = {}
    for ext, cut in CUT.items():
        good = write_video(folder / "good" / f"clip{ext}", scrolling(), fps=FPS, audio=tone(FRAMES / FPS))
        (folder / "cut").mkdir(exist_ok=True)
        out[ext] = (good, cut(good, folder / "cut" / f"clip{ext}", KEEP))
    return out


def test_the_cut_avi_reproduces_the_issue(cut_videos):
    """The index-less AVI: every reader lists 13 frames, PyAV's header still declares 99."""
    _, cut = cut_videos[".avi"]
    with av.open(str(cut)) as container:
        assert container.streams.video[0].frames == FRAMES
    for backend in BACKENDS:
        with open_video(cut, backend) as reader:
            assert reader.meta.num_frames == KEEP
            assert len(reader.read(list(range(KEEP)))) == KEEP  # what is left decodes fine


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("ext", list(CUT))
def test_truncated_video_is_reported_with_both_counts(cut_videos, ext, backend):
    good, cut = cut_videos[ext]
    assert check_video(str(good), backend) is None
    with open_video(cut, backend) as reader:
        decoded = reader.meta.num_frames
    assert decoded < FRAMES // 2
    source = "header frame count" if ext != ".webm" else "video duration 3.96 s x 25 fps"
    expected = f"declared {FRAMES} frames ({source}), decoded {decoded}"
    for decode in (True, False):
        outcome = check_video(str(cut), backend, decode=decode)
        assert outcome is not None, (ext, backend, decode)
        kind, reason = outcome
        assert kind == TRUNCATED
        assert reason.startswith(
            expected if decode else expected.replace("decoded", f"the {backend} reader lists")
        )


def test_declared_length_per_container(cut_videos):
    for good, cut in cut_videos.values():
        for path in (good, cut):  # the header survives the cut
            declared = declared_length(path)
            assert declared.frames == FRAMES and declared.fps == FPS, (path, declared)
            assert declared.seconds == pytest.approx(FRAMES / FPS, abs=1e-3)


def dropped_frames_avi(path: Path) -> Path:
    """A healthy AVI with 10 dropped frames (capture software skips them): the header declares 100
    frames, 90 decode, and the timestamps still run to the end."""
    frames = scrolling(100)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width = stream.height = frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.max_b_frames = 0
        for i in [*range(40), *range(50, 100)]:
            frame = av.VideoFrame.from_ndarray(frames[i], format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.parametrize("backend", BACKENDS)
def test_healthy_videos_are_not_reported(tmp_path, tiny_synth, backend):
    """Writer outputs in every container with and without audio (audio a little longer than the video,
    as in real files), an AVI with dropped frames, and SynthMotion: all ok."""
    folder = tmp_path / "healthy"
    for ext in CUT:
        write_video(folder / f"silent{ext}", scrolling(40, seed=1), fps=FPS)
        write_video(folder / f"sound{ext}", scrolling(40, seed=2), fps=FPS, audio=tone(40 / FPS + 0.5))
        write_video(folder / f"ntsc{ext}", scrolling(30, seed=3), fps=30)
    dropped = dropped_frames_avi(folder / "dropped.avi")
    with open_video(dropped, backend) as reader:
        assert reader.meta.num_frames == 90
    assert declared_length(dropped).frames == 100
    report = check_dataset(load_dataset("unlabeled", folder), backend=backend)
    assert report.ok == report.total == 10, report.format()
    synth = check_dataset(load_dataset("ucf101", tiny_synth, "all"), backend=backend, workers=2)
    assert synth.ok == synth.total > 0, synth.format()


def edit_list_mp4(path: Path, skip: int = 35) -> Path:
    """An MP4 cut without re-encoding the way ``ffmpeg -ss 1.4 -c copy`` cuts Kinetics clips: it keeps the
    packets from the keyframe before the cut and an edit list hides the first ``skip`` frames. The
    header counts every sample (99), a reader that honours the edit list shows 64."""
    src = path.with_name(f"src_{path.name}")
    with av.open(str(src), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width = stream.height = 48
        stream.pix_fmt = "yuv420p"
        stream.options = {"g": "50", "keyint_min": "50", "sc_threshold": "0", "bf": "0"}
        for i, image in enumerate(scrolling()):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with av.open(str(src)) as inp, av.open(str(path), "w") as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        shift = int(skip / FPS / inp.streams.video[0].time_base)
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.pts, packet.dts, packet.stream = packet.pts - shift, packet.dts - shift, stream
                out.mux(packet)
    return path


@pytest.mark.parametrize("backend", ["decord", "torchcodec"])  # the PyAV backend mis-indexes edit lists
def test_mp4_with_an_edit_list_is_not_reported(tmp_path, backend):
    path = edit_list_mp4(tmp_path / "clip.mp4")
    assert declared_length(path).frames == FRAMES
    with open_video(path, backend) as reader:
        assert reader.meta.num_frames == {"decord": FRAMES, "torchcodec": FRAMES - 35}[backend]
    assert check_video(str(path), backend) is None
    assert check_video(str(path), backend, decode=False) is None


def test_webm_with_only_a_container_duration(tmp_path):
    """Without per-track DURATION tags (other muxers than FFmpeg's) a WebM declares the segment's
    duration, which covers audio that outlasts the video: compared with all streams' packets."""
    written = write_video(tmp_path / "tagged.webm", scrolling(), fps=FPS, audio=tone(FRAMES / FPS + 0.5))
    data = written.read_bytes()
    assert data.count(b"DURATION") == 2  # one SimpleTag per track
    good = tmp_path / "good.webm"
    good.write_bytes(data.replace(b"DURATION", b"LASTTIME"))
    declared = declared_length(good)
    assert declared.all_streams and declared.source.startswith("container duration 4.4")
    assert declared.frames > FRAMES + 2  # the audio's half second more
    assert check_video(str(good)) is None
    cut = cut_tail(good, tmp_path / "cut.webm")
    kind, reason = check_video(str(cut))
    assert kind == TRUNCATED and reason.startswith(f"declared {declared.frames} frames (container duration")
    assert "all streams' packets end after" in reason


def test_data_check_cli_reports_the_truncated_avi(cut_videos, tmp_path, capsys):
    root = tmp_path / "videos"
    root.mkdir()
    for ext, (good, _) in cut_videos.items():
        (root / f"good{ext}").write_bytes(good.read_bytes())
    (root / "cut.avi").write_bytes(cut_videos[".avi"][1].read_bytes())
    code = main(["data", "check", "--dataset", "unlabeled", "--root", str(root)])
    out = capsys.readouterr().out
    assert code == 1
    assert "checked 4 videos: 3 ok, 1 with problems" in out
    assert f"{root / 'cut.avi'}: declared {FRAMES} frames (header frame count), decoded {KEEP}" in out
    code = main(["data", "check", "--dataset", "unlabeled", "--root", str(root), "--no-decode"])
    out = capsys.readouterr().out
    assert (
        code == 1 and f"declared {FRAMES} frames (header frame count), the decord reader lists {KEEP}" in out
    )
