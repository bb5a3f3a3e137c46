"""matplotlib figures: a training run's learning curve, and a paper's report figures (PSNR vs params,
Mult-Adds, reparameterisation latency, learning curves of its runs).

Kept apart from the report's tables and HTML so that the training engine can draw its learning curve
without importing the report. Every function returns quietly (False, or no figures and a note) when
matplotlib is not installed.
"""

from __future__ import annotations

import csv
import functools
import math
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from bench.measurements import budget_text, tier_of
from bench.registry import join_name

if TYPE_CHECKING:
    from bench.report import Cell

__all__ = ["learning_curve", "figures", "psnr_params_figure", "mult_adds_figure", "latency_figures"]


def _plain_text(function):
    """Run ``function`` with matplotlib's mathtext off: the labels are data (model names, budgets, run folders),
    and a ``$`` in one must be drawn as a dollar sign, not parsed as TeX (an unbalanced one raised at save)."""
    @functools.wraps(function)
    def plain(*args, **kwargs):
        try:
            import matplotlib
        except ImportError:
            return function(*args, **kwargs)
        with matplotlib.rc_context({"text.parse_math": False}):
            return function(*args, **kwargs)
    return plain


BENCHMARK_SCALES = ("2", "3", "4")
MIN_PSNR_SPAN = 1.0  # dB: a validation PSNR axis spans at least this, so a 0.01 dB wobble does not look like a trend


@_plain_text
def learning_curve(metrics_csv: Path, title: str, png: Path) -> bool:
    """Training loss (raw and running mean) and validation PSNR of a run's metrics.csv; False without
    matplotlib or data. ``title`` should name the run's budget tier (``bench.measurements.budget_text``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if not metrics_csv.is_file():
        return False
    try:
        with metrics_csv.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        steps = [int(r["step"]) for r in rows]
        losses = [float(r["loss"]) for r in rows]
        val = [(int(r["step"]), float(r["val_psnr"])) for r in rows if r.get("val_psnr")]
    except (OSError, UnicodeDecodeError, csv.Error, KeyError, TypeError, ValueError) as err:
        print(f"warning: no learning curve from {metrics_csv}: {err!r}", file=sys.stderr)
        return False
    if not rows:
        return False
    window = max(1, len(losses) // 50)
    smooth = [sum(losses[max(0, i - window + 1): i + 1]) / (i + 1 - max(0, i - window + 1)) for i in range(len(losses))]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(steps, losses, color="0.8" if window > 1 else "tab:blue", linewidth=0.6 if window > 1 else 1.0,
            label="loss")
    if window > 1:
        ax.plot(steps, smooth, color="tab:blue", label=f"loss, mean of {window}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss")
    if val:
        twin = ax.twinx()
        psnrs = [p for _, p in val]
        twin.plot([s for s, _ in val], psnrs, "o-", color="tab:red", label="validation PSNR")
        twin.set_ylim(*_at_least(min(psnrs), max(psnrs), MIN_PSNR_SPAN))
        twin.set_ylabel("validation PSNR (dB)")
    ax.set_title(textwrap.fill(title, 110), fontsize=8)  # the whole budget label, never cut off
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return True


def _at_least(low: float, high: float, span: float) -> tuple[float, float]:
    """Axis limits around [low, high], widened about its middle to ``span`` where it is narrower, padded 10%."""
    middle, half = (low + high) / 2, max(high - low, span) / 2
    return middle - 1.1 * half, middle + 1.1 * half


def _size_label(value: float, _position=None) -> str:
    return f"{value / 1e6:g}M" if value >= 1e6 else f"{value / 1e3:g}K"


def _name(model: str, variant: str) -> str:
    """A row's name in a figure: the model, its variant, and the training set a row states (DIV2K / DF2K)."""
    parts = [p for p in variant.split(";") if p and p != "self-ensemble"]
    trained = [p.removeprefix("train=") for p in parts if p.startswith("train=")]
    other = [p for p in parts if not p.startswith("train=")]
    return model + (f" [{', '.join(other)}]" if other else "") + (f" ({trained[0]})" if trained else "")


