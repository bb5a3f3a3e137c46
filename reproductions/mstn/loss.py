"""MSTN's loss, Eqs. (2)-(5): L1 per scale averaged over the T stages, then a weighted sum over the scales.

The paper says the weights omega_1..3 "are studied in the training process" (C3Net's "loss attention"),
without a formula. Left free, learnable weights collapse to 0 (the loss goes with them); normalised by a
softmax they collapse onto the easiest term, the x1 reconstruction [inf: spec §1.4]. The learnable option
is therefore the uncertainty weighting of Kendall et al. (CVPR 2018), Laplace form for an L1 loss:
``sum_i exp(-s_i) L_i + s_i``. Its optimum in s_i is ``s_i = log L_i``, i.e. weight ``1 / L_i``: finite
and positive while the loss is, so no weight can reach 0 and no term can take all the weight.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench import BenchError
from bench.data.imresize import imresize

__all__ = ["UncertaintyWeighting", "per_scale_l1", "recipe_loss_weights"]


def per_scale_l1(outputs: list[torch.Tensor], hr: torch.Tensor, stages: int) -> torch.Tensor:
    """[L(x1), L(x2), L(x4)] of Eqs. (2)-(4) for outputs ordered stage by stage as (quarter, half, full);
    each target is the HR MATLAB-bicubic-resized to the output's size, as ``bench.train`` makes them."""
    if len(outputs) != 3 * stages:
        raise BenchError(f"expected 3 outputs per stage for {stages} stages, got {len(outputs)}")
    targets: dict[tuple[int, int], torch.Tensor] = {}
    losses = [hr.new_zeros(()) for _ in range(3)]
    for index, sr in enumerate(outputs):
        size = tuple(sr.shape[-2:])
        if size not in targets:
            targets[size] = hr if size == tuple(hr.shape[-2:]) else imresize(hr, sr.shape[-1] / hr.shape[-1])
        losses[index % 3] = losses[index % 3] + F.l1_loss(sr, targets[size]) / stages
    return torch.stack(losses)


def recipe_loss_weights(stages: int, omegas: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> tuple[float, ...]:
    """``TrainConfig.loss_weights`` for the model's 3 * stages outputs: omega_s / T each (Eqs. 2-5)."""
    return tuple(omega / stages for _ in range(stages) for omega in omegas)


class UncertaintyWeighting(nn.Module):
    """``sum_i exp(-s_i) L_i + s_i`` with learnable ``s_i`` (log of the Laplace scale), initialised to 0
    (weights 1: the fixed default at step 0)."""

    def __init__(self, terms: int):
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(terms))

    def weights(self) -> torch.Tensor:
        return torch.exp(-self.log_scale.detach())

    def forward(self, losses: torch.Tensor) -> torch.Tensor:
        return (torch.exp(-self.log_scale) * losses + self.log_scale).sum()
