"""Checkpoints that carry their own spec (LIIF-style), and safe loading of foreign weights.

Ours: ``{"spec": {"name", "args"}, "state_dict": ..., **extra}``, so ``load_model(path)`` rebuilds
the exact model with no other input. Foreign files (the authors' releases) are plain state_dicts,
possibly nested under ``state_dict``/``params``/``model``; the model card's ``remap_weights``
turns their keys into ours. Everything is read with ``torch.load(weights_only=True)``: a checkpoint
can never run code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench import BenchError, registry

__all__ = ["save_checkpoint", "read_checkpoint", "read_state_dict", "load_weights", "load_model", "training_budget"]


def save_checkpoint(path: str | os.PathLike, model: nn.Module, **extra: Any) -> Path:
    """Write ``model.spec`` + weights (+ ``extra``, e.g. optimizer state) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"spec": model.spec, "state_dict": model.state_dict(), **extra}, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":  # what `bench train` writes (final.safetensors)
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors, truncated files, non-tensor payloads
        raise BenchError(f"cannot load weights {path} safely (weights_only=True): {err}") from None


def training_budget(path: str | os.PathLike) -> str | None:
    """The budget label `bench train` wrote into a ``.safetensors`` file, if any."""
    if Path(path).suffix != ".safetensors":
        return None
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return (handle.metadata() or {}).get("budget")


def _state_dict_of(payload: Any, path: Path) -> dict[str, Any]:
    if isinstance(payload, dict):
        for key in ("state_dict", "params_ema", "params", "model"):
            if isinstance(payload.get(key), dict):
                return payload[key]
        if all(isinstance(v, torch.Tensor) for v in payload.values()):
            return payload
    raise BenchError(f"{path} holds no state_dict")


def read_state_dict(path: str | os.PathLike) -> dict[str, Any]:
    """The state_dict in a weights file, as stored (no remapping)."""
    return _state_dict_of(read_checkpoint(path), Path(path))


def load_weights(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load a checkpoint (ours or the authors') into ``model``, strictly, with a readable mismatch error."""
    path = Path(path)
    state = read_state_dict(path)
    card = registry.get(model.spec["name"])
    if card.remap_weights is not None:
        state = card.remap_weights(state)
    ours = model.state_dict()
    missing = [k for k in ours if k not in state]
    unexpected = [k for k in state if k not in ours]
    reshaped = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in ours.items()
                if k in state and state[k].shape != v.shape]
    problems = [f"{label} {len(keys)}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                for label, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                                    ("other shapes", reshaped)) if keys]
    if problems:
        raise BenchError(f"{path} does not fit {card.name} {model.spec['args']}: {'; '.join(problems)}")
    model.load_state_dict(state)
    return model


def load_model(path: str | os.PathLike) -> nn.Module:
    """Rebuild a model from one of our checkpoints alone."""
    payload = read_checkpoint(path)
    if not isinstance(payload, dict) or "spec" not in payload:
        raise BenchError(f"{path} carries no spec; build the model by name and pass it to load_weights")
    model = registry.make(payload["spec"])
    model.load_state_dict(payload["state_dict"])
    return model
