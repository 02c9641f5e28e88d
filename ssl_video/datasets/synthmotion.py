"""SynthMotion: a procedural video dataset whose class can only be recovered from motion.

Every video shows one textured sprite (with an orientation marker) moving over a static textured
background, plus 0-3 slowly drifting or static distractor sprites. The class is the sprite's
*motion* (translate left/right/up/down, rotate cw/ccw, grow, shrink, bounce, orbit, zigzag, jitter);
everything a single frame shows (shape, texture, colour, size, background, position, orientation,
scale) is drawn from the same distribution for every class:

* appearance comes from ``(seed, group)`` only, so a group looks the same in every class;
* the world is a torus (a sprite leaving one edge re-enters at the opposite edge, and Bounce reflects
  off the frame border, which is the seam of the torus), so the sprite's position in any frame is
  uniform over the frame for every class;
* orientation is uniform for every class; Grow/Shrink sweep ``lo -> lo + span`` while the other
  classes hold a constant scale ``lo + span * U(0, 1)`` drawn from the same ``lo, span``, so a random
  frame's scale has the same distribution in every class.

Audio (mono) is a low noise floor plus a short tone burst starting exactly at ``frame / fps`` for every
visual event: a wall contact (``bounce``), a direction change (``turn``: ZigZag turns, Jitter
reversals) and a sprite flash (``flash``: every video has 1-3 one- or two-frame brightness flashes at
class-independent times).

The dataset is written in the UCF101 on-disk layout (``classInd.txt``, ``trainlist0k.txt``,
``testlist0k.txt``, ``Class/v_Class_gGG_cCC.mp4``) with a JSON sidecar beside every video, so the
UCF101 adapter reads it unchanged. See ``datasets/synthmotion.md`` for the dataset card.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import sys
import time
import zlib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from ssl_video.io_utils import atomic_write_text

SYNTHMOTION_VERSION = "1.1"

CLASS_NAMES: tuple[str, ...] = (
    "TranslateLeft",
    "TranslateRight",
    "TranslateUp",
    "TranslateDown",
    "RotateCW",
    "RotateCCW",
    "Grow",
    "Shrink",
    "Bounce",
    "Orbit",
    "ZigZag",
    "Jitter",
)
TIME_REVERSE_PAIRS: tuple[tuple[str, str], ...] = (
    ("TranslateLeft", "TranslateRight"),
    ("TranslateUp", "TranslateDown"),
    ("RotateCW", "RotateCCW"),
    ("Grow", "Shrink"),
)

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "hexagon", "cross")
TEXTURES: tuple[str, ...] = ("solid", "stripes", "checker")
BACKGROUND_TEXTURES: tuple[str, ...] = ("waves", "blotches", "grain")
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 80, 220),
    "yellow": (240, 220, 40),
    "cyan": (40, 210, 220),
    "magenta": (210, 50, 200),
    "orange": (245, 140, 30),
    "purple": (120, 50, 170),
    "white": (240, 240, 240),
    "black": (20, 20, 20),
    "pink": (250, 150, 190),
    "brown": (140, 90, 40),
}
EVENT_FREQS_HZ: dict[str, float] = {"bounce": 500.0, "turn": 1000.0, "flash": 2000.0}

_BURST_AMPLITUDE = 0.3
_MIN_LUMA_CONTRAST = 70.0  # |luma(background end colour) - luma(sprite colour)| on 0..255
_DISTRACTOR_RADIUS = (0.06, 0.10)  # fraction of the frame size
_DISTRACTOR_DRIFT = 0.003  # max drift speed, fraction of the frame size per frame
_ORBIT_RADIUS = (0.15, 0.25)  # fraction of the frame size
_MARKER_OFFSET, _MARKER_RADIUS = 0.5, 0.2  # in sprite radii, along the sprite's local +u axis


@dataclass(frozen=True)
class SynthMotionConfig:
    """Everything that determines a SynthMotion dataset (stored in ``synthmotion.json``).

    ``classes`` is a tuple of names from ``CLASS_NAMES`` (label order) or an int N (the first N).
    Speeds and sizes are fractions of the frame size ``size`` (frames are ``size x size``); rotation
    speed is in degrees per frame; ``scale_range`` bounds the sprite's scale factor for every class.
    """

    classes: tuple[str, ...] | int = CLASS_NAMES
    groups: int = 10
    clips_per_group: int = 4
    size: int = 64
    frames: int = 48
    fps: int = 16
    seed: int = 0
    audio_rate: int = 16000
    speed: tuple[float, float] = (0.02, 0.04)
    rotation_speed: tuple[float, float] = (4.0, 9.0)
    radius: tuple[float, float] = (0.12, 0.18)
    scale_range: tuple[float, float] = (0.5, 1.5)
    max_distractors: int = 3
    flashes: tuple[int, int] = (1, 3)
    burst_ms: float = 40.0
    noise_floor: float = 0.003
    crf: int = 18
    # Class-independent exposure drift: the whole frame's gain changes linearly by a total fraction
    # drawn from this range over the video, brightening or darkening with equal probability (as a
    # camera's auto-exposure does). Order tasks can read clip order from it (a shortcut that survives
    # global pooling; see datasets/synthmotion.md). (0, 0) turns it off.
    exposure_drift: tuple[float, float] = (0.2, 0.5)

    def __post_init__(self) -> None:
        classes = self.classes
        if isinstance(classes, int):
            if not 1 <= classes <= len(CLASS_NAMES):
                raise ValueError(f"classes={classes}: need 1..{len(CLASS_NAMES)}")
            classes = CLASS_NAMES[:classes]
        classes = tuple(classes)
        unknown = [c for c in classes if c not in CLASS_NAMES]
        if unknown or not classes or len(set(classes)) != len(classes):
            raise ValueError(f"classes must be distinct names from {CLASS_NAMES}, got {classes}")
        object.__setattr__(self, "classes", classes)
        for name in ("speed", "rotation_speed", "radius", "scale_range", "flashes", "exposure_drift"):
            value = tuple(getattr(self, name))
            if len(value) != 2 or value[0] > value[1]:
                raise ValueError(f"{name} must be a (low, high) pair, got {value}")
            object.__setattr__(self, name, value)
        if self.groups < 2:
            raise ValueError("groups must be >= 2 (train and test groups are disjoint)")
        if self.clips_per_group < 1 or self.frames < 8 or self.fps < 1:
            raise ValueError("need clips_per_group >= 1, frames >= 8, fps >= 1")
        if self.size < 16 or self.size % 2:
            raise ValueError(f"size must be even and >= 16 (H.264 yuv420p), got {self.size}")
        if self.flashes[0] < 0 or self.max_distractors < 0:
            raise ValueError("flashes and max_distractors must be >= 0")

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, d: dict) -> SynthMotionConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in known})


# ----------------------------------------------------------------------------------------------
# naming and splits


def split_test_groups(groups: int, split: int) -> tuple[int, ...]:
    """1-based test groups of split ``split`` (1..3): a block of ``n`` consecutive groups.

    ``n = max(1, min(groups // 3, round(7 * groups / 25)))``: UCF101's rule (7 of 25 groups) scaled
    to ``groups``, so 25 groups give UCF101's g01-07 / g08-14 / g15-21 and 10 groups give g01-03 /
    g04-06 / g07-09. With fewer than 3 groups the blocks wrap around (2 groups: g01, g02, g01).
    """
    if not 1 <= split <= 3:
        raise ValueError(f"split must be 1, 2 or 3, got {split}")
    n = max(1, min(groups // 3, round(7 * groups / 25)))
    return tuple(sorted(((split - 1) * n + j) % groups + 1 for j in range(n)))


def video_relpath(cfg: SynthMotionConfig, class_name: str, group: int, clip: int) -> str:
    """``Class/v_Class_gGG_cCC.mp4`` (1-based group and clip, UCF101 style)."""
    gw = max(2, len(str(cfg.groups)))
    cw = max(2, len(str(cfg.clips_per_group)))
    return f"{class_name}/v_{class_name}_g{group:0{gw}d}_c{clip:0{cw}d}.mp4"


def _all_videos(cfg: SynthMotionConfig) -> list[tuple[str, int, int]]:
    return [
        (name, g, c)
        for name in cfg.classes
        for g in range(1, cfg.groups + 1)
        for c in range(1, cfg.clips_per_group + 1)
    ]


# ----------------------------------------------------------------------------------------------
# appearance (from (seed, group) only)


def _luma(rgb) -> float:
    r, g, b = (float(v) for v in rgb)
    return 0.299 * r + 0.587 * g + 0.114 * b


def _second_shade(rgb: np.ndarray) -> np.ndarray:
    """Texture's other colour: darker for light colours, lighter for dark ones. (..., 3) -> (..., 3)."""
    luma = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.where((luma > 100)[..., None], rgb * 0.45, rgb + 0.55 * (255.0 - rgb))


def _upsample(grid: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear upsampling of a periodic (gh, gw) grid to (h, w)."""
    gh, gw = grid.shape
    ys = np.arange(h) * gh / h
    xs = np.arange(w) * gw / w
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    y1, x1 = (y0 + 1) % gh, (x0 + 1) % gw
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x1] * fx
    bottom = grid[y1][:, x0] * (1 - fx) + grid[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def _background(rng: np.random.Generator, size: int, sprite_rgb) -> tuple[np.ndarray, dict]:
    """Static background (size, size, 3) float32: colour gradient + texture + grain, and its labels."""
    ends = []
    while len(ends) < 2:
        c = rng.integers(0, 256, size=3)
        if abs(_luma(c) - _luma(sprite_rgb)) >= _MIN_LUMA_CONTRAST:
            ends.append(c.astype(np.float32))
    angle = float(rng.uniform(0.0, 2 * np.pi))
    kind = BACKGROUND_TEXTURES[int(rng.integers(len(BACKGROUND_TEXTURES)))]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    ramp = np.clip((xx * np.cos(angle) + yy * np.sin(angle)) / 1.2 + 0.5, 0.0, 1.0)
    img = ends[0] + (ends[1] - ends[0]) * ramp[..., None]
    if kind == "waves":
        pattern = np.zeros((size, size), np.float32)
        for _ in range(3):
            cycles, theta, phase = rng.uniform(2.0, 5.0), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
            pattern += np.sin(2 * np.pi * cycles * (xx * np.cos(theta) + yy * np.sin(theta)) + phase)
        img += 8.0 * pattern[..., None]
    elif kind == "blotches":
        img += 30.0 * _upsample(rng.uniform(-0.5, 0.5, size=(6, 6)), size, size)[..., None]
    img += rng.normal(0.0, 3.0, size=img.shape)
    labels = {
        "colours": [[int(v) for v in c] for c in ends],
        "gradient_angle_deg": round(float(np.degrees(angle)), 3),
        "texture": kind,
    }
    return np.clip(img, 0, 255).astype(np.float32), labels


def group_appearance(cfg: SynthMotionConfig, group: int) -> dict:
    """Appearance of a group, drawn from ``(cfg.seed, group)`` only (identical in every class).

    Returns a dict with ``sprite`` (shape, texture, colour, rgb, radius), ``background`` (labels)
    and ``background_image`` (size, size, 3) float32, and ``distractors`` (list of sprite dicts).
    """
    rng = np.random.default_rng([cfg.seed, 0, group])
    colour = list(PALETTE)[int(rng.integers(len(PALETTE)))]
    sprite = {
        "shape": SHAPES[int(rng.integers(len(SHAPES)))],
        "texture": TEXTURES[int(rng.integers(len(TEXTURES)))],
        "colour": colour,
        "rgb": list(PALETTE[colour]),
        "radius_frac": round(float(rng.uniform(*cfg.radius)), 4),
    }
    distractors = []
    others = [c for c in PALETTE if c != colour]
    for _ in range(int(rng.integers(0, cfg.max_distractors + 1))):
        dcol = others[int(rng.integers(len(others)))]
        distractors.append(
            {
                "shape": SHAPES[int(rng.integers(len(SHAPES)))],
                "texture": TEXTURES[int(rng.integers(len(TEXTURES)))],
                "colour": dcol,
                "rgb": list(PALETTE[dcol]),
                "radius_frac": round(float(rng.uniform(*_DISTRACTOR_RADIUS)), 4),
            }
        )
    image, background = _background(rng, cfg.size, sprite["rgb"])
    return {"sprite": sprite, "distractors": distractors, "background": background, "background_image": image}


# ----------------------------------------------------------------------------------------------
# rendering


def _shape_sdf(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed distance (in sprite radii, negative inside) of ``shape`` at local coordinates u, v."""
    abs_u, abs_v = np.abs(u), np.abs(v)
    if shape == "circle":
        return np.sqrt(u * u + v * v) - 1.0
    if shape == "square":
        return np.maximum(abs_u, abs_v) - 0.82
    if shape == "diamond":
        return (abs_u + abs_v - 1.15) * 0.7071
    if shape == "cross":
        return np.minimum(np.maximum(abs_u - 1.0, abs_v - 0.38), np.maximum(abs_u - 0.38, abs_v - 1.0))
    if shape in ("triangle", "hexagon"):  # regular polygon, a vertex on the +u axis
        n, inradius = (3, 0.55) if shape == "triangle" else (6, 0.9)
        angles = np.pi / n + 2 * np.pi * np.arange(n) / n
        dist = np.cos(angles[0]) * u + np.sin(angles[0]) * v
        for a in angles[1:]:
            dist = np.maximum(dist, np.cos(a) * u + np.sin(a) * v)
        return dist - inradius
    raise ValueError(f"unknown shape {shape!r}")


def _draw_sprite(
    canvas: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    theta: np.ndarray,
    radius: np.ndarray,
    rgb: np.ndarray,
    shape: str,
    texture: str,
) -> None:
    """Composite a sprite into ``canvas`` (T, H, W, 3) float32, in place, on the torus.

    ``x, y`` (T,) centre in pixels, ``theta`` (T,) orientation in radians (the local +u axis points
    along (cos, sin) in image coordinates, y down, so increasing theta turns clockwise on screen),
    ``radius`` (T,) in pixels, ``rgb`` (T, 3) colour per frame. The shape, its texture and the
    orientation marker (a contrasting disc on the +u axis) are anti-aliased by signed distance.
    """
    n, h, w, _ = canvas.shape
    x, y, theta, r = (np.asarray(a, np.float32) for a in (x, y, theta, radius))
    # work on a (ph, pw) window around the sprite; torus wrap through modular row/column indices
    half = int(np.ceil(1.2 * float(r.max()))) + 2
    ph, pw = min(2 * half + 1, h), min(2 * half + 1, w)
    rows = (np.floor(y).astype(int)[:, None] - ph // 2 + np.arange(ph)) % h  # (T, ph)
    cols = (np.floor(x).astype(int)[:, None] - pw // 2 + np.arange(pw)) % w  # (T, pw)
    index = (np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :])
    dy = ((rows - y[:, None] + h / 2) % h - h / 2).astype(np.float32)[:, :, None]
    dx = ((cols - x[:, None] + w / 2) % w - w / 2).astype(np.float32)[:, None, :]
    c, s = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    r = r[:, None, None]
    u, v = (c * dx + s * dy) / r, (c * dy - s * dx) / r  # (T, ph, pw) in sprite radii
    alpha = np.clip(0.5 - _shape_sdf(shape, u, v) * r, 0.0, 1.0)
    colour = np.asarray(rgb, np.float32)[:, None, None, :]
    if texture != "solid":
        wave_u = np.sin(1.5 * np.pi * u)
        pattern = wave_u if texture == "stripes" else wave_u * np.sin(1.5 * np.pi * v)
        mix = np.clip(0.5 + 2.0 * pattern, 0.0, 1.0)[..., None]
        colour = colour + (_second_shade(colour) - colour) * mix
    marker_rgb = np.where(
        (rgb @ np.array([0.299, 0.587, 0.114]) > 110)[:, None], np.float32(15.0), np.float32(240.0)
    )[:, None, None, :]
    marker = np.clip(0.5 - (np.sqrt((u - _MARKER_OFFSET) ** 2 + v * v) - _MARKER_RADIUS) * r, 0.0, 1.0)
    colour = colour + (marker_rgb - colour) * marker[..., None]
    patch = canvas[index]
    canvas[index] = patch + alpha[..., None] * (colour - patch)


def _tri(z: np.ndarray) -> np.ndarray:
    """Triangle wave with period 2: 0 at even z, 1 at odd z."""
    return 1.0 - np.abs(np.mod(z, 2.0) - 1.0)


def _motion(cfg: SynthMotionConfig, name: str, rng: np.random.Generator, base: dict):
    """Class-specific motion of the main sprite.

    ``base`` holds the class-independent draws (p0, theta0, scale lo/span/u, speed in px/frame).
    Returns ``x, y, theta, scale`` (T,) float arrays, a JSON-ready params dict and a list of
    ``(frame, type)`` events.
    """
    t = np.arange(cfg.frames, dtype=np.float64)
    last = cfg.frames - 1
    p0x, p0y, v, size = base["x0"], base["y0"], base["speed"], cfg.size
    x, y = np.full_like(t, p0x), np.full_like(t, p0y)
    theta = np.full_like(t, base["theta0"])
    scale = np.full_like(t, base["scale_lo"] + base["scale_span"] * base["scale_u"])
    events: list[tuple[int, str]] = []
    params: dict = {"speed_px_per_frame": round(v, 4)}

    def interior(frames) -> list[int]:  # direction changes are observable only inside the clip
        return sorted({int(f) for f in frames if 1 <= f <= last - 1})

    if name.startswith("Translate"):
        direction = {"Left": (-1, 0), "Right": (1, 0), "Up": (0, -1), "Down": (0, 1)}[
            name[len("Translate") :]
        ]
        x, y = p0x + direction[0] * v * t, p0y + direction[1] * v * t
        params.update(type="translate", direction=list(direction))
    elif name in ("RotateCW", "RotateCCW"):
        omega = float(rng.uniform(*cfg.rotation_speed))
        sign = 1.0 if name == "RotateCW" else -1.0
        theta = base["theta0"] + sign * np.radians(omega) * t
        params = {"type": "rotate", "deg_per_frame": round(sign * omega, 4), "clockwise": sign > 0}
    elif name in ("Grow", "Shrink"):
        ramp = t / last if name == "Grow" else 1.0 - t / last
        scale = base["scale_lo"] + base["scale_span"] * ramp
        params = {"type": "scale", "from": round(float(scale[0]), 4), "to": round(float(scale[-1]), 4)}
    elif name == "Bounce":
        # each axis reflects off the frame border (the torus seam) every `period` frames, an integer,
        # with an integer phase, so every wall contact falls exactly on a frame
        axes = {}
        for axis in ("x", "y"):
            period = int(np.clip(round(1.0 / rng.uniform(*cfg.speed)), 4, last - 1))
            phase = int(rng.integers(0, 2 * period))
            axes[axis] = size * _tri((t + phase) / period)
            events += [(f, "bounce") for f in interior(np.flatnonzero((t + phase) % period == 0))]
            params[f"{axis}_period_frames"], params[f"{axis}_phase_frames"] = period, phase
        x, y = axes["x"], axes["y"]
        periods = (params["x_period_frames"], params["y_period_frames"])
        params.update(type="bounce", speed_px_per_frame=[round(size / p, 4) for p in periods])
    elif name == "Orbit":
        radius = float(rng.uniform(*_ORBIT_RADIUS)) * size
        direction = 1.0 if rng.random() < 0.5 else -1.0
        phase = float(rng.uniform(0, 2 * np.pi))
        angle = phase + direction * (v / radius) * t
        x, y = p0x + radius * np.cos(angle), p0y + radius * np.sin(angle)
        params.update(
            type="orbit",
            centre=[round(p0x, 4), round(p0y, 4)],
            radius_px=round(radius, 4),
            rad_per_frame=round(direction * v / radius, 5),
            phase_rad=round(phase, 5),
        )
    elif name == "ZigZag":
        heading = float(rng.uniform(0, 2 * np.pi))
        half_period = int(rng.integers(4, 9))
        phase = int(rng.integers(0, 2 * half_period))
        drift = 0.6 * v
        lateral = v * half_period * (_tri((t + phase) / half_period) - 0.5)
        fwd, side = (
            np.array([np.cos(heading), np.sin(heading)]),
            np.array([-np.sin(heading), np.cos(heading)]),
        )
        x = p0x + fwd[0] * drift * t + side[0] * lateral
        y = p0y + fwd[1] * drift * t + side[1] * lateral
        events += [(f, "turn") for f in interior(np.flatnonzero((t + phase) % half_period == 0))]
        params.update(
            type="zigzag",
            heading_deg=round(float(np.degrees(heading)), 3),
            drift_px_per_frame=round(drift, 4),
            half_period_frames=half_period,
            phase_frames=phase,
        )
    elif name == "Jitter":
        # piecewise-linear: segments of 3-6 frames, each roughly reversing the previous direction
        velocity = np.zeros((cfg.frames - 1, 2))
        heading, start, turns = float(rng.uniform(0, 2 * np.pi)), 0, []
        while start < cfg.frames - 1:
            length = int(rng.integers(3, 7))
            speed = v * float(rng.uniform(0.8, 1.2))
            velocity[start : start + length] = speed * np.array([np.cos(heading), np.sin(heading)])
            start += length
            turns.append(start)
            heading += np.pi + float(rng.uniform(-np.pi / 3, np.pi / 3))
        path = np.concatenate([np.zeros((1, 2)), np.cumsum(velocity, axis=0)])
        x, y = p0x + path[:, 0], p0y + path[:, 1]
        events += [(f, "turn") for f in interior(turns)]
        params.update(type="jitter", anchor=[round(p0x, 4), round(p0y, 4)])
    else:
        raise ValueError(f"unknown class {name!r}")
    return x, y, theta, scale, params, events


def _draw_flashes(rng: np.random.Generator, cfg: SynthMotionConfig) -> list[tuple[int, int]]:
    """1-3 (onset frame, duration 1 or 2) flashes, at least 4 frames apart, inside the clip."""
    count = int(rng.integers(cfg.flashes[0], cfg.flashes[1] + 1))
    candidates = np.arange(1, cfg.frames - 2)
    count = min(count, (len(candidates) + 3) // 4)
    while True:
        onsets = np.sort(rng.choice(candidates, size=count, replace=False))
        if count < 2 or np.diff(onsets).min() >= 4:
            break
    return [(int(f), int(rng.integers(1, 3))) for f in onsets]


def _synth_audio(rng: np.random.Generator, events: list[dict], cfg: SynthMotionConfig) -> np.ndarray:
    """Noise floor plus a tone burst (``burst_ms``, 1 ms attack, 10 ms release) at every event.

    Returns (S,) float32 with ``S = round(frames * audio_rate / fps)``; the burst of an event at frame
    i starts at sample ``round(i * audio_rate / fps)``, frequency ``EVENT_FREQS_HZ[type]``.
    """
    rate = cfg.audio_rate
    audio = rng.normal(0.0, cfg.noise_floor, round(cfg.frames * rate / cfg.fps))
    length = max(1, round(cfg.burst_ms * rate / 1000))
    attack, release = min(length, max(1, round(0.001 * rate))), min(length, max(1, round(0.010 * rate)))
    env = np.ones(length)
    env[:attack] = np.arange(attack) / attack
    env[-release:] *= 0.5 * (1 + np.cos(np.pi * (np.arange(release) + 1) / release))
    tt = np.arange(length) / rate
    for ev in events:
        start = round(ev["frame"] * rate / cfg.fps)
        seg = audio[start : start + length]
        seg += (_BURST_AMPLITUDE * env * np.sin(2 * np.pi * EVENT_FREQS_HZ[ev["type"]] * tt))[: len(seg)]
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def _rounded(a: np.ndarray, nd: int = 3) -> list[float]:
    return [round(float(v), nd) for v in a]


def render_video(cfg: SynthMotionConfig, class_name: str, group: int, clip: int):
    """Render one video without encoding it.

    Returns ``frames`` (T, H, W, 3) uint8 RGB, ``audio`` (S,) float32 mono in [-1, 1] at
    ``cfg.audio_rate`` and the sidecar dict (class, label, group, clip, seed, motion params,
    appearance labels, events, per-frame track, fps, frame count, size). Appearance comes from
    ``(seed, group)``; the per-clip draws from ``(seed, group, clip, crc32(class))``, in an order that
    puts all class-independent draws first.
    """
    if class_name not in cfg.classes:
        raise ValueError(f"{class_name!r} is not one of the configured classes {cfg.classes}")
    if not (1 <= group <= cfg.groups and 1 <= clip <= cfg.clips_per_group):
        raise ValueError(f"group {group} / clip {clip} out of range for {cfg.groups} x {cfg.clips_per_group}")
    T, size = cfg.frames, cfg.size
    look = group_appearance(cfg, group)
    key = [cfg.seed, 1, group, clip, zlib.crc32(class_name.encode())]
    rng = np.random.default_rng(key)

    # class-independent per-clip draws
    lo_scale, hi_scale = cfg.scale_range
    span = float(rng.uniform(0.6, 0.9)) * (hi_scale - lo_scale)
    base = {
        "x0": float(rng.uniform(0, size)),
        "y0": float(rng.uniform(0, size)),
        "theta0": float(rng.uniform(0, 2 * np.pi)),
        "scale_span": span,
        "scale_lo": float(rng.uniform(lo_scale, hi_scale - span)),
        "scale_u": float(rng.random()),
        "speed": float(rng.uniform(*cfg.speed)) * size,
    }
    flashes = _draw_flashes(rng, cfg)
    t = np.arange(T, dtype=np.float64)
    distractor_tracks = []
    for _ in look["distractors"]:
        start = rng.uniform(0, size, size=2)
        drift = rng.random() < 0.5
        vel = rng.uniform(-1.0, 1.0, size=2) * _DISTRACTOR_DRIFT * size if drift else np.zeros(2)
        distractor_tracks.append((start, vel, float(rng.uniform(0, 2 * np.pi))))

    x, y, theta, scale, motion, motion_events = _motion(cfg, class_name, rng, base)

    canvas = np.broadcast_to(look["background_image"], (T, size, size, 3)).copy()
    distractors = []
    for d, (start, vel, angle) in zip(look["distractors"], distractor_tracks, strict=True):
        dx, dy = (start[0] + vel[0] * t) % size, (start[1] + vel[1] * t) % size
        rgb = np.tile(np.asarray(d["rgb"], np.float32), (T, 1))
        _draw_sprite(
            canvas,
            dx,
            dy,
            np.full(T, angle),
            np.full(T, d["radius_frac"] * size),
            rgb,
            d["shape"],
            d["texture"],
        )
        distractors.append(
            {
                **d,
                "motion": "drift" if vel.any() else "static",
                "start": _rounded(start),
                "velocity_px_per_frame": _rounded(vel, 4),
                "angle_deg": round(float(np.degrees(angle)), 3),
            }
        )

    sprite = look["sprite"]
    rgb = np.tile(np.asarray(sprite["rgb"], np.float32), (T, 1))
    flash_target = 255.0 if _luma(sprite["rgb"]) < 150 else 0.0
    flash_frames = sorted({f + k for f, n in flashes for k in range(n) if f + k < T})
    rgb[flash_frames] += 0.7 * (flash_target - rgb[flash_frames])
    radius = sprite["radius_frac"] * size * scale
    x, y = np.mod(x, size), np.mod(y, size)
    _draw_sprite(canvas, x, y, theta, radius, rgb, sprite["shape"], sprite["texture"])
    # own random stream, so the exposure drift leaves every other draw unchanged
    drift_rng = np.random.default_rng([*key, 7])
    drift = float(drift_rng.uniform(*cfg.exposure_drift)) * (1.0 if drift_rng.random() < 0.5 else -1.0)
    gain = (1.0 + drift * (t / max(T - 1, 1) - 0.5)).astype(np.float32)
    frames = np.clip(np.rint(canvas * gain[:, None, None, None]), 0, 255).astype(np.uint8)

    events = sorted(set(motion_events) | {(f, "flash") for f, _ in flashes})
    events = [{"frame": f, "time": round(f / cfg.fps, 6), "type": kind} for f, kind in events]
    audio = _synth_audio(rng, events, cfg)

    sidecar = {
        "dataset": "SynthMotion",
        "version": SYNTHMOTION_VERSION,
        "path": video_relpath(cfg, class_name, group, clip),
        "class": class_name,
        "label": cfg.classes.index(class_name) + 1,
        "group": group,
        "clip": clip,
        "seed": cfg.seed,
        "rng_key": key,
        "fps": cfg.fps,
        "frames": T,
        "height": size,
        "width": size,
        "audio_rate": cfg.audio_rate,
        "audio_samples": int(audio.shape[0]),
        "motion": motion,
        "appearance": {
            **sprite,
            "radius_px": round(sprite["radius_frac"] * size, 4),
            "background": look["background"],
            "distractors": distractors,
        },
        "flashes": [{"frame": f, "duration": n} for f, n in flashes],
        "exposure_drift": round(drift, 5),
        "events": events,
        "event_freqs_hz": EVENT_FREQS_HZ,
        "track": {
            "x": _rounded(x),
            "y": _rounded(y),
            "angle_deg": _rounded(np.mod(np.degrees(theta), 360.0)),
            "scale": _rounded(scale, 4),
            "radius_px": _rounded(radius),
        },
    }
    return frames, audio, sidecar


# ----------------------------------------------------------------------------------------------
# writing the dataset


def sidecar_json(sidecar: dict) -> str:
    """Stable JSON text (sorted keys, 1-space indent, numeric lists on one line)."""
    text = json.dumps(sidecar, indent=1, sort_keys=True)
    return (
        re.sub(r"\[\s*([-0-9.e, \n]+?)\s*\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"
    )


def _write_text(path: Path, text: str) -> bool:
    """Atomically write ``text`` unless the file already holds it; True if written."""
    if path.exists() and path.read_text() == text:
        return False
    atomic_write_text(path, text)
    return True


def _make_video(job: tuple[str, SynthMotionConfig, str, int, int]) -> str:
    """Render, encode and write one video and its sidecar (the sidecar last: it marks completion)."""
    from ssl_video.video.writer import write_video

    root, cfg, name, group, clip = job
    frames, audio, sidecar = render_video(cfg, name, group, clip)
    mp4 = Path(root) / sidecar["path"]
    write_video(mp4, frames, fps=cfg.fps, audio=audio, audio_rate=cfg.audio_rate, crf=cfg.crf)
    _write_text(mp4.with_suffix(".json"), sidecar_json(sidecar))
    return sidecar["path"]


def dataset_metadata(cfg: SynthMotionConfig) -> dict:
    """Contents of ``synthmotion.json``: version, config, classes, counts and splits (no timestamps)."""
    per_group = cfg.clips_per_group * len(cfg.classes)
    splits = {}
    for k in (1, 2, 3):
        test = split_test_groups(cfg.groups, k)
        splits[str(k)] = {
            "test_groups": list(test),
            "test_videos": len(test) * per_group,
            "train_videos": (cfg.groups - len(test)) * per_group,
        }
    return {
        "dataset": "SynthMotion",
        "version": SYNTHMOTION_VERSION,
        "layout": "UCF101",
        "config": cfg.to_dict(),
        "classes": list(cfg.classes),
        "counts": {
            "classes": len(cfg.classes),
            "groups": cfg.groups,
            "clips_per_group": cfg.clips_per_group,
            "videos_per_class": cfg.groups * cfg.clips_per_group,
            "videos": len(cfg.classes) * cfg.groups * cfg.clips_per_group,
        },
        "splits": splits,
        "event_freqs_hz": EVENT_FREQS_HZ,
    }


def _split_lists(cfg: SynthMotionConfig) -> dict[str, str]:
    """File name -> text of classInd.txt and the three train/test lists (UCF101 format)."""
    texts = {"classInd.txt": "".join(f"{i} {name}\n" for i, name in enumerate(cfg.classes, 1))}
    for k in (1, 2, 3):
        test = set(split_test_groups(cfg.groups, k))
        train_lines, test_lines = [], []
        for name, g, c in _all_videos(cfg):
            rel = video_relpath(cfg, name, g, c)
            if g in test:
                test_lines.append(f"{rel}\n")
            else:
                train_lines.append(f"{rel} {cfg.classes.index(name) + 1}\n")
        texts[f"trainlist0{k}.txt"] = "".join(train_lines)
        texts[f"testlist0{k}.txt"] = "".join(test_lines)
    return texts


def generate_synthmotion(
    root: str | Path, cfg: SynthMotionConfig = SynthMotionConfig(), workers: int = 1, progress: bool = False
) -> dict:
    """Write the dataset under ``root`` and return a summary dict.

    Idempotent: on a root already holding this config, only missing videos are (re)made and files
    whose content would not change are not rewritten, so re-running a complete root writes nothing.
    A root holding a different config, or a non-empty root without ``synthmotion.json``, raises
    ``ValueError``. ``workers > 1`` renders in a spawn-started process pool (call it from a
    ``if __name__ == "__main__":`` guarded script); the output is identical to ``workers=1``.

    Summary keys: root, videos, written, existing, classes, seconds, bytes.
    """
    start = time.perf_counter()
    root = Path(root)
    meta = dataset_metadata(cfg)
    meta_path = root / "synthmotion.json"
    if meta_path.exists():
        stored = json.loads(meta_path.read_text())
        if stored.get("version") != meta["version"] or stored.get("config") != meta["config"]:
            raise ValueError(
                f"{root} already holds SynthMotion {stored.get('version')} with config "
                f"{stored.get('config')}; refusing to mix in config {meta['config']} "
                f"(version {meta['version']}). Use another root."
            )
    elif root.exists() and any(root.iterdir()):
        raise ValueError(
            f"{root} is not empty and has no synthmotion.json; refusing to write SynthMotion there"
        )
    root.mkdir(parents=True, exist_ok=True)
    _write_text(meta_path, json.dumps(meta, indent=1, sort_keys=True) + "\n")

    videos = _all_videos(cfg)
    todo = []
    for name, g, c in videos:
        mp4 = root / video_relpath(cfg, name, g, c)
        if not (mp4.exists() and mp4.with_suffix(".json").exists()):
            todo.append((str(root), cfg, name, g, c))
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="SynthMotion", unit="video", file=sys.stderr)
    if workers > 1 and len(todo) > 1:
        with multiprocessing.get_context("spawn").Pool(min(workers, len(todo))) as pool:
            for _ in pool.imap_unordered(_make_video, todo, chunksize=4):
                if bar is not None:
                    bar.update()
    else:
        for job in todo:
            _make_video(job)
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    for fname, text in _split_lists(cfg).items():
        _write_text(root / fname, text)
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return {
        "root": str(root),
        "videos": len(videos),
        "written": len(todo),
        "existing": len(videos) - len(todo),
        "classes": len(cfg.classes),
        "seconds": round(time.perf_counter() - start, 3),
        "bytes": total,
    }


def main(argv: list[str] | None = None) -> dict:
    """``python -m ssl_video.datasets.synthmotion ROOT [--workers 2] [--groups 10] ...``"""
    import argparse

    default = SynthMotionConfig()
    parser = argparse.ArgumentParser(description="Generate the SynthMotion dataset (UCF101 layout).")
    parser.add_argument("root")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--classes", default=None, help="an int N (first N) or comma-separated names")
    for name in ("groups", "clips_per_group", "size", "frames", "fps", "seed"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(default, name))
    args = parser.parse_args(argv)
    classes = CLASS_NAMES
    if args.classes:
        classes = int(args.classes) if args.classes.isdigit() else tuple(args.classes.split(","))
    cfg = SynthMotionConfig(
        classes=classes,
        **{k: getattr(args, k) for k in ("groups", "clips_per_group", "size", "frames", "fps", "seed")},
    )
    summary = generate_synthmotion(args.root, cfg, workers=args.workers, progress=True)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
