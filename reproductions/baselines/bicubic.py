"""Bicubic upsampling: the row every SR table starts with."""

import torch
from torch import nn

from bench.data.imresize import imresize
from bench.registry import register


class Bicubic(nn.Module):
    """MATLAB ``imresize(lr, scale, 'bicubic')``, channel-agnostic, in the input's dtype."""

    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return imresize(lr, self.scale)


@register("bicubic", paper="baseline", scales=None, channels="any",
          description="MATLAB bicubic upsampling (parameter-free)")
def bicubic(scale: int) -> Bicubic:
    return Bicubic(scale)
