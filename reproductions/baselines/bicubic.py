"""Bicubic upsampling: the row every SR table starts with."""

import torch
from torch import nn

from bench.data.imresize import imresize
from bench.registry import register


class Bicubic(nn.Module):
    """MATLAB bicubic upsampling to ``round(h * scale)`` x ``round(w * scale)``, channel-agnostic, in the input's
    dtype: ``imresize(lr, scale)`` at whole scales, ``imresize(lr, [H W])`` at fractional ones, whose HR the
    harness crops to ``round(floor(H / s) * s)`` (LIIF's rule); MATLAB's ``imresize(lr, 2.5)`` would round up."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        h, w = lr.shape[-2:]
        return imresize(lr, (round(h * self.scale) / h, round(w * self.scale) / w))


@register("bicubic", paper="baseline", scales=None, channels="any",
          description="MATLAB bicubic upsampling (parameter-free)")
def bicubic(scale: int) -> Bicubic:
    return Bicubic(scale)
