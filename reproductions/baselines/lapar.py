"""LAPAR-A (Li et al., "LAPAR: Linearly-Assembled Pixel-Adaptive Regression Network for Single Image
Super-Resolution and Beyond", NeurIPS 2020).

Written from the paper and the facts of the authors' code (dvlab-research/Simple-SR: ``exps/LAPAR_A_x*/config.py``
and ``network.py``, ``utils/modules/lightWeightNet.py``); module and buffer names follow it, so a release loads
strictly. The forward pass:

* a light network (``w_conv``) predicts, for every HR pixel, 72 coefficients from the LR: a 3x3 head, 4 blocks
  of 4 residual units (two 3x3 convs, learnable output and skip scales) fused by a 3x3 conv over their
  concatenation, a (3x3 conv to 32 s^2, ReLU, pixel shuffle s) upsampler, and a tail at HR (3x3 and 5x5
  convs, each scaled by 0.5-initialised scalars, summed, 3x3 fuse + ReLU, 3x3 conv to 72); every conv is
  weight-normalised (``weight_g``, ``weight_v``);
* the LR is bicubic-upsampled (``F.interpolate``), reflect-padded by 2 and filtered by a fixed dictionary of
  72 5x5 filters (Gaussians and differences of Gaussians, ``kernel/kernel_72_k5.pkl``): ``decom_conv.weight``,
  a buffer, not a parameter;
* the output is, per pixel and channel, the coefficient-weighted sum of the 72 filter responses.

The dictionary's values come with a release (the buffer is in the authors' state_dict); without one it is a
placeholder (a centred delta in every filter), which changes no size count.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bench.registry import option, register

__all__ = ["LAPAR", "WeightNet"]

RGB_MEAN = (0.4488, 0.4371, 0.4040)


class WNConv2d(nn.Module):
    """A weight-normalised conv (``nn.utils.weight_norm`` on dim 0): weight = g * v / ||v|| per output channel.
    Kept as its two parameters (the authors' keys ``weight_g``, ``weight_v``): the published params count g."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.padding = kernel_size // 2
        self.weight_v = nn.Parameter(conv.weight.detach().clone())
        self.weight_g = nn.Parameter(conv.weight.detach().flatten(1).norm(dim=1).view(-1, 1, 1, 1))
        self.bias = nn.Parameter(conv.bias.detach().clone())

    def weight(self) -> torch.Tensor:
        return self.weight_v * (self.weight_g / self.weight_v.flatten(1).norm(dim=1).view(-1, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight(), self.bias, padding=self.padding)


class Scale(nn.Module):
    """One learnable scalar (the authors' ``Scale``)."""

    def __init__(self, value: float):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([value]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class AWRU(nn.Module):
    """Adaptive weighted residual unit: res_scale * conv(relu(conv(x))) + x_scale * x."""

    def __init__(self, nf: int):
        super().__init__()
        self.res_scale, self.x_scale = Scale(1.0), Scale(1.0)
        self.body = nn.Sequential(WNConv2d(nf, nf, 3), nn.ReLU(inplace=True), WNConv2d(nf, nf, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_scale(self.body(x)) + self.x_scale(x)


class LFB(nn.Module):
    """Local fusion block: four chained units, their outputs concatenated and fused by a 3x3 conv."""

    def __init__(self, nf: int):
        super().__init__()
        self.b0, self.b1, self.b2, self.b3 = (AWRU(nf) for _ in range(4))
        self.reduction = WNConv2d(4 * nf, nf, 3)
        self.res_scale, self.x_scale = Scale(1.0), Scale(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [x]
        for unit in (self.b0, self.b1, self.b2, self.b3):
            outs.append(unit(outs[-1]))
        return self.res_scale(self.reduction(torch.cat(outs[1:], dim=1))) + self.x_scale(x)


class AWMS(nn.Module):
    """The HR tail: 0.5 * conv3(x) + 0.5 * conv5(x) (learnable scales), 3x3 fuse + ReLU, 3x3 conv to the weights."""

    def __init__(self, nf: int, out_channels: int):
        super().__init__()
        self.tail_k3, self.tail_k5 = WNConv2d(nf, nf, 3), WNConv2d(nf, nf, 5)
        self.scale_k3, self.scale_k5 = Scale(0.5), Scale(0.5)
        self.fuse = WNConv2d(nf, nf, 3)
        self.act = nn.ReLU(inplace=True)
        self.w_conv = WNConv2d(nf, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.scale_k3(self.tail_k3(x)) + self.scale_k5(self.tail_k5(x))
        return self.w_conv(self.act(self.fuse(x)))


class WeightNet(nn.Module):
    """The coefficient regressor: LR RGB in [0, 1] -> ``n_weight`` coefficients per HR pixel."""

    def __init__(self, scale: int, nf: int, blocks: int, n_weight: int):
        super().__init__()
        self.register_buffer("rgb_mean", torch.tensor(RGB_MEAN).view(1, 3, 1, 1))  # in the release
        self.head = nn.Sequential(WNConv2d(3, nf, 3), nn.ReLU(inplace=True))
        self.body = nn.Sequential(*(LFB(nf) for _ in range(blocks)))
        self.up = nn.Sequential(WNConv2d(nf, nf * scale * scale, 3), nn.ReLU(inplace=True), nn.PixelShuffle(scale))
        self.tail = AWMS(nf, n_weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.up(self.body(self.head(x - self.rgb_mean))))


class Dictionary(nn.Module):
    """The fixed filter bank, applied to one channel at a time (the authors' ``ComponentDecConv``)."""

    def __init__(self, n_filters: int, size: int):
        super().__init__()
        delta = torch.zeros(n_filters, 1, size, size)
        delta[:, :, size // 2, size // 2] = 1.0
        self.register_buffer("weight", delta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight)


class LAPAR(nn.Module):
    """LAPAR: RGB in [0, 1] in and out (the authors' data are divided by 255; the mean is in [0, 1])."""

    def __init__(self, scale: int, nf: int = 32, blocks: int = 4, n_weight: int = 72, kernel_size: int = 5):
        super().__init__()
        self.scale, self.kernel_size = scale, kernel_size
        self.w_conv = WeightNet(scale, nf, blocks, n_weight)
        self.decom_conv = Dictionary(n_weight, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        s, pad = self.scale, self.kernel_size // 2
        bicubic = F.interpolate(x, scale_factor=s, mode="bicubic", align_corners=False)
        padded = F.pad(bicubic, (pad, pad, pad, pad), mode="reflect")
        responses = self.decom_conv(padded.view(b * c, 1, *padded.shape[-2:])).view(b, c, -1, s * h, s * w)
        weights = self.w_conv(x).view(b, 1, -1, s * h, s * w)
        return (weights * responses).sum(dim=2)

    def analytic_mult_adds(self, lr_h: int, lr_w: int) -> int:
        """LAPAR's published count, as reconstructed: every conv of the weight network, one multiply-accumulate
        per weight per output plus one add per output for its bias (thop's rule for ``nn.Conv2d``), and nothing
        for the functional steps thop does not see (bicubic upsampling, the dictionary's ``F.conv2d``, the
        weighted sum). At 1280x720 it gives 170.76 / 113.70 / 93.97 G, printed as 171.0 / 114.0 / 94.0 G."""
        total = 0
        hr_pixels = lr_h * lr_w * self.scale * self.scale
        for name, module in self.w_conv.named_modules():
            if isinstance(module, WNConv2d):
                pixels = hr_pixels if name.startswith("tail.") else lr_h * lr_w
                out_channels, in_channels, kh, kw = module.weight_v.shape
                total += pixels * out_channels * (in_channels * kh * kw + 1)
        return total


@dataclass(frozen=True)
class LAPARAConfig:
    nf: int = option(32, "code: exps/LAPAR_A_x*/config.py, MODEL.N_CHANNEL = 32")
    blocks: int = option(4, "code: exps/LAPAR_A_x*/config.py, MODEL.RES_BLOCK = 4")
    n_weight: int = option(72, "paper / code: a dictionary of 72 filters (MODEL.N_WEIGHT, kernel_72_k5.pkl)")
    kernel_size: int = option(5, "paper / code: 5x5 filters (MODEL.KERNEL_SIZE = 5)")


@register("lapar-a", paper="LAPAR (NeurIPS 2020)", scales=(2, 3, 4), config=LAPARAConfig,
          description="LAPAR-A: 32 channels, 4 blocks, 72 5x5 dictionary filters on the bicubic upsampling")
def lapar_a(scale: int, nf: int = 32, blocks: int = 4, n_weight: int = 72, kernel_size: int = 5) -> LAPAR:
    return LAPAR(scale, nf, blocks, n_weight, kernel_size)
