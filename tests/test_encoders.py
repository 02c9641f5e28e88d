"""Encoder zoo: the uniform interface, sizes against ENCODERS_SPEC, normalisation and the registry."""

from __future__ import annotations

import socket
from importlib.metadata import EntryPoint

import pytest
import torch
from torch import nn

from ssl_video.encoders import (
    ENCODERS,
    EncoderArgumentError,
    UnknownEncoderError,
    VideoEncoder,
    base,
    create_encoder,
    list_encoders,
    register_encoder,
)

KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)

# name -> (kwargs, small input T x H x W, expected dim, expected feature map T' x H' x W')
SMALL = {
    "c3d_bn": ({}, (8, 32, 32), 512, (1, 2, 2)),
    "r3d_tiny": ({"width": 8}, (8, 32, 32), 64, (1, 2, 2)),
    "r2plus1d_tiny": ({"width": 8}, (8, 32, 32), 64, (1, 2, 2)),
    "r3d_10": ({}, (8, 32, 32), 512, (1, 2, 2)),
    "r3d_18": ({}, (8, 32, 32), 512, (1, 2, 2)),
    "mc3_18": ({}, (8, 32, 32), 512, (8, 2, 2)),
    "r2plus1d_18": ({}, (8, 32, 32), 512, (1, 2, 2)),
    "s3d": ({}, (8, 64, 64), 1024, (1, 2, 2)),
}


