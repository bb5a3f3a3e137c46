"""Model x test set x scale -> per-image and mean PSNR/SSIM under a named protocol."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from bench import BenchError
from bench.data.benchmarks import TestSet, down_scale, make_lr
from bench.data.imresize import imresize
from bench.metrics import Protocol, reference_planes, rgb_to_ycbcr, score, ycbcr_to_rgb
from bench.progress import Progress
from bench.registry import ModelCard
from bench.tiling import Tiled

__all__ = ["evaluate", "model_input", "resolve_device", "runner", "self_ensemble", "y_with_bicubic_cbcr"]

LR_SOURCES = {"y-double": "Y of HR, float64 imresize",
              "rgb-double": "RGB of HR, float64 imresize (not quantised)"}  # "files": the test set's own


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
    """(LR input ``[1, C, h, w]`` in [0, 1], ground-truth planes on 0..255), the LR made as ``protocol.lr`` says.
    A float64 LR goes to a channel-agnostic model as it is (it runs in its input's or its weights' dtype)."""
    truth = reference_planes(pair.hr, protocol)
    if protocol.lr == "y-double":
        if card.channels != "any":
            raise BenchError(
                f"protocol {protocol.name!r} degrades the Y channel alone (MATLAB/VDSR era); model "
                f"{card.name} takes RGB: use --protocol basicsr"
            )
        # The LR is bicubic of the (rounded) Y in double precision, nothing rounded in between.
        return imresize(truth[None] / 255, 1 / scale), truth
    if protocol.lr == "rgb-double":
        hr = pair.hr.double() / 255
        if hr.shape[0] == 1 and protocol.gray_is_y:
            if card.channels != "any":
                raise BenchError(f"protocol {protocol.name!r} takes a grayscale image as its own Y, which model "
                                 f"{card.name} (RGB) cannot take: use --protocol lapsrn")
        else:
            hr = hr.expand(3, *hr.shape[-2:])  # grayscale as equal RGB channels
        lr = imresize(hr[None], down_scale(pair.hr, scale))  # nothing quantised
        return (lr if card.channels == "any" else lr.float()), truth
    lr = pair.lr if pair.lr is not None else make_lr(pair.hr, scale)
    if lr.shape[0] == 1:
        lr = lr.expand(3, *lr.shape[-2:])  # grayscale goes in as equal RGB channels (cv2/BasicSR loading)
    return lr[None].float() / 255, truth


def y_with_bicubic_cbcr(model: nn.Module, lr: torch.Tensor) -> torch.Tensor:
    """A Y network on an RGB LR ``[N, 3, h, w]``, as LapSRN's ``SR_LapSRN.m`` runs it: the model gets the Y of the
    LR (MATLAB ``rgb2ycbcr``), its output Y replaces the Y of the bicubic-upsampled YCbCr LR, back to RGB."""
    ycbcr = rgb_to_ycbcr(lr)
    y = model(ycbcr[:, :1])
    h, w = lr.shape[-2:]
    cbcr = imresize(ycbcr[:, 1:], (y.shape[-2] / h, y.shape[-1] / w))
    return ycbcr_to_rgb(torch.cat([y.to(cbcr.dtype), cbcr], dim=1))


def runner(model: nn.Module, card: ModelCard, protocol: Protocol):
    """What maps the LR to the output under ``protocol``: the model, or the model on Y (``protocol.y_cbcr``)."""
    if protocol.y_cbcr and card.channels == "any":  # a one-plane LR (a grayscale image taken as Y) goes in as it is
        return lambda lr: model(lr) if lr.shape[1] == 1 else y_with_bicubic_cbcr(model, lr)
    return model


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
    run = runner(model, card, protocol)
    by_index: dict[int, dict[str, Any]] = {}
    # Largest image first: the memory it needs is claimed once and every smaller image reuses it. In set order
    # each image larger than those before grows the heap, whose new pages the kernel must zero: 10-20% of
    # msra-light's Urban100 time.
    pixels = [pair.hr.shape[-2] * pair.hr.shape[-1] for pair in test_set.pairs]
    order = sorted(range(len(pixels)), key=lambda i: (-pixels[i], i))
    start = time.perf_counter()
    shown = Progress(len(test_set.pairs), f"{card.name} {test_set.name} x{scale}", unit="img", enabled=progress)
    with torch.inference_mode(), shown:
        for index in order:
            pair = test_set.pairs[index]
            lr, truth = model_input(pair, scale, protocol, card)
            lr = lr.to(device)
            sr = (self_ensemble(run, lr) if ensemble else run(lr))[0]
            if sr.shape[-2:] != truth.shape[-2:]:
                raise BenchError(f"{card.name} returned {tuple(sr.shape[-2:])} for {pair.name}, "
                                 f"expected {tuple(truth.shape[-2:])}")
            if not torch.isfinite(sr).all():
                raise BenchError(f"{card.name} returned NaN or infinite values for {pair.name} of {test_set.name} "
                                 f"x{scale}: its weights or its arithmetic are broken (nothing was stored)")
            p, s = score(sr, truth.to(device), scale, protocol)
            by_index[index] = {"name": pair.name, "psnr": p, "ssim": s}
            shown.update(1)
    seconds = time.perf_counter() - start
    per_image = [by_index[i] for i in range(len(pixels))]
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
        "tile": model.settings() if isinstance(model, Tiled) else None,
        "psnr": None if any(math.isinf(p) for p in psnrs) else sum(psnrs) / len(psnrs),
        "ssim": sum(r["ssim"] for r in per_image) / len(per_image),
        "n_images": len(per_image),
        "lr_source": LR_SOURCES.get(protocol.lr, test_set.lr_source),
        "data_location": test_set.location,
        "note": test_set.note,
        "device": str(device),
        "seconds": seconds,
        "per_image": [{**r, "psnr": None if math.isinf(r["psnr"]) else r["psnr"]} for r in per_image],
    }
