"""A paper's manifest: its title, reported numbers and experiments as data; ``bench.reproduce`` runs it.

A paper package names one ``Paper`` in the ``bench.reproductions`` entry-point group of its
``pyproject.toml`` (``msra = "reproductions.msra.manifest:PAPER"``). Importing it registers the paper's
models; ``papers()`` walks the group once and fails loudly, naming the plug-in, if one cannot be loaded.

A manifest's steps read like the paper's experiments section: sizes of the table's rows, a
reparameterisation proof, a training recipe, an evaluation against a reference. Each step says what each
budget tier does with it: ``tiers`` maps a tier to overrides of the step's fields, or to the reason the
tier skips the step (a tier it does not name skips it too):

- ``ci``: minutes on 2 CPU cores, deterministic; what ``.ci/run`` feeds the regression gate;
- ``smoke``: what a laptop CPU affords, a labelled short budget that must still learn;
- ``paper``: the paper's recipe, unchanged (a GPU, or torchrun on a cluster).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from bench import BenchError

__all__ = ["TIERS", "BENCHMARKS", "ENTRY_POINT_GROUP", "Paper", "Step", "Sizes", "Reparam", "Train", "Evaluate",
           "Probe", "Context", "papers", "EVERY_TIER"]

ENTRY_POINT_GROUP = "bench.reproductions"
TIERS = ("ci", "smoke", "paper")
EVERY_TIER: Mapping[str, Mapping[str, Any] | str] = {tier: {} for tier in TIERS}
BENCHMARKS = ("Set5", "Set14", "B100", "Urban100")


@dataclass(frozen=True, kw_only=True)
class Step:
    id: str
    # tier -> overrides of this step's fields at that tier, or why that tier skips the step
    tiers: Mapping[str, Mapping[str, Any] | str] = field(default_factory=lambda: EVERY_TIER)
    opt_in: bool = False  # runs only when asked for by id (``--steps``)

    def at(self, tier: str) -> Step | str:
        """This step as the tier runs it, or the reason it does not."""
        plan = self.tiers.get(tier, f"not part of the {tier} budget")
        return plan if isinstance(plan, str) else dataclasses.replace(self, **plan)


@dataclass(frozen=True, kw_only=True)
class Sizes(Step):
    """Params and Mult-Adds of each (registered name, scale); stored as ``complexity`` records."""

    rows: tuple[tuple[str, int], ...]
    hr: tuple[int, int] = (1024, 720)  # HR output (width, height)
    lr_pad: str = "none"  # "swinir": LR side = (HR // s // window + 1) * window; "swinir-16": at window 16
    counter: str = "fvcore"  # see bench.complexity.COUNTERS
    cache: bool = True
    params_form: str = "deployed"  # "as-trained": params before reparameterisation (e.g. MSIT's trainable count)


@dataclass(frozen=True, kw_only=True)
class Reparam(Step):
    """max |before - after| and latency of a model before and after ``reparameterize()`` (random weights)."""

    model: str
    scale: int
    lr: tuple[int, int] = (128, 96)  # LR input (width, height)
    warmup: int = 1
    repeats: int = 5
    perturb: Callable[[Any], None] | None = None  # gives the branches trained-like (non-trivial) weights
    # parts of the model timed alone: (model, (height, width)) -> [(label, module, input)]
    parts: Callable[[Any, tuple[int, int]], list[tuple[str, Any, Any]]] | None = None


@dataclass(frozen=True, kw_only=True)
class Train(Step):
    """The model's registered recipe at each scale; ``paper`` runs it unchanged, ``ci`` and ``smoke`` change
    only budget-like fields (``budget``: arguments of ``bench.train.smoke``) and say so in every record."""

    model: str
    scales: tuple[int, ...]
    budget: Mapping[str, Any] = field(default_factory=dict)
    init_from: str = ""  # the id of an earlier Train step whose weights (same scale) start this one


@dataclass(frozen=True, kw_only=True)
class Evaluate(Step):
    """PSNR/SSIM of each model on each present set; with ``against``, the reference model is evaluated
    alike and the comparison is stored (a ``compare`` record: the margin and whether it beats it)."""

    models: tuple[str, ...]
    scales: tuple[float, ...]
    sets: tuple[str, ...] = BENCHMARKS
    protocol: str = "basicsr"
    weights: str = ""  # a Train step's id, or a file: "{weights_dir}/imdn_x{scale}.pth"; "": parameter-free
    weights_source: str = ""  # where a user gets that file (said when it is absent)
    against: str = ""
    fallback: str = "samples"  # the set used when none of ``sets`` is present; "": then nothing
    ensemble: bool = False  # x8 geometric self-ensemble (the papers' "+" rows), the reference's too


@dataclass(frozen=True, kw_only=True)
class Probe(Step):
    """A paper's own experiment (e.g. memory of an attention, activations at init): ``run(context)``
    returns records, which are stored as ``kind``."""

    kind: str
    run: Callable[[Context], list[dict[str, Any]]]


@dataclass
class Context:
    """What a step sees of the run: the tier, where data and runs live, and earlier steps' weights."""

    paper: str
    tier: str
    data_root: Any = None
    runs: Path = Path("runs")
    device: str = "auto"
    use_cache: bool = True
    sets: tuple[str, ...] = ()  # --sets: replaces every Evaluate step's sets
    weights: dict[tuple[str, int], str] = field(default_factory=dict)  # (Train step id, scale) -> weights
    skipped: list[dict[str, str]] = field(default_factory=list)
    plan_only: dict[str, Any] | None = None  # --dry-run: plan the Train steps (world_size, device_class, ...)

    def skip(self, what: str, why: str) -> None:
        self.skipped.append({"step": what, "why": why})
        print(f"skipped {what}: {why}", file=sys.stderr)


