"""SRMDNF: SRMD for noise-free LR images (Zhang, Zuo and Zhang, CVPR 2018), built for its size (no weights here).

From the paper and the authors' code (cszn/SRMD ``TrainingCodes/model_init_SRMD_x3.m``; the PyTorch
port by the same author, cszn/KAIR ``models/network_srmd.py`` and ``main_test_srmd.py``):

* the input is the LR image with its degradation maps concatenated: the blur kernel's 15-dimensional PCA
  projection, each value stretched to an LR-size map (SRMD adds a 16th map, the noise level; SRMDNF does not),
  so 3 + 15 = 18 channels;
* 12 conv layers on the LR, all 3x3 with 128 filters at every scale (KAIR: ``nc = 128  # fixed``, ``nb = 12``):
  conv + ReLU, 10 x (conv + ReLU), then a conv to 3 s^2 channels and a pixel shuffle. The training code puts a
  batch norm after each middle conv; the released models have it merged (KAIR's test network has none).

The module names are KAIR's (``model.0`` ... ``model.22``). Its test code takes the degradation vector as
``P @ kernel`` (the PCA matrix of ``srmd_pca_matlab.mat`` times a near-delta Gaussian for bicubic SR); that
matrix is not here, so ``degradation`` is a zero buffer: the size and the operators are the network's, the
outputs are not SRMDNF's.

Size: 1,510,540 parameters at x2 (MSTN's Table II: 1.51M), 1,527,835 at x3, 1,552,048 at x4.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.registry import option, register

__all__ = ["SRMD"]


class SRMD(nn.Module):
    def __init__(self, scale: int, degradation_dims: int = 15, channels: int = 128, num_layers: int = 12):
        super().__init__()
        self.scale = scale
        self.register_buffer("degradation", torch.zeros(1, degradation_dims, 1, 1))
        layers: list[nn.Module] = [nn.Conv2d(3 + degradation_dims, channels, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(num_layers - 2):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True)]
        layers += [nn.Conv2d(channels, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale)]
        self.model = nn.Sequential(*layers)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        maps = self.degradation.expand(lr.shape[0], -1, lr.shape[2], lr.shape[3])
        return self.model(torch.cat([lr, maps], dim=1))


@dataclass(frozen=True)
class SRMDNFConfig:
    degradation_dims: int = option(15, "paper / code: dim_PCA = 15 kernel PCA maps, no noise map (NF)")
    channels: int = option(128, "paper / KAIR main_test_srmd.py: nc = 128 at every scale")
    num_layers: int = option(12, "paper / KAIR main_test_srmd.py: nb = 12 conv layers")


@register("srmdnf", paper="SRMD (CVPR 2018)", scales=(2, 3, 4), config=SRMDNFConfig,
          description="SRMDNF: 12 convs of 128 filters on the LR + 15 degradation maps; size only (zero maps)")
def srmdnf(scale: int, degradation_dims: int = 15, channels: int = 128, num_layers: int = 12) -> SRMD:
    return SRMD(scale, degradation_dims, channels, num_layers)
