"""fvcore's Mult-Adds without fvcore's cost: its per-operator formulas applied to the calls of a forward pass on
the meta device (shapes only, no arithmetic), so a 1024x720 count of a transformer takes seconds, not minutes.

fvcore traces the model with ``torch.jit`` and counts the traced ``aten::`` ops it has a handle for
(``fvcore/nn/flop_count.py``: conv, linear, addmm, matmul, mm, bmm, einsum, the four norms, nearest and bilinear
upsampling, adaptive average pooling, grid sampling; we add scaled-dot-product attention). A traced op is, almost
always, one call of a ``torch`` function: this module watches those calls with a ``TorchFunctionMode`` and applies
the same formula to the same shapes. Calls nested inside a watched call are not seen (the mode steps aside while
a call runs), which matches the tracer wherever the outer call is one traced op. ``tests/test_fastcount.py``
checks the totals equal fvcore's, exactly, for every registered model on a small input.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

__all__ = ["fvcore_rules_mult_adds"]


def _numel(shape) -> int:
    return math.prod(shape)


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _conv(args, kwargs, out) -> tuple[str, int]:
    x, w = args[0], _arg(args, kwargs, 1, "weight")
    spatial = out.shape[2:] if out.dim() == x.dim() else out.shape[1:]
    batch = x.shape[0] if x.dim() == w.dim() else 1  # an unbatched input: fvcore's trace sees it batched as 1
    return "conv", batch * _numel(w.shape) * _numel(spatial)


def _conv_transpose(args, kwargs, out) -> tuple[str, int]:
    x, w = args[0], _arg(args, kwargs, 1, "weight")
    batch = x.shape[0] if x.dim() == w.dim() else 1
    return "conv", batch * _numel(w.shape) * _numel(x.shape[-(w.dim() - 2):])


def _linear(args, kwargs, out) -> tuple[str, int]:
    x, w = args[0], _arg(args, kwargs, 1, "weight")
    return "linear", _numel(x.shape) * w.shape[0]


def _addmm(args, kwargs, out) -> tuple[str, int]:
    a, b = _arg(args, kwargs, 1, "mat1"), _arg(args, kwargs, 2, "mat2")
    return "addmm", a.shape[0] * a.shape[1] * b.shape[1]


def _matmul(name: str) -> Callable:
    def rule(args, kwargs, out) -> tuple[str, int]:
        a, b = args[0], _arg(args, kwargs, 1, "other", _arg(args, kwargs, 1, "mat2"))
        return name, _numel(a.shape) * b.shape[-1]
    return rule


def _bmm(args, kwargs, out) -> tuple[str, int]:
    a, b = args[0], _arg(args, kwargs, 1, "mat2")
    n, c, t = a.shape
    return "bmm", n * c * t * b.shape[-1]


def _einsum(args, kwargs, out) -> tuple[str, int]:
    equation, *operands = args
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = list(operands[0])
    equation = equation.replace(" ", "")
    letters = dict.fromkeys(ch for ch in equation if ch.isalpha())
    equation = equation.translate({ord(ch): 97 + i for i, ch in enumerate(letters)})
    shapes = [tuple(op.shape) for op in operands]
    if equation == "abc,abd->acd":
        n, c, t = shapes[0]
        return "einsum", n * c * t * shapes[-1][-1]
    if equation == "abc,adc->adb":
        n, t, g = shapes[0]
        return "einsum", n * t * g * shapes[-1][1]
    report = np.einsum_path(equation, *[np.broadcast_to(0.0, s) for s in shapes], optimize="optimal")[1]
    line = next(line for line in report.split("\n") if "optimized flop" in line.lower())
    return "einsum", int(math.floor(float(line.split(":")[-1]) / 2))


def _norm(name: str, weight_index: int, weight_name: str) -> Callable:
    def rule(args, kwargs, out) -> tuple[str, int]:
        affine = _arg(args, kwargs, weight_index, weight_name) is not None
        return name, _numel(args[0].shape) * (5 if affine else 4)
    return rule


def _batch_norm(args, kwargs, out) -> tuple[str, int]:
    affine = _arg(args, kwargs, 3, "weight") is not None  # F.batch_norm(input, mean, var, weight, bias, training)
    if _arg(args, kwargs, 5, "training", False):
        return "batch_norm", _numel(args[0].shape) * (5 if affine else 4)
    return "batch_norm", _numel(args[0].shape) * (2 if affine else 1)


def _interpolate(args, kwargs, out) -> tuple[str, int]:
    mode = _arg(args, kwargs, 3, "mode", "nearest")
    if mode == "area" and out.dim() == 4:  # F.interpolate's 'area' is adaptive average pooling, which fvcore counts
        return "adaptive_avg_pool2d", _numel(args[0].shape)
    op = f"upsample_{'nearest' if mode == 'nearest' else mode.replace('-', '_')}{out.dim() - 2}d"
    per_output = {"upsample_nearest2d": 1, "upsample_bilinear2d": 4}.get(op)
    return (op, _numel(out.shape) * per_output) if per_output else (op, None)


def _sdpa(args, kwargs, out) -> tuple[str, int]:
    q, k, v = args[:3]
    return "scaled_dot_product_attention", _numel(q.shape[:-2]) * q.shape[-2] * k.shape[-2] * (q.shape[-1]
                                                                                                + v.shape[-1])


_mm = _matmul("mm")
_mat = _matmul("matmul")
RULES: dict[Callable, Callable] = {
    F.conv1d: _conv, F.conv2d: _conv, F.conv3d: _conv,
    F.conv_transpose1d: _conv_transpose, F.conv_transpose2d: _conv_transpose, F.conv_transpose3d: _conv_transpose,
    F.linear: _linear, torch.addmm: _addmm, torch.Tensor.addmm: _addmm,
    torch.matmul: _mat, torch.Tensor.matmul: _mat, torch.Tensor.__matmul__: _mat,
    torch.mm: _mm, torch.Tensor.mm: _mm, torch.bmm: _bmm, torch.Tensor.bmm: _bmm, torch.einsum: _einsum,
    F.layer_norm: _norm("layer_norm", 2, "weight"), F.group_norm: _norm("group_norm", 2, "weight"),
    F.batch_norm: _batch_norm, F.instance_norm: _norm("instance_norm", 3, "weight"),  # (input, mean, var, weight)
    F.interpolate: _interpolate,
    F.adaptive_avg_pool2d: lambda args, kwargs, out: ("adaptive_avg_pool2d", _numel(args[0].shape)),
    F.grid_sample: lambda args, kwargs, out: ("grid_sampler", _numel(out.shape) * 4),
    F.scaled_dot_product_attention: _sdpa,
}


class _Counting(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.by_operator: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        rule = RULES.get(func)
        if rule is not None:
            name, macs = rule(args, kwargs, out)
            if macs is None:
                self.skipped[f"aten::{name}"] += 1
            else:
                self.by_operator[name] += macs
        return out


def fvcore_rules_mult_adds(model: nn.Module, shape: tuple[int, ...]) -> dict[str, Any]:
    """fvcore's count of ``model`` on an input of ``shape``, from a forward pass on the meta device."""
    meta_model = copy.deepcopy(model).to("meta").eval()
    counting = _Counting()
    with torch.no_grad(), counting:
        meta_model(torch.empty(shape, device="meta"))
    by_operator = {k: int(v) for k, v in sorted(counting.by_operator.items())}
    return {"mult_adds": sum(by_operator.values()), "by_operator": by_operator,
            "skipped_ops": dict(sorted(counting.skipped.items()))}