def _base_variant(variant: str) -> str:
    return ";".join(p for p in variant.split(";") if p and p != "self-ensemble" and not p.startswith("train="))


def psnr_params_figure(title: str, cells: list[Cell], scale: str):
    """PSNR against params (log axis) at ``scale``, on the first dataset the paper reports PSNR for there (like
    MSRA-SR's Fig. 1): each reported point joined to its measured twin. Short-budget (ci/smoke) measurements are
    their own series, and never set the axis range: those outside it are left out and named in the caption.
    Returns (figure, caption), or None where fewer than two rows have both a PSNR and a size."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    sizes: dict[tuple[str, ...], Cell] = {}
    for c in cells:
        if c.reported.metric == "params":
            sizes.setdefault((c.reported.model, _base_variant(c.reported.variant), c.reported.scale), c)
            sizes.setdefault((c.reported.model, c.reported.scale), c)  # its table's size, whatever its label

    def size_of(c: Cell) -> Cell | None:
        r = c.reported  # an arbitrary-scale model prints one size for every scale ("")
        return sizes.get((r.model, "", r.scale)) or sizes.get((r.model, "", "")) or sizes.get(
            (r.model, r.scale)) or sizes.get((r.model, ""))

    # the compared methods: ablation rows (a variant other than a training set) stay in the tables
    here = [c for c in cells if c.reported.metric == "psnr" and c.reported.scale == scale
            and not _base_variant(c.reported.variant) and "self-ensemble" not in c.reported.variant.split(";")
            and size_of(c) is not None]
    if not here:
        return None
    dataset = here[0].reported.dataset
    here = [c for c in here if c.reported.dataset == dataset]
    if len(here) < 2:
        return None
    full = [c for c in here if c.measured is not None and not c.measured.short_budget]
    short = [c for c in here if c.measured is not None and c.measured.short_budget]
    shown = [c.reported.value for c in here] + [c.measured.value for c in full]
    low, high = _at_least(min(shown), max(shown), 0.2)

    def measured_size(c: Cell) -> float:
        size = size_of(c)
        return size.measured.value if size.measured is not None else size.reported.value

    fig, ax = plt.subplots(figsize=(7.2, 4.8))
    ax.scatter([size_of(c).reported.value for c in here], [c.reported.value for c in here], color="tab:blue",
               label="reported (as printed)", zorder=3)
    placed: list[tuple[float, float]] = []
    for c in sorted(here, key=lambda c: -c.reported.value):
        x, y = size_of(c).reported.value, c.reported.value
        near = sum(abs(math.log10(x / px)) < 0.1 and abs(y - py) < 0.06 * (high - low) for px, py in placed)
        placed.append((x, y))
        # a label near others alternates sides and steps down, so that neighbours' names do not overprint
        ax.annotate(_name(c.reported.model, c.reported.variant), (x, y), fontsize=7, ha="right" if near % 2 else "left",
                    xytext=(-3 if near % 2 else 3, 3 - 5 * near), textcoords="offset points")
    for c in full:
        ax.plot([size_of(c).reported.value, measured_size(c)], [c.reported.value, c.measured.value], color="0.6",
                linewidth=0.8, zorder=2)
    if full:
        tiers = ", ".join(sorted({c.measured.tier for c in full}))
        ax.scatter([measured_size(c) for c in full], [c.measured.value for c in full], color="tab:red", marker="x",
                   label=f"measured (budget {tiers})", zorder=4)
    inside = [c for c in short if low <= c.measured.value <= high]
    outside = [c for c in short if c not in inside]
    if inside:
        tiers = ", ".join(sorted({c.measured.tier for c in inside}))
        ax.scatter([measured_size(c) for c in inside], [c.measured.value for c in inside], facecolors="none",
                   edgecolors="tab:orange", marker="^", label=f"measured, {tiers} budget: not a reproduction",
                   zorder=4)
    ax.set_xscale("log")
    xs = [size_of(c).reported.value for c in here]
    decades = math.log10(max(xs) / min(xs))
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if decades > 1 else (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(_size_label))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(low, high)
    ax.set_xlabel("params (log scale)")
    ax.set_ylabel(f"PSNR (dB), {dataset}")
    budgets = sorted({c.measured.tier for c in full + short})
    ax.set_title(textwrap.fill(f"{title}: PSNR on {dataset} x{scale} vs params; measured budget: "
                               f"{', '.join(budgets) if budgets else 'nothing measured'}", 90), fontsize=9)
    left_out = "; ".join(f"{_name(c.reported.model, c.reported.variant)} ({c.measured.tier} budget) "
                         f"{c.measured.value:.2f} dB" for c in outside)
    if left_out:
        fig.text(0.01, 0.01, textwrap.fill(f"Outside the axis, not drawn: {left_out}", 120), fontsize=7)
    ax.legend(fontsize=8)
    caption = (f"PSNR on {dataset} x{scale} against params (log axis): reported (dots), each joined to its measured "
               f"twin (crosses) where both exist")
    if short:
        caption += "; short-budget measurements (triangles) are apart and do not set the axis"
    if left_out:
        caption += f"; outside the axis, not drawn: {left_out}"
    return fig, caption


def mult_adds_figure(title: str, cells: list[Cell]):
    """Reported beside measured Mult-Adds, one pair of bars per row, at the HR size each was counted at."""
    import matplotlib.pyplot as plt

    sizes = [c for c in cells if c.key and c.key.metric == "mult_adds" and c.measured is not None]
    if not sizes:
        return None
    fig, ax = plt.subplots(figsize=(max(6.4, 0.45 * len(sizes)), 4.4))
    outputs = sorted({c.key.protocol for c in sizes})
    labels = [f"{_name(c.reported.model, c.reported.variant)} x{c.reported.scale}"
              + (f" @{c.key.protocol}" if len(outputs) > 1 else "") for c in sizes]
    positions = range(len(sizes))
    ax.bar([p - 0.2 for p in positions], [c.reported.value / 1e9 for c in sizes], 0.4, label="reported")
    ax.bar([p + 0.2 for p in positions], [c.measured.value / 1e9 for c in sizes], 0.4, label="measured (fvcore)")
    ax.set_xticks(list(positions), labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("Mult-Adds (G)")
    ax.set_xlim(-0.8, len(sizes) - 0.2)  # a lone pair keeps bar-wide margins
    ax.set_ylim(0, 1.2 * max(max(c.reported.value, c.measured.value) for c in sizes) / 1e9)  # room for the legend
    ax.set_title(textwrap.fill(f"{title}: Mult-Adds at HR output {', '.join(outputs)}, reported vs measured "
                               f"(budget none: counts need no training)", 80), fontsize=9)
    ax.legend(fontsize=8)
    return fig, (f"Mult-Adds (fvcore) beside the paper's, each at the HR output size it was counted at "
                 f"({', '.join(outputs)})")


def latency_figures(title: str, timed: list[dict]):
    """Whole-model latency before and after reparameterisation, one figure per LR size and device (runs of
    different sizes are never compared in one plot): the median with its interquartile range, and the repeats."""
    import matplotlib.pyplot as plt

    groups: dict[tuple[str, str], list[dict]] = {}
    for r in timed:
        groups.setdefault((str(r.get("lr_size", "?")), str(r.get("device", "?"))), []).append(r)
    made = []
    for (lr_size, device), runs in sorted(groups.items()):
        fig, ax = plt.subplots(figsize=(6.4, 2.4 + 0.9 * len(runs)))
        positions = range(len(runs))
        for shift, form, label in ((0.2, "before", "multi-branch"), (-0.2, "after", "reparameterised")):
            stats = [r.get(form) if isinstance(r.get(form), dict) else {} for r in runs]
            medians = [r[f"{form}_ms"] for r in runs]
            spread = [s.get("iqr_ms", 0.0) / 2 for s in stats]
            ax.barh([p + shift for p in positions], medians, 0.4, xerr=spread, capsize=3, label=label)
        labels = [f"{r['model']}{'.' + r['variant'] if r.get('variant') else ''} x{r.get('scale', '?')}\n"
                  f"{_repeats(r)}" for r in runs]
        ax.set_yticks(list(positions), labels, fontsize=7)
        ax.set_xlim(0, 1.45 * max(r["before_ms"] for r in runs))  # room on the right for the legend
        ax.set_xlabel("latency (ms): median, bar = interquartile range")
        ax.set_title(textwrap.fill(f"{title}: latency at LR {lr_size} on {device} (random weights, budget none); "
                                   f"{'; '.join(_spread(r) for r in runs)}", 80), fontsize=8)
        ax.legend(fontsize=8, loc="center right")
        made.append((fig, lr_size, device, f"Whole-model latency before and after reparameterisation at LR {lr_size} "
                                           f"on {device}: median and interquartile range of {_repeats(runs[0])}"))
    return made


def _repeats(record: dict) -> str:
    stats = record.get("before") if isinstance(record.get("before"), dict) else {}
    repeats = stats.get("repeats")
    return "repeats not recorded" if repeats is None else f"{repeats} timed run{'s' if repeats != 1 else ''}" + (
        f" after {stats['warmup']} warm-up" if stats.get("warmup") else "")


def _spread(record: dict) -> str:
    """The IQR of the before and after timings, or why there is none."""
    before, after = (record.get(f) if isinstance(record.get(f), dict) else {} for f in ("before", "after"))
    if before.get("repeats") == 1:
        return "one timed run each: no spread measured"
    if "iqr_ms" not in before or "iqr_ms" not in after:
        return "spread not recorded"
    return f"IQR {before['iqr_ms']:.1f} / {after['iqr_ms']:.1f} ms over {_repeats(record)}"


@_plain_text
def figures(paper: str, cells: list[Cell], extra: dict[str, list], out: Path) -> tuple[list[dict[str, str]], str]:
    """matplotlib figures for one paper; returns ([{file, caption}], note)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [], "figures skipped: matplotlib is not installed (pip install -e .[report])"
    from bench.reported import paper_titles

    title = paper_titles().get(paper, paper)
    made: list[dict[str, str]] = []

    def save(fig, name: str, caption: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        made.append({"file": name, "caption": caption})

    for scale in BENCHMARK_SCALES:  # the scales every paper shares; an arbitrary-scale paper's others stay in tables
        drawn = psnr_params_figure(title, cells, scale)
        if drawn is not None:
            save(drawn[0], f"{paper}-psnr-params-x{scale}.png", drawn[1])
    drawn = mult_adds_figure(title, cells)
    if drawn is not None:
        save(drawn[0], f"{paper}-mult-adds.png", drawn[1])
    for fig, lr_size, device, caption in latency_figures(title, extra["reparameterization"]):
        save(fig, f"{paper}-reparam-latency-{lr_size}-{device}.png", caption)

    for index, run in enumerate(extra["training"]):
        name = f"{paper}-training-{index}.png"
        label = join_name(run["model"], run.get("variant", ""))
        spent = budget_text(run["budget"])
        if learning_curve(Path(run.get("run_dir", "")) / "metrics.csv",
                          f"{label} x{run['scale']}, budget tier {tier_of(run['budget'])} ({spent})", out / name):
            made.append({"file": name, "caption": f"Learning curve of {run['run_dir']} "
                                                  f"(budget tier {tier_of(run['budget'])}: {spent})"})
    return made, ""
