"""LIIF: local implicit image function (Chen et al., CVPR 2021), super-resolution at any scale.

Follows yinboc/liif (``models/liif.py``, ``models/mlp.py``, ``utils.make_coord``, ``test.py``) with
all three options on: 3x3 feature unfolding, local ensemble over the four nearest latent codes, and
cell decoding. The MLP maps [unfolded feature (9 * 64), relative coordinate (2), relative cell (2)]
through four hidden layers of 256 to RGB. Module names are the release's (``encoder``, ``imnet.layers``).

Conventions, as in LIIF:

- a coordinate is (row, column) in [-1, 1], the image spanning the whole range; pixel ``i`` of ``n``
  has its centre at ``-1 + (2 i + 1) / n``;
- a cell is the size of one output pixel in those units: ``(2 / H, 2 / W)``;
- the network sees ``(x - 0.5) / 0.5`` and predicts in the same units (LIIF's ``data_norm`` with
  sub = div = 0.5, applied by its train and test scripts). ``forward`` and ``query`` take and return
  [0, 1] RGB like every other model here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench import registry
from bench.registry import option, register

__all__ = ["ImplicitSR", "LIIF", "MLP", "make_coord", "sample_nearest"]

HIDDEN = (256, 256, 256, 256)
@dataclass(frozen=True)
class LIIFConfig:
    local_ensemble: bool = option(True, "LIIF paper and code: the four nearest latent codes, area-weighted")
    feat_unfold: bool = option(True, "LIIF code: 3x3 neighbourhood of features")
    cell_decode: bool = option(True, "LIIF code: the query's cell size as input")


def make_coord(shape: tuple[int, int], device: torch.device | None = None,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The (H, W, 2) pixel-centre coordinates (row, column) of an H x W grid."""
    axes = []
    for n in shape:
        half_pixel = 1 / n
        axes.append(-1 + half_pixel + 2 * half_pixel * torch.arange(n, device=device, dtype=dtype))
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)


def sample_nearest(grid: torch.Tensor, coord: torch.Tensor) -> torch.Tensor:
    """The (B, Q, C) values of the (B, C, h, w) ``grid`` cells that contain the (B, Q, 2) ``coord``."""
    xy = coord.flip(-1).unsqueeze(1)  # grid_sample wants (x, y), i.e. (column, row)
    return F.grid_sample(grid, xy, mode="nearest", align_corners=False)[:, :, 0].transpose(1, 2)


