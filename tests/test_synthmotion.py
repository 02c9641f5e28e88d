"""SynthMotion: layout, determinism, audio sync, and the property that only motion carries the class.

The motion oracle used in ``test_single_frame_is_uninformative_but_motion_separates`` is documented at
``motion_feature`` below and in ``datasets/synthmotion.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ssl_video.datasets.synthmotion import (
    ARROW_CLASSES,
    BENCHMARK_CLASSES,
    CLASS_NAMES,
    EVENT_FREQS_HZ,
    PRESETS,
    SELF_REVERSE_CLASSES,
    TIME_REVERSE_PAIRS,
    TRANSFER_CLASSES,
    SynthMotionConfig,
    generate_synthmotion,
    render_video,
    split_test_groups,
)

SMALL = SynthMotionConfig(groups=3, clips_per_group=2, size=32, frames=24)


@pytest.fixture(scope="module")
def small_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthmotion") / "root"
    summary = generate_synthmotion(root, SMALL)
    assert summary["written"] == summary["videos"] == 12 * 3 * 2
    return root


def _decode(path: Path) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Decode with PyAV: frames (T, H, W, 3) uint8, audio (S,) float32, audio rate, audio start (s)."""
    with av.open(str(path)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.channels == 1
        chunks, start = [], None
        for frame in container.decode(stream):
            start = float(frame.pts * frame.time_base) if start is None else start
            chunks.append(frame.to_ndarray().reshape(-1))
        return frames, np.concatenate(chunks), stream.rate, start


# ------------------------------------------------------------------------------------------------
# 1. layout


def test_config_classes_and_pairs():
    assert len(BENCHMARK_CLASSES) == 12 and SynthMotionConfig().classes == BENCHMARK_CLASSES
    assert not set(BENCHMARK_CLASSES) & set(TRANSFER_CLASSES)  # the transfer gate's classes are disjoint
    assert SynthMotionConfig(classes=4).classes == BENCHMARK_CLASSES[:4]
    assert SynthMotionConfig(classes=["Orbit", "Spiral"]).classes == ("Orbit", "Spiral")
    with pytest.raises(ValueError):
        SynthMotionConfig(classes=("Walk",))
    paired = [c for pair in TIME_REVERSE_PAIRS for c in pair]
    assert sorted(paired + list(SELF_REVERSE_CLASSES) + ["DampedHop", "DampedSwing", "Spiral"]) == sorted(
        CLASS_NAMES
    )
    for name in ARROW_CLASSES:  # played backwards, an arrow class is no benchmark class
        partner = [b for a, b in TIME_REVERSE_PAIRS if a == name] + [
            a for a, b in TIME_REVERSE_PAIRS if b == name
        ]
        assert name in BENCHMARK_CLASSES and not set(partner) & set(BENCHMARK_CLASSES)
    assert split_test_groups(10, 1) == (1, 2, 3) and split_test_groups(10, 3) == (7, 8, 9)
    assert split_test_groups(25, 2) == tuple(range(8, 15))  # UCF101's g08-g14


def test_layout(small_root: Path):
    cfg = SMALL
    class_ind = (small_root / "classInd.txt").read_text().splitlines()
    assert class_ind == [f"{i} {name}" for i, name in enumerate(BENCHMARK_CLASSES, 1)]
    videos = sorted(p.relative_to(small_root).as_posix() for p in small_root.glob("*/*.mp4"))
    assert len(videos) == 72 and not list(small_root.rglob(".*"))  # no temp files left behind
    for rel in videos:
        name, stem = rel.split("/")
        assert stem.startswith(f"v_{name}_g") and (small_root / rel).with_suffix(".json").exists()
    group_of = {rel: int(rel.split("_g")[1][:2]) for rel in videos}
    for k in (1, 2, 3):
        train = [line.split() for line in (small_root / f"trainlist0{k}.txt").read_text().splitlines()]
        test = (small_root / f"testlist0{k}.txt").read_text().splitlines()
        assert all(len(t) == 2 and int(t[1]) == cfg.classes.index(t[0].split("/")[0]) + 1 for t in train)
        train_paths = [t[0] for t in train]
        assert sorted(train_paths + test) == videos and not set(train_paths) & set(test)
        train_groups, test_groups = {group_of[p] for p in train_paths}, {group_of[p] for p in test}
        assert not train_groups & test_groups and test_groups == set(split_test_groups(cfg.groups, k))
    meta = json.loads((small_root / "synthmotion.json").read_text())
    assert meta["config"] == cfg.to_dict() and meta["counts"]["videos"] == 72
    frames, audio, rate, _ = _decode(small_root / videos[0])
    assert frames.shape == (cfg.frames, cfg.size, cfg.size, 3)
    assert rate == cfg.audio_rate and abs(len(audio) / rate - cfg.frames / cfg.fps) < 0.1


def test_rerun_writes_nothing_and_other_config_is_refused(small_root: Path, tmp_path: Path):
    mtimes = {p: p.stat().st_mtime_ns for p in small_root.rglob("*")}
    summary = generate_synthmotion(small_root, SMALL)
    assert summary["written"] == 0 and summary["seconds"] < 5
    assert {p: p.stat().st_mtime_ns for p in small_root.rglob("*")} == mtimes
    with pytest.raises(ValueError, match="config"):
        generate_synthmotion(small_root, SynthMotionConfig(groups=3, clips_per_group=2, size=32, seed=1))
    (tmp_path / "other.txt").write_text("not a dataset")
    with pytest.raises(ValueError, match="not empty"):
        generate_synthmotion(tmp_path, SMALL)


# ------------------------------------------------------------------------------------------------
# 2. determinism

TINY = SynthMotionConfig(
    classes=("Bounce", "RotateCW", "Jitter"), groups=2, clips_per_group=1, size=32, frames=16
)


def test_render_is_deterministic_and_seeded():
    a = render_video(TINY, "Jitter", 2, 1)
    b = render_video(TINY, "Jitter", 2, 1)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
    c = render_video(SynthMotionConfig(**{**TINY.to_dict(), "seed": 1}), "Jitter", 2, 1)
    assert not np.array_equal(a[0], c[0]) and a[2]["appearance"] != c[2]["appearance"]


@pytest.fixture(scope="module")
def twin_roots(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("twins")
    generate_synthmotion(base / "a", TINY, workers=1)
    generate_synthmotion(base / "b", TINY, workers=2)
    return base / "a", base / "b"


def test_generation_is_deterministic_across_runs_and_workers(twin_roots):
    a, b = twin_roots
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file() and p.suffix != ".mp4")
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file() and p.suffix != ".mp4")
    for rel in files:  # sidecars, lists, classInd, synthmotion.json: byte-identical
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_decoded_frames_are_identical_across_runs(twin_roots):
    a, b = twin_roots
    for mp4 in sorted(a.glob("*/*.mp4")):
        assert np.array_equal(_decode(mp4)[0], _decode(b / mp4.relative_to(a))[0]), mp4


