"""Every verdict the harness gives, in one place: the report's cells, the regression gate, and the lines a
reproduction prints.

Against a paper (``judge``):

- ``match``: the measured value rounds to the printed one (within half a unit of its last digit) and is within
  the metric's tolerance (a count printed as "1.5M" is 3% coarse: rounding alone would pass a 2.2% miss);
- ``within tolerance``: |delta| <= the metric's tolerance (``TOLERANCES``);
- ``differs``: outside it, whatever the printed digits;
- ``short budget``: a PSNR/SSIM of weights trained with a ci or smoke budget: shown, never judged as a
  reproduction of the paper's full-budget number;
- ``measured differently``: measured only under another convention than the paper's (another evaluation
  protocol, LR padding or training set): the value is shown, never judged against the paper's;
- ``not measured``: no measured twin (the report says why).

Against a committed baseline (``regression``): ``ok`` / ``improved``, or a failure in capitals: ``FELL``
(a PSNR fell by more than its tolerance), ``CHANGED`` (a size count changed at all), ``BROKEN`` (a
reparameterisation stopped being exact), ``MISSING``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from bench.measurements import SHORT_TIERS

__all__ = ["TOLERANCES", "VERDICTS", "Verdict", "half_unit", "judge", "regression", "relative_metric",
           "DEFAULT_PSNR_TOLERANCE", "DEFAULT_REPARAM_LIMIT"]

# (kind, tolerance): absolute for quality metrics, relative for sizes.
TOLERANCES = {"psnr": ("abs", 0.05), "ssim": ("abs", 0.002), "mult_adds": ("rel", 0.03),
              "analytic_mult_adds": ("rel", 0.03),
              "params": ("rel", 0.02), "params_trainable": ("rel", 0.02), "params_leaf_modules": ("rel", 0.02)}
VERDICTS = ("match", "within tolerance", "differs", "short budget", "measured differently", "not measured")
QUALITY = ("psnr", "ssim")

DEFAULT_PSNR_TOLERANCE = 0.05  # dB a gated PSNR may fall before the gate fails
DEFAULT_REPARAM_LIMIT = 1e-4  # float32 round-off of a whole model is ~1e-6; a broken merge is ~1e-1


@dataclass(frozen=True)
class Verdict:
    name: str  # one of VERDICTS
    delta: float | None = None  # measured - reported
    why: str = ""  # one short reason


def relative_metric(metric: str) -> bool:
    return TOLERANCES.get(metric, ("abs", 0.0))[0] == "rel"


def half_unit(printed: str) -> float:
    """Half a unit of the last printed digit: '37.76' -> 0.005, '222.8e9' -> 5e7."""
    try:
        exponent = Decimal(printed).as_tuple().exponent
    except ArithmeticError:
        return 0.0
    return 0.5 * 10.0 ** int(exponent) if isinstance(exponent, int) else 0.0


def judge(metric: str, measured: float, reported: float, printed: str, tier: str = "none") -> Verdict:
    """A measured value against the paper's (``printed`` as typed: its last digit is the paper's precision);
    ``tier``: the budget tier of the weights measured (``bench.measurements.tier_of``)."""
    delta = measured - reported
    kind, tolerance = TOLERANCES.get(metric, ("abs", 0.0))
    size = abs(delta) / abs(reported) if kind == "rel" and reported else abs(delta)
    if tier in SHORT_TIERS and metric in QUALITY:
        return Verdict("short budget", delta, f"weights trained with the {tier} budget: not a reproduction")
    if metric in TOLERANCES and size > tolerance:
        return Verdict("differs", delta, f"beyond the tolerance of {tolerance:.0%}" if kind == "rel"
                       else f"beyond ±{tolerance:g}")
    if abs(delta) <= half_unit(printed) * (1 + 1e-9):
        return Verdict("match", delta)
    if size <= tolerance:
        return Verdict("within tolerance", delta)
    return Verdict("differs", delta, "does not round to the printed value and the metric has no tolerance")


def regression(metric: str, baseline: float, measured: float, tolerance: float | None = None,
               limit: float | None = None) -> tuple[str, str]:
    """(status, detail) of a measurement against its committed baseline. A value that is not a finite number
    (a NaN PSNR of a diverged model) fails, with a detail that says so rather than a size of the change."""
    status, detail = _regression(metric, baseline, measured, tolerance, limit)
    if not math.isfinite(measured):
        failed = status if status.isupper() else {"reparam_max_abs_diff": "BROKEN"}.get(metric, "FELL")
        return failed, f"measured {measured} is not a finite number: the run or its record is broken"
    return status, detail


def _regression(metric: str, baseline: float, measured: float, tolerance: float | None,
                limit: float | None) -> tuple[str, str]:
    if metric == "psnr" or metric.startswith("psnr_over_"):
        tolerance = DEFAULT_PSNR_TOLERANCE if tolerance is None else tolerance
        if not measured >= baseline - tolerance:  # also catches NaN
            return "FELL", f"fell by more than {tolerance:g} dB"
        return ("improved" if measured > baseline + tolerance else "ok"), ""
    if metric == "reparam_max_abs_diff":
        limit = DEFAULT_REPARAM_LIMIT if limit is None else limit
        if not measured <= limit:
            return "BROKEN", f"reparameterised output differs by more than {limit:g}"
        return "ok", ""
    if measured != baseline:
        return "CHANGED", "counts must not change without --update"
    return "ok", ""
