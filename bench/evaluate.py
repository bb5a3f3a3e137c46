"""Model x test set x scale -> per-image and mean PSNR/SSIM under a named protocol."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from bench import BenchError
from bench.data.benchmarks import TestSet, make_lr
from bench.data.imresize import imresize
from bench.metrics import Protocol, reference_planes, score
from bench.registry import ModelCard

__all__ = ["evaluate", "resolve_device", "self_ensemble"]


def self_ensemble(model: nn.Module, lr: torch.Tensor) -> torch.Tensor:
    """The "+" rows of SR tables (EDSR's geometric self-ensemble): the mean of the outputs for the
    8 flips/rotations of the input, each mapped back."""
    outputs = []
    for turns in range(4):
        for flip in (False, True):
            x = lr.rot90(turns, dims=(-2, -1))
            x = x.flip(-1) if flip else x
            y = model(x)
            y = y.flip(-1) if flip else y
            outputs.append(y.rot90(-turns, dims=(-2, -1)))
    return torch.stack(outputs).mean(dim=0)


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BenchError("--device cuda asked for, but torch sees no CUDA device")
    return device


def model_input(pair, scale: float, protocol: Protocol, card: ModelCard) -> tuple[torch.Tensor, torch.Tensor]:
    """(LR input ``[1, C, h, w]`` in [0, 1], ground-truth planes on 0..255)."""
    truth = reference_planes(pair.hr, protocol)
    if protocol.degrade_y:
        if card.channels != "any":
            raise BenchError(
                f"protocol {protocol.name!r} degrades the Y channel alone (MATLAB/VDSR era); model "
                f"{card.name} takes RGB: use --protocol basicsr"
            )
        # The LR is bicubic of the (rounded) Y in double precision, nothing rounded in between.
        return imresize(truth[None] / 255, 1 / scale), truth
    lr = pair.lr if pair.lr is not None else make_lr(pair.hr, scale)
    if lr.shape[0] == 1:
        lr = lr.expand(3, *lr.shape[-2:])  # grayscale goes in as equal RGB channels (cv2/BasicSR loading)
    return lr[None].float() / 255, truth


def evaluate(
    model: nn.Module,
    card: ModelCard,
    test_set: TestSet,
    protocol: Protocol,
    device: torch.device | str = "cpu",
    progress: bool = True,
    ensemble: bool = False,
) -> dict[str, Any]:
    """Run ``model`` on every image of ``test_set`` and score it; returns the JSON-ready result.
    ``ensemble``: x8 geometric self-ensemble (the papers' "+" rows)."""
    device = torch.device(device)
    scale = test_set.scale
    model = model.to(device).eval()
    per_image = []
    start = time.perf_counter()
    bar = tqdm(test_set.pairs, desc=f"{card.name} {test_set.name} x{scale}", unit="img",
               disable=None if progress else True, leave=False)  # None: only on a terminal
    with torch.inference_mode():
        for pair in bar:
            lr, truth = model_input(pair, scale, protocol, card)
            lr = lr.to(device)
            sr = (self_ensemble(model, lr) if ensemble else model(lr))[0]
            if sr.shape[-2:] != truth.shape[-2:]:
                raise BenchError(f"{card.name} returned {tuple(sr.shape[-2:])} for {pair.name}, "
                                 f"expected {tuple(truth.shape[-2:])}")
            p, s = score(sr, truth.to(device), scale, protocol)
            per_image.append({"name": pair.name, "psnr": p, "ssim": s})
    seconds = time.perf_counter() - start
    psnrs = [r["psnr"] for r in per_image]
    return {
        "model": card.base,
        "variant": card.variant_name,
        "spec": getattr(model, "spec", {"name": card.name, "args": {"scale": scale}}),
        "paper": card.paper,
        "dataset": test_set.name,
        "scale": scale,
        "protocol": protocol.name,
        "protocol_detail": protocol.description,
        "self_ensemble": ensemble,
        "psnr": None if any(math.isinf(p) for p in psnrs) else sum(psnrs) / len(psnrs),
        "ssim": sum(r["ssim"] for r in per_image) / len(per_image),
        "n_images": len(per_image),
        "lr_source": "Y of HR, float64 imresize" if protocol.degrade_y else test_set.lr_source,
        "data_location": test_set.location,
        "note": test_set.note,
        "device": str(device),
        "seconds": seconds,
        "per_image": [{**r, "psnr": None if math.isinf(r["psnr"]) else r["psnr"]} for r in per_image],
    }
