"""How much memory an inference pass needs, without the memory or the arithmetic.

``peak_activation_bytes`` runs the model on the ``meta`` device (shapes only) and follows every tensor
an operator allocates until it is freed: the peak of the bytes alive at once is what an allocator must
hold for activations (weights and allocator slack come on top). It answers "does a full Urban100
image fit in 24 GB" in a second on any machine, for the chunked non-local path and for the full
score matrix alike.
"""

from __future__ import annotations

import copy
import sys
import weakref
from pathlib import Path

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["peak_activation_bytes", "memory_probe"]


class _LiveBytes(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.live = self.peak = 0

    def _free(self, size: int) -> None:
        self.live -= size

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        returns = func._schema.returns
        if len(returns) == 1:  # one tensor, or one list of tensors (split, unbind ...)
            pairs = [(returns[0], tensor) for tensor in (out if isinstance(out, (tuple, list)) else (out,))]
        else:
            pairs = list(zip(returns, out, strict=True))
        for returned, tensor in pairs:
            # views and in-place results (an alias in the schema) share memory already counted
            if isinstance(tensor, torch.Tensor) and returned.alias_info is None:
                size = tensor.untyped_storage().nbytes()
                self.live += size
                self.peak = max(self.peak, self.live)
                weakref.finalize(tensor, self._free, size)
        return out


def peak_activation_bytes(model: nn.Module, shape: tuple[int, ...]) -> int:
    """Peak bytes of tensors alive at once during ``model(x)`` for an input of ``shape``, in inference mode
    (the input itself and the weights not included)."""
    meta_model = copy.deepcopy(model).to("meta").eval()
    x = torch.empty(shape, device="meta")
    with torch.inference_mode(), _LiveBytes() as counter:
        meta_model(x)
    return counter.peak


GiB = 2**30
MEMORY_LIMIT = 24 * GiB  # a full Urban100 image on a 24 GB machine
LADDER = (48, 96, 192, 384)  # square LR sides for the scaling of the non-local memory (x2)


def _largest_image(dataset: str, data_root) -> tuple[str, int, int]:
    from PIL import Image

    from bench.data.benchmarks import find_dataset

    images = sorted(p for p in Path(find_dataset(dataset, data_root)).glob("HR/*")
                    if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
    sizes = [(Image.open(p).size, p.stem) for p in images]
    (w, h), name = max(sizes, key=lambda item: item[0][0] * item[0][1])
    return name, w, h


def _cuda_peak(scale: int, shape: tuple[int, ...], device: str) -> int:
    from bench import registry

    model = registry.make("amms", scale=scale).to(device).eval()
    x = torch.rand(shape, device=device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    with torch.inference_mode():
        model(x)
    return torch.cuda.max_memory_allocated(device) - base


def memory_probe(ctx) -> list[dict]:
    """The manifest step: peak activation memory, chunked (the default) against each region's whole score
    matrix, on a ladder of sizes and on the largest image of every set present; on a GPU also measured."""
    from bench import registry
    from bench.evaluate import resolve_device
    from bench.reproduce import available_sets

    device = str(resolve_device(ctx.device))
    ladder = []
    for side in LADDER:
        row = {"lr_size": f"{side}x{side}", "scale": 2}
        for label, chunk in (("chunked", None), ("whole", 0)):
            model = registry.make("amms", scale=2, **({} if chunk is None else {"nl_chunk": chunk}))
            row[f"{label}_bytes"] = peak_activation_bytes(model, (1, 3, side, side))
        ladder.append(row)
        print(f"non-local memory x2 at LR {side}x{side}: chunked {row['chunked_bytes'] / GiB:.2f} GiB, "
              f"whole score matrices {row['whole_bytes'] / GiB:.2f} GiB", file=sys.stderr)
    largest = []
    for dataset in available_sets(("Set5", "Set14", "B100", "Urban100"), ctx.data_root)[0]:
        name, w, h = _largest_image(dataset, ctx.data_root)
        for scale in (2, 3, 4):
            shape = (1, 3, h // scale, w // scale)
            row = {"dataset": dataset, "image": name, "hr_size": f"{w}x{h}", "scale": scale,
                   "chunked_bytes": peak_activation_bytes(registry.make("amms", scale=scale), shape),
                   "whole_bytes": peak_activation_bytes(registry.make("amms", scale=scale, nl_chunk=0), shape)}
            row["fits_24gb"] = row["chunked_bytes"] < MEMORY_LIMIT
            if device.startswith("cuda") and dataset == "Urban100":
                row["cuda_peak_bytes"] = _cuda_peak(scale, shape, device)
            largest.append(row)
            print(f"{dataset} largest image {name} ({w}x{h}) x{scale}: chunked {row['chunked_bytes'] / GiB:.2f} GiB, "
                  f"whole {row['whole_bytes'] / GiB:.1f} GiB" + (f", measured on {device}: "
                  f"{row['cuda_peak_bytes'] / GiB:.2f} GiB" if "cuda_peak_bytes" in row else ""), file=sys.stderr)
    if not device.startswith("cuda"):
        ctx.skip("measured GPU peak memory", "no CUDA device (the meta-device estimate above stands in)")
    return [{"model": "amms", "ladder": ladder, "largest": largest, "device": device,
             "counter": "peak bytes of live tensors in an inference pass, meta device (weights not included)"}]
