"""Our checkpoints carry their own spec; foreign weights load safely.

Ours are safetensors files, in one of two layouts:

- a model file (``save_model``; a run's ``final.safetensors``): the model's state_dict, with the
  metadata ``{"spec": json, "budget": json}`` (the ``{"name", "args"}`` spec the model was built from,
  and the training budget it was trained with);
- a step checkpoint of ``bench train`` (``checkpoints/step-NNNNNNN.safetensors``): the model's tensors
  under ``model/`` (beside ``ema/`` and ``optim/``), its spec and recipe in the sibling ``.json``.

``load_model(path)`` rebuilds the exact model from either with no other input. Foreign files (the
authors' releases, ``.pth``/``.pt``) are plain state_dicts, possibly nested under
``state_dict``/``params``/``model``/``sd``: ``load_weights(model, path)`` loads them into a model built by name,
after the model card's ``remap_weights`` turned their keys into ours. They are read with
``torch.load(weights_only=True)``: a checkpoint can never run code. MATLAB releases (``.mat``, the
MATLAB-era test packages) are read with ``scipy.io.loadmat`` into a dict of its arrays, as stored (cell
arrays and structs as numpy object arrays): only the card's ``remap_weights`` knows their layout.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench import BenchError, registry

__all__ = ["weights_dir", "save_model", "read_spec", "read_state_dict", "load_weights", "load_model", "training_budget"]

_STEP_PREFIX = "model/"  # a step checkpoint's model tensors (its others: ema/, optim/)


def save_model(path: str | os.PathLike, model: nn.Module, budget: Any = None) -> Path:
    """Write ``model``'s weights with its spec (and ``budget``, any JSON-able object, e.g. the training
    budget) as a safetensors file, atomically: a temporary file, flushed to disk, renamed into place."""
    from safetensors.torch import save_file

    spec = getattr(model, "spec", None)
    if spec is None:
        raise BenchError("the model has no spec (build it with bench.registry.make) to save with its weights")
    path = Path(path)
    if path.suffix != ".safetensors":  # the loaders tell formats by suffix: a .pt name would be read as a pickle
        raise BenchError(f"a model file is written as safetensors: name it {path.stem}.safetensors, not {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {"spec": json.dumps(spec)}
    if budget is not None:
        metadata["budget"] = json.dumps(budget)
    tmp = path.with_name(path.name + ".tmp")
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def weights_dir() -> Path:
    """Published checkpoints: ``$BENCH_WEIGHTS_DIR``, else ``./weights``."""
    return Path(os.environ.get("BENCH_WEIGHTS_DIR", "") or "weights")


def _existing(path: str | os.PathLike) -> Path:
    """A weights file as given, else by that name in ``weights_dir()`` or its ``zoo/`` (compared methods)."""
    given = Path(path)
    for candidate in (given, weights_dir() / given, weights_dir() / "zoo" / given):
        if candidate.is_file():
            return candidate
    raise BenchError(f"weights file {given} does not exist (nor in {weights_dir()} or {weights_dir() / 'zoo'}: "
                     f"$BENCH_WEIGHTS_DIR)")


def _metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return handle.metadata() or {}
    except Exception as err:  # not a safetensors file, truncated header
        raise BenchError(f"cannot read {path} as safetensors: {err}") from None


def _step_meta(path: Path) -> dict[str, Any] | None:
    """The sibling ``.json`` of a ``bench train`` step checkpoint (it carries the spec), or None."""
    sidecar = path.with_suffix(".json")
    if path.suffix != ".safetensors" or not sidecar.is_file():
        return None
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and isinstance(meta.get("spec"), dict) else None


def read_spec(path: str | os.PathLike) -> dict[str, Any] | None:
    """The ``{"name", "args"}`` spec one of our checkpoints carries; None for a foreign file."""
    path = _existing(path)
    if path.suffix != ".safetensors":
        return None
    stored = _metadata(path).get("spec")
    if stored is not None:
        try:
            spec = json.loads(stored)
        except ValueError:
            raise BenchError(f"{path} carries an unreadable spec: {stored[:80]!r}") from None
        if not isinstance(spec, dict) or "name" not in spec:
            raise BenchError(f"{path} carries a spec without a model name: {stored[:80]!r}")
        return spec
    meta = _step_meta(path)
    return meta["spec"] if meta is not None else None


def training_budget(path: str | os.PathLike) -> Any:
    """The budget our checkpoint was trained with: the parsed JSON a model file stores (the raw string
    for files written before budgets were JSON), a step checkpoint's recipe budget; None if none."""
    path = _existing(path)
    if path.suffix != ".safetensors":
        return None
    stored = _metadata(path).get("budget")
    if stored is None:
        config = (_step_meta(path) or {}).get("config")
        if not config:
            return None
        return {"tier": config.get("tier", "paper"), "overrides": config.get("overrides", {}),
                "note": config.get("budget", "")}
    try:
        return json.loads(stored)
    except ValueError:  # written as a bare label, before budgets were JSON
        return stored


