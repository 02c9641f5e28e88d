"""2D frame encoders: an image CNN applied to every frame, for the single-frame forms of Shuffle&Learn
and OPN (and as an appearance-only baseline).

Same interface as every video encoder: clips (B, 3, T, H, W) in [0, 1]; the 2D trunk runs on all
B x T frames at once (BatchNorm statistics pool over them), ``forward_features`` stacks the per-frame
maps to (B, D, T, H', W') and ``forward`` averages it over (T, H', W'), i.e. the mean over frames of
each frame's globally pooled feature. With T = 1 this is a plain image CNN.

    r2d_tiny      ResNet-10-w in 2D, the CPU variant (ENCODERS_SPEC §11 with 2D convs): stem 7x7
                  stride 2 -> w, no max-pool, 4 stages of basic blocks (w, 2w, 4w, 8w), stride 2 at
                  stages 2-4; map 8w x H/16 x W/16. w = 16: 309,456 params.
    resnet18_2d   torchvision ResNet-18 (weights=None), avgpool/fc dropped; map 512 x H/32 x W/32,
                  11,176,512 params; ImageNet normalisation.
    caffenet_2d   CaffeNet conv1-conv5 (the Shuffle&Learn / OPN trunk): 96 11x11/4, max-pool 3/2,
                  256 5x5 (2 groups), max-pool 3/2, 384 3x3, 384 3x3 (2 groups), 256 3x3 (2 groups);
                  Caffe's ceil-mode pooling; BatchNorm after every conv in place of LRN and biases;
                  map 256 x 13 x 13 at 227x227 (the conv5 output before pool5; fc6/fc7 are not part of
                  the encoder), 2,335,456 params. Input: raw 0-255 pixels minus Caffe's mean colour.

Random initialisation only; nothing is downloaded.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn
from torchvision.models import resnet18
from torchvision.models.resnet import BasicBlock

from .base import VideoEncoder, register_encoder

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Caffe's BGR mean (103.939, 116.779, 123.68) in RGB order, on the 0-255 scale.
CAFFE_MEAN = (123.68 / 255, 116.779 / 255, 103.939 / 255)
CAFFE_STD = (1 / 255, 1 / 255, 1 / 255)


class FrameEncoder2D(VideoEncoder):
    """Wraps a 2D trunk (N, 3, H, W) -> (N, dim, H', W') as a video encoder applied per frame.

    Clips (B, 3, T, H, W) in [0, 1] -> feature map (B, dim, T, H', W') or pooled features (B, dim).
    """

    def __init__(self, trunk: nn.Module, dim: int, mean: Sequence[float], std: Sequence[float]):
        super().__init__(dim, mean, std)
        self.trunk = trunk

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised clips (B, 3, T, H, W) -> per-frame maps stacked to (B, dim, T, H', W')."""
        b, c, t, h, w = x.shape
        maps = self.trunk(x.transpose(1, 2).reshape(b * t, c, h, w))  # (B*T, dim, H', W')
        return maps.view(b, t, *maps.shape[1:]).transpose(1, 2)


def _init_weights(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def tiny_resnet2d(width: int = 16, layers: Sequence[int] = (1, 1, 1, 1)) -> nn.Sequential:
    """ResNet-10-w trunk in 2D: (N, 3, H, W) -> (N, 8w, H/16, W/16)."""
    layers = tuple(layers)
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    if len(layers) != 4 or any(not isinstance(n, int) or n < 1 for n in layers):
        raise ValueError(f"layers must be 4 positive integers, got {layers!r}")
    modules: list[nn.Module] = [
        nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
    ]
    in_planes = width
    for i, blocks in enumerate(layers):
        planes, stride = width * 2**i, 1 if i == 0 else 2
        shortcut = None
        if stride != 1 or in_planes != planes:
            shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )
        stage = [BasicBlock(in_planes, planes, stride, shortcut)]
        stage += [BasicBlock(planes, planes) for _ in range(blocks - 1)]
        modules.append(nn.Sequential(*stage))
        in_planes = planes
    trunk = nn.Sequential(*modules)
    _init_weights(trunk)
    return trunk


def caffenet_trunk() -> nn.Sequential:
    """CaffeNet conv1-conv5 with BN: (N, 3, H, W) -> (N, 256, H', W'); 13 x 13 at 227 x 227."""

    def conv(cin: int, cout: int, k: int, stride: int = 1, pad: int = 0, groups: int = 1) -> list[nn.Module]:
        return [
            nn.Conv2d(cin, cout, k, stride=stride, padding=pad, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        ]

    trunk = nn.Sequential(
        *conv(3, 96, 11, stride=4),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        *conv(96, 256, 5, pad=2, groups=2),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        *conv(256, 384, 3, pad=1),
        *conv(384, 384, 3, pad=1, groups=2),
        *conv(384, 256, 3, pad=1, groups=2),
    )
    _init_weights(trunk)
    return trunk


@register_encoder("r2d_tiny")
def r2d_tiny(width: int = 16, layers: Sequence[int] = (1, 1, 1, 1)) -> FrameEncoder2D:
    """2D ResNet-10-w per frame, dim 8w (CPU variant); ImageNet normalisation."""
    return FrameEncoder2D(tiny_resnet2d(width, layers), 8 * width, IMAGENET_MEAN, IMAGENET_STD)


@register_encoder("resnet18_2d")
def resnet18_2d(zero_init_residual: bool = False) -> FrameEncoder2D:
    """torchvision ResNet-18 per frame (random init), dim 512; ImageNet normalisation."""
    net = resnet18(weights=None, zero_init_residual=zero_init_residual)
    names = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
    trunk = nn.Sequential(OrderedDict((n, getattr(net, n)) for n in names))  # torchvision's names
    return FrameEncoder2D(trunk, 512, IMAGENET_MEAN, IMAGENET_STD)


@register_encoder("caffenet_2d")
def caffenet_2d() -> FrameEncoder2D:
    """CaffeNet conv1-conv5 + BN per frame, dim 256; Caffe mean subtraction on the 0-255 scale."""
    return FrameEncoder2D(caffenet_trunk(), 256, CAFFE_MEAN, CAFFE_STD)
