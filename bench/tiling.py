"""Tiled inference: a large LR image (or a large model) in bounded memory, one tile at a time.

The tile grid is SwinIR's (``main_test_swinir.py``, ``--tile`` / ``--tile_overlap``): tiles of ``tile`` LR pixels
every ``tile - overlap``, the last one flush with the image's edge. Two ways to join the tiles' outputs:

* ``average`` (SwinIR's own): every output pixel is the mean over the tiles that cover it. Pixels near a tile's
  inner edge see that edge's padding, so this is never exact for a model with a receptive field.
* ``crop`` (the default, because it is exact where it can be): every output pixel comes from one tile, the one
  whose inner edges it is farthest from (overlaps are split at their middle). A model whose output pixel
  depends only on LR pixels within ``r`` of it gives exactly its untiled output when ``r <= overlap // 2``
  (tests/test_tiling.py). Models with global operations (channel attention on pooled statistics, non-local
  attention over the whole image, second-order pooling) or windows whose partition moves with the tile are
  never exact; their error depends on the image and is what ``python -m bench evaluate --tile`` measures.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn

from bench import BenchError

__all__ = ["STITCHES", "Tiled", "tile_starts"]

STITCHES = ("crop", "average")


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """SwinIR's tile origins along one axis: every ``tile - overlap``, and one ending at the edge."""
    if tile >= size:
        return [0]
    return [*range(0, size - tile, tile - overlap), size - tile]


def _kept(starts: list[int], tile: int, size: int) -> list[tuple[int, int]]:
    """For ``crop``: the [begin, end) LR range each tile supplies; neighbours split their overlap in the middle."""
    bounds = [0] + [(cur + tile + nxt) // 2 for cur, nxt in pairwise(starts)] + [size]
    return list(pairwise(bounds))


class Tiled(nn.Module):
    """``model`` run tile by tile (see the module's doc). ``Tiled(model, 192, 32)(lr)`` has the output shape of
    ``model(lr)``. The scale is read from the first tile's output, so it must be a whole number."""

    def __init__(self, model: nn.Module, tile: int, overlap: int = 32, stitch: str = "crop"):
        super().__init__()
        if tile < 1 or overlap < 0 or overlap >= tile:
            raise BenchError(f"a tile of {tile} with an overlap of {overlap}: the tile must be positive and the "
                             f"overlap smaller than the tile")
        if stitch not in STITCHES:
            raise BenchError(f"unknown tile stitch {stitch!r}; use {' or '.join(STITCHES)}")
        window = getattr(model, "window", None)
        if window and tile % window:
            raise BenchError(f"the tile ({tile}) must be a multiple of the model's window ({window}), as SwinIR's "
                             f"test script requires")
        self.model, self.tile, self.overlap, self.stitch = model, tile, overlap, stitch
        if hasattr(model, "spec"):
            self.spec = model.spec

    def settings(self) -> dict[str, int | str]:
        return {"size": self.tile, "overlap": self.overlap, "stitch": self.stitch}

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        h, w = lr.shape[-2:]
        rows, cols = tile_starts(h, self.tile, self.overlap), tile_starts(w, self.tile, self.overlap)
        if len(rows) == len(cols) == 1:
            return self.model(lr)
        out = weight = None
        keep_rows, keep_cols = _kept(rows, self.tile, h), _kept(cols, self.tile, w)
        for top, (row_lo, row_hi) in zip(rows, keep_rows, strict=True):
            for left, (col_lo, col_hi) in zip(cols, keep_cols, strict=True):
                piece = self.model(lr[..., top:top + self.tile, left:left + self.tile])
                s = piece.shape[-1] // min(self.tile, w)
                if piece.shape[-1] != s * min(self.tile, w) or piece.shape[-2] != s * min(self.tile, h):
                    raise BenchError(f"tiling needs a whole-number scale; a {self.tile}-pixel tile came out "
                                     f"{tuple(piece.shape[-2:])}")
                if out is None:
                    out = piece.new_zeros((*piece.shape[:-2], h * s, w * s))
                    weight = piece.new_zeros((1, 1, h * s, w * s)) if self.stitch == "average" else None
                if self.stitch == "average":
                    region = (..., slice(top * s, top * s + piece.shape[-2]),
                              slice(left * s, left * s + piece.shape[-1]))
                    out[region] += piece
                    weight[region] += 1
                else:
                    out[..., row_lo * s:row_hi * s, col_lo * s:col_hi * s] = piece[
                        ..., (row_lo - top) * s:(row_hi - top) * s, (col_lo - left) * s:(col_hi - left) * s]
        return out / weight if weight is not None else out
