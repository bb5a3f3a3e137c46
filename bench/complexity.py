"""Params and Mult-Adds, counted the way the papers count them.

Mult-Adds are fvcore's: one per multiply-accumulate of conv, linear and matmul ops (plus its norm and
upsampling formulas), on a real forward pass at the LR size of a given HR output (default 1024x720,
as MSRA-SR states; ``hr=(1280, 720)`` is the 720p convention of CARN and IMDN). Two additions:

* fvcore skips ``scaled_dot_product_attention``; we add a handle counting its two matmuls
  (Q K^T and A V: ``B * heads * Lq * Lk * (E + Ev)``), which SwinIR's own counter includes.
* ``lr_pad="swinir"`` uses the LR size of SwinIR's ``network_swinir.py`` main block,
  ``(HR // s // window + 1) * window`` per side: the convention behind SwinIR's and MSRA-SR's tables.
  ``lr_pad="swinir-16"`` applies it with a given window to a model without one (MSRA-SR counted RCAN so).

The same count in seconds: ``counter="fvcore-meta"`` applies fvcore's formulas to a forward pass on the meta
device (``bench.fastcount``; equal to fvcore, tested on every registered model).

Cross-checks: ``torch.utils.flop_counter.FlopCounterMode`` on the meta device (no compute; it counts
2 FLOPs per MAC and no norms), and a model's own analytic count where it defines
``analytic_mult_adds(lr_h, lr_w)``. Full-size counts are cached on disk by a hash of everything they
depend on (spec, sizes, versions, the model's source), because one count takes a full forward pass.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import os
import sys
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bench import BenchError
from bench.fastcount import fvcore_rules_mult_adds
from bench.reparam import reparameterize

__all__ = ["COUNTERS", "lr_size", "count_params", "fvcore_mult_adds", "meta_mult_adds", "complexity"]

# How Mult-Adds are counted: fvcore on a real forward pass (the reference the reports show); fvcore's own
# formulas on the meta device (bench.fastcount: seconds, equal to fvcore for every registered model, tested);
# FlopCounterMode on the meta device (conv/linear/matmul only); the model's own formula, cross-checked on the
# meta device; or params only.
COUNTERS = ("fvcore", "fvcore-meta", "meta", "analytic", "none")

DEFAULT_HR = (1024, 720)  # width x height of the HR output
# fvcore operators that FlopCounterMode also counts (1 MAC = 2 FLOPs there); the rest are norms/resampling.
MATMUL_LIKE = {"conv", "linear", "addmm", "matmul", "bmm", "mm", "einsum", "scaled_dot_product_attention"}


def lr_size(hr: tuple[int, int], scale: int, lr_pad: str = "none", window: int | None = None) -> tuple[int, int]:
    """(LR height, LR width) for an HR of ``hr = (width, height)``. ``lr_pad="swinir-<w>"`` uses window w."""
    h, w = hr[1] // scale, hr[0] // scale
    if lr_pad == "none":
        return h, w
    name, _, given = lr_pad.partition("-")
    if name == "swinir" and (given.isdigit() or not given):
        window = int(given) if given else window
        if not window:
            raise BenchError("lr_pad 'swinir' needs a window-based model (it has no .window); "
                             "'swinir-<window>' gives one")
        return (h // window + 1) * window, (w // window + 1) * window
    raise BenchError(f"unknown lr_pad {lr_pad!r}; use 'none', 'swinir' or 'swinir-<window>'")


def count_params(model: nn.Module) -> dict[str, int]:
    """Three conventions in circulation. ``params``: every parameter (LIIF's count). ``params_trainable``:
    those with requires_grad (EDSR's count leaves out its frozen mean shift). ``params_leaf_modules``:
    only those owned by leaf modules, as thop counts (and SwinIR's paper: no relative-position bias tables)."""
    leaf = sum(p.numel() for m in model.modules() if not list(m.children()) for p in m.parameters(recurse=False))
    return {"params": sum(p.numel() for p in model.parameters()),
            "params_trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "params_leaf_modules": leaf}


def _sdpa_handle(inputs: list, outputs: list) -> int:
    from fvcore.nn.jit_handles import get_shape

    q, k, v = (get_shape(inputs[i]) for i in range(3))
    batch = 1
    for d in q[:-2]:
        batch *= d
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def _import_fvcore():
    with warnings.catch_warnings():
        # fvcore.nn's import calls torch.jit.script, deprecated since torch 2.10: silence that one warning.
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=DeprecationWarning)
        try:
            from fvcore.nn import FlopCountAnalysis
        except ImportError:
            raise BenchError("fvcore is not installed: pip install 'fvcore==0.1.5.post20221221'") from None
    return FlopCountAnalysis


def fvcore_mult_adds(model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    analysis_cls = _import_fvcore()
    model = model.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        analysis = analysis_cls(model, (x,))
        analysis.set_op_handle("aten::scaled_dot_product_attention", _sdpa_handle)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        by_operator = dict(analysis.by_operator())
        total = analysis.total()
        skipped = dict(sorted(Counter(analysis.unsupported_ops()).items()))
    return {"mult_adds": int(total), "by_operator": {k: int(v) for k, v in sorted(by_operator.items())},
            "skipped_ops": skipped}


def meta_mult_adds(model: nn.Module, shape: tuple[int, ...]) -> int:
    """FlopCounterMode on the meta device (shapes only, no arithmetic), in MACs (its FLOPs / 2)."""
    meta_model = copy.deepcopy(model).to("meta").eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        meta_model(torch.empty(shape, device="meta"))
    return counter.get_total_flops() // 2


def _cache_key(spec: dict, settings: dict, model: nn.Module) -> str:
    """Everything a count depends on: the spec and its resolved config (a registered default or a variant's
    override that changes moves the key), the sizes, the versions, and the source of every module class the model
    is built from and of this counter."""
    from bench import registry

    # the source of every module class the model is made of (its layers may live in another file)
    files = sorted({inspect.getsourcefile(type(m)) or "" for m in model.modules()} - {""})
    code = b"".join(Path(f).read_bytes() for f in files if Path(f).is_file())
    try:
        import fvcore

        fvcore_version = getattr(fvcore, "__version__", "?")
    except ImportError:
        fvcore_version = None
    try:
        config = {**registry.get(spec["name"]).defaults, **spec.get("args", {})}
    except BenchError:  # a module built outside the registry
        config = spec.get("args", {})
    blob = json.dumps({"spec": spec, "config": config, **settings, "torch": torch.__version__,
                       "fvcore": fvcore_version, "code": hashlib.sha256(code).hexdigest(),
                       "counter_source": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}, sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sr-repro-bench" / "complexity"
    return Path(os.environ.get("BENCH_CACHE_DIR", "") or default)


def input_planes(name: str) -> int:
    """3 (RGB), or 1 for a channel-agnostic network (``channels="any"``): the MATLAB-era ones run on Y
    alone, as their papers count them; folding RGB's three planes through them would count three times."""
    from bench import registry

    try:
        return 1 if registry.get(name).channels == "any" else 3
    except BenchError:  # a model the registry does not know (a test's own module)
        return 3


def complexity(model: nn.Module, scale: int, hr: tuple[int, int] = DEFAULT_HR, lr_pad: str = "none",
               use_cache: bool = True, cross_check: bool = True, as_trained: bool = False,
               counter: str = "fvcore") -> dict[str, Any]:
    """Params and Mult-Adds of ``model`` (built by the registry: it carries ``.spec``). Papers report the
    deployed form, so reparameterisable branches are merged first unless ``as_trained``."""
    if counter not in COUNTERS:
        raise BenchError(f"unknown counter {counter!r}; use one of {', '.join(COUNTERS)}")
    lr_h, lr_w = lr_size(hr, scale, lr_pad, getattr(model, "window", None))
    spec = getattr(model, "spec", {"name": type(model).__name__, "args": {"scale": scale}})
    planes = input_planes(spec["name"])
    settings = {"hr": list(hr), "lr": [lr_h, lr_w], "lr_pad": lr_pad, "cross_check": cross_check,
                "as_trained": as_trained, "counter": counter, "planes": planes}
    path = cache_dir() / f"{_cache_key(spec, settings, model)}.json"
    if use_cache and path.is_file():
        result = json.loads(path.read_text())
        result["cached"] = str(path)
        return result

    merged = 0
    if not as_trained:
        model = copy.deepcopy(model)
        merged = reparameterize(model)
    shape = (1, planes, lr_h, lr_w)
    result: dict[str, Any] = {
        "model": spec["name"], "scale": scale, "hr_size": f"{hr[0]}x{hr[1]}", "lr_size": f"{lr_w}x{lr_h}",
        "lr_pad": lr_pad, "input_planes": planes, **count_params(model),
        "form": "as trained" if as_trained else f"deployed ({merged} modules reparameterized)",
    }
    if counter == "fvcore":
        print(f"counting {spec['name']} x{scale} at LR {lr_w}x{lr_h} (one full forward pass) ...", file=sys.stderr)
        torch.manual_seed(0)
        result.update(**fvcore_mult_adds(model, torch.rand(shape)),
                      counter="fvcore 1/MAC + scaled_dot_product_attention handle")
    elif counter == "fvcore-meta":
        result.update(**fvcore_rules_mult_adds(model, shape),
                      counter="fvcore's formulas on the meta device (equal to fvcore, tests/test_fastcount.py)")
    elif counter == "meta":
        result.update(mult_adds=meta_mult_adds(model, shape), counter="torch FlopCounterMode on the meta device, "
                      "in MACs (conv, linear, matmul; no norms or resampling)")
        result["meta_mult_adds"] = result["mult_adds"]
    elif counter == "analytic":
        result.update(counter="the model's own formula (conv + matmul), cross-checked on the meta device",
                      cross_check={"flop_counter_mode_macs": meta_mult_adds(model, shape)})
    if cross_check and counter in ("fvcore", "fvcore-meta"):
        matmul_like = sum(v for k, v in result["by_operator"].items() if k in MATMUL_LIKE)
        meta = meta_mult_adds(model, shape)
        result["cross_check"] = {
            "fvcore_matmul_like": matmul_like, "flop_counter_mode_macs": meta,
            "relative_difference": abs(matmul_like - meta) / max(meta, 1),
        }
    analytic = getattr(model, "analytic_mult_adds", None)
    if callable(analytic) and counter != "none":
        window = getattr(model, "window", 1)  # the model pads its input to whole windows
        result["analytic_mult_adds"] = analytic(-(-lr_h // window) * window, -(-lr_w // window) * window)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(result, indent=1))
        os.replace(tmp, path)
    return result
