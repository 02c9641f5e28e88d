"""The encoder interface, the registry and ``create_encoder``.

Every encoder takes float clips ``(B, 3, T, H, W)`` with values in [0, 1] and normalises them itself
with its ``input_mean`` / ``input_std`` buffers, so callers never need to know an architecture's
normalisation constants. ``forward_features`` returns the last convolutional stage's map
``(B, dim, T', H', W')`` before any pooling; ``forward`` is its global average, ``(B, dim)``.

Encoders are built by name, like ``timm.create_model``::

    enc = create_encoder("r3d_tiny", width=32)

A factory is any callable ``(**kwargs) -> VideoEncoder`` decorated with ``@register_encoder(name)``.
Third-party packages register factories through the entry-point group ``ssl_video.encoders``
(``name = "package.module:factory"``); the group is loaded on the first lookup of an unknown name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torchvision.models.video.resnet import BasicBlock, Bottleneck

from ..registry import Registry

ENTRY_POINT_GROUP = "ssl_video.encoders"

# Kinetics-400 RGB statistics used by VMZ and torchvision's video models (and their tiny variants).
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
# Raw [0, 1] input, as VCOP feeds its C3D: no normalisation.
IDENTITY_MEAN = (0.0, 0.0, 0.0)
IDENTITY_STD = (1.0, 1.0, 1.0)


class VideoEncoder(nn.Module):
    """Base class of all encoders: input normalisation, pooled features and the feature map.

    Subclasses implement ``forward_trunk`` (already-normalised clip -> feature map) and pass their
    pooled feature size ``dim`` and normalisation constants to ``__init__``.

    Attributes:
        dim: pooled feature size D; also the number of channels C of the feature map.
        input_mean, input_std: (3,) non-persistent buffers; ``x`` is normalised as
            ``(x - mean) / std`` per RGB channel. Non-persistent, so state dicts hold only learned
            weights and statistics and load into any encoder of the same architecture.
    """

    dim: int
    input_mean: torch.Tensor
    input_std: torch.Tensor

    def __init__(self, dim: int, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.dim = int(dim)
        self.register_buffer("input_mean", torch.tensor(mean, dtype=torch.float32), persistent=False)
        self.register_buffer("input_std", torch.tensor(std, dtype=torch.float32), persistent=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) in [0, 1] -> (B, 3, T, H, W) normalised with ``input_mean``/``input_std``."""
        if x.dim() != 5 or x.shape[1] != 3:
            raise ValueError(f"expected clips of shape (B, 3, T, H, W), got {tuple(x.shape)}")
        mean = self.input_mean.to(x.dtype).view(1, 3, 1, 1, 1)
        std = self.input_std.to(x.dtype).view(1, 3, 1, 1, 1)
        return (x - mean) / std

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised clips (B, 3, T, H, W) -> feature map (B, dim, T', H', W'). Implemented by subclasses."""
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Clips (B, 3, T, H, W) in [0, 1] -> last-stage feature map (B, dim, T', H', W'), before pooling."""
        return self.forward_trunk(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Clips (B, 3, T, H, W) in [0, 1] -> pooled (B, dim): the feature map's mean over T', H', W'."""
        return self.forward_features(x).mean(dim=(2, 3, 4))


class UnknownEncoderError(KeyError, ValueError):
    """``create_encoder`` was given a name that no factory is registered under."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


class EncoderArgumentError(TypeError, ValueError):
    """``create_encoder`` was given a keyword argument the factory does not accept."""


ENCODERS: Registry[Callable[..., VideoEncoder]] = Registry("encoder", ENTRY_POINT_GROUP)


def register_encoder(name: str) -> Callable[[Callable[..., VideoEncoder]], Callable[..., VideoEncoder]]:
    """Decorator registering ``factory(**kwargs) -> VideoEncoder`` under ``name``.

    Registering a different factory under a name that is taken raises ValueError.
    """
    return ENCODERS.register(name)


def list_encoders() -> list[str]:
    """Names accepted by ``create_encoder`` (built-in and entry-point factories), sorted."""
    return ENCODERS.names()


def create_encoder(name: str, **kwargs) -> VideoEncoder:
    """Build the encoder registered as ``name`` with the factory's keyword arguments ``kwargs``.

    Raises:
        UnknownEncoderError (a KeyError and ValueError): unknown name; the message lists close
            matches and all registered names.
        EncoderArgumentError (a TypeError and ValueError): a keyword the factory does not accept;
            the message names it and lists the accepted ones.
    """
    factory = ENCODERS.get_or_raise(name, UnknownEncoderError)
    params = inspect.signature(factory).parameters.values()
    accepted = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        unknown = [k for k in kwargs if k not in accepted]
        if unknown:
            raise EncoderArgumentError(
                f"encoder {name!r} got unknown keyword argument(s) {', '.join(map(repr, unknown))}; "
                f"accepted: {', '.join(accepted) if accepted else 'none'}"
            )
    encoder = factory(**kwargs)
    if not isinstance(encoder, VideoEncoder):
        raise TypeError(f"encoder factory {name!r} returned {type(encoder).__name__}, not a VideoEncoder")
    return encoder


def set_bn_eps(module: nn.Module, eps: float) -> None:
    """Set ``eps`` of every BatchNorm layer in ``module`` (1e-3 for Caffe2/VMZ/TF ports, 1e-5 PyTorch)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eps = float(eps)


def zero_init_last_bn(module: nn.Module) -> None:
    """Zero the last BN gamma of every torchvision video-ResNet block in ``module``, so each residual
    branch starts as zero and each block as the identity (PySlowFast ``ZERO_INIT_FINAL_BN``)."""
    for m in module.modules():
        if isinstance(m, BasicBlock):
            nn.init.zeros_(m.conv2[1].weight)
        elif isinstance(m, Bottleneck):
            nn.init.zeros_(m.conv3[1].weight)