# ------------------------------------------------------------------------------------------------
# 3. audio sync


def _burst_onsets(audio: np.ndarray, rate: int, threshold: float = 0.05) -> np.ndarray:
    """Start times (s) of tone bursts: 2 ms windows whose RMS rises above ``threshold``."""
    win = rate // 500
    n = len(audio) // win
    loud = np.sqrt((audio[: n * win].reshape(n, win) ** 2).mean(1)) > threshold
    starts = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    return np.r_[np.flatnonzero(loud[:1]), starts] * win / rate


def test_audio_bursts_are_synchronised_with_visual_events(small_root: Path):
    checked = 0
    for sidecar_path in sorted(small_root.glob("*/*.json")):
        sidecar = json.loads(sidecar_path.read_text())
        _, audio, rate, start = _decode(sidecar_path.with_suffix(".mp4"))
        onsets = _burst_onsets(audio, rate) + start
        events = np.array(sorted({e["time"] for e in sidecar["events"]}))
        # every burst starts at an event's exact time (within the 2 ms detection window) ...
        assert all(np.abs(events - onset).min() < 0.005 for onset in onsets), (sidecar_path.name, onsets)
        # ... and every event that is not inside an earlier event's burst starts one
        separate = events[np.r_[True, np.diff(events) > 0.1]] if len(events) else events
        assert all(np.abs(onsets - t).min() < 0.005 for t in separate), (sidecar_path.name, events, onsets)
        expected = separate
        times = [e["time"] for e in sidecar["events"]]
        for ev in sidecar["events"]:  # a lone burst has its event type's frequency
            if all(abs(t - ev["time"]) > 0.1 for t in times if t != ev["time"]):
                i0 = round((ev["time"] - start + 0.005) * rate)
                seg = audio[i0 : i0 + round(0.03 * rate)]
                peak = np.fft.rfftfreq(len(seg), 1 / rate)[
                    np.abs(np.fft.rfft(seg * np.hanning(len(seg)))).argmax()
                ]
                assert abs(peak - EVENT_FREQS_HZ[ev["type"]]) < 80, (sidecar_path.name, ev, peak)
        checked += len(expected)
    assert checked > 100


