"""Model registry: one registered builder per model variant, built from a ``{name, args}`` spec.

A paper's package registers its models at import::

    @register("imdn", paper="IMDN (ACM MM 2019)", scales=(2, 3, 4))
    def imdn(scale: int, **config) -> nn.Module: ...

``bench`` never imports a paper by name: on the first lookup it imports every module listed in
the ``bench.reproductions`` entry-point group (``pyproject.toml``), so a lab's own package plugs in
the same way ours do. ``make({"name": ..., "args": {...}})`` builds a model from a spec, the same
spec a checkpoint carries next to its weights.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from torch import nn

from bench import BenchError

__all__ = ["ModelCard", "register", "get", "list_models", "make", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "bench.reproductions"


@dataclass(frozen=True)
class ModelCard:
    name: str
    build: Callable[..., nn.Module]
    paper: str
    scales: tuple[int, ...] | None  # None: an arbitrary-scale model, any scale >= 1
    description: str
    channels: str = "rgb"  # "rgb", or "any" for channel-agnostic models (bicubic) that can run on Y alone
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # Maps a foreign checkpoint's state_dict (e.g. the authors' release) onto ours; the one place for it.
    remap_weights: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # The paper's training recipe for a scale (a bench.train.TrainConfig), where the paper gives one.
    recipe: Callable[[int], Any] | None = None
    # Which count of bench.complexity its authors published: "params" (every parameter),
    # "params_trainable" or "params_leaf_modules" (thop-style). The report compares like with like.
    params_count: str = "params"

    def check_scale(self, scale: float) -> None:
        """Whole scales for fixed-scale models; any scale >= 1 for arbitrary-scale ones (``scales=None``)."""
        if self.scales is None:
            if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale >= 1:
                raise BenchError(f"scale must be a number of at least 1, got {scale!r}")
            return
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            raise BenchError(f"scale must be a positive whole number, got {scale!r}")
        if scale not in self.scales:
            supported = ", ".join(f"x{s}" for s in self.scales)
            raise BenchError(f"model {self.name} has no x{scale} variant; it supports {supported}")


_MODELS: dict[str, ModelCard] = {}
_discovered = False


def register(
    name: str,
    *,
    paper: str,
    scales: tuple[int, ...] | None,
    description: str = "",
    channels: str = "rgb",
    remap_weights: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    recipe: Callable[[int], Any] | None = None,
    params_count: str = "params",
    **defaults: Any,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register ``builder(scale, **config)`` under ``name``; ``defaults`` documents its config."""
    if name != name.lower() or " " in name or "_" in name:
        raise ValueError(f"model names are lower-case with hyphens, got {name!r}")

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS and _MODELS[name].build is not builder:
            raise ValueError(f"model {name!r} is registered twice")
        text = description or (builder.__doc__ or "").strip().split("\n")[0]
        _MODELS[name] = ModelCard(name, builder, paper, scales, text, channels, dict(defaults), remap_weights,
                                  recipe, params_count)
        return builder

    return decorator


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        importlib.import_module(entry.value)


def get(name: str) -> ModelCard:
    _discover()
    try:
        return _MODELS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_MODELS), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise BenchError(f"unknown model {name!r}{hint} (`python -m bench list` shows all)") from None


def list_models(pattern: str = "*") -> list[ModelCard]:
    _discover()
    return [card for name, card in sorted(_MODELS.items()) if fnmatch.fnmatch(name, pattern)]


def make(spec: Mapping[str, Any] | str, **args: Any) -> nn.Module:
    """Build the model of ``spec`` (``{"name": ..., "args": {...}}`` or a bare name); ``args``
    override the spec's. The resolved spec is kept on the model as ``model.spec``."""
    if isinstance(spec, str):
        spec = {"name": spec, "args": {}}
    card = get(spec["name"])
    merged = {**dict(spec.get("args", {})), **args}
    if "scale" not in merged:
        raise BenchError(f"building {card.name} needs a scale")
    card.check_scale(merged["scale"])
    unknown = set(merged) - {"scale"} - set(card.defaults)
    if unknown:
        raise BenchError(f"model {card.name} has no option {', '.join(sorted(unknown))}; "
                         f"options: {', '.join(sorted(card.defaults)) or 'none'}")
    model = card.build(**merged)
    model.spec = {"name": card.name, "args": merged}
    return model
