"""Width/depth-configurable video ResNets for CPU runs: R3D-10-w and R(2+1)D-10-w (ENCODERS_SPEC §11).

The Tran/VMZ topology (the one torchvision's ``VideoResNet`` implements, and VCOP's R3D) with the
stage widths scaled: torchvision hard-codes 64..512, so the network is assembled here from
torchvision's ``BasicBlock`` and ``Conv3DSimple`` with a width ``w``:

    stem      3x7x7 conv, stride (1,2,2), 3 -> w, BN, ReLU; no max-pool        T   x H/2  x W/2
    layer1    ``layers[0]`` basic blocks, width w,  stride (t1,1,1)           T/t1 ...
    layer2    ``layers[1]`` basic blocks, width 2w, stride (t2,2,2)           ...  x H/4  x W/4
    layer3    ``layers[2]`` basic blocks, width 4w, stride (t3,2,2)           ...  x H/8  x W/8
    layer4    ``layers[3]`` basic blocks, width 8w, stride (t4,2,2)           T/8  x H/16 x W/16
    pool      global average -> 8w

``(t1, t2, t3, t4) = temporal_strides``, default ``(1, 2, 2, 2)``: time is halved at the first block
of layer2..layer4, as in VMZ. The stride sits on the block's first conv; a block whose shape changes
gets a 1x1x1 conv + BN shortcut with the same stride. For clips shorter than 8 frames VMZ turns the
temporal stride off in the last stage(s); do the same with e.g. ``temporal_strides=(1, 2, 2, 1)`` for
4 frames (each stride-2 stage maps T to ceil(T/2), so T never drops below 1, but the last stages then
see a single frame).

The (2+1)D variant replaces every 3x3x3 conv (N_in -> N_out) by 1x3x3 (N_in -> M) + BN + ReLU +
3x1x1 (M -> N_out), with M = floor(27 N_in N_out / (9 N_in + 3 N_out)) computed for each conv (so it
has the parameters of the 3D conv; torchvision's ``r2plus1d_18`` computes M once per block instead).
Its stem is 1x7x7 (3 -> M_s) + BN + ReLU + 3x1x1 (M_s -> w) + BN + ReLU with
M_s = floor(441 w / (147 + 3 w)), and its shortcuts stay plain 1x1x1 convs.

Sizes at w = 32, 8x64x64: R3D 3.599 M params, 0.870 GMACs; R(2+1)D 3.601 M, 0.929 GMACs.
w = 16 ("cpu-tiny"): 0.90 M params, 0.246 GMACs. w = 64 is VCOP's R3D-10 (``r3d_10``): 14.36 M.
Input normalisation: the torchvision/VMZ Kinetics mean and std.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torchvision.models.video.resnet import BasicBlock, Conv3DSimple

from .base import KINETICS_MEAN, KINETICS_STD, VideoEncoder, register_encoder, set_bn_eps, zero_init_last_bn


def _triple(stride: int | Sequence[int]) -> tuple[int, int, int]:
    return (stride,) * 3 if isinstance(stride, int) else tuple(stride)


def midplanes(in_planes: int, out_planes: int, kt: int = 3, kd: int = 3) -> int:
    """Mid-planes M of a (2+1)D kt x kd x kd conv with (about) the 3D conv's parameter count (§4)."""
    return (kt * kd * kd * in_planes * out_planes) // (kd * kd * in_planes + kt * out_planes)


class Conv2Plus1DPerConv(nn.Sequential):
    """1x3x3 conv (-> M, spatial stride) + BN + ReLU + 3x1x1 conv (M -> out, temporal stride), no bias.

    A ``conv_builder`` for torchvision's ``BasicBlock``: same signature and module layout as
    torchvision's ``Conv2Plus1D``, but the ``midplanes`` argument (computed by ``BasicBlock`` once per
    block) is ignored and M is computed from this conv's own ``in_planes``/``out_planes``, and
    ``stride`` may be a (t, h, w) triple.

    Shapes: (B, in, T, H, W) -> (B, out, T/t, H/h, W/w).
    """

    def __init__(
        self,
        in_planes: int,
        out_planes: int,
        midplanes_unused: int | None = None,
        stride: int | Sequence[int] = 1,
        padding: int = 1,
    ) -> None:
        st, sh, sw = _triple(stride)
        mid = midplanes(in_planes, out_planes)
        super().__init__(
            nn.Conv3d(
                in_planes, mid, (1, 3, 3), stride=(1, sh, sw), padding=(0, padding, padding), bias=False
            ),
            nn.BatchNorm3d(mid),
            nn.ReLU(inplace=True),
            nn.Conv3d(mid, out_planes, (3, 1, 1), stride=(st, 1, 1), padding=(padding, 0, 0), bias=False),
        )