def test_events_match_the_motion():
    cfg = SynthMotionConfig(classes=CLASS_NAMES, groups=2, clips_per_group=2)
    for name in ("Bounce", "Hop", "DampedHop", "ZigZag", "Jitter"):
        _, _, sidecar = render_video(cfg, name, 1, 2)
        track = np.stack([sidecar["track"]["x"], sidecar["track"]["y"]], 1)
        step = np.diff(track, axis=0)
        step = (step + cfg.size / 2) % cfg.size - cfg.size / 2  # displacements on the torus
        times = [e["time"] * cfg.fps for e in sidecar["events"] if e["type"] != "flash"]
        assert times, name
        for t in times:
            before, after = step[int(np.floor(t)) - 1], step[int(np.ceil(t))]
            if name == "Bounce":  # wall contact: the centre is on the frame border (the torus seam)
                f = int(round(t))
                assert np.min(np.minimum(track[f], cfg.size - track[f])) < 0.6 * np.abs(step).max()
            elif name in ("Hop", "DampedHop"):  # floor contact: the motion along gravity reverses
                if min(abs(t - u) for u in times + [cfg.frames - 1] if u != t) < 3:
                    continue  # the last hops of DampedHop last a frame or two: no direction to read
                g = np.radians(sidecar["motion"]["gravity_deg"])
                down = np.array([np.cos(g), np.sin(g)])
                assert before @ down > 0 > after @ down, (name, t)
            else:  # direction change: consecutive displacements point apart
                assert before @ after < 0, (name, t)


def test_motion_constants_stay_in_narrow_bands():
    """Each class's speed constant varies by at most +-speed_spread, so a 2x speed-up leaves the band."""
    cfg = SynthMotionConfig(groups=4, clips_per_group=4)
    nominal = cfg.speed * cfg.size
    speeds = [
        render_video(cfg, "TranslateRight", g, c)[2]["motion"]["px_per_unit"]
        for g in range(1, 5)
        for c in range(1, 5)
    ]
    assert nominal * (1 - cfg.speed_spread) <= min(speeds) <= max(speeds) <= nominal * (1 + cfg.speed_spread)
    assert max(speeds) < 2 * min(speeds) / (1 + cfg.speed_spread) * (1 - cfg.speed_spread) * 2
    periods = [render_video(cfg, "Hop", g, 1)[2]["motion"]["period_units"] for g in range(1, 5)]
    assert max(periods) / min(periods) < 1.36  # (1.15 / 0.85): far from the 2x of a speed-up


def test_presets_fit_every_recipe_unmodified():
    """``cpu``: >= 600 test videos in split 1; ``paper``: every pretext recipe's own clip parameters fit."""
    import yaml

    from ssl_video.pretext import create_task
    from ssl_video.pretext.base import Probe
    from ssl_video.video import VideoMeta

    cpu, paper = SynthMotionConfig.preset("cpu"), SynthMotionConfig.preset("paper")
    per_group = cpu.clips_per_group * len(cpu.classes)
    assert len(split_test_groups(cpu.groups, 1)) * per_group >= 600
    assert paper.size >= 128 and paper.frames >= 160 and set(PRESETS) == {"cpu", "paper"}
    frames = render_video(SynthMotionConfig.preset("paper", groups=2, clips_per_group=1), "Hop", 1, 1)[0]
    meta = VideoMeta(
        "paper.mp4", len(frames), paper.fps, len(frames) / paper.fps, paper.size, paper.size, True, 16000
    )
    rng = np.random.default_rng(0)
    for recipe in sorted(Path("pretext").glob("*.yaml")):  # each task with its paper parameters, unmodified
        spec = yaml.safe_load(recipe.read_text())["task"]
        params = dict(spec.get("params", {}), **({"num_classes": 12} if spec["name"] == "supervised" else {}))
        task = create_task(spec["name"], params)
        assert task.min_frames() <= paper.frames, recipe.name
        probe_at = task.probe_frames(meta)
        if probe_at is None:
            plan = task.plan(meta, rng)
        else:
            plan = task.plan(meta, rng, probe=Probe(probe_at, frames[probe_at]))
        sample = task.make_sample([frames[np.asarray(v)] for v in plan.views], plan, rng)
        assert "target" in sample or spec["name"] == "supervised", recipe.name  # its label is the record's
    with pytest.raises(ValueError, match="preset"):
        SynthMotionConfig.preset("huge")


