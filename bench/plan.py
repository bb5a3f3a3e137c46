"""What a training run will cost, before it runs: ``bench train ... --dry-run`` and ``bench reproduce ...
--budget paper --dry-run``.

The plan lists the recipe (each value with the source its recipe file gives it), the data (sets, images,
whether each is prepared and what its prepared arrays take on disk), the batches (per rank and global),
the iterations, the FLOPs (forward Mult-Adds of one training sample from the complexity counter, in the
training form, at the training patch; a training step taken as three forward passes, the usual estimate
for backward = 2 x forward), an estimate of GPU-hours for a stated device class at a stated utilisation,
and the checkpoints' size and disk under the retention policy. Validation is not in the estimate.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import re
from typing import Any

from PIL import Image

from bench import BenchError, registry

__all__ = ["DEVICE_CLASSES", "UTILISATION", "add_plan_options", "plan", "plan_text", "recipe_sources"]

# Dense peak throughput from the vendors' datasheets, FLOP/s, by the precision a run computes in.
DEVICE_CLASSES: dict[str, tuple[str, dict[str, float]]] = {
    "a100": ("NVIDIA A100 SXM (datasheet, dense)", {"fp32": 19.5e12, "tf32": 156e12, "bf16": 312e12, "fp16": 312e12}),
    "h100": ("NVIDIA H100 SXM (datasheet, dense)", {"fp32": 67e12, "tf32": 494.7e12, "bf16": 989.4e12,
                                                     "fp16": 989.4e12}),
    "v100": ("NVIDIA V100 SXM2 (datasheet)", {"fp32": 15.7e12, "fp16": 125e12}),
    "rtx4090": ("NVIDIA GeForce RTX 4090 (datasheet, dense, FP32 accumulate)", {"fp32": 82.6e12, "bf16": 165.2e12,
                                                                                  "fp16": 165.2e12}),
}
# An assumption, not a measurement: SR training on small patches keeps a GPU far from its peak.
UTILISATION = 0.3
ADAM_STATES = 2  # Adam keeps two moments per parameter


def recipe_sources(card: registry.ModelCard) -> dict[str, str]:
    """field -> the source tag its paper's recipe file writes beside it (``batch_size=64,  # [paper]``)."""
    if card.recipe is None:
        return {}
    module = card.recipe.__module__  # the paper's recipe.py, or the package that wraps it
    sources: dict[str, str] = {}
    for name in (module, module + ".recipe"):
        try:
            source = inspect.getsource(importlib.import_module(name))
        except (ImportError, OSError, TypeError):
            continue
        for match in re.finditer(r"^\s*(\w+)=.*?#\s*(\[.+)$", source, flags=re.MULTILINE):
            sources.setdefault(match.group(1), match.group(2).strip())
    return sources


def add_plan_options(p: argparse.ArgumentParser) -> None:
    """The options of a dry run, shared by ``bench train`` and ``bench reproduce``."""
    p.add_argument("--dry-run", action="store_true", help="print the plan (recipe, data, FLOPs, GPU-hours, disk) "
                   "and train nothing")
    p.add_argument("--world-size", type=int,
                   help="dry run: processes (GPUs) to plan for (default: $WORLD_SIZE, else 1)")
    p.add_argument("--device-class", default="a100", choices=sorted(DEVICE_CLASSES),
                   help="dry run: the GPU whose datasheet peak the estimate uses")
    p.add_argument("--utilisation", type=float, default=UTILISATION,
                   help=f"dry run: assumed fraction of that peak (default {UTILISATION})")


