"""MESR's own checks that are no paper number: activations at initialisation (a manifest step)."""

from __future__ import annotations

import sys

import torch

from bench import registry


def activation_stds(model: torch.nn.Module, lr: torch.Tensor) -> list[float]:
    """Std of the shallow features F0 and of each MSFEB's output, for one forward pass."""
    stds: list[float] = []
    hooks = [model.head.register_forward_hook(lambda m, i, o: stds.append(torch.relu(o).std().item()))]
    hooks += [block.register_forward_hook(lambda m, i, o: stds.append(o.std().item())) for block in model.body]
    try:
        with torch.no_grad():
            model(lr)
    finally:
        for hook in hooks:
            hook.remove()
    return stds


def init_activations(ctx=None, size: int = 24) -> list[dict]:
    """The default (merged skips) against the literal reading of Eqs. 6-8 and 18, at initialisation."""
    rows = []
    for name in ("mesr", "mesr.literal-skips"):
        torch.manual_seed(0)
        model = registry.make(name, scale=2).eval()
        stds = activation_stds(model, torch.rand(1, 3, size, size))
        row = {"model": "mesr", "variant": registry.split_name(name)[1], "scale": 2, "lr_size": f"{size}x{size}",
               "f0_std": stds[0], "block_stds": stds[1:], "growth": stds[-1] / stds[0], "device": "cpu"}
        rows.append(row)
        print(f"activations at init, {name}: std F0 {stds[0]:.3g}, after block 12 {stds[12]:.3g}, "
              f"after block 24 {stds[-1]:.3g} (x{row['growth']:.3g})", file=sys.stderr)
    return rows