def _state_dict_of(payload: Any, path: Path) -> dict[str, Any]:
    """The state_dict in a foreign payload, down nested ``state_dict``/``params_ema``/``params``/``model``/``sd``
    entries: LIIF-style releases (LIIF, CLIT, MSIT) hold ``{"model": {"name", "args", "sd": state_dict}, ...}``."""
    if isinstance(payload, dict):
        for key in ("state_dict", "params_ema", "params", "model", "sd"):
            if isinstance(payload.get(key), dict):
                inner = payload[key]
                return _state_dict_of(inner, path) if any(isinstance(v, dict) for v in inner.values()) else inner
        if all(isinstance(v, torch.Tensor) for v in payload.values()):
            return payload
    raise BenchError(f"{path} holds no state_dict")


def _read_mat(path: Path) -> dict[str, Any]:
    """A MATLAB file's variables (numpy arrays, MATLAB's column-major layout kept), for a card's remap."""
    import scipy.io

    try:
        arrays = scipy.io.loadmat(str(path))
    except NotImplementedError:  # v7.3 files are HDF5
        raise BenchError(f"{path} is a MATLAB v7.3 (HDF5) file; only v4-v7.2 .mat files are read") from None
    except Exception as err:  # truncated or not a MATLAB file
        raise BenchError(f"cannot read {path} as a MATLAB .mat file: {err}") from None
    return {k: v for k, v in arrays.items() if not k.startswith("__")}


def read_state_dict(path: str | os.PathLike) -> dict[str, Any]:
    """The model's state_dict in a weights file, as stored (no remapping): a model file's tensors, a
    step checkpoint's ``model/`` tensors (unprefixed), a foreign file's (possibly nested) state_dict,
    a ``.mat`` file's variables (numpy arrays; the card's ``remap_weights`` turns them into tensors)."""
    path = _existing(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            tensors = load_file(str(path))
        except Exception as err:  # truncated or not a safetensors file
            raise BenchError(f"cannot read {path} as safetensors: {err}") from None
        if "spec" in _metadata(path):  # a model file
            return tensors
        # a step checkpoint, also one separated from its .json: every key under model/, ema/ or optim/
        if _step_meta(path) is not None or (any(k.startswith(_STEP_PREFIX) for k in tensors)
                                            and all(k.split("/", 1)[0] in ("model", "ema", "optim") for k in tensors)):
            return {k[len(_STEP_PREFIX):]: v for k, v in tensors.items() if k.startswith(_STEP_PREFIX)}
        return tensors
    if path.suffix == ".mat":
        return _read_mat(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors, truncated files, non-tensor payloads
        raise BenchError(f"cannot load weights {path} safely (weights_only=True): {err}") from None
    return _state_dict_of(payload, path)


def _load_strictly(model: nn.Module, state: dict[str, Any], path: Path) -> nn.Module:
    ours = model.state_dict()
    missing = [k for k in ours if k not in state]
    unexpected = [k for k in state if k not in ours]
    reshaped = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in ours.items()
                if k in state and state[k].shape != v.shape]
    problems = [f"{label} {len(keys)}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                for label, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                                    ("other shapes", reshaped)) if keys]
    if problems:
        spec = getattr(model, "spec", {"name": type(model).__name__, "args": {}})
        raise BenchError(f"{path} does not fit {spec['name']} {spec['args']}: {'; '.join(problems)}")
    model.load_state_dict(state)
    return model


def load_weights(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load a weights file into ``model`` (built by name), strictly, with a readable mismatch error.
    A foreign file goes through the model card's ``remap_weights``; ours are in our keys already.
    The spec one of our files carries is not checked against ``model``'s: ``load_model`` builds from it."""
    path = _existing(path)
    state = read_state_dict(path)
    card = registry.get(model.spec["name"])
    if card.remap_weights is not None and read_spec(path) is None:
        state = _remap(card.remap_weights, state, model)
    return _load_strictly(model, state, path)


def _remap(remap: Any, state: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """``remap(state)``, given also ``scale=`` and/or ``model=`` where it takes them: a multi-scale release (one
    file with an upsampler per scale, e.g. CARN-M's) keeps the branches the built model holds."""
    wanted = inspect.signature(remap).parameters
    extra = {"scale": model.spec["args"]["scale"], "model": model}
    return remap(state, **{name: value for name, value in extra.items() if name in wanted})


def load_model(path: str | os.PathLike, **args: Any) -> nn.Module:
    """Rebuild the model one of our checkpoints holds, from the spec it carries; ``args`` override the
    spec's (e.g. another scale for an arbitrary-scale model). ``model.spec`` is the spec it was built from."""
    path = _existing(path)
    spec = read_spec(path)
    if spec is None:
        raise BenchError(f"{path} carries no spec (not one of our checkpoints); build the model by name "
                         f"and pass it to load_weights")
    return _load_strictly(registry.make(spec, **args), read_state_dict(path), path)