def _set_data(name: str, scale: int, data_root) -> dict[str, Any]:
    """One training set as it stands here: images, pixels, whether prepared and the bytes it takes so."""
    from bench.data import catalog
    from bench.data.benchmarks import find_dataset
    from bench.data.prepared import image_paths, open_prepared

    row: dict[str, Any] = {"set": name}
    try:
        folder = find_dataset(name, data_root)
    except BenchError:
        entry = catalog.CATALOG.get(name)
        row.update(present=False, images=getattr(entry, "images", None),
                   note=f"not under the data root: python -m bench data download {name}")
        return row
    paths = image_paths(folder / "HR")
    pixels = 0
    for path in paths:
        with Image.open(path) as im:  # the header only
            pixels += (im.width - im.width % scale) * (im.height - im.height % scale)
    lr_share = 1 / scale**2 if scale > 1 else 0
    prepared = open_prepared(folder, scale)
    row.update(present=True, images=len(paths), hr_pixels=pixels, prepared=prepared is not None,
               prepared_bytes=prepared.nbytes() if prepared else round(3 * pixels * (1 + lr_share)),
               prepared_folder=str(prepared.folder) if prepared else None)
    if prepared is None:
        row["note"] = f"not prepared: python -m bench data prepare {name} --scale {scale} (bytes estimated)"
    return row


def _training_flops(spec: dict, config, scale: int) -> dict[str, Any]:
    from bench.complexity import complexity

    p = config.lr_patch
    if config.sampler == "arbitrary":  # LR patch in, `queries` points out: counted as an x1 render (p * p points)
        model = registry.make({**spec, "args": {**spec["args"], "scale": 1}})
        counted = complexity(model, 1, hr=(p, p), cross_check=False, as_trained=True)
        where = f"LR {p}x{p}, {p * p} queries (the recipe draws {config.queries})"
    else:
        counted = complexity(registry.make(spec), scale, hr=(p * scale, p * scale), cross_check=False,
                             as_trained=True)
        where = f"LR {p}x{p} -> HR {p * scale}x{p * scale}"
    per_sample = counted["mult_adds"]
    forward = 2 * per_sample * config.batch_size  # FLOPs = 2 per Mult-Add
    return {"forward_mult_adds_per_sample": per_sample, "counted_at": where + ", training form, fvcore",
            "params": counted["params"],
            "forward_flops_per_iteration": forward, "train_flops_per_iteration": 3 * forward,
            "total_flops": 3 * forward * config.iterations,
            "rule": "a step = forward + backward = 3 forward passes (backward taken as 2 x forward)"}


def plan(spec: dict, config, data_root=None, world_size: int = 1, device_class: str = "a100",
         utilisation: float = UTILISATION) -> dict[str, Any]:
    """The plan of training ``spec`` with ``config`` on ``world_size`` processes (one GPU each)."""
    from bench.data.training import expand_set_names
    from bench.train import sampling_scale

    if device_class not in DEVICE_CLASSES:
        raise BenchError(f"unknown device class {device_class!r}; choose one of: {', '.join(DEVICE_CLASSES)}")
    if not 0 < utilisation <= 1:
        raise BenchError(f"utilisation must be in (0, 1], got {utilisation}")
    if config.batch_size % world_size:
        raise BenchError(f"global batch {config.batch_size} does not split over {world_size} processes")
    card = registry.get(spec["name"])
    scale = spec["args"]["scale"]
    data_scale = sampling_scale(config, scale)
    sources = recipe_sources(card)
    defaults = dataclasses.asdict(type(config)(0, 0, 0, 0.0))
    recipe = [{"field": k, "value": v,
               "source": "budget: " + config.tier if k in config.overrides
               else sources.get(k, "TrainConfig default" if defaults.get(k) == v else "recipe (no tag)")}
              for k, v in config.as_dict().items() if k not in ("overrides", "budget")
              and not (config.sampler == "patch" and k in ("scale_range", "scale_per", "queries"))]
    data = [_set_data(name, data_scale, data_root) for name in expand_set_names(list(config.train_sets))]
    flops = _training_flops(spec, config, scale)
    label, peaks = DEVICE_CLASSES[device_class]
    precision = config.amp if config.amp in ("bf16", "fp16") else "fp32"
    seconds = flops["total_flops"] / (peaks[precision] * utilisation * world_size)
    params = flops["params"]
    copies = 1 + (1 if config.ema_decay else 0) + ADAM_STATES
    checkpoint = 4 * params * copies
    kept = config.keep_last + (1 if config.keep_best else 0)
    images = sum(d.get("images") or 0 for d in data)
    to_prepare = sum(d.get("prepared_bytes", 0) for d in data if d.get("present") and not d.get("prepared"))
    return {
        "model": spec["name"], "scale": scale, "budget": config.budget, "tier": config.tier, "recipe": recipe,
        "data": data,
        "batches": {"world_size": world_size, "global_batch": config.batch_size,
                    "per_rank_batch": config.batch_size // world_size, "iterations": config.iterations,
                    "patches": config.iterations * config.batch_size,
                    "passes_over_images": config.iterations * config.batch_size / images if images else None},
        "flops": flops,
        "estimate": {"device_class": label, "precision": precision, "peak_flops_per_gpu": peaks[precision],
                     "utilisation": utilisation, "gpus": world_size,
                     "gpu_hours": seconds * world_size / 3600, "wall_hours": seconds / 3600,
                     "assumption": f"{utilisation:.0%} of the {precision} peak, an assumption (not measured); "
                                   "validation and data preparation not included"
                                   + ("; amp none counted at FP32 (convolutions may run in TF32, faster)"
                                      if precision == "fp32" else "")},
        "checkpoints": {"params": params, "bytes_each": checkpoint,
                        "holds": f"fp32 weights{' + EMA' if config.ema_decay else ''} + Adam's two moments",
                        "every": config.checkpoint_every, "written": config.iterations // config.checkpoint_every,
                        "kept": kept, "policy": f"the {config.keep_last} newest"
                                                + (" + the best validation PSNR" if config.keep_best else ""),
                        "disk_bytes": checkpoint * kept + 4 * params},
        "disk_bytes_to_add": checkpoint * kept + 4 * params + to_prepare,
    }


