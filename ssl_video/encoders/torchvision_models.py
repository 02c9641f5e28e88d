"""torchvision's video models as encoders: ``r3d_18``, ``mc3_18``, ``r2plus1d_18`` and ``s3d``.

The models are built by torchvision with ``weights=None`` (random init; nothing is downloaded) and
their classifiers are dropped. The kept submodules have torchvision's names (``stem``,
``layer1``..``layer4``; ``features``), so a torchvision state dict loads with
``encoder.load_state_dict(sd, strict=False)`` (only ``fc.*`` / ``classifier.*`` are left over).

Feature maps at 16x112x112 (ENCODERS_SPEC §12, §13):

    r3d_18       layer4   512 x 2 x 7 x 7     33.17 M params (encoder), 40.70 GMACs
    mc3_18       layer4   512 x 16 x 7 x 7    11.49 M, no temporal downsampling after the stem/layer1
    r2plus1d_18  layer4   512 x 2 x 7 x 7     31.30 M (mid-planes per block, as torchvision)
    s3d          features 1024 x T/8 x H/32 x W/32 (Mixed_5c, before the AvgPool3d(2,7,7) head);
                 7.91 M; needs T >= 5 and H, W >= 17 (MaxPool_5a is 2x2x2 without padding).

Input normalisation: torchvision/VMZ Kinetics mean and std (also what torchvision's s3d weights use).
"""

from __future__ import annotations

import torch
from torchvision.models import video

from .base import KINETICS_MEAN, KINETICS_STD, VideoEncoder, register_encoder, set_bn_eps, zero_init_last_bn


class TorchvisionVideoResNet(VideoEncoder):
    """torchvision ``VideoResNet`` trunk (stem, layer1..layer4) without avgpool/fc.

    Clips (B, 3, T, H, W) in [0, 1] -> feature map (B, 512, T', H/16, W/16) or pooled (B, 512).

    Args:
        arch: "r3d_18", "mc3_18" or "r2plus1d_18".
        zero_init_residual: zero the last BN gamma of every block, so blocks start as identities.
        bn_eps: BatchNorm eps (1e-5 PyTorch default; 1e-3 for Caffe2/VMZ ports).
    """

    def __init__(self, arch: str, zero_init_residual: bool = False, bn_eps: float = 1e-5) -> None:
        builders = {"r3d_18": video.r3d_18, "mc3_18": video.mc3_18, "r2plus1d_18": video.r2plus1d_18}
        if arch not in builders:
            raise ValueError(f"arch must be one of {', '.join(builders)}, got {arch!r}")
        model = builders[arch](weights=None)
        super().__init__(512, KINETICS_MEAN, KINETICS_STD)
        self.stem = model.stem
        self.layer1, self.layer2 = model.layer1, model.layer2
        self.layer3, self.layer4 = model.layer3, model.layer4
        set_bn_eps(self, bn_eps)
        if zero_init_residual:
            zero_init_last_bn(self)

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised clips (B, 3, T, H, W) -> layer4 output (B, 512, T', H/16, W/16)."""
        return self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))


class TorchvisionS3D(VideoEncoder):
    """torchvision ``S3D`` trunk (``features``, up to Mixed_5c) without its avgpool/classifier head.

    Clips (B, 3, T, H, W) in [0, 1] -> feature map (B, 1024, T/8, H/32, W/32) or pooled (B, 1024).
    BatchNorm keeps torchvision's TF-style eps 1e-3 and momentum 0.001.
    """

    def __init__(self) -> None:
        model = video.s3d(weights=None)
        super().__init__(1024, KINETICS_MEAN, KINETICS_STD)
        self.features = model.features

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised clips (B, 3, T, H, W) -> Mixed_5c output (B, 1024, T/8, H/32, W/32)."""
        return self.features(x)


@register_encoder("r3d_18")
def r3d_18(zero_init_residual: bool = False, bn_eps: float = 1e-5) -> TorchvisionVideoResNet:
    """torchvision R3D-18 (= VMZ R3D-18 topology), dim 512."""
    return TorchvisionVideoResNet("r3d_18", zero_init_residual, bn_eps)


@register_encoder("mc3_18")
def mc3_18(zero_init_residual: bool = False, bn_eps: float = 1e-5) -> TorchvisionVideoResNet:
    """torchvision MC3-18 (3D convs in stem and layer1, 1x3x3 after; no temporal stride), dim 512."""
    return TorchvisionVideoResNet("mc3_18", zero_init_residual, bn_eps)


@register_encoder("r2plus1d_18")
def r2plus1d_18(zero_init_residual: bool = False, bn_eps: float = 1e-5) -> TorchvisionVideoResNet:
    """torchvision R(2+1)D-18 (45-channel stem, mid-planes per block: 31.30 M, not VMZ's 33.17 M), dim 512."""
    return TorchvisionVideoResNet("r2plus1d_18", zero_init_residual, bn_eps)


@register_encoder("s3d")
def s3d() -> TorchvisionS3D:
    """torchvision S3D (separable stem, no gating), dim 1024."""
    return TorchvisionS3D()
