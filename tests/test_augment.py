"""Temporally consistent clip augmentation (ssl_video.transforms.augment): one draw per clip shared by
its frames, clip-wide contrast, the papers' ranges, and determinism from the sample's generator."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ssl_video.transforms import CVRL_VIEWS, SLIC_VIEW, AugmentParams, ClipAugment, clip_contrast


def textured_clip(frames: int = 6, size: int = 48, seed: int = 0) -> np.ndarray:
    """(T, H, W, 3) uint8: smooth coloured texture, each frame shifted and brightened a little."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size // 4, size // 4, 3)).astype(np.float64)
    base = np.kron(base, np.ones((4, 4, 1)))
    out = [np.clip(np.roll(base, 2 * t, axis=1) * (0.7 + 0.05 * t), 0, 255) for t in range(frames)]
    return np.stack(out).astype(np.uint8)


STRONG = ClipAugment(32, jitter_p=1.0, grayscale_p=0.0, blur_p=1.0, solarize_p=1.0)


def test_every_frame_gets_the_same_draw():
    """Frames [A, B, A] come out as [A', B', A']: crop, flip, every colour op, blur and solarisation
    are one draw for the clip (contrast's mean is the clip's, the same for every frame)."""
    frames = textured_clip(2)
    clip = np.stack([frames[0], frames[1], frames[0]])
    for seed in range(20):
        out = STRONG(clip, np.random.default_rng(seed))
        assert out.shape == (3, 3, 32, 32) and out.dtype == torch.uint8
        assert torch.equal(out[:, 0], out[:, 2])
        assert not torch.equal(out[:, 0], out[:, 1])


def test_same_generator_same_views_and_draws_differ_between_views():
    clip = textured_clip()
    a = STRONG(clip, np.random.default_rng(7))
    assert torch.equal(a, STRONG(clip, np.random.default_rng(7)))
    rng = np.random.default_rng(7)
    first, second = STRONG(clip, rng), STRONG(clip, rng)
    assert torch.equal(first, a) and not torch.equal(first, second)


def test_contrast_uses_the_clip_wide_mean_grey_level():
    """An independent float64 computation: out = f * x + (1 - f) * mean over all frames and pixels of
    0.299 R + 0.587 G + 0.114 B; a per-frame mean would give another result for frames of different
    brightness."""
    clip = torch.from_numpy(textured_clip(4)).permute(0, 3, 1, 2).double() / 255
    grey = 0.299 * clip[:, 0] + 0.587 * clip[:, 1] + 0.114 * clip[:, 2]
    for factor in (0.3, 1.6):
        expected = (factor * clip + (1 - factor) * grey.mean()).clamp(0, 1)
        assert torch.allclose(clip_contrast(clip.float(), factor).double(), expected, atol=1e-6)
        per_frame = (factor * clip + (1 - factor) * grey.mean(dim=(1, 2))[:, None, None, None]).clamp(0, 1)
        assert (per_frame - expected).abs().max() > 0.01


def test_operations_against_their_definitions():
    """Each operation alone, on a clip, against a direct computation."""
    clip = torch.from_numpy(textured_clip(3, size=32)).permute(0, 3, 1, 2).contiguous()
    x = clip.double() / 255
    aug = ClipAugment(32)
    whole = (0, 0, 32, 32)

    def run(**kw) -> torch.Tensor:
        params = AugmentParams(whole, False, (), False, None, False)
        return aug.apply(clip, AugmentParams(**{**params.__dict__, **kw})).permute(1, 0, 2, 3).double() / 255

    assert torch.equal(run(), clip.double() / 255)  # identity draw: the clip itself
    assert torch.equal(run(flip=True), torch.flip(clip, dims=[-1]).double() / 255)
    q = 1 / 255 / 2 + 1e-9  # uint8 rounding
    assert (run(jitter=(("brightness", 1.3),)) - (1.3 * x).clamp(0, 1)).abs().max() <= q
    assert (run(solarize=True) - torch.where(x >= 0.5, 1 - x, x)).abs().max() <= q
    grey = run(grayscale=True)
    assert torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 1], grey[:, 2])
    assert (grey[:, 0] - (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])).abs().max() <= 1.5 / 255
    blurred = run(blur_sigma=1.5)
    assert blurred.std() < x.std()  # blur lowers the texture's variance
    assert (blurred.mean() - x.mean()).abs() < 0.01


def test_crop_boxes_stay_in_the_area_and_aspect_ranges():
    aug = ClipAugment(16, area=(0.3, 1.0), aspect=(0.5, 2.0))
    rng = np.random.default_rng(0)
    areas, aspects = [], []
    for _ in range(2000):
        top, left, h, w = aug.crop_box(120, 128, rng)
        assert 0 <= top and top + h <= 120 and 0 <= left and left + w <= 128
        areas.append(h * w / (120 * 128))
        aspects.append(w / h)
    # rounding to whole pixels moves the bounds by at most a pixel's worth
    assert 0.3 - 0.02 <= min(areas) and max(areas) <= 1.0
    assert 0.5 - 0.05 <= min(aspects) and max(aspects) <= 2.0 + 0.05
    assert min(areas) < 0.32 and max(areas) > 0.95  # the whole range is reached
    assert sum(a < 0.6 for a in aspects) > 50 and sum(a > 1.7 for a in aspects) > 50  # both tails
    # a strip narrower than the aspect range falls back to the largest centred crop within it
    assert ClipAugment(8, area=(1.0, 1.0), aspect=(1.0, 1.0)).crop_box(10, 40, rng) == (0, 15, 10, 10)


def test_probabilities_are_what_the_settings_say():
    aug = CVRL_VIEWS[1]
    rng = np.random.default_rng(1)
    draws = [aug.draw(64, 64, rng) for _ in range(4000)]
    rate = lambda pred: sum(map(pred, draws)) / len(draws)  # noqa: E731
    se = math.sqrt(0.25 / len(draws))
    assert abs(rate(lambda d: bool(d.jitter)) - 0.8) < 4 * se
    assert abs(rate(lambda d: d.grayscale) - 0.2) < 4 * se
    assert abs(rate(lambda d: d.blur_sigma is not None) - 0.1) < 4 * se
    assert abs(rate(lambda d: d.solarize) - 0.2) < 4 * se
    assert abs(rate(lambda d: d.flip) - 0.5) < 4 * se
    factors = [f for d in draws for name, f in d.jitter if name == "brightness"]
    assert 0.2 <= min(factors) and max(factors) <= 1.8
    orders = {tuple(name for name, _ in d.jitter) for d in draws if d.jitter}
    assert len(orders) == 24  # every order of the four operations occurs
    assert all(d.blur_sigma is not None for d in (CVRL_VIEWS[0].draw(64, 64, rng) for _ in range(50)))
    assert CVRL_VIEWS[0].kernel_size == 23 and SLIC_VIEW.kernel_size == 13


def test_bad_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="area"):
        ClipAugment(8, area=(0.5, 1.2))
    with pytest.raises(ValueError, match="solarize_p"):
        ClipAugment(8, solarize_p=1.5)
    with pytest.raises(ValueError, match="hue"):
        ClipAugment(8, hue=0.7)