class TinyVideoResNet(VideoEncoder):
    """R3D-10-w / R(2+1)D-10-w (see the module docstring): clips (B, 3, T, H, W) in [0, 1] ->
    feature map (B, 8w, T', H/16, W/16) (``forward_features``) or pooled features (B, 8w).

    Args:
        width: w, the width of the stem and layer1; stages have (w, 2w, 4w, 8w) channels.
        layers: basic blocks per stage; (1, 1, 1, 1) is depth 10, (2, 2, 2, 2) depth 18.
        temporal_strides: temporal stride of the first block of each of the 4 stages.
        conv: "3d" (R3D) or "2plus1d" (R(2+1)D).
        zero_init_residual: zero the last BN gamma of every block, so blocks start as identities.
        bn_eps: BatchNorm eps (1e-5 PyTorch default; 1e-3 for Caffe2/VMZ ports).
    """

    def __init__(
        self,
        width: int = 16,
        layers: Sequence[int] = (1, 1, 1, 1),
        temporal_strides: Sequence[int] = (1, 2, 2, 2),
        conv: str = "3d",
        zero_init_residual: bool = False,
        bn_eps: float = 1e-5,
    ) -> None:
        layers, temporal_strides = tuple(layers), tuple(temporal_strides)
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive integer, got {width!r}")
        if len(layers) != 4 or any(not isinstance(n, int) or n < 1 for n in layers):
            raise ValueError(f"layers must be 4 positive integers, got {layers!r}")
        if len(temporal_strides) != 4 or any(not isinstance(s, int) or s < 1 for s in temporal_strides):
            raise ValueError(f"temporal_strides must be 4 positive integers, got {temporal_strides!r}")
        if conv not in ("3d", "2plus1d"):
            raise ValueError(f"conv must be '3d' or '2plus1d', got {conv!r}")
        super().__init__(8 * width, KINETICS_MEAN, KINETICS_STD)

        if conv == "3d":
            builder = Conv3DSimple
            self.stem = nn.Sequential(
                nn.Conv3d(3, width, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
                nn.BatchNorm3d(width),
                nn.ReLU(inplace=True),
            )
        else:
            builder = Conv2Plus1DPerConv
            mid = midplanes(3, width, kt=3, kd=7)
            self.stem = nn.Sequential(
                nn.Conv3d(3, mid, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
                nn.BatchNorm3d(mid),
                nn.ReLU(inplace=True),
                nn.Conv3d(mid, width, (3, 1, 1), padding=(1, 0, 0), bias=False),
                nn.BatchNorm3d(width),
                nn.ReLU(inplace=True),
            )
        in_planes = width
        stages = []
        for i, (blocks, t_stride) in enumerate(zip(layers, temporal_strides, strict=True)):
            planes = width * 2**i
            stride = (t_stride, 1, 1) if i == 0 else (t_stride, 2, 2)
            shortcut = None
            if stride != (1, 1, 1) or in_planes != planes:
                shortcut = nn.Sequential(
                    nn.Conv3d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm3d(planes),
                )
            stage = [BasicBlock(in_planes, planes, builder, stride, shortcut)]
            stage += [BasicBlock(planes, planes, builder) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*stage))
            in_planes = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = stages

        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        set_bn_eps(self, bn_eps)
        if zero_init_residual:
            zero_init_last_bn(self)

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised clips (B, 3, T, H, W) -> layer4 output (B, 8w, T', H/16, W/16)."""
        return self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))


@register_encoder("r3d_tiny")
def r3d_tiny(
    width: int = 16,
    layers: Sequence[int] = (1, 1, 1, 1),
    temporal_strides: Sequence[int] = (1, 2, 2, 2),
    zero_init_residual: bool = False,
    bn_eps: float = 1e-5,
) -> TinyVideoResNet:
    """R3D-10-w, dim 8w; the default w = 16 is the "cpu-tiny" preset (0.90 M params, 0.246 GMACs at 8x64²)."""
    return TinyVideoResNet(width, layers, temporal_strides, "3d", zero_init_residual, bn_eps)


@register_encoder("r2plus1d_tiny")
def r2plus1d_tiny(
    width: int = 16,
    layers: Sequence[int] = (1, 1, 1, 1),
    temporal_strides: Sequence[int] = (1, 2, 2, 2),
    zero_init_residual: bool = False,
    bn_eps: float = 1e-5,
) -> TinyVideoResNet:
    """R(2+1)D-10-w with per-conv mid-planes and plain 1x1x1 shortcuts, dim 8w."""
    return TinyVideoResNet(width, layers, temporal_strides, "2plus1d", zero_init_residual, bn_eps)


@register_encoder("r3d_10")
def r3d_10(
    temporal_strides: Sequence[int] = (1, 2, 2, 2), zero_init_residual: bool = False, bn_eps: float = 1e-5
) -> TinyVideoResNet:
    """VCOP's R3D (``R3DNet(layer_sizes=(1, 1, 1, 1))``): R3D-10 at width 64, dim 512, 14.36 M params,
    19.89 GMACs and a 512x2x7x7 map at 16x112x112. Same topology as VCOP; parameter names follow
    torchvision, not VCOP, and input is Kinetics-normalised (VCOP fed raw [0, 1])."""
    return TinyVideoResNet(64, (1, 1, 1, 1), temporal_strides, "3d", zero_init_residual, bn_eps)
