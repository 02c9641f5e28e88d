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
reversals) and a sprite flash (``flash``: every frame is a one-frame brightness flash with probability
``flash_rate``, independently, at
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

SYNTHMOTION_VERSION = "2.1"

# The benchmark's 12 classes (label order). Every one keeps the sprite's area, and the statistics of
# the background it covers, constant over time, so no class changes a frame's global brightness or
# colour statistics as it moves; reversible motions first, then the ones that carry time's arrow.
BENCHMARK_CLASSES: tuple[str, ...] = (
    "TranslateLeft",
    "TranslateRight",
    "RotateCW",
    "RotateCCW",
    "Orbit",
    "Swing",
    "Hop",
    "Bounce",
    "DampedHop",
    "SlideToStop",
    "SpinDown",
    "DampedSwing",
)
# Motions for supervised pretraining on classes disjoint from the benchmark's (the transfer gate).
TRANSFER_CLASSES: tuple[str, ...] = (
    "TranslateUp",
    "TranslateDown",
    "ZigZag",
    "Jitter",
    "Figure8",
    "SpinUp",
    "Accelerate",
    "Spiral",
)
CLASS_NAMES: tuple[str, ...] = BENCHMARK_CLASSES + TRANSFER_CLASSES
# Played backwards, a video of one class of a pair is a video of the other (same distribution).
TIME_REVERSE_PAIRS: tuple[tuple[str, str], ...] = (
    ("TranslateLeft", "TranslateRight"),
    ("RotateCW", "RotateCCW"),
    ("TranslateUp", "TranslateDown"),
    ("SlideToStop", "Accelerate"),
    ("SpinDown", "SpinUp"),
)
# Played backwards, a video of these is a video of the same class (same distribution).
SELF_REVERSE_CLASSES: tuple[str, ...] = ("Orbit", "Swing", "Hop", "Bounce", "ZigZag", "Jitter", "Figure8")
# Classes whose backward play is in no class of the benchmark: only they show which way time runs.
ARROW_CLASSES: tuple[str, ...] = ("DampedHop", "SlideToStop", "SpinDown", "DampedSwing")

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
_MIN_LUMA_CONTRAST = 70.0  # |luma(background colour) - luma(sprite colour)| on 0..255
_DISTRACTOR_RADIUS = (0.06, 0.10)  # fraction of the frame size
_DISTRACTOR_DRIFT = 0.003  # max drift speed, fraction of the frame size per frame
_ORBIT_RADIUS = (0.15, 0.25)  # fraction of the frame size
_MARKER_OFFSET, _MARKER_RADIUS = 0.5, 0.2  # in sprite radii, along the sprite's local +u axis
_UNIT_FRAMES = 48  # the frames of a video at time_scale 1: motion constants are per unit frame

# Motion constants, per unit frame (a frame at time_scale 1), each drawn within +-speed_spread of its
# nominal value per video: narrow bands, so a 2x speed-up of any class is out of its class's range.
_SWING_PERIOD = 20.0  # unit frames per pendulum period
_SWING_LENGTH = (0.2, 0.3)  # pendulum length, fraction of the frame size
_SWING_AMPLITUDE = (0.6, 0.9)  # radians
_SWING_DECAY = 16.0  # DampedSwing: amplitude time constant, unit frames
_HOP_PERIOD = 16.0  # Hop: unit frames per elastic hop (fixes gravity with the height)
_HOP_HEIGHT = 0.3  # Hop: apex height, fraction of the frame size; gravity g = 8 h / P^2
_DROP_HEIGHT = 0.35  # DampedHop: dropped from rest at this height (fraction of the frame size)
_RESTITUTION = 0.7  # DampedHop: speed kept at each floor contact
_STOP_TIME = (0.35, 0.7)  # SlideToStop / SpinDown / Accelerate / SpinUp: when motion stops/starts
_DECELERATION = 1.0 / 12.0  # (speed units per unit frame) per unit frame: v0 = a * t_stop
_ZIGZAG_HALF_PERIOD = 6.0  # unit frames between turns


@dataclass(frozen=True)
class SynthMotionConfig:
    """Everything that determines a SynthMotion dataset (stored in ``synthmotion.json``).

    ``classes`` is a tuple of names from ``CLASS_NAMES`` (label order) or an int N (the first N of
    ``BENCHMARK_CLASSES``). Sizes are fractions of the frame size ``size`` (frames are
    ``size x size``). Motion is defined per *unit frame*: ``time_scale`` frames (default
    ``frames / 48``) show one unit frame of motion, so a longer video shows the same motions more
    slowly and finely. ``speed`` (frame sizes per unit frame) and ``rotation_speed`` (degrees per unit
    frame) are nominal values; every motion constant of a video is drawn within ``+-speed_spread`` of
    its nominal value (narrow bands: a 2x speed-up leaves the class's range).

    Nuisances are symmetric in time: per-video constant ``gain``, per-channel ``colour`` balance and
    ``contrast``; per-frame zero-mean ``flicker`` (relative gain, iid), pixel ``noise`` (std in
    levels, iid) and camera ``shake`` (whole-frame shift, std in pixels, iid). ``exposure_drift`` is a
    *shortcut probe*, off by default: a linear gain ramp over the video (a total change drawn from the
    range, either sign) that lets order tasks read clip order from brightness alone.

    ``SynthMotionConfig.preset("cpu" | "paper")`` gives the two named sizes (see :data:`PRESETS`).
    """

    classes: tuple[str, ...] | int = BENCHMARK_CLASSES
    groups: int = 25
    clips_per_group: int = 8
    size: int = 64
    frames: int = 48
    fps: int = 16
    seed: int = 0
    audio_rate: int = 16000
    speed: float = 0.03
    rotation_speed: float = 6.0
    speed_spread: float = 0.15
    time_scale: float | None = None
    radius: tuple[float, float] = (0.28, 0.36)
    scale_range: tuple[float, float] = (0.8, 1.2)
    max_distractors: int = 3
    flash_rate: float = 0.04
    burst_ms: float = 40.0
    noise_floor: float = 0.003
    crf: int = 18
    gain: tuple[float, float] = (0.8, 1.2)
    colour: tuple[float, float] = (0.9, 1.1)
    contrast: tuple[float, float] = (0.8, 1.2)
    flicker: float = 0.02
    noise: float = 2.0
    shake: float = 0.7
    exposure_drift: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        classes = self.classes
        if isinstance(classes, int):
            if not 1 <= classes <= len(BENCHMARK_CLASSES):
                raise ValueError(f"classes={classes}: need 1..{len(BENCHMARK_CLASSES)}")
            classes = BENCHMARK_CLASSES[:classes]
        classes = tuple(classes)
        unknown = [c for c in classes if c not in CLASS_NAMES]
        if unknown or not classes or len(set(classes)) != len(classes):
            raise ValueError(f"classes must be distinct names from {CLASS_NAMES}, got {classes}")
        object.__setattr__(self, "classes", classes)
        pairs = ("radius", "scale_range", "gain", "colour", "contrast", "exposure_drift")
        for name in pairs:
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
        if not 0 <= self.flash_rate <= 1 or self.max_distractors < 0:
            raise ValueError("need 0 <= flash_rate <= 1 and max_distractors >= 0")
        if not 0 <= self.speed_spread < 0.5 or self.speed <= 0 or self.rotation_speed <= 0:
            raise ValueError("need speed > 0, rotation_speed > 0 and 0 <= speed_spread < 0.5")
        if min(self.flicker, self.noise, self.shake) < 0 or (
            self.time_scale is not None and self.time_scale <= 0
        ):
            raise ValueError("flicker, noise and shake must be >= 0 and time_scale > 0")

    @property
    def frames_per_unit(self) -> float:
        """Frames per unit frame of motion: ``time_scale``, or ``frames / 48`` when it is None."""
        return self.time_scale if self.time_scale is not None else self.frames / _UNIT_FRAMES

    @classmethod
    def preset(cls, name: str, **overrides) -> SynthMotionConfig:
        """A named size (:data:`PRESETS`), with any field overridden."""
        if name not in PRESETS:
            raise ValueError(f"unknown SynthMotion preset {name!r} (known: {', '.join(PRESETS)})")
        return cls(**{**PRESETS[name], **overrides})

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, d: dict) -> SynthMotionConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in known})