def test_nuisances_are_symmetric_in_time_and_drift_is_a_probe():
    """Frame brightness has no trend over a video by default; the exposure-drift probe adds one."""
    cfg = SynthMotionConfig(groups=2, clips_per_group=3)
    probe = SynthMotionConfig(groups=2, clips_per_group=3, exposure_drift=(0.2, 0.5))
    t = np.arange(cfg.frames) - (cfg.frames - 1) / 2

    def trend(c: SynthMotionConfig) -> np.ndarray:
        out = []
        for name in c.classes:
            for g in (1, 2):
                for clip in (1, 2, 3):
                    luma = render_video(c, name, g, clip)[0].mean((1, 2, 3))
                    out.append(abs((luma - luma.mean()) @ t / (t @ t)) * (cfg.frames - 1) / luma.mean())
        return np.array(out)  # |relative brightness change over the video| from a linear fit

    default, drifted = trend(cfg), trend(probe)
    assert np.median(default) < 0.03 and np.median(drifted) > 0.15, (np.median(default), np.median(drifted))


# ------------------------------------------------------------------------------------------------
# 4. the property: one frame says (almost) nothing about the class, motion says it all


def _wrap(z: np.ndarray, n: int) -> np.ndarray:
    return (z + n / 2) % n - n / 2