def _size(n: float) -> str:
    for unit, step in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= step:
            return f"{n / step:.3g} {unit}"
    return f"{n:.0f} B"


def plan_text(p: dict[str, Any]) -> str:
    b, f, e, c = p["batches"], p["flops"], p["estimate"], p["checkpoints"]
    lines = [f"plan: {p['model']} x{p['scale']}, {p['budget']} (dry run: nothing trained)", "recipe:"]
    lines += [f"  {r['field']:<16} {str(r['value']):<36} {r['source']}" for r in p["recipe"]]
    lines.append("data:")
    for d in p["data"]:
        if not d.get("present"):
            lines.append(f"  {d['set']:<12} {d.get('images') or '?'} images expected; {d['note']}")
            continue
        state = "prepared" if d["prepared"] else "not prepared"
        lines.append(f"  {d['set']:<12} {d['images']} images, {d['hr_pixels'] / 1e6:.0f} MP; {state}, "
                     f"{_size(d['prepared_bytes'])} of arrays" + (f" ({d['note']})" if d.get("note") else ""))
    passes = f", {b['passes_over_images']:.0f} passes over the images" if b["passes_over_images"] else ""
    lines += [
        f"batches: global {b['global_batch']} = {b['world_size']} process(es) x {b['per_rank_batch']}; "
        f"{b['iterations']:,} iterations, {b['patches']:,} patches{passes}",
        f"FLOPs: {f['forward_mult_adds_per_sample'] / 1e9:.3g} G Mult-Adds per sample forward ({f['counted_at']}); "
        f"{f['train_flops_per_iteration'] / 1e12:.3g} TFLOP per iteration, {f['total_flops'] / 1e18:.3g} EFLOP in all "
        f"({f['rule']})",
        f"estimate: {e['gpu_hours']:.3g} GPU-hours ({e['wall_hours']:.3g} h on {e['gpus']} GPU(s)), "
        f"{e['device_class']}, "
        f"{e['assumption']}",
        f"checkpoints: {_size(c['bytes_each'])} each ({c['holds']}), every {c['every']:,} steps; kept: {c['policy']} "
        f"-> {_size(c['disk_bytes'])} with the final weights",
        f"disk to add: {_size(p['disk_bytes_to_add'])} (checkpoints, final weights and arrays still to prepare)",
    ]
    return "\n".join(lines)
