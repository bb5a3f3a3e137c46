"""MATLAB ``imresize(img, scale, 'bicubic')`` in torch, antialiased, batched, on any device.

MATLAB builds, for each output sample, a row of weights over the input samples:
Keys cubic (a = -0.5); when shrinking, the kernel is stretched to ``scale * cubic(scale * x)``
with width ``4 / scale`` (antialiasing); the output sample ``x`` maps to
``u = x / scale + 0.5 * (1 - 1 / scale)`` (1-based); weights are normalised to sum to 1 and the
borders are mirrored symmetrically (the edge sample repeated). Height is resized first, then
width. On uint8 images MATLAB stores each 1-D pass back into uint8, so the intermediate image is
rounded and clipped: ``uint8_passes=True`` does the same, which is what makes the paired
``LR_bicubic`` files of Set5/Set14 come out identical.
"""

from __future__ import annotations

import math

import torch

__all__ = ["imresize", "output_length"]


def output_length(in_length: int, scale: float) -> int:
    """``ceil(in_length * scale)`` as MATLAB computes it, robust to 1/3 not being exact in binary."""
    return max(1, math.ceil(in_length * scale - 1e-9))


def _keys_cubic(x: torch.Tensor) -> torch.Tensor:
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return near + far


def _contributions(in_length: int, scale: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Input indices ``[out, taps]`` (0-based, mirrored into range) and float64 weights ``[out, taps]``."""
    shrink = scale < 1
    kernel_width = 4.0 / scale if shrink else 4.0
    x = torch.arange(1, output_length(in_length, scale) + 1, dtype=torch.float64, device=device)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    indices = left[:, None] + torch.arange(taps, dtype=torch.float64, device=device)[None, :]
    distance = u[:, None] - indices
    weights = scale * _keys_cubic(scale * distance) if shrink else _keys_cubic(distance)
    weights = weights / weights.sum(dim=1, keepdim=True)
    # Symmetric mirroring: 1..n, n..1, 1..n, ... (MATLAB's aux = [1:n, n:-1:1]).
    period = 2 * in_length
    folded = torch.remainder(indices.long() - 1, period)
    indices = torch.where(folded < in_length, folded, period - 1 - folded)
    return indices, weights  # MATLAB also drops all-zero tap columns: they add nothing


def _resize_rows(x: torch.Tensor, scale: float, uint8_passes: bool) -> torch.Tensor:
    """One 1-D pass along dim -2 (whole rows gathered at once are fast; columns are not)."""
    indices, weights = _contributions(x.shape[-2], scale, x.device)
    weights = weights.to(x.dtype)[:, :, None]
    out = None
    for tap in range(indices.shape[1]):  # a loop over taps keeps memory at one output-sized buffer
        term = x.index_select(-2, indices[:, tap]) * weights[:, tap]
        out = term if out is None else out.add_(term)
    if uint8_passes:
        out = torch.floor(out.clamp_(0, 255) + 0.5)  # MATLAB's uint8(): round half away from zero
    return out


def imresize(img: torch.Tensor, scale: float | tuple[float, float], *, uint8_passes: bool = False) -> torch.Tensor:
    """Resize ``[C,H,W]`` or ``[N,C,H,W]`` float images in [0, 1] by ``scale`` (e.g. 1/4 or 3), or by a
    (rows, columns) pair of scales: MATLAB's ``imresize(img, [h w])`` is the pair ``(h / H, w / W)``.

    With ``uint8_passes`` the input is taken as 8-bit levels (k/255) and every 1-D pass is rounded
    and clipped to 8 bits, as MATLAB does for uint8 arrays; otherwise nothing is rounded or clipped.
    Computation runs in the input's dtype (use float64 to follow MATLAB's double arithmetic).
    """
    if not torch.is_floating_point(img):
        raise TypeError(f"imresize takes a float tensor in [0, 1], got {img.dtype}")
    if img.dim() not in (3, 4):
        raise ValueError(f"imresize takes [C,H,W] or [N,C,H,W], got shape {tuple(img.shape)}")
    row_scale, column_scale = scale if isinstance(scale, tuple) else (scale, scale)
    if not (row_scale > 0 and column_scale > 0):
        raise ValueError(f"scale must be positive, got {scale}")
    x = img * 255 if uint8_passes else img
    if uint8_passes:
        x = torch.floor(x.clamp(0, 255) + 0.5)
    x = _resize_rows(x, row_scale, uint8_passes)
    x = _resize_rows(x.transpose(-1, -2).contiguous(), column_scale, uint8_passes).transpose(-1, -2).contiguous()
    return x / 255 if uint8_passes else x