def conv_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates of all Conv3d layers for one clip: k_t k_h k_w C_in/groups C_out T'H'W' each."""
    total = 0

    def hook(m: nn.Conv3d, inputs, out: torch.Tensor) -> None:
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1] * m.kernel_size[2]
        total += k * (m.in_channels // m.groups) * out[0].numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv3d)]
    with torch.no_grad():
        model(x[:1])
    for h in handles:
        h.remove()
    return total


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_builtin_names_registered():
    assert set(SMALL) <= set(list_encoders())
    assert list_encoders() == sorted(ENCODERS)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_interface_shapes_and_pooling(name):
    torch.manual_seed(0)
    kwargs, (t, h, w), dim, out_thw = SMALL[name]
    enc = create_encoder(name, **kwargs).eval()
    assert isinstance(enc, VideoEncoder) and enc.dim == dim
    x = torch.rand(2, 3, t, h, w)
    with torch.no_grad():
        fmap = enc.forward_features(x)
        pooled = enc(x)
    assert fmap.shape == (2, dim, *out_thw)
    assert pooled.shape == (2, dim)
    torch.testing.assert_close(pooled, fmap.mean(dim=(2, 3, 4)))
    assert not any(k.startswith("input_") for k in enc.state_dict())  # constants are not weights


@pytest.mark.parametrize(
    "name, kwargs, params",
    [
        ("c3d_bn", {}, 27_661_440),  # 27.66 M (§2.2)
        ("r3d_tiny", {"width": 32}, 3_598_944),  # 3.599 M (§11.2)
        ("r3d_tiny", {"width": 16}, 903_984),  # 0.904 M
        ("r2plus1d_tiny", {"width": 32}, 3_600_940),  # 3.601 M
        ("r3d_10", {}, 14_361_792),  # 14.36 M (§3.3)
        ("r3d_18", {}, 33_166_272),  # 33.17 M encoder (§3.1)
        ("mc3_18", {}, 11_490_240),  # 11.49 M
        ("r2plus1d_18", {}, 31_300_125),  # 31.30 M (torchvision's per-block mid-planes, §4)
        ("s3d", {}, 7_910_048),  # 7.91 M (§7)
    ],
)
def test_parameter_counts_match_spec(name, kwargs, params):
    assert n_params(create_encoder(name, **kwargs)) == params


def test_r3d_tiny_macs_match_hand_sum():
    enc = create_encoder("r3d_tiny", width=32)
    assert conv_macs(enc, torch.rand(1, 3, 8, 64, 64)) == 869_531_648  # §11.2 table, 0.870 G


def test_r2plus1d_tiny_macs_within_one_percent():
    enc = create_encoder("r2plus1d_tiny", width=32)
    macs = conv_macs(enc, torch.rand(1, 3, 8, 64, 64))
    assert abs(macs / 0.929e9 - 1) < 0.01
    assert enc.stem[0].out_channels == 58  # M_s for w = 32 (§11.1)
    assert enc.layer2[0].conv1[0][0].out_channels == 115  # M of 32 -> 64 (§11.2)
    assert enc.layer2[0].conv2[0][0].out_channels == 144  # per-conv M of 64 -> 64, not the block's 115


def test_c3d_bn_feature_map_at_standard_input():
    enc = create_encoder("c3d_bn").eval()
    with torch.no_grad():
        assert enc.forward_features(torch.rand(1, 3, 16, 112, 112)).shape == (1, 512, 2, 7, 7)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_normalisation_applied_inside(name):
    torch.manual_seed(0)
    kwargs, (t, h, w), _, _ = SMALL[name]
    enc = create_encoder(name, **kwargs).eval()
    mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    if name != "c3d_bn":  # VCOP feeds raw [0, 1] pixels to C3D
        mean, std = KINETICS_MEAN, KINETICS_STD
    torch.testing.assert_close(enc.input_mean, torch.tensor(mean))
    torch.testing.assert_close(enc.input_std, torch.tensor(std))
    x = torch.rand(2, 3, t, h, w)
    normed = (x - torch.tensor(mean).view(1, 3, 1, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(enc.forward_features(x), enc.forward_trunk(normed))
        if name != "c3d_bn":
            assert not torch.allclose(enc.forward_features(x), enc.forward_trunk(x))


def test_bad_input_shape_is_rejected():
    with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\)"):
        create_encoder("r3d_tiny", width=4)(torch.rand(2, 8, 32, 32))


@pytest.mark.parametrize("name", ["r3d_tiny", "r2plus1d_tiny"])
def test_gradients_flow_to_first_conv(name):
    enc = create_encoder(name, width=8).train()
    enc(torch.rand(2, 3, 8, 32, 32)).square().mean().backward()
    grad = enc.stem[0].weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_tiny_options():
    short = create_encoder("r3d_tiny", width=4, temporal_strides=[1, 2, 2, 1]).eval()
    with torch.no_grad():
        assert short.forward_features(torch.rand(1, 3, 4, 32, 32)).shape == (1, 32, 1, 2, 2)
        assert short.forward_features(torch.rand(1, 3, 16, 32, 32)).shape == (1, 32, 4, 2, 2)
    deep = create_encoder("r2plus1d_tiny", width=4, layers=(2, 2, 2, 2), zero_init_residual=True, bn_eps=1e-3)
    assert all(len(stage) == 2 for stage in (deep.layer1, deep.layer2, deep.layer3, deep.layer4))
    assert all(m.eps == 1e-3 for m in deep.modules() if isinstance(m, nn.BatchNorm3d))
    assert all(b.conv2[1].weight.abs().sum() == 0 for b in deep.layer3)
    with pytest.raises(ValueError, match="temporal_strides"):
        create_encoder("r3d_tiny", temporal_strides=(1, 2, 2))
    with pytest.raises(ValueError, match="width"):
        create_encoder("r3d_tiny", width=0)


def test_torchvision_state_dict_loads_by_name():
    from torchvision.models.video import mc3_18

    tv = mc3_18(weights=None)
    enc = create_encoder("mc3_18", zero_init_residual=True)
    missing, unexpected = enc.load_state_dict(tv.state_dict(), strict=False)
    assert missing == [] and sorted(unexpected) == ["fc.bias", "fc.weight"]
    torch.testing.assert_close(enc.layer4[1].conv2[1].weight, tv.layer4[1].conv2[1].weight)


def test_nothing_touches_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an encoder tried to download or connect")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr("torchvision.models._api.WeightsEnum.get_state_dict", refuse)
    for name in list_encoders():
        create_encoder(name)


def test_unknown_name_lists_close_matches():
    with pytest.raises(UnknownEncoderError) as err:
        create_encoder("r3d_tinny")
    msg = str(err.value)
    assert "did you mean r3d_tiny" in msg and "c3d_bn" in msg and "s3d" in msg
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)


def test_unknown_kwarg_is_named():
    with pytest.raises(EncoderArgumentError) as err:
        create_encoder("r3d_tiny", widht=32)
    msg = str(err.value)
    assert "'widht'" in msg and "width" in msg and "temporal_strides" in msg
    assert isinstance(err.value, TypeError)
    with pytest.raises(TypeError, match="accepted: none"):
        create_encoder("c3d_bn", width=3)


def test_register_and_create_third_party_factory():
    class Flat(VideoEncoder):
        def __init__(self, channels: int):
            super().__init__(channels, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
            self.proj = nn.Conv3d(3, channels, kernel_size=1)

        def forward_trunk(self, x):
            return self.proj(x)

    @register_encoder("test_flat")
    def flat(channels: int = 5):
        return Flat(channels)

    try:
        assert "test_flat" in list_encoders()
        enc = create_encoder("test_flat", channels=7)
        assert enc(torch.rand(2, 3, 2, 4, 4)).shape == (2, 7)
        register_encoder("test_flat")(flat)  # the same factory again is a no-op
        with pytest.raises(ValueError, match="already registered"):
            register_encoder("test_flat")(lambda: Flat(3))
        with pytest.raises(ValueError, match="already registered"):
            register_encoder("r3d_tiny")(flat)
    finally:
        ENCODERS.pop("test_flat", None)


def test_factory_must_return_a_video_encoder():
    register_encoder("test_not_an_encoder")(lambda: nn.Identity())
    try:
        with pytest.raises(TypeError, match="not a VideoEncoder"):
            create_encoder("test_not_an_encoder")
    finally:
        ENCODERS.pop("test_not_an_encoder", None)


def test_entry_points_loaded_on_first_miss(monkeypatch):
    eps = [
        EntryPoint("test_ep_tiny", "ssl_video.encoders.tiny:r3d_tiny", base.ENTRY_POINT_GROUP),
        EntryPoint("test_ep_broken", "no_such_module_xyz:factory", base.ENTRY_POINT_GROUP),
    ]
    calls = []

    def fake_entry_points(group):
        calls.append(group)
        return eps

    monkeypatch.setattr(ENCODERS, "_discover", fake_entry_points)
    monkeypatch.setattr(ENCODERS, "_entry_points_loaded", False)
    try:
        create_encoder("r3d_tiny", width=4)  # a hit does not load plugins
        assert calls == []
        with pytest.warns(UserWarning, match="test_ep_broken"):
            enc = create_encoder("test_ep_tiny", width=4)
        assert enc.dim == 32 and calls == [base.ENTRY_POINT_GROUP]
        create_encoder("test_ep_tiny", width=4)
        assert calls == [base.ENTRY_POINT_GROUP]  # loaded once
    finally:
        ENCODERS.pop("test_ep_tiny", None)
