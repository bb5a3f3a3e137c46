"""Model registry: one registered name per model variant, built from a ``{name, args}`` spec.

A paper's package registers its models at import, with a typed config and its ablation rows::

    @dataclass(frozen=True)
    class IMDNConfig:
        channels: int = option(64, "paper: nf=64")

    @register("imdn", paper="IMDN (ACM MM 2019)", scales=(2, 3, 4), config=IMDNConfig,
              variants={"narrow": Variant({"channels": 32}, "Table 3's narrow row")})
    def imdn(scale: int, **config) -> nn.Module: ...

Each variant is a registered name of its own, ``imdn.narrow``, reachable everywhere a model is (timm's
habit: one name per row of a table). ``make({"name": ..., "args": {...}})`` builds a model from a spec, the
same spec a checkpoint carries next to its weights. ``bench`` never imports a paper by name: the registry
fills on the first lookup, when ``bench.paper.papers()`` loads the ``bench.reproductions`` entry points.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from bench import BenchError

__all__ = ["ModelCard", "Variant", "option", "register", "get", "list_models", "make", "split_name", "join_name"]


def option(default: Any, source: str) -> Any:
    """A config field with its default and where the value comes from ("paper", "spec ...", "inf: why")."""
    return field(default=default, metadata={"source": source})


@dataclass(frozen=True)
class Variant:
    """A row of a paper's table as config overrides of a registered model."""

    overrides: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""  # what the row is and why these overrides express it
    recipe: Mapping[str, Any] = field(default_factory=dict)  # arguments of the paper's recipe() for this row
    form: str = "deployed"  # the form whose size the paper printed: "deployed" or "as-trained" (multi-branch)


@dataclass(frozen=True)
class ModelCard:
    name: str  # "msra-light", or "msra-light.wo-ga" for a variant
    build: Callable[..., nn.Module]
    paper: str
    scales: tuple[int, ...] | None  # None: an arbitrary-scale model, any scale >= 1
    description: str
    channels: str = "rgb"  # "rgb", or "any" for channel-agnostic models (bicubic) that can run on Y alone
    config: type | None = None  # the typed config (a dataclass); None: no options
    # Maps a foreign checkpoint's state_dict (e.g. the authors' release) onto ours; the one place for it.
    # Called as remap(state), given also scale=s and/or model=the built model where it has those parameters.
    remap_weights: Callable[..., dict[str, Any]] | None = None
    # The paper's training recipe for a scale (a bench.train.TrainConfig), where the paper gives one.
    recipe: Callable[..., Any] | None = None
    # Which count of bench.complexity its authors published: "params" (every parameter),
    # "params_trainable" or "params_leaf_modules" (thop-style). The report compares like with like.
    params_count: str = "params"
    variant: Variant | None = None  # set on a variant's card

    @property
    def base(self) -> str:
        """The registered model a variant belongs to (its own name for the model itself)."""
        return split_name(self.name)[0]

    @property
    def variant_name(self) -> str:
        return split_name(self.name)[1]

    @property
    def defaults(self) -> dict[str, Any]:
        """The config's defaults with this variant's overrides applied."""
        base = {f.name: f.default for f in dataclasses.fields(self.config)} if self.config else {}
        return {**base, **(self.variant.overrides if self.variant else {})}

    def config_fields(self) -> list[dict[str, Any]]:
        """Every option: name, type, default (after this variant's overrides) and source."""
        defaults = self.defaults
        return [{"name": f.name, "type": f.type if isinstance(f.type, str) else getattr(f.type, "__name__", ""),
                 "default": defaults[f.name], "source": f.metadata.get("source", "")}
                for f in dataclasses.fields(self.config or _NoOptions)]

    def build_recipe(self, scale: float) -> Any:
        if self.recipe is None:
            raise BenchError(f"{self.name} has no training recipe registered")
        return self.recipe(scale, **(self.variant.recipe if self.variant else {}))

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


@dataclass(frozen=True)
class _NoOptions:
    pass


def split_name(name: str) -> tuple[str, str]:
    """("msra-light", "wo-ga") for "msra-light.wo-ga"; (name, "") for a model itself."""
    base, _, variant = name.partition(".")
    return base, variant


def join_name(model: str, variant: str) -> str:
    """The inverse of ``split_name``: "msra-light.wo-ga", or the model itself for no variant."""
    return f"{model}.{variant}" if variant else model


_MODELS: dict[str, ModelCard] = {}


def register(
    name: str,
    *,
    paper: str,
    scales: tuple[int, ...] | None,
    description: str = "",
    channels: str = "rgb",
    config: type | None = None,
    variants: Mapping[str, Variant] | None = None,
    remap_weights: Callable[..., dict[str, Any]] | None = None,
    recipe: Callable[..., Any] | None = None,
    params_count: str = "params",
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register ``builder(scale, **config)`` under ``name``, and each of ``variants`` as ``name.variant``."""
    if name != name.lower() or " " in name or "_" in name or "." in name:
        raise ValueError(f"model names are lower-case with hyphens, got {name!r}")
    if config is not None and not dataclasses.is_dataclass(config):
        raise ValueError(f"{name}: config must be a dataclass, got {config!r}")

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS and _MODELS[name].build is not builder:
            raise ValueError(f"model {name!r} is registered twice")
        text = description or (builder.__doc__ or "").strip().split("\n")[0]
        card = ModelCard(name, builder, paper, scales, text, channels, config, remap_weights, recipe, params_count)
        _MODELS[name] = card
        for row, variant in (variants or {}).items():
            unknown = set(variant.overrides) - set(card.defaults)
            if unknown or row != row.lower() or " " in row or "." in row:
                raise ValueError(f"{name}.{row}: bad variant (unknown options: {sorted(unknown)})")
            _MODELS[f"{name}.{row}"] = dataclasses.replace(
                card, name=f"{name}.{row}", variant=variant, description=variant.note or text)
        return builder

    return decorator


def _discover() -> None:
    from bench.paper import papers

    papers()  # importing the paper packages registers their models


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
    override the spec's. The spec as given is kept on the model as ``model.spec``."""
    if isinstance(spec, str):
        spec = {"name": spec, "args": {}}
    card = get(spec["name"])
    given = {**dict(spec.get("args", {})), **args}
    if "scale" not in given:
        raise BenchError(f"building {card.name} needs a scale")
    card.check_scale(given["scale"])
    unknown = set(given) - {"scale"} - set(card.defaults)
    if unknown:
        raise BenchError(f"model {card.name} has no option {', '.join(sorted(unknown))}; "
                         f"options: {', '.join(sorted(card.defaults)) or 'none'}")
    model = card.build(**{**card.defaults, **given})
    model.spec = {"name": card.name, "args": given}
    return model