@dataclass(frozen=True)
class Paper:
    name: str  # short name: `python -m bench reproduce NAME`, the report's page
    title: str  # title, venue and year (or "venue not stated")
    steps: tuple[Step, ...] = ()
    reported: Path | None = None  # reported.csv: typed in once from the paper's tables
    # (paper, model, variant, scale, metric[, dataset]) as in reported.csv -> why no design here reaches it
    known_differences: Mapping[tuple[str, ...], str] = field(default_factory=dict)
    about: str = ""  # one paragraph: what the reproduction does and costs
    # titles of other papers whose rows this reported.csv holds (the baselines' own papers, e.g. IMDN)
    other_titles: Mapping[str, str] = field(default_factory=dict)
    # flags on the paper as a whole, concerning no single reported number (e.g. a method its text compares
    # with that no table prints), with the paper's line numbers; flags on a number go in its reported.csv note
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        ids = [step.id for step in self.steps]
        if len(ids) != len(set(ids)):
            raise ValueError(f"paper {self.name}: step ids repeat: {ids}")


_papers: dict[str, Paper] | None = None
_loading = False


def papers() -> dict[str, Paper]:
    """Every installed paper, by name: one walk of the entry-point group, cached."""
    global _papers, _loading
    if _papers is not None or _loading:
        return _papers or {}
    _loading = True  # a manifest that asks the registry while it loads must not walk again
    try:
        found: dict[str, Paper] = {}
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            try:
                paper = entry.load()
            except Exception as err:
                raise BenchError(f"the paper plug-in {entry.name!r} ({entry.value}) failed to load: "
                                 f"{type(err).__name__}: {err}") from err
            if not isinstance(paper, Paper):
                raise BenchError(f"the paper plug-in {entry.name!r} ({entry.value}) names a "
                                 f"{type(paper).__name__}, not a bench.paper.Paper")
            found[paper.name] = paper
        _papers = found
    finally:
        _loading = False
    return _papers