class MLP(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(in_dim, width), nn.ReLU()]
            in_dim = width
        layers.append(nn.Linear(in_dim, out_dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ImplicitSR(nn.Module):
    """What LIIF and the decoders built on it (Meta-SR, LTE, UltraSR, CLIT) share: the encoder's state is made
    once per image by ``features`` and decoded at the queried coordinates by ``decode``, ``chunk`` queries at
    a time. Both work in LIIF's normalised units; ``query`` and ``forward`` take and return [0, 1] RGB."""

    scale: float
    chunk: int  # queries decoded at once by forward(); LIIF's eval_bsize

    def features(self, lr: torch.Tensor) -> Any:
        """The latent codes (B, C, h, w) of a [0, 1] LR image (or whatever ``decode`` needs of it)."""
        return self.encoder((lr - 0.5) / 0.5)

    def decode(self, state: Any, coord: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def query(self, lr: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        """[0, 1] RGB (B, Q, 3) of the SR image of ``lr`` at ``coord`` (B, Q, 2), cell size ``cell`` (B, Q, 2)."""
        return self.decode(self.features(lr), coord, cell) * 0.5 + 0.5

    def test_cell(self, cell: torch.Tensor) -> torch.Tensor:
        """The cell ``forward`` decodes with: the true HR cell, unless the release's test script changes it."""
        return cell

    def forward(self, lr: torch.Tensor, coord: torch.Tensor | None = None,
                cell: torch.Tensor | None = None) -> torch.Tensor:
        """The (B, 3, round(h * scale), round(w * scale)) image: every HR pixel centre, ``chunk`` at a time;
        with ``coord`` and ``cell``, ``query`` (how the arbitrary-scale trainer calls it, also under DDP)."""
        if coord is not None:
            return self.query(lr, coord, cell)
        b, _, h, w = lr.shape
        out_h, out_w = round(int(h) * self.scale), round(int(w) * self.scale)  # int(): sizes are tensors when traced
        state = self.features(lr)
        coord = make_coord((out_h, out_w), lr.device, lr.dtype).view(1, -1, 2).expand(b, -1, -1)
        cell = self.test_cell(coord.new_tensor([2 / out_h, 2 / out_w]).expand_as(coord))
        pred = torch.cat([self.decode(state, coord[:, i:i + self.chunk], cell[:, i:i + self.chunk])
                          for i in range(0, coord.shape[1], self.chunk)], dim=1)
        return (pred * 0.5 + 0.5).transpose(1, 2).reshape(b, 3, out_h, out_w)


class LIIF(ImplicitSR):
    def __init__(self, encoder: nn.Module, scale: float, hidden: tuple[int, ...] = HIDDEN,
                 local_ensemble: bool = True, feat_unfold: bool = True, cell_decode: bool = True,
                 chunk: int = 30000):
        super().__init__()
        self.scale = scale
        self.local_ensemble = local_ensemble
        self.feat_unfold = feat_unfold
        self.cell_decode = cell_decode
        self.chunk = chunk
        self.encoder = encoder
        in_dim = encoder.out_dim * (9 if feat_unfold else 1) + 2 + (2 if cell_decode else 0)
        self.imnet = MLP(in_dim, 3, hidden)

    def imnet_inputs(self, code: torch.Tensor, rel_coord: torch.Tensor, rel_cell: torch.Tensor) -> list[torch.Tensor]:
        """What the MLP reads, in the release's order: latent code, relative coordinate, relative cell."""
        return [code, rel_coord, rel_cell] if self.cell_decode else [code, rel_coord]

    def decode(self, feat: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        """Normalised RGB (B, Q, 3) at ``coord`` (B, Q, 2) for cells ``cell`` (B, Q, 2), from ``feat``."""
        b, _, h, w = feat.shape
        if self.feat_unfold:
            feat = F.unfold(feat, 3, padding=1).view(b, -1, h, w)
        feat_coord = make_coord((h, w), feat.device, feat.dtype).permute(2, 0, 1).expand(b, 2, h, w)
        size = coord.new_tensor([h, w])

        if self.local_ensemble:
            # The four latent codes around the query: shift it by half an LR pixel diagonally each way.
            # eps breaks ties when the shifted query lands exactly on a cell border.
            shifts, eps = [(-1, -1), (-1, 1), (1, -1), (1, 1)], 1e-6
        else:
            shifts, eps = [(0, 0)], 0.0
        preds, areas = [], []
        for dy, dx in shifts:
            shifted = coord + coord.new_tensor([dy / h + eps, dx / w + eps])
            shifted = shifted.clamp(-1 + 1e-6, 1 - 1e-6)
            rel_coord = (coord - sample_nearest(feat_coord, shifted)) * size
            inputs = self.imnet_inputs(sample_nearest(feat, shifted), rel_coord, cell * size)
            preds.append(self.imnet(torch.cat(inputs, dim=-1)))
            areas.append((rel_coord[..., 0] * rel_coord[..., 1]).abs() + 1e-9)

        total = torch.stack(areas).sum(dim=0)
        if self.local_ensemble:
            areas.reverse()  # each code is weighted by the area of the rectangle diagonally opposite it
        return sum(pred * (area / total).unsqueeze(-1) for pred, area in zip(preds, areas, strict=True))


def unwrap_liif_checkpoint(state: dict[str, Any]) -> dict[str, Any]:
    """LIIF's released files hold ``{"model": {"name", "args", "sd"}, ...}``: bench picks the
    ``model`` entry, whose weights are under ``sd``. Plain state_dicts pass through."""
    return state.get("sd", state)


# scales=None: any scale, fractional ones too (e.g. 2.5).
@register("liif-edsr-baseline", paper="LIIF (CVPR 2021)", scales=None, remap_weights=unwrap_liif_checkpoint,
          config=LIIFConfig)
def liif_edsr_baseline(scale: float, local_ensemble: bool = True, feat_unfold: bool = True,
                       cell_decode: bool = True) -> LIIF:
    """LIIF on the EDSR-baseline encoder (~1.6M params)"""
    # LIIF's EDSR skips the mean shift; the encoder's scale is unused without its upsampler.
    encoder = registry.make("edsr-baseline", scale=2, no_upsampling=True, mean_shift=False)
    return LIIF(encoder, scale, local_ensemble=local_ensemble, feat_unfold=feat_unfold, cell_decode=cell_decode)


@register("liif-rdn", paper="LIIF (CVPR 2021)", scales=None, remap_weights=unwrap_liif_checkpoint,
          config=LIIFConfig)
def liif_rdn(scale: float, local_ensemble: bool = True, feat_unfold: bool = True, cell_decode: bool = True) -> LIIF:
    """LIIF on the RDN encoder (~22.3M params)"""
    encoder = registry.make("rdn", scale=2, no_upsampling=True)
    return LIIF(encoder, scale, local_ensemble=local_ensemble, feat_unfold=feat_unfold, cell_decode=cell_decode)