# The two named sizes. ``cpu``: what the published table and CI use on 2 cores (split 1: 672 test
# videos from 7 appearance groups, 1,728 train). ``paper``: long enough and large enough that every
# recipe's paper parameters run unmodified (VCOP's 3 x 16 frames + 2 x 8 = 64-frame span at 112 px
# crops of 128 px frames, Shuffle&Learn's tau up to 60, SpeedNet's 64 frames at up to 2.2x = 141).
PRESETS: dict[str, dict] = {
    "cpu": {"groups": 25, "clips_per_group": 8, "size": 64, "frames": 48},
    "paper": {"groups": 25, "clips_per_group": 8, "size": 128, "frames": 160},
}


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
    """Static background (size, size, 3) float32, and its labels: one colour plus a fine texture and
    grain, statistically the same everywhere (no gradient, no blob larger than the sprite), so the
    pixels a moving sprite covers or uncovers do not change the frame's mean or spread."""
    while True:
        colour = rng.integers(0, 256, size=3)
        if abs(_luma(colour) - _luma(sprite_rgb)) >= _MIN_LUMA_CONTRAST:
            break
    kind = BACKGROUND_TEXTURES[int(rng.integers(len(BACKGROUND_TEXTURES)))]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    img = np.broadcast_to(colour.astype(np.float32), (size, size, 3)).copy()
    if kind == "waves":  # integer cycles per frame: periodic on the torus
        pattern = np.zeros((size, size), np.float32)
        for _ in range(3):
            cx, cy = (int(v) * int(rng.choice((-1, 1))) for v in rng.integers(4, 9, size=2))
            phase = rng.uniform(0, 2 * np.pi)
            pattern += np.sin(2 * np.pi * (cx * xx + cy * yy) + phase)
        img += 8.0 * pattern[..., None]
    elif kind == "blotches":
        img += 24.0 * _upsample(rng.uniform(-0.5, 0.5, size=(16, 16)), size, size)[..., None]
    img += rng.normal(0.0, 3.0, size=img.shape)
    labels = {"colour": [int(v) for v in colour], "texture": kind}
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


