"""Recipe-driven training: one process on a laptop CPU, or DDP under ``torchrun`` (gloo on CPU, NCCL on GPUs).

A recipe (``TrainConfig``) is data, declared by each paper's ``recipe.py`` and attached to the model's
registry card. ``smoke`` changes only budget-like fields (iterations, batch, patch, data) and every
record, log line and checkpoint says so.

Run folder: ``config.json``, ``metrics.csv`` (step, loss, learning rate, it/s, validation PSNR) and
``checkpoints/``: ``step-NNNNNNN.safetensors`` (model, EMA, optimizer tensors) + ``step-NNNNNNN.json``
(step, scheduler, generator state, spec, config), and ``latest.json`` pointing at the last complete
pair. A new checkpoint is complete (written, flushed, renamed) before the pointer moves and before
the previous one is deleted, so a kill at any moment leaves a good checkpoint. Resuming restores the
sampling generator too: the resumed run is bit for bit the uninterrupted one (on CPU). A finished run
adds ``final.safetensors``: the weights (the EMA copy where the recipe keeps one) with their spec and
budget (``bench.checkpoints.save_model``; ``load_model`` rebuilds the model from it, or from a step
checkpoint).
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from bench import BenchError, registry, results
from bench.data.training import batch_stream
from bench.progress import Progress

__all__ = ["TrainConfig", "smoke", "train", "learning_rate_factor", "training_loss"]


@dataclass(frozen=True)
class TrainConfig:
    iterations: int
    batch_size: int  # global batch: split over DDP processes
    lr_patch: int
    learning_rate: float
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    schedule: str = "multistep"  # "multistep" or "cosine"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.5
    warmup: int = 0  # linear warm-up iterations
    loss: str = "l1"  # "l1", "charbonnier", or "model": the model's own training_loss(output, hr) (learnable weights)
    # A model that returns several images (MSTN's stages and scales, MESR's coarse and refined outputs)
    # is trained on their weighted sum; each output is compared with the HR bicubic-resized to its size.
    # Empty: the mean over the outputs.
    loss_weights: tuple[float, ...] = ()
    ema_decay: float = 0.0  # 0: no EMA copy
    augment: bool = True  # the 8 dihedral transforms
    train_sets: tuple[str, ...] = ("DIV2K-train",)
    val_set: str = "Set5"
    val_every: int = 0  # 0: validate at the end only
    checkpoint_every: int = 5000
    seed: int = 0
    amp: str = "none"  # "bf16" / "fp16": CUDA only
    budget: str = "paper"  # the budget in words, for people (logs, plot titles)
    tier: str = "paper"  # "paper", or the short budget that changed it: "smoke", "ci"
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)  # what the tier changed: field -> value
    # "patch": (LR, HR) patch pairs at the model's scale. "arbitrary": LIIF-style, an LR patch and ``queries``
    # HR pixels at a scale drawn from U(scale_range) per sample or per batch (``scale_per``); the model
    # is called as model(lr, coord, cell) and the loss compares the queried pixels.
    sampler: str = "patch"
    scale_range: tuple[float, float] = (1.0, 4.0)
    scale_per: str = "sample"
    queries: int = 2304
    warmup_start: float = 0.0  # learning-rate factor the warm-up starts from (MSIT: 0.1)
    init_from: str = ""  # weights to start from (e.g. MSIT's stage A), loaded by the model's load_pretrained
    # Running the recipe, not the recipe itself (they never change the weights trained):
    keep_last: int = 1  # step checkpoints kept, the newest; the best one is kept besides them
    keep_best: bool = True  # keep the checkpoint of the best validation PSNR (validated steps are checkpointed)
    loader_workers: int = -1  # DataLoader processes building batches; -1: none on a CPU, up to 8 per GPU

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def budget_record(self) -> dict[str, Any]:
        """The structured budget every record of this training (and of its weights) carries."""
        return {"tier": self.tier, "overrides": json.loads(json.dumps(self.overrides)), "note": self.budget}


# The default smoke budget: ~8 minutes of SwinIR-light x2 on 2 CPU cores, and it beats bicubic on Set5
# (issue 5's note has the numbers). Small batches, many steps: early in training, steps matter most.
def smoke(paper: TrainConfig, iterations: int = 900, batch_size: int = 2, lr_patch: int = 32,
          train_sets: tuple[str, ...] = ("B100", "Urban100"), val_set: str = "Set5", tier: str = "smoke",
          **other: Any) -> TrainConfig:
    """The paper's recipe with a short budget (``tier`` "smoke" or "ci"); milestones shrink in proportion.
    ``other``: further fields the budget changes (e.g. ``val_every``). Labelled in ``budget`` and ``overrides``."""
    ratio = iterations / paper.iterations
    changes = {"iterations": iterations, "batch_size": batch_size, "lr_patch": lr_patch,
               "train_sets": tuple(train_sets), "val_set": val_set}
    if paper.sampler == "arbitrary":  # as many queries as LR pixels at most (the paper's 2304 = 48 x 48)
        changes["queries"] = min(paper.queries, lr_patch * lr_patch)
    # An EMA whose horizon (1 / (1 - decay) steps) is not short against the run would be mostly initial
    # weights: the smoke run keeps it only if its horizon fits ten times into the budget.
    if paper.ema_decay and 10 / (1 - paper.ema_decay) > iterations:
        changes["ema_decay"] = 0.0
    changed = {k: v for k, v in changes.items() if getattr(paper, k) != v}
    label = ", ".join(f"{k} {v} (paper {getattr(paper, k)})" for k, v in changed.items())
    # smoke: three points of a learning curve; ci (a regression probe of tens of steps): one validation, at
    # the end, since validating on whole images costs more than such a run's training
    config = replace(paper, **changes, milestones=tuple(max(1, round(m * ratio)) for m in paper.milestones),
                     warmup=round(paper.warmup * ratio), checkpoint_every=max(1, iterations // 3),
                     val_every=0 if tier == "ci" else max(1, iterations // 3))
    config = replace(config, **other)
    changed.update(other)
    return replace(config, budget=f"{tier}: {label}", tier=tier, overrides=changed)


def learning_rate_factor(config: TrainConfig, step: int) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based): warm-up, then the schedule."""
    if step < config.warmup:
        return config.warmup_start + (1 - config.warmup_start) * (step + 1) / config.warmup
    if config.schedule == "cosine":
        progress = (step - config.warmup) / max(1, config.iterations - config.warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    if config.schedule == "multistep":
        return config.gamma ** sum(step >= m for m in config.milestones)
    raise BenchError(f"unknown schedule {config.schedule!r}")


def _pixel_loss(kind: str, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    if kind == "l1":
        return F.l1_loss(sr, hr)
    if kind == "charbonnier":
        return torch.sqrt((sr - hr) ** 2 + 1e-6).mean()
    raise BenchError(f"unknown loss {kind!r}")


def training_loss(config: TrainConfig, output: torch.Tensor | list | tuple, hr: torch.Tensor) -> torch.Tensor:
    """The recipe's loss of one output, or the weighted sum over a multi-output model's outputs."""
    from bench.data.imresize import imresize

    outputs = list(output) if isinstance(output, (list, tuple)) else [output]
    weights = config.loss_weights or (1 / len(outputs),) * len(outputs)
    if len(weights) != len(outputs):
        raise BenchError(f"the model returned {len(outputs)} outputs but the recipe has {len(weights)} loss weights")
    total = hr.new_zeros(())
    for weight, sr in zip(weights, outputs, strict=True):
        target = hr
        if sr.shape[-2:] != hr.shape[-2:]:
            ratio = sr.shape[-1] / hr.shape[-1]
            if sr.shape[-2] != round(hr.shape[-2] * ratio):
                raise BenchError(f"an output of size {tuple(sr.shape[-2:])} is not a rescaled {tuple(hr.shape[-2:])}")
            target = imresize(hr, ratio)
        total = total + weight * _pixel_loss(config.loss, sr, target)
    return total


def _distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) without it."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


# ---- checkpoints ----------------------------------------------------------------------------------------

def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def save_checkpoint(folder: Path, step: int, model: nn.Module, ema: nn.Module | None, optimizer,
                    generator_state: torch.Tensor, spec: dict, config: TrainConfig, val_psnr: float | None = None
                    ) -> Path:
    """Write step ``step`` (weights, optimizer, the sampling generator's state after that step's batch), move
    ``latest.json`` to it, then delete what the retention policy no longer keeps: the ``keep_last`` newest
    and, with ``keep_best``, the one of the best validation PSNR."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if ema is not None:
        tensors.update({f"ema/{k}": v.detach().cpu().contiguous() for k, v in ema.state_dict().items()})
    optim_state = optimizer.state_dict()
    scalars = {}
    for index, state in optim_state["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value) and value.dim() > 0:
                tensors[f"optim/{index}/{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}/{key}"] = float(value)
    stem = folder / f"step-{step:07d}"
    _atomic_write(stem.with_suffix(".safetensors"), lambda p: save_file(tensors, str(p)))
    meta = {"step": step, "spec": spec, "config": config.as_dict(), "optim_scalars": scalars,
            "param_groups": optim_state["param_groups"], "generator": generator_state.tolist(),
            "torch": torch.__version__, "val_psnr": val_psnr}
    _atomic_write(stem.with_suffix(".json"), lambda p: p.write_text(json.dumps(meta)))
    best = _pointer(folder).get("best")
    if config.keep_best and val_psnr is not None and (best is None or val_psnr > best["val_psnr"]):
        best = {"stem": stem.name, "step": step, "val_psnr": val_psnr}
    pointer = {"step": step, "stem": stem.name, "best": best if config.keep_best else None}
    _atomic_write(folder / "latest.json", lambda p: p.write_text(json.dumps(pointer)))
    _retain(folder, config.keep_last, pointer["best"])  # only once the new one is complete
    return stem


def _step_stems(folder: Path) -> list[str]:
    return sorted({p.name.split(".")[0] for p in folder.glob("step-*.json")})


def _retain(folder: Path, keep_last: int, best: dict | None) -> None:
    keep = set(_step_stems(folder)[-max(1, keep_last):]) | ({best["stem"]} if best else set())
    for stem in _step_stems(folder):
        if stem not in keep:
            for suffix in (".safetensors", ".json"):
                (folder / stem).with_suffix(suffix).unlink(missing_ok=True)


def _pointer(folder: Path) -> dict[str, Any]:
    path = folder / "latest.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _latest(folder: Path) -> Path | None:
    pointer = _pointer(folder)
    return folder / pointer["stem"] if pointer else None


def load_checkpoint(stem: Path, model: nn.Module, ema: nn.Module | None, optimizer, generator) -> int:
    from safetensors.torch import load_file

    tensors = load_file(str(stem.with_suffix(".safetensors")))
    meta = json.loads(stem.with_suffix(".json").read_text())
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model/")})
    if ema is not None:
        ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema/")})
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim/"):
            _, index, name = key.split("/", 2)
            state.setdefault(int(index), {})[name] = value
    for key, value in meta["optim_scalars"].items():
        index, name = key.split("/", 1)
        state.setdefault(int(index), {})[name] = torch.tensor(value)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    generator.set_state(torch.tensor(meta["generator"], dtype=torch.uint8))
    return meta["step"]


# Fields that change when and how often a run reports, or how it is labelled, not the weights it trains.
_CADENCE = ("val_every", "checkpoint_every", "budget", "tier", "overrides", "keep_last", "keep_best", "loader_workers")


def _same_training(stored: dict[str, Any], config: TrainConfig) -> bool:
    """Whether a checkpoint's recipe trains the same weights as ``config``. Fields added to TrainConfig
    after the checkpoint was written count as their defaults; the reporting cadence may change."""
    current = json.loads(json.dumps(config.as_dict()))
    defaults = json.loads(json.dumps(dataclasses.asdict(TrainConfig(0, 0, 0, 0.0))))
    return all(stored.get(k, defaults[k]) == v for k, v in current.items() if k not in _CADENCE)


def _forget_after(run_dir: Path, step: int, latest: Path | None) -> None:
    """A run resumes at ``step``: the metrics rows after it (written before a kill) go, so that every step has
    one row, and so do half-written files and checkpoints the pointer never reached (after ``step``)."""
    metrics = run_dir / "metrics.csv"
    if metrics.is_file():
        text = metrics.read_text()
        lines = text.splitlines()
        if lines and not text.endswith("\n"):
            lines = lines[:-1]  # the kill cut the last row short: what was appended next would join it
        rows = list(csv.reader(lines))
        kept = rows[:1] + [row for row in rows[1:] if len(row) == len(rows[0]) and row[0].isdigit()
                           and int(row[0]) <= step]
        if len(kept) != len(rows) or not text.endswith("\n"):
            def write(path: Path) -> None:
                with path.open("w", newline="") as handle:
                    csv.writer(handle).writerows(kept)

            _atomic_write(metrics, write)
    folder = run_dir / "checkpoints"
    for path in folder.glob("*") if folder.is_dir() else ():
        stem = path.name.split(".")[0]
        stale_step = stem.startswith("step-") and (latest is None or stem > latest.name)
        if path.suffix == ".tmp" or stale_step:
            path.unlink(missing_ok=True)


# ---- the loop -----------------------------------------------------------------------------------------------

def _validate(model: nn.Module, spec: dict, config: TrainConfig, scale: int, data_root, device) -> float:
    from bench.data.benchmarks import load_test_set
    from bench.evaluate import evaluate
    from bench.metrics import get_protocol

    test_set = load_test_set(config.val_set, scale, data_root)
    card = registry.get(spec["name"])
    was_training = model.training
    result = evaluate(model, card, test_set, get_protocol("basicsr"), device, progress=False)
    model.train(was_training)
    return result["psnr"]


def sampling_scale(config: TrainConfig, scale: int) -> int:
    """The scale a recipe's training images are prepared at: the model's for (LR, HR) patches; 1 (the HR alone)
    for arbitrary-scale sampling, which resizes each crop itself."""
    if config.sampler not in ("patch", "arbitrary"):
        raise BenchError(f"unknown sampler {config.sampler!r}; use 'patch' or 'arbitrary'")
    return scale if config.sampler == "patch" else 1


def _make_sampler(config: TrainConfig, scale: int, data_root, local_rank: int = 0, progress: bool = True):
    """The recipe's sampler, its sets prepared first where they are not (see ``prepare_for_training``)."""
    from bench.data.prepared import prepare_for_training
    from bench.data.training import ArbitraryScaleSampler, PatchSampler, training_images

    at = sampling_scale(config, scale)
    prepare_for_training(list(config.train_sets), at, data_root, local_rank, progress)
    images = training_images(list(config.train_sets), at, data_root)
    if config.sampler == "patch":
        return PatchSampler(images, scale, config.lr_patch, config.augment)
    low, high = config.scale_range
    return ArbitraryScaleSampler(images, config.lr_patch, config.queries, low, high, per=config.scale_per,
                                 augment=config.augment)


def loader_workers(config: TrainConfig, device: torch.device) -> int:
    """DataLoader processes: as configured, else none on a CPU (the cores train) and on a GPU up to 8, at
    most the machine's cores shared by its ranks, one left for each rank's own process."""
    if config.loader_workers >= 0:
        return config.loader_workers
    if device.type != "cuda":
        return 0
    ranks_here = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, min(8, (os.cpu_count() or 2) // ranks_here - 1))


def _on_device(batch, device: torch.device):
    """A loader's batch on the device: uint8 patches become float there (a quarter of the bytes to move)."""
    from bench.data.training import QueryBatch

    if isinstance(batch, QueryBatch):
        return QueryBatch(*(x.to(device, non_blocking=True) for x in batch))
    return tuple(x.to(device, non_blocking=True).float() / 255 for x in batch)


def _load_initial_weights(model: nn.Module, path: str) -> None:
    """The recipe's starting weights: through the model's ``load_pretrained`` where it has one (it knows
    how an earlier stage's weights map onto it), else a strict ``load_weights``."""
    from bench.checkpoints import load_weights, read_state_dict

    hook = getattr(model, "load_pretrained", None)
    if hook is None:
        load_weights(model, path)
    else:
        hook(read_state_dict(path))


def train(spec: dict, config: TrainConfig, run_dir: str | os.PathLike, data_root=None, device: str | None = None,
          resume: bool = True, progress: bool = True, stop_after: int | None = None) -> dict[str, Any]:
    """Train ``spec`` (``{"name", "args"}``) with ``config`` into ``run_dir``. ``stop_after``: stop at
    that step as if killed (for tests). Returns the summary (rank 0's view)."""
    for name in ("iterations", "batch_size", "lr_patch", "keep_last"):
        if getattr(config, name) < 1:  # a run of no steps would save random weights as "finished"
            raise BenchError(f"{name} must be at least 1, got {getattr(config, name)}")
    rank, world, local_rank = _distributed()
    if device is None:
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    run_dir = Path(run_dir)
    scale = spec["args"]["scale"]
    torch.manual_seed(config.seed)  # same initial weights on every rank
    model = registry.make(spec).to(device).train()
    if config.init_from:  # before the EMA copy; a resumed checkpoint overrides it below
        _load_initial_weights(model, config.init_from)
    ema = copy.deepcopy(model).eval().requires_grad_(False) if config.ema_decay else None
    wrapped = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, betas=tuple(config.betas),
                                 eps=config.eps, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    folder = run_dir / "checkpoints"
    step = 0
    latest = _latest(folder) if resume else None
    if not resume and (run_dir / "metrics.csv").exists():
        raise BenchError(f"{run_dir} already holds a run; resume it, or choose another --run-dir")
    if latest is not None:
        stored = json.loads(latest.with_suffix(".json").read_text())
        if stored["spec"] != spec or not _same_training(stored["config"], config):
            raise BenchError(f"{run_dir} holds a run of another model or recipe ({latest.name}); "
                             f"choose another --run-dir to start a new one")
        step = load_checkpoint(latest, model, ema, optimizer, generator)
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        _forget_after(run_dir, step, latest)
        (run_dir / "config.json").write_text(json.dumps({"spec": spec, "config": config.as_dict(),
                                                         "world_size": world}, indent=1))
    best_psnr = (_pointer(folder).get("best") or {}).get("val_psnr", -math.inf) if latest is not None else -math.inf
    sampler = _make_sampler(config, scale, data_root, local_rank, progress and local_rank == 0)
    workers = loader_workers(config, device)
    stream = batch_stream(sampler, generator, config.batch_size, rank, world, workers,
                          pin_memory=device.type == "cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=config.amp == "fp16" and device.type == "cuda")
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.amp)
    if amp_dtype is not None and device.type != "cuda":
        raise BenchError(f"amp {config.amp} is for CUDA; on {device.type} train in float32 (amp none)")
    metrics_path = run_dir / "metrics.csv"
    end = config.iterations if stop_after is None else min(config.iterations, stop_after)
    if rank == 0:
        print(f"training {spec['name']} x{scale} on {world} process(es), {device}; budget: {config.budget}",
              file=sys.stderr)
    bar = Progress(config.iterations, f"train {spec['name']} x{scale}", unit="it", initial=step, every=60,
                   enabled=rank == 0 and progress)
    start = time.perf_counter()
    done_here, last_psnr = 0, None
    while step < end:
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate * learning_rate_factor(config, step)
        batch, generator_state = next(stream)
        batch = _on_device(batch, device)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            if config.sampler == "arbitrary":
                rgb = wrapped(batch.lr, batch.coord, batch.cell)
                loss = _pixel_loss(config.loss, rgb, batch.rgb)
            else:
                lr, hr = batch
                output = wrapped(lr)
                loss = model.training_loss(output, hr) if config.loss == "model" else training_loss(config, output, hr)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        global_loss = loss.detach().float()
        if world > 1:
            dist.all_reduce(global_loss)
            global_loss /= world
        if not math.isfinite(global_loss.item()):
            good = _latest(folder)
            raise BenchError(f"loss became {global_loss.item()} at step {step + 1}; stopped. Last good checkpoint: "
                             f"{good if good else 'none yet'}")
        if ema is not None:
            with torch.no_grad():
                for e, p in zip(ema.parameters(), model.parameters(), strict=True):
                    e.lerp_(p.detach(), 1 - config.ema_decay)
                for e, b in zip(ema.buffers(), model.buffers(), strict=True):
                    e.copy_(b)
        step += 1
        done_here += 1
        rate = done_here / (time.perf_counter() - start)
        validate = config.val_every and step % config.val_every == 0 or step == config.iterations
        if rank == 0:
            psnr = _validate(ema or model, spec, config, scale, data_root, device) if validate else None
            last_psnr = psnr if psnr is not None else last_psnr
            new = not metrics_path.exists()
            with metrics_path.open("a", newline="") as handle:
                writer = csv.writer(handle)
                if new:
                    writer.writerow(["step", "loss", "learning_rate", "it_per_s", "val_psnr"])
                writer.writerow([step, f"{global_loss.item():.8g}", optimizer.param_groups[0]["lr"], f"{rate:.3f}",
                                 "" if psnr is None else f"{psnr:.4f}"])
            bar.update(1, loss=f"{global_loss.item():.4f}", **({"val": f"{psnr:.2f}"} if psnr else {}))
            new_best = config.keep_best and psnr is not None and psnr > best_psnr
            if step % config.checkpoint_every == 0 or step == config.iterations or new_best:
                save_checkpoint(folder, step, model, ema, optimizer, generator_state, spec, config, psnr)
                best_psnr = max(best_psnr, psnr) if psnr is not None else best_psnr
    bar.close()
    base, variant = registry.split_name(spec["name"])
    summary = {"model": base, "variant": variant, "scale": scale, "spec": spec, "budget": config.budget_record(),
               "steps": step,
               "finished": step >= config.iterations, "world_size": world, "device": str(device),
               "run_dir": str(run_dir), "it_per_s": done_here / max(time.perf_counter() - start, 1e-9)}
    if rank == 0 and summary["finished"]:
        from bench.checkpoints import save_model

        final = ema or model  # built from spec by registry.make: final.spec is spec
        summary["weights"] = str(save_model(run_dir / "final.safetensors", final, budget=config.budget_record()))
        from bench.figures import learning_curve

        curve = run_dir / "learning_curve.png"
        if learning_curve(metrics_path, f"{spec['name']} x{scale}: {config.budget}", curve):
            summary["learning_curve"] = str(curve)
        summary["val_set"] = config.val_set
        summary["val_psnr"] = last_psnr  # measured at the last step, on the weights just saved
        results.append(summary, "train")
    return summary
