"""UltraSR (Xu, Wang & Shi, arXiv 2021): LIIF with a spatial (periodic) encoding of the query coordinate.

UltraSR's code was never released (SHI-Labs/UltraSR-Arbitrary-Scale-Super-Resolution holds a README only,
which says no more than that spatial coordinates and a periodic encoding are built deep into the implicit
function). This is LIIF (``liif.py``: unfold, local ensemble, cell decoding, MLP of four hidden layers
of 256) with that encoding in its most common form, inferred rather than read: the relative coordinate d is
encoded NeRF-style, ``[sin(2^k pi d), cos(2^k pi d)] for k < L``, and concatenated to the MLP's input next to
the raw coordinate; the 256-wide hidden layers are joined by residual links (how a reproducer read the paper
in the repository's issue 2). The number of bands L and where the encoding enters are not known, so they
are options. Their cost is small: L bands add 4 L x 256 weights to the first layer, so the printed 1.6M /
22.3M admit any L up to 28 (RDN: LIIF's 22,320,835 plus at most 29,164), and they rule out feeding a 10-band
encoding to all four hidden layers (40,960 more).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from bench import registry
from bench.registry import option, register
from reproductions.baselines.liif import HIDDEN, LIIF, MLP, unwrap_liif_checkpoint

__all__ = ["UltraSR", "ResidualMLP"]


@dataclass(frozen=True)
class UltraSRConfig:
    bands: int = option(10, "inf: code unreleased; NeRF's 10 octaves for 2-D positions (any L <= 28 fits 22.3M)")
    residual: bool = option(True, "UltraSR repository issue 2: residual links between the 256-wide layers")


class ResidualMLP(MLP):
    """LIIF's MLP (same ``layers`` and parameters) with each hidden layer after the first added to its input
    when the widths agree."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *hidden, last = self.layers
        for linear, relu in zip(hidden[::2], hidden[1::2], strict=True):
            y = relu(linear(x))
            x = y + x if y.shape == x.shape else y
        return last(x)


class UltraSR(LIIF):
    def __init__(self, encoder: nn.Module, scale: float, bands: int = 10, residual: bool = True,
                 hidden: tuple[int, ...] = HIDDEN, chunk: int = 30000):
        super().__init__(encoder, scale, hidden=hidden, chunk=chunk)
        self.bands = bands
        in_dim = self.imnet.layers[0].in_features + 4 * bands
        self.imnet = (ResidualMLP if residual else type(self.imnet))(in_dim, 3, hidden)

    def imnet_inputs(self, code: torch.Tensor, rel_coord: torch.Tensor, rel_cell: torch.Tensor) -> list[torch.Tensor]:
        octaves = math.pi * 2.0 ** torch.arange(self.bands, device=rel_coord.device, dtype=rel_coord.dtype)
        angles = (rel_coord.unsqueeze(-1) * octaves).flatten(-2)  # (..., 2 L): row bands, then column bands
        return [code, rel_coord, torch.sin(angles), torch.cos(angles), rel_cell]


@register("ultrasr-edsr-baseline", paper="UltraSR (arXiv 2021)", scales=None, remap_weights=unwrap_liif_checkpoint,
          config=UltraSRConfig)
def ultrasr_edsr_baseline(scale: float, bands: int = 10, residual: bool = True) -> UltraSR:
    """UltraSR (LIIF + spatial encoding) on LIIF's EDSR-baseline encoder (~1.6M params)"""
    encoder = registry.make("edsr-baseline", scale=2, no_upsampling=True, mean_shift=False)
    return UltraSR(encoder, scale, bands=bands, residual=residual)


@register("ultrasr-rdn", paper="UltraSR (arXiv 2021)", scales=None, remap_weights=unwrap_liif_checkpoint,
          config=UltraSRConfig)
def ultrasr_rdn(scale: float, bands: int = 10, residual: bool = True) -> UltraSR:
    """UltraSR (LIIF + spatial encoding) on LIIF's RDN encoder (~22.3M params)"""
    return UltraSR(registry.make("rdn", scale=2, no_upsampling=True), scale, bands=bands, residual=residual)
