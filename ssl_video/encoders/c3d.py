"""C3D with BatchNorm, as VCOP uses it (Xu et al., CVPR 2019, ``models/c3d.py``; ENCODERS_SPEC §2.2).

Eight 3x3x3 convs (stride 1, padding 1, with bias), each followed by BatchNorm3d and ReLU; max-pools
as in the original C3D but no pool5 max-pool and no fc6/fc7:

    conv1  64               16 x 112 x 112      pool1 (1,2,2) -> 16 x 56 x 56
    conv2  128              16 x 56 x 56        pool2 (2,2,2) ->  8 x 28 x 28
    conv3a, conv3b  256      8 x 28 x 28        pool3 (2,2,2) ->  4 x 14 x 14
    conv4a, conv4b  512      4 x 14 x 14        pool4 (2,2,2) ->  2 x 7 x 7
    conv5a, conv5b  512      2 x 7 x 7          (feature map, after bn5b + ReLU)
    pool   global average -> 512

27.66 M params, 38.50 GMACs at 16x112x112. Layer names follow VCOP's module (``conv1``/``bn1``, ...,
``conv5b``/``bn5b``), so its backbone weights load by name. Input: raw [0, 1] pixels, as VCOP feeds
it (``ToTensor`` only): the normalisation buffers are the identity.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import IDENTITY_MEAN, IDENTITY_STD, VideoEncoder, register_encoder

# (name, in, out, max-pool after it or None)
_LAYERS = (
    ("1", 3, 64, (1, 2, 2)),
    ("2", 64, 128, (2, 2, 2)),
    ("3a", 128, 256, None),
    ("3b", 256, 256, (2, 2, 2)),
    ("4a", 256, 512, None),
    ("4b", 512, 512, (2, 2, 2)),
    ("5a", 512, 512, None),
    ("5b", 512, 512, None),
)


class C3DBN(VideoEncoder):
    """VCOP's C3D-BN: clips (B, 3, T, H, W) in [0, 1] -> conv5b map (B, 512, T/8, H/16, W/16)
    (``forward_features``; 512 x 2 x 7 x 7 at 16x112x112) or pooled features (B, 512).

    Each stage ``k`` has ``conv{k}`` -> ``bn{k}`` -> ``relu{k}`` and, after conv1, conv2, conv3b and
    conv4b, ``pool{n}`` (max-pool with kernel = stride; pool1 is spatial only).
    """

    def __init__(self) -> None:
        super().__init__(512, IDENTITY_MEAN, IDENTITY_STD)
        self._order: list[str] = []
        for name, c_in, c_out, pool in _LAYERS:
            self.add_module(f"conv{name}", nn.Conv3d(c_in, c_out, kernel_size=3, padding=1))
            self.add_module(f"bn{name}", nn.BatchNorm3d(c_out))
            self.add_module(f"relu{name}", nn.ReLU(inplace=True))
            self._order += [f"conv{name}", f"bn{name}", f"relu{name}"]
            if pool is not None:
                pool_name = f"pool{name[0]}"
                self.add_module(pool_name, nn.MaxPool3d(kernel_size=pool, stride=pool))
                self._order.append(pool_name)

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Clips (B, 3, T, H, W) -> conv5b after BN + ReLU (B, 512, T/8, H/16, W/16)."""
        for name in self._order:
            x = getattr(self, name)(x)
        return x


@register_encoder("c3d_bn")
def c3d_bn() -> C3DBN:
    """VCOP's C3D with BatchNorm (no pool5/fc), dim 512; raw [0, 1] input."""
    return C3DBN()