def _stopping(tau: np.ndarray, t_stop: float, rate: float) -> np.ndarray:
    """Displacement (T,) of a motion decelerating at ``rate`` from ``rate * t_stop`` to rest at
    ``t_stop`` (unit frames), then at rest."""
    m = np.minimum(tau, t_stop)
    return rate * t_stop * m - 0.5 * rate * m * m


def _motion(cfg: SynthMotionConfig, name: str, rng: np.random.Generator, base: dict):
    """Class-specific motion of the main sprite.

    ``base`` holds the class-independent draws (x0, y0, theta0, scale). Motion constants are per unit
    frame (``cfg.frames_per_unit`` frames) and drawn within ``+-cfg.speed_spread`` of their nominal
    values. Returns ``x, y, theta, scale`` (T,) float arrays (x, y unwrapped), a JSON-ready params dict
    and a list of ``(time in frames, type)`` events.
    """
    fpu, size, last = cfg.frames_per_unit, cfg.size, cfg.frames - 1
    t = np.arange(cfg.frames, dtype=np.float64)
    tau = t / fpu  # unit frames
    duration = last / fpu

    def band(nominal: float) -> float:
        return nominal * float(rng.uniform(1 - cfg.speed_spread, 1 + cfg.speed_spread))

    x0, y0, theta0 = base["x0"], base["y0"], base["theta0"]
    x, y, theta = np.full_like(t, x0), np.full_like(t, y0), np.full_like(t, theta0)
    scale = np.full_like(t, base["scale"])
    v = band(cfg.speed) * size  # px per unit frame
    omega = np.radians(band(cfg.rotation_speed))  # rad per unit frame
    heading = float(rng.uniform(0, 2 * np.pi))  # direction of travel, or of gravity
    along = np.array([np.cos(heading), np.sin(heading)])
    across = np.array([-along[1], along[0]])
    sign = 1.0 if rng.random() < 0.5 else -1.0
    events: list[tuple[float, str]] = []
    params: dict = {"type": name, "frames_per_unit": round(fpu, 6)}

    def place(a: np.ndarray, c: np.ndarray, centre=(x0, y0)):
        """Position from displacements along ``along`` and ``across``."""
        return centre[0] + a * along[0] + c * across[0], centre[1] + a * along[1] + c * across[1]

    def at_units(times, kind: str) -> None:  # events inside the clip, at times in unit frames
        events.extend((float(u * fpu), kind) for u in times if 1 <= u * fpu <= last - 1)

    if name.startswith("Translate"):
        dx, dy = {"Left": (-1, 0), "Right": (1, 0), "Up": (0, -1), "Down": (0, 1)}[name[len("Translate") :]]
        x, y = x0 + dx * v * tau, y0 + dy * v * tau
        params.update(direction=[dx, dy], px_per_unit=round(v, 4))
    elif name in ("RotateCW", "RotateCCW"):
        turn = 1.0 if name == "RotateCW" else -1.0
        theta = theta0 + turn * omega * tau
        params.update(deg_per_unit=round(float(np.degrees(turn * omega)), 4))
    elif name == "Orbit":
        radius = float(rng.uniform(*_ORBIT_RADIUS)) * size
        angle = float(rng.uniform(0, 2 * np.pi)) + sign * (v / radius) * tau
        x, y = x0 + radius * np.cos(angle), y0 + radius * np.sin(angle)
        params.update(radius_px=round(radius, 4), rad_per_unit=round(sign * v / radius, 5))
    elif name in ("Swing", "DampedSwing"):
        length = float(rng.uniform(*_SWING_LENGTH)) * size
        period = band(_SWING_PERIOD)
        amplitude = float(rng.uniform(*_SWING_AMPLITUDE)) * np.ones_like(tau)
        decay = band(_SWING_DECAY) if name == "DampedSwing" else None
        if decay is not None:
            amplitude = amplitude * np.exp(-tau / decay)  # released at the start, losing energy
        alpha = amplitude * np.cos(2 * np.pi * tau / period + float(rng.uniform(0, 2 * np.pi)))
        x, y = place(length * np.cos(alpha), length * np.sin(alpha))  # pivot at (x0, y0), gravity along
        theta = theta0 + alpha
        params.update(
            length_px=round(length, 4),
            period_units=round(period, 4),
            gravity_deg=round(np.degrees(heading), 3),
        )
        if decay is not None:
            params["decay_units"] = round(decay, 4)
    elif name in ("Hop", "DampedHop"):
        gravity = 8 * _HOP_HEIGHT * size / _HOP_PERIOD**2  # px per unit frame^2: fixed, a physical constant
        drift = float(rng.uniform(-0.5, 0.5)) * v
        if name == "Hop":  # elastic: hops of one period (height g P^2 / 8)
            period = band(_HOP_PERIOD)
            phase = float(rng.uniform(0, period))
            s = np.mod(tau + phase, period) / period
            height = 0.5 * gravity * period**2 * s * (1 - s)  # g u (P - u) / 2
            at_units(
                np.arange(np.ceil(phase / period), (duration + phase) / period + 1) * period - phase, "bounce"
            )
            params.update(period_units=round(period, 4))
        else:  # dropped from rest, each floor contact keeps _RESTITUTION of the speed, then at rest
            h0 = band(_DROP_HEIGHT) * size
            speed = np.sqrt(2 * gravity * h0)  # at the first contact
            flight = speed / gravity  # the fall from rest
            height = np.where(tau < flight, h0 - 0.5 * gravity * tau**2, 0.0)
            contacts, start = [flight], flight
            while True:
                speed *= _RESTITUTION
                flight = 2 * speed / gravity
                if flight < 1.0 or start > duration:  # hops shorter than a unit frame: at rest
                    break
                u = tau - start
                height += np.where((u >= 0) & (u < flight), speed * u - 0.5 * gravity * u**2, 0.0)
                start += flight
                contacts.append(start)
            at_units(contacts, "bounce")
            params.update(drop_px=round(h0, 4), restitution=_RESTITUTION)
        x, y = place(-height, drift * tau)
        params.update(gravity_px_per_unit2=round(gravity, 5), gravity_deg=round(np.degrees(heading), 3))
    elif name == "Bounce":  # straight line, reflecting off the frame border (the torus seam)
        z0 = rng.uniform(0, 2, size=2)
        vel = v * along
        z = z0[:, None] + vel[:, None] * tau[None, :] / size  # (2, T) in frame sizes
        x, y = size * _tri(z[0]), size * _tri(z[1])
        for k in range(2):
            if vel[k] != 0:
                crossings = np.arange(np.ceil(min(z[k, 0], z[k, -1])), max(z[k, 0], z[k, -1]) + 1e-9)
                at_units((crossings - z0[k]) * size / vel[k], "bounce")
        events.sort()
        params.update(px_per_unit=round(v, 4), heading_deg=round(np.degrees(heading), 3))
    elif name in ("SlideToStop", "Accelerate", "SpinDown", "SpinUp"):
        rate = (v if name in ("SlideToStop", "Accelerate") else omega) * _DECELERATION
        t_stop = float(rng.uniform(*_STOP_TIME)) * duration
        stopping = name in ("SlideToStop", "SpinDown")
        if stopping:
            path = _stopping(tau, t_stop, rate)
        else:  # the time reversal: at rest, then accelerating from the mirrored time
            start = duration - t_stop
            path = 0.5 * rate * np.maximum(tau - start, 0.0) ** 2
        if name.startswith("Spin"):
            theta = theta0 + sign * path
        else:
            x, y = place(path, 0.0 * path)
        change = t_stop if stopping else duration - t_stop
        params.update(rate_per_unit2=round(rate, 6), change_units=round(change, 4), sign=sign)
    elif name == "ZigZag":
        half = band(_ZIGZAG_HALF_PERIOD)
        phase = float(rng.uniform(0, 2 * half))
        lateral = v * half * (_tri((tau + phase) / half) - 0.5)
        x, y = place(0.6 * v * tau, lateral)
        at_units(np.arange(np.ceil(phase / half), (duration + phase) / half + 1) * half - phase, "turn")
        params.update(half_period_units=round(half, 4), heading_deg=round(np.degrees(heading), 3))
    elif name == "Jitter":  # straight segments of 3-6 unit frames, each roughly reversing the last
        disp, start, direction = np.zeros((2, len(tau))), 0.0, heading
        turns = []
        while start < duration:
            length = float(rng.uniform(3, 6))
            vel = band(v) * np.array([np.cos(direction), np.sin(direction)])
            disp += vel[:, None] * np.clip(tau - start, 0, length)[None, :]
            start += length
            turns.append(start)
            direction += np.pi + float(rng.uniform(-np.pi / 3, np.pi / 3))
        x, y = x0 + disp[0], y0 + disp[1]
        at_units(turns, "turn")
    elif name == "Figure8":
        amp = float(rng.uniform(*_ORBIT_RADIUS)) * size
        phi = sign * (v / amp) * tau + float(rng.uniform(0, 2 * np.pi))
        x, y = place(amp * np.sin(phi), 0.5 * amp * np.sin(2 * phi))
    elif name == "Spiral":
        r0, r1 = 0.05 * size, 0.3 * size
        radius = r0 + (r1 - r0) * tau / max(duration, 1e-9)
        angle = float(rng.uniform(0, 2 * np.pi)) + sign * (v / (0.15 * size)) * tau
        x, y = x0 + radius * np.cos(angle), y0 + radius * np.sin(angle)
    else:
        raise ValueError(f"unknown class {name!r}")
    return x, y, theta, scale, params, events