def _change_centres(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per difference image d (N, H, W): sub-pixel centre of the strongest change blob on the torus.

    The peak of d^2 box-summed over a square of side about the sprite's radius (0.25 W, at least 9
    pixels), refined by the d^2-weighted mean within 0.5 W (the sprite's largest radius is 0.43 W).
    """
    n, h, w = d.shape
    half = max(4, round(0.125 * w))
    energy = d * d
    blurred = energy.copy()
    for axis in (1, 2):
        acc = blurred.copy()
        for s in range(1, half + 1):
            acc += np.roll(blurred, s, axis) + np.roll(blurred, -s, axis)
        blurred = acc
    peak = blurred.reshape(n, -1).argmax(1)
    py, px = peak // w, peak % w
    dx = _wrap(np.arange(w)[None, None, :] - px[:, None, None], w)
    dy = _wrap(np.arange(h)[None, :, None] - py[:, None, None], h)
    weights = energy * (dx * dx + dy * dy < (0.5 * w) ** 2)
    mass = weights.sum((1, 2)) + 1e-9
    return px + (weights * dx).sum((1, 2)) / mass, py + (weights * dy).sum((1, 2)) / mass


def _curl_div(grey: np.ndarray, step: int, fixed_centre: bool) -> tuple[np.ndarray, np.ndarray]:
    """Normal-flow evidence for rotation and dilation between frames t and t + step.

    With D = f[t+step] - f[t] and (Gx, Gy) the spatial gradient, brightness constancy says
    D ~ -(u Gx + v Gy). Around the change centre (X, Y) a clockwise rotation (y down) has flow
    (u, v) ~ (-Y, X) and a dilation (X, Y); the returned values are the correlations of -D with
    X Gy - Y Gx (curl) and X Gx + Y Gy (div) over the moving pixels near the centre, in [-1, 1].
    ``fixed_centre`` uses one centre for the whole clip (robust for sprites that stay in place).
    """
    _, h, w = grey.shape
    d = grey[step:] - grey[:-step]
    mid = 0.5 * (grey[step:] + grey[:-step])
    gx = 0.5 * (np.roll(mid, -1, 2) - np.roll(mid, 1, 2))
    gy = 0.5 * (np.roll(mid, -1, 1) - np.roll(mid, 1, 1))
    if fixed_centre:
        cx, cy = (np.repeat(c, len(d)) for c in _change_centres(np.sqrt((d * d).sum(0, keepdims=True))))
    else:
        cx, cy = _change_centres(d)
    x = _wrap(np.arange(w)[None, None, :] - cx[:, None, None], w)
    y = _wrap(np.arange(h)[None, :, None] - cy[:, None, None], h)
    near = (x * x + y * y < (0.5 * w) ** 2) & (np.abs(d) > 0.03)

    def corr(pattern: np.ndarray) -> np.ndarray:
        pattern = pattern * near
        return -(d * pattern).sum((1, 2)) / np.sqrt(
            (d * d * near).sum((1, 2)) * (pattern**2).sum((1, 2)) + 1e-9
        )

    return corr(x * gy - y * gx), corr(x * gx + y * gy)


def sprite_track(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sprite centre per frame (T,), (T,): the strongest blob of the difference to the median frame (the
    static background; camera shake of a pixel or two leaves only faint texture edges in it)."""
    return _change_centres(grey - np.median(grey, 0))


def motion_feature(frames: np.ndarray, lags: int = 12) -> np.ndarray:
    """Oracle motion feature of a video (T, H, W, 3) uint8 -> (75,) from its pixels.

    Grey frames are divided by their mean (flicker and gain cancel).

    * rotation / scaling: medians of the curl and div correlations and of their absolute values (see
      ``_curl_div``), at step 1 around the per-step centre and at step 4 around a clip-wide centre, and
      the median |curl| in each third of the video (spinning down);
    * the sprite's path (``sprite_track``, unwrapped on the torus, smoothed over 3 frames): medians of
      its velocity, speed and speed spread, straightness, acceleration and how constant its direction
      is (gravity), direction persistence, reversals and turning (cross products) at lags 2, 4 and 8,
      the median speed and the extent of the path in each quarter of the video and their log ratios
      last/first (motions that die out), and the velocity autocorrelation at lags 1..``lags``.
    """
    grey = frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255.0
    grey = 0.5 * grey / grey.mean((1, 2), keepdims=True)
    _, h, w = grey.shape
    med = np.median
    feats = []
    for step, fixed in ((1, False), (4, True)):
        curl, div = _curl_div(grey, step, fixed)
        feats += [med(curl), med(np.abs(curl)), med(div), med(np.abs(div))]
        feats += [med(part) for part in np.array_split(np.abs(curl), 3)]
    cx, cy = sprite_track(grey)
    px = np.r_[0, np.cumsum(_wrap(np.diff(cx), w))]
    py = np.r_[0, np.cumsum(_wrap(np.diff(cy), h))]
    sx, sy = (np.convolve(p, np.ones(3) / 3, "valid") for p in (px, py))
    u, v = np.diff(sx), np.diff(sy)
    speed = np.hypot(u, v) + 1e-9
    au, av = np.diff(u), np.diff(v)
    acc = np.hypot(au, av)
    energy = (u * u + v * v).mean() + 1e-9
    acf = [(u[k:] * u[:-k] + v[k:] * v[:-k]).mean() / energy for k in range(1, lags + 1)]
    feats += [med(u), med(v), med(speed), speed.mean(), speed.std() / speed.mean()]
    feats += [np.hypot(u.mean(), v.mean()) / speed.mean(), med(acc) / speed.mean(), acc.mean()]
    feats += [np.hypot(au.mean(), av.mean()) / (acc.mean() + 1e-9)]
    for lag in (2, 4, 8):
        du, dv = sx[lag:] - sx[:-lag], sy[lag:] - sy[:-lag]
        norm = np.hypot(du, dv) + 1e-9
        cos = (du[lag:] * du[:-lag] + dv[lag:] * dv[:-lag]) / (norm[lag:] * norm[:-lag])
        cross = (du[:-lag] * dv[lag:] - dv[:-lag] * du[lag:]) / (norm[lag:] * norm[:-lag])
        feats += [med(cos), (cos < 0).mean(), med(cross), med(np.abs(cross)), abs(cross.mean()), med(norm)]
    quarters = [med(part) for part in np.array_split(speed, 4)]
    feats += quarters + [np.log((quarters[3] + 0.05) / (quarters[0] + 0.05))]
    extent = [np.hypot(np.ptp(a), np.ptp(b)) for a, b in zip(np.array_split(sx, 4), np.array_split(sy, 4))]
    feats += extent + [np.log((extent[3] + 0.5) / (extent[0] + 0.5))]
    return np.array(feats + acf)


def _linear_probe(x_train, y_train, x_test, y_test, c: float) -> float:
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
    return clf.fit(x_train, y_train).score(x_test, y_test)


def test_single_frame_is_uninformative_but_motion_separates():
    """The calibration gates that need no training, on rendered videos of the 12 benchmark classes x 8
    groups x 8 clips, split 1 (test groups g01-g02 = 192 videos, train 576):

    * a single-frame appearance probe (2 random frames per video, 16x16 average-pooled RGB, logistic
      regression) stays within chance + 3 standard errors;
    * the hand-made motion oracle (``motion_feature``, gradient-boosted trees) reaches >= 90 %.
    Measured figures: datasets/synthmotion.md.
    """
    cfg = SynthMotionConfig(groups=8, clips_per_group=8)
    test_groups = split_test_groups(cfg.groups, 1)
    clips, labels, is_test = [], [], []
    for label, name in enumerate(cfg.classes):
        for group in range(1, cfg.groups + 1):
            for clip in range(1, cfg.clips_per_group + 1):
                clips.append(render_video(cfg, name, group, clip)[0])
                labels.append(label)
                is_test.append(group in test_groups)
    y, test = np.array(labels), np.array(is_test)

    # single frames: 2 random frames per video, 16x16 average-pooled RGB
    rng = np.random.default_rng(0)
    per_video = 2
    k = cfg.size // 16
    pixels = np.stack(
        [
            clip[t].reshape(16, k, 16, k, 3).mean((1, 3)).ravel() / 255.0
            for clip in clips
            for t in rng.choice(cfg.frames, per_video, replace=False)
        ]
    )
    y_frames, test_frames = np.repeat(y, per_video), np.repeat(test, per_video)
    single = _linear_probe(
        pixels[~test_frames], y_frames[~test_frames], pixels[test_frames], y_frames[test_frames], c=0.1
    )
    chance = 1 / len(cfg.classes)
    standard_error = np.sqrt(chance * (1 - chance) / test_frames.sum())

    motion = np.stack([motion_feature(clip) for clip in clips])
    trees = HistGradientBoostingClassifier(max_iter=200, random_state=0).fit(motion[~test], y[~test])
    oracle = trees.score(motion[test], y[test])
    print(
        f"single-frame accuracy {single:.3f} (chance {chance:.3f}, SE {standard_error:.3f}), "
        f"oracle {oracle:.3f}"
    )
    assert single <= chance + 3 * standard_error
    assert oracle >= 0.9


# ------------------------------------------------------------------------------------------------
# 5. appearance labels are carried and independent of the class


def test_appearance_is_shared_by_group_across_classes(small_root: Path):
    by_group: dict[int, list[dict]] = {}
    for path in small_root.glob("*/*.json"):
        sidecar = json.loads(path.read_text())
        appearance = sidecar["appearance"]
        for key in ("shape", "texture", "colour", "rgb", "radius_px", "background", "distractors"):
            assert key in appearance
        shared = {
            **{k: appearance[k] for k in ("shape", "texture", "colour", "rgb", "radius_px", "background")},
            "distractors": [(d["shape"], d["texture"], d["colour"]) for d in appearance["distractors"]],
        }
        by_group.setdefault(sidecar["group"], []).append((sidecar["class"], shared))
    assert sorted(by_group) == [1, 2, 3]
    for entries in by_group.values():
        assert {cls for cls, _ in entries} == set(BENCHMARK_CLASSES)
        assert all(shared == entries[0][1] for _, shared in entries)
    assert len({json.dumps(e[0][1], sort_keys=True) for e in by_group.values()}) == 3  # groups differ
