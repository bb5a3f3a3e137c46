"""Latency of a model as trained (multi-branch) and after ``reparameterize()`` (deployed).

Same weights, same input, same device, back to back in one process. On CUDA each repeat is timed
with CUDA events around the forward and a synchronize (cudnn.benchmark off, as NTIRE's ESR
protocol); on CPU with ``time.perf_counter``. Warm-up runs first; we report the median and the IQR
(and mean) over the repeats, the peak memory (CUDA: ``max_memory_allocated`` after a reset; CPU:
the process's peak resident size, which only grows), and ``max_abs_diff`` between the two outputs
on a seeded random input. Absolute times are machine-local: compare ratios, never gate on ms.
"""

from __future__ import annotations

import copy
import resource
import statistics
import sys
import time
from typing import Any

import torch
from torch import nn

from bench.reparam import reparameterize

__all__ = ["measure_latency", "time_reparameterization"]


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def measure_latency(model: nn.Module, x: torch.Tensor, warmup: int, repeats: int) -> dict[str, Any]:
    """Median/IQR/mean latency in ms and peak memory of ``model(x)`` under inference mode."""
    cuda = x.device.type == "cuda"
    times: list[float] = []
    with torch.inference_mode():
        for _ in range(warmup):
            model(x)
        if cuda:  # CUDA-only path: events measure device time, synchronize waits for it
            torch.cuda.synchronize(x.device)
            torch.cuda.reset_peak_memory_stats(x.device)
            for _ in range(repeats):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                model(x)
                end.record()
                torch.cuda.synchronize(x.device)
                times.append(start.elapsed_time(end))
            peak = torch.cuda.max_memory_allocated(x.device)
        else:
            for _ in range(repeats):
                start = time.perf_counter()
                model(x)
                times.append((time.perf_counter() - start) * 1000)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    q1, median, q3 = _quartiles(times)
    return {"median_ms": median, "iqr_ms": q3 - q1, "mean_ms": statistics.fmean(times), "repeats": repeats,
            "warmup": warmup, "peak_memory_bytes": peak,
            "peak_memory_kind": "cuda max_memory_allocated" if cuda else "process peak RSS (cpu)"}


def time_reparameterization(model: nn.Module, lr_shape: tuple[int, ...], device: torch.device | str = "cpu",
                            warmup: int = 2, repeats: int = 10, seed: int = 0) -> dict[str, Any]:
    """Time ``model`` before and after ``bench.reparam.reparameterize`` on one random input."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False
    trained = model.to(device).eval()
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(lr_shape, generator=generator).to(device)
    before = measure_latency(trained, x, warmup, repeats)
    deployed = copy.deepcopy(trained)
    merged = reparameterize(deployed)
    result: dict[str, Any] = {
        "device": str(device), "lr_size": f"{lr_shape[-1]}x{lr_shape[-2]}", "reparameterized_modules": merged,
        "before_ms": before["median_ms"], "before": before,
    }
    if merged == 0:
        result.update(after_ms=None, max_abs_diff=None,
                      note="the model has no reparameterisable parts: there is no deployed form to time")
        return result
    with torch.inference_mode():
        max_abs_diff = (trained(x) - deployed(x)).abs().max().item()
    after = measure_latency(deployed, x, warmup, repeats)
    result.update(after_ms=after["median_ms"], after=after, max_abs_diff=max_abs_diff,
                  speedup=before["median_ms"] / after["median_ms"],
                  params_before=sum(p.numel() for p in trained.parameters()),
                  params_after=sum(p.numel() for p in deployed.parameters()))
    return result