def _draw_flashes(rng: np.random.Generator, cfg: SynthMotionConfig) -> list[tuple[int, int]]:
    """Flash frames, (frame, duration 1): every frame inside the clip (1..T-2) independently with
    probability ``flash_rate``. Independent single frames look the same however a clip samples time
    (a sped-up clip meets as many per frame as a normal one: no speed cue) and played backwards."""
    frames = np.flatnonzero(rng.random(cfg.frames) < cfg.flash_rate)
    return [(int(f), 1) for f in frames if 1 <= f <= cfg.frames - 2]


def _synth_audio(rng: np.random.Generator, events: list[dict], cfg: SynthMotionConfig) -> np.ndarray:
    """Noise floor plus a tone burst (``burst_ms``, 1 ms attack, 10 ms release) at every event.

    Returns (S,) float32 with ``S = round(frames * audio_rate / fps)``; the burst of an event at frame
    time s (seconds, not necessarily on a frame) starts at sample ``round(s * audio_rate)``, frequency
    ``EVENT_FREQS_HZ[type]``.
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
        start = round(ev["time"] * rate)
        seg = audio[start : start + length]
        seg += (_BURST_AMPLITUDE * env * np.sin(2 * np.pi * EVENT_FREQS_HZ[ev["type"]] * tt))[: len(seg)]
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def _rounded(a: np.ndarray, nd: int = 3) -> list[float]:
    return [round(float(v), nd) for v in a]


def _camera(cfg: SynthMotionConfig, canvas: np.ndarray, key: list) -> tuple[np.ndarray, dict]:
    """The camera's nuisances on the rendered scene (T, H, W, 3) float32 -> uint8 frames, and their
    values for the sidecar. All are symmetric in time: a whole-frame shake (iid integer shifts on the
    torus), a per-video contrast, gain and colour balance, per-frame flicker and pixel noise (iid,
    zero-mean); the exposure drift (the shortcut probe, off by default) is the one ramp. Each comes
    from its own random stream, so turning one off leaves every other draw unchanged."""
    T, h, w, _ = canvas.shape
    shake_rng, photo_rng, drift_rng = (np.random.default_rng([*key, k]) for k in (8, 9, 7))
    shifts = (
        np.rint(shake_rng.normal(0.0, cfg.shake, size=(T, 2))).astype(int)
        if cfg.shake
        else np.zeros((T, 2), int)
    )
    for f, (dy, dx) in enumerate(shifts):
        if dy or dx:
            canvas[f] = np.roll(canvas[f], (dy, dx), axis=(0, 1))
    contrast = float(photo_rng.uniform(*cfg.contrast))
    gain = float(photo_rng.uniform(*cfg.gain))
    colour = photo_rng.uniform(*cfg.colour, size=3).astype(np.float32)
    flicker = photo_rng.normal(0.0, cfg.flicker, size=T) if cfg.flicker else np.zeros(T)
    drift = float(drift_rng.uniform(*cfg.exposure_drift)) * (1.0 if drift_rng.random() < 0.5 else -1.0)
    ramp = 1.0 + drift * (np.arange(T) / max(T - 1, 1) - 0.5)
    per_frame = (gain * (1.0 + flicker) * ramp).astype(np.float32)[:, None, None, None]
    image = canvas  # in place, float32 throughout (the noise is most of a video's rendering time)
    image -= 128.0
    image *= np.float32(contrast)
    image += 128.0
    image *= colour * per_frame  # (T, 1, 1, 3)
    if cfg.noise:
        noise = photo_rng.standard_normal(image.shape, dtype=np.float32)
        noise *= np.float32(cfg.noise)
        image += noise
    frames = np.clip(np.rint(image, out=image), 0, 255, out=image).astype(np.uint8)
    nuisance = {
        "contrast": round(contrast, 5),
        "gain": round(gain, 5),
        "colour": _rounded(colour, 5),
        "flicker": _rounded(flicker, 5),
        "exposure_drift": round(drift, 5),
        "shake_px": [[int(dx), int(dy)] for dy, dx in shifts],
    }
    return frames, nuisance


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
    base = {
        "x0": float(rng.uniform(0, size)),
        "y0": float(rng.uniform(0, size)),
        "theta0": float(rng.uniform(0, 2 * np.pi)),
        "scale": float(rng.uniform(*cfg.scale_range)),
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
    frames, nuisance = _camera(cfg, canvas, key)
    shake = nuisance.pop("shake_px")

    events = sorted(
        {(round(f, 6), kind) for f, kind in motion_events} | {(float(f), "flash") for f, _ in flashes}
    )
    events = [{"frame": int(round(f)), "time": round(f / cfg.fps, 6), "type": kind} for f, kind in events]
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
        "nuisance": nuisance,
        "events": events,
        "event_freqs_hz": EVENT_FREQS_HZ,
        "track": {
            "x": _rounded(x),
            "y": _rounded(y),
            "angle_deg": _rounded(np.mod(np.degrees(theta), 360.0)),
            "scale": _rounded(scale, 4),
            "shake_px": shake,
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
    """``python -m ssl_video.datasets.synthmotion ROOT [--preset cpu] [--workers 2] [--groups 25] ...``"""
    import argparse

    parser = argparse.ArgumentParser(description="Generate the SynthMotion dataset (UCF101 layout).")
    parser.add_argument("root")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--class-set", choices=("benchmark", "transfer"), default="benchmark")
    parser.add_argument(
        "--classes", default=None, help="an int N (first N of the set) or names, comma-separated"
    )
    for name in ("groups", "clips_per_group", "size", "frames", "fps", "seed"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None)
    args = parser.parse_args(argv)
    classes = TRANSFER_CLASSES if args.class_set == "transfer" else BENCHMARK_CLASSES
    if args.classes:
        classes = classes[: int(args.classes)] if args.classes.isdigit() else tuple(args.classes.split(","))
    names = ("groups", "clips_per_group", "size", "frames", "fps", "seed")
    overrides = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    cfg = SynthMotionConfig.preset(args.preset, classes=classes, **overrides)
    summary = generate_synthmotion(args.root, cfg, workers=args.workers, progress=True)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
