"""2D frame encoders: the video-encoder interface applied per frame, sizes, normalisation, registry."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ssl_video.encoders import VideoEncoder, create_encoder, list_encoders
from ssl_video.encoders.frame2d import CAFFE_MEAN, CAFFE_STD, IMAGENET_MEAN, IMAGENET_STD

# name -> (kwargs, input T x H x W, dim, feature map T' x H' x W')
SMALL = {
    "r2d_tiny": ({"width": 8}, (3, 32, 32), 64, (3, 2, 2)),
    "resnet18_2d": ({}, (2, 64, 64), 512, (2, 2, 2)),
    "caffenet_2d": ({}, (2, 56, 56), 256, (2, 3, 3)),
}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registered():
    assert set(SMALL) <= set(list_encoders())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_shapes_and_pooling(name):
    torch.manual_seed(0)
    kwargs, (t, h, w), dim, out_thw = SMALL[name]
    enc = create_encoder(name, **kwargs).eval()
    assert isinstance(enc, VideoEncoder) and enc.dim == dim
    x = torch.rand(2, 3, t, h, w)
    with torch.no_grad():
        fmap, pooled = enc.forward_features(x), enc(x)
    assert fmap.shape == (2, dim, *out_thw)
    assert pooled.shape == (2, dim)
    torch.testing.assert_close(pooled, fmap.mean(dim=(2, 3, 4)))
    assert not any(k.startswith("input_") for k in enc.state_dict())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_each_frame_is_encoded_alone_and_pooled_is_the_frame_average(name):
    """In eval mode frame t's map depends on frame t only, and forward() is the mean over frames of the
    single-frame features: the encoder is a 2D net, it cannot see motion."""
    torch.manual_seed(1)
    kwargs, (t, h, w), _, _ = SMALL[name]
    enc = create_encoder(name, **kwargs).eval()
    x = torch.rand(2, 3, t, h, w)
    with torch.no_grad():
        fmap = enc.forward_features(x)
        singles = [enc.forward_features(x[:, :, i : i + 1]) for i in range(t)]
        per_frame = torch.stack([enc(x[:, :, i : i + 1]) for i in range(t)], 1)
        shuffled = enc(x[:, :, torch.randperm(t)])
    for i, single in enumerate(singles):
        torch.testing.assert_close(fmap[:, :, i : i + 1], single, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(enc(x), per_frame.mean(1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(enc(x), shuffled, rtol=1e-4, atol=1e-5)  # frame order is invisible


def _r2d_tiny_params(w: int) -> int:
    """Hand count of ResNet-10-w in 2D: conv weights + BN (2 per channel)."""
    convs = 7 * 7 * 3 * w + 2 * 9 * w * w  # stem, layer1 (no shortcut)
    bn = w + 2 * w
    for i in (1, 2, 3):
        cin, cout = w * 2 ** (i - 1), w * 2**i
        convs += 9 * cin * cout + 9 * cout * cout + cin * cout  # conv1, conv2, 1x1 shortcut
        bn += 3 * cout
    return convs + 2 * bn


@pytest.mark.parametrize(
    "name, kwargs, params",
    [
        ("r2d_tiny", {"width": 16}, _r2d_tiny_params(16)),  # 309,456
        ("r2d_tiny", {"width": 32}, _r2d_tiny_params(32)),
        # torchvision ResNet-18: 11,689,512 with the 1000-way fc (512 * 1000 + 1000) dropped
        ("resnet18_2d", {}, 11_689_512 - 513_000),
        # CaffeNet conv1-5 weights (34,848 + 307,200 + 884,736 + 663,552 + 442,368) + BN 2 x 1,376 channels
        ("caffenet_2d", {}, 2_332_704 + 2_752),
    ],
)
def test_parameter_counts(name, kwargs, params):
    assert n_params(create_encoder(name, **kwargs)) == params


def test_r2d_tiny_hand_count():
    assert _r2d_tiny_params(16) == 309_456


def test_caffenet_map_at_the_paper_input():
    enc = create_encoder("caffenet_2d").eval()
    with torch.no_grad():
        assert enc.forward_features(torch.rand(1, 3, 1, 227, 227)).shape == (1, 256, 1, 13, 13)
    groups = [m.groups for m in enc.modules() if isinstance(m, nn.Conv2d)]
    assert groups == [1, 2, 1, 2, 2]


@pytest.mark.parametrize(
    "name, mean, std",
    [
        ("r2d_tiny", IMAGENET_MEAN, IMAGENET_STD),
        ("resnet18_2d", IMAGENET_MEAN, IMAGENET_STD),
        ("caffenet_2d", CAFFE_MEAN, CAFFE_STD),
    ],
)
def test_normalisation_applied_inside(name, mean, std):
    kwargs, (t, h, w), _, _ = SMALL[name]
    enc = create_encoder(name, **kwargs).eval()
    torch.testing.assert_close(enc.input_mean, torch.tensor(mean))
    torch.testing.assert_close(enc.input_std, torch.tensor(std))
    x = torch.rand(1, 3, t, h, w)
    normed = (x - torch.tensor(mean).view(1, 3, 1, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(enc.forward_features(x), enc.forward_trunk(normed))


def test_caffe_mean_is_the_bgr_mean_in_rgb_order_on_the_255_scale():
    torch.testing.assert_close(torch.tensor(CAFFE_MEAN) * 255, torch.tensor([123.68, 116.779, 103.939]))
    torch.testing.assert_close(torch.tensor(CAFFE_STD) * 255, torch.ones(3))


def test_resnet18_state_dict_loads_from_torchvision():
    from torchvision.models import resnet18

    tv = resnet18(weights=None)
    enc = create_encoder("resnet18_2d")
    missing, unexpected = enc.trunk.load_state_dict(tv.state_dict(), strict=False)
    assert missing == [] and sorted(unexpected) == ["fc.bias", "fc.weight"]
    torch.testing.assert_close(enc.trunk.layer4[1].conv2.weight, tv.layer4[1].conv2.weight)


def test_gradients_reach_the_first_conv_and_bad_args_are_named():
    enc = create_encoder("r2d_tiny", width=4).train()
    enc(torch.rand(2, 3, 2, 32, 32)).square().mean().backward()
    first = next(m for m in enc.modules() if isinstance(m, nn.Conv2d))
    assert first.weight.grad is not None and first.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="width"):
        create_encoder("r2d_tiny", width=0)
    with pytest.raises(ValueError, match="layers"):
        create_encoder("r2d_tiny", layers=(1, 1, 1))
    with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\)"):
        enc(torch.rand(2, 3, 32, 32))
