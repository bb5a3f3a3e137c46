"""The measured side of the report and the CI gate: one value per (what was measured, where, how).

Records of the results store are flattened into ``Measurement`` rows keyed by ``Key``. The report
joins them with the reported numbers; the regression gate compares them with committed baselines.
Both use ``latest``: for each key, the newest full-budget measurement if there is one, else the
newest short-budget one (a smoke run never hides a real reproduction).

A record's budget is structured: ``{"tier": ..., "overrides": {...}, "note": ...}``. The tier is ``ci``,
``smoke`` or ``paper`` for measurements of weights trained here, ``none`` for those that need no training
(sizes, parameter-free models, random-weight timings, the authors' released weights).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Key", "Measurement", "budget", "budget_text", "tier_of", "flatten", "latest", "is_short_budget",
           "scale_text", "size_protocol", "counted_at"]

SHORT_TIERS = ("ci", "smoke")


def budget(tier: str, note: str = "", **overrides: Any) -> dict[str, Any]:
    """A record's budget: its tier, what it changed from the paper's recipe, and a human note."""
    return {"tier": tier, "overrides": overrides, "note": note}


def tier_of(budget: Any) -> str:
    """The tier of a record's budget; budgets stored as prose (before they were structured) are read."""
    if isinstance(budget, dict):
        return str(budget.get("tier", "none"))
    text = str(budget)
    head = text.split(":")[0].strip()
    if head in (*SHORT_TIERS, "paper", "none"):  # "ci: 30 iterations" is ci, whatever words follow
        return head
    return "smoke" if "smoke" in text else "paper" if "paper" in head else "none"


def budget_text(budget: Any) -> str:
    """One line for people: the tier and what it changed."""
    if not isinstance(budget, dict):
        return str(budget)
    tier, note = budget.get("tier", "?"), budget.get("note", "")
    if note:
        return note if note.startswith(tier) else f"{tier}: {note}"
    changes = ", ".join(f"{k} {v}" for k, v in budget.get("overrides", {}).items())
    return f"{tier}: {changes}" if changes else tier


@dataclass(frozen=True, order=True)
class Key:
    model: str
    variant: str  # the model variant (ablation row), "" for the registered default
    scale: str
    metric: str  # psnr, ssim, params, mult_adds, reparam_max_abs_diff, ...
    dataset: str = ""
    protocol: str = ""  # evaluation protocol; for Mult-Adds the counting convention (``size_protocol``)
    self_ensemble: bool = False

    def label(self) -> str:
        parts = [self.model + (f" [{self.variant}]" if self.variant else ""), f"x{self.scale}", self.metric]
        parts += [p for p in (self.dataset, self.protocol) if p]
        return " ".join(parts) + (" +self-ensemble" if self.self_ensemble else "")


@dataclass(frozen=True)
class Measurement:
    key: Key
    value: float
    budget: Any  # the record's budget (see ``budget``)
    record: dict[str, Any]

    @property
    def tier(self) -> str:
        return tier_of(self.budget)

    @property
    def short_budget(self) -> bool:
        return is_short_budget(self.budget)

    def provenance(self) -> str:
        return f"{self.source()}; {self.record.get('provenance', {}).get('time', '?')}"

    def source(self) -> str:
        """Its provenance less the time: what many measurements of one run share."""
        p = self.record.get("provenance", {})
        return (f"budget: {budget_text(self.budget)}; commit {p.get('git_commit') or '?'}; "
                f"{p.get('device_name', '?')}; torch {p.get('torch', '?')}")


def is_short_budget(budget: Any) -> bool:
    """Weights trained with a ci or smoke budget: never counted as a reproduction."""
    return tier_of(budget) in SHORT_TIERS


def scale_text(value: Any) -> str:
    """A record's scale as the reported tables type it: 2 -> "2", 2.5 -> "2.5", 2.0 -> "2"."""
    return format(value, "g") if isinstance(value, float) else str(value)


def size_protocol(hr_size: str, lr_pad: str = "none") -> str:
    """How a Mult-Adds count was made: the HR size, and the LR padding if any ("1024x720",
    "1024x720 lr-pad swinir"). Counts made two ways are two measurements, never one judged for the other."""
    return hr_size if lr_pad in ("none", "") else f"{hr_size} lr-pad {lr_pad}"


def counted_at(protocol: str) -> tuple[str, str]:
    """(HR size, LR padding or "") of a ``size_protocol``."""
    hr_size, _, lr_pad = protocol.partition(" lr-pad ")
    return hr_size, lr_pad


def flatten(record: dict[str, Any]) -> list[Measurement]:
    """The measurements one stored record holds (none for kinds without comparable numbers)."""
    kind, budget = record.get("kind"), record.get("budget", "")
    base = {"model": record.get("model", ""), "variant": record.get("variant", ""),
            "scale": scale_text(record.get("scale"))}
    rows: list[tuple[Key, Any]] = []
    if kind == "evaluate":
        where = {"dataset": record.get("dataset", ""), "protocol": record.get("protocol", ""),
                 "self_ensemble": bool(record.get("self_ensemble"))}
        rows = [(Key(**base, metric=m, **where), record.get(m)) for m in ("psnr", "ssim")]
    elif kind == "complexity":
        rows = [(Key(**base, metric=m), record.get(m)) for m in ("params", "params_trainable", "params_leaf_modules")]
        for metric in ("mult_adds", "analytic_mult_adds"):  # fvcore's count, and the model's own formula
            counted = size_protocol(record.get("hr_size", ""), record.get("lr_pad", "none"))
            rows.append((Key(**base, metric=metric, protocol=counted), record.get(metric)))
    elif kind == "time" and "max_abs_diff" in record:
        rows = [(Key(**base, metric="reparam_max_abs_diff"), record["max_abs_diff"])]
    elif kind == "compare":  # a model against a reference (bicubic) on the same set and protocol
        rows = [(Key(**base, metric=f"psnr_over_{record.get('reference', '?')}", dataset=record.get("dataset", ""),
                     protocol=record.get("protocol", "")), record.get("margin"))]
    return [Measurement(key, float(value), budget, record) for key, value in rows if value is not None]


def latest(records: Iterable[dict[str, Any]]) -> dict[Key, Measurement]:
    """``records`` oldest first (as ``results.load_records`` returns them)."""
    chosen: dict[Key, Measurement] = {}
    for record in records:
        for m in flatten(record):
            held = chosen.get(m.key)
            if held is None or held.short_budget or not m.short_budget:
                chosen[m.key] = m
    return chosen
