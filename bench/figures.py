"""matplotlib figures: a training run's learning curve, and a paper's report figures (PSNR vs params,
Mult-Adds, reparameterisation latency, learning curves of its runs).

Kept apart from the report's tables and HTML so that the training engine can draw its learning curve
without importing the report. Every function returns quietly (False, or no figures and a note) when
matplotlib is not installed.
"""

from __future__ import annotations

import csv
import functools
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from bench.measurements import budget_text

if TYPE_CHECKING:
    from bench.report import Cell

__all__ = ["learning_curve", "figures"]


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


@_plain_text
def learning_curve(metrics_csv: Path, title: str, png: Path) -> bool:
    """Training loss (raw and running mean) and validation PSNR of a run's metrics.csv; False without
    matplotlib or data."""
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
    ax.plot(steps, losses, color="0.8", linewidth=0.6, label="loss")
    ax.plot(steps, smooth, color="tab:blue", label=f"loss, mean of {window}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss")
    if val:
        twin = ax.twinx()
        twin.plot([s for s, _ in val], [p for _, p in val], "o-", color="tab:red", label="validation PSNR")
        twin.set_ylabel("validation PSNR (dB)")
    ax.set_title(textwrap.fill(title, 110), fontsize=8)  # the whole budget label, never cut off
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return True


@_plain_text
def figures(paper: str, cells: list[Cell], extra: dict[str, list], out: Path) -> tuple[list[dict[str, str]], str]:
    """matplotlib figures for one paper; returns ([{file, caption}], note)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [], "figures skipped: matplotlib is not installed (pip install -e .[report])"
    made: list[dict[str, str]] = []

    def save(fig, name: str, caption: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        made.append({"file": name, "caption": caption})

    # PSNR vs params, per scale, on the first dataset the paper reports PSNR for (like MSRA-SR Fig. 1).
    params = {(c.reported.model, c.reported.scale): c for c in cells if c.reported.metric == "params"}
    psnr_cells = [c for c in cells if c.reported.metric == "psnr" and (c.reported.model, c.reported.scale) in params]
    for scale in sorted({c.reported.scale for c in psnr_cells}, key=float):
        here = [c for c in psnr_cells if c.reported.scale == scale]
        dataset = here[0].reported.dataset
        here = [c for c in here if c.reported.dataset == dataset and "self-ensemble" not in c.reported.variant]
        if len({c.reported.model for c in here}) < 2:
            continue
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for c in here:
            size = params[(c.reported.model, scale)]
            ax.scatter(size.reported.value / 1e3, c.reported.value, color="tab:blue")
            ax.annotate(c.reported.model, (size.reported.value / 1e3, c.reported.value), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
            if c.measured is not None and size.measured is not None:
                ax.scatter(size.measured.value / 1e3, c.measured.value, color="tab:red", marker="x")
        ax.scatter([], [], color="tab:blue", label="reported")
        ax.scatter([], [], color="tab:red", marker="x", label="measured")
        ax.set_xlabel("params (K)")
        ax.set_ylabel(f"PSNR (dB), {dataset}")
        ax.set_title(f"{paper}: PSNR vs params, x{scale}")
        ax.legend(fontsize=8)
        save(fig, f"{paper}-psnr-params-x{scale}.png",
             f"PSNR on {dataset} x{scale} against params: reported (dots) and measured (crosses, where both exist)")

    sizes = [c for c in cells if c.key and c.key.metric == "mult_adds" and c.measured is not None]
    if sizes:
        fig, ax = plt.subplots(figsize=(max(6.4, 0.45 * len(sizes)), 4.2))
        labels = [f"{c.reported.model} {c.reported.variant} x{c.reported.scale}".replace("  ", " ") for c in sizes]
        positions = range(len(sizes))
        ax.bar([p - 0.2 for p in positions], [c.reported.value / 1e9 for c in sizes], 0.4, label="reported")
        ax.bar([p + 0.2 for p in positions], [c.measured.value / 1e9 for c in sizes], 0.4, label="measured")
        ax.set_xticks(list(positions), labels, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("Mult-Adds (G)")
        ax.set_title(f"{paper}: Mult-Adds, reported vs measured")
        ax.legend(fontsize=8)
        save(fig, f"{paper}-mult-adds.png", "Mult-Adds (fvcore) beside the paper's")

    timed = extra["reparameterization"]
    if timed:
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        labels = [f"{r['model']} {r.get('lr_size', '')} {r.get('device', '')}" for r in timed]
        positions = range(len(timed))
        ax.barh([p + 0.2 for p in positions], [r["before_ms"] for r in timed], 0.4, label="multi-branch")
        ax.barh([p - 0.2 for p in positions], [r["after_ms"] for r in timed], 0.4, label="reparameterised")
        ax.set_yticks(list(positions), labels, fontsize=7)
        ax.set_xlabel("latency (ms, median)")
        ax.legend(fontsize=8)
        save(fig, f"{paper}-reparam-latency.png", "Whole-model latency before and after reparameterisation")

    for index, run in enumerate(extra["training"]):
        name = f"{paper}-training-{index}.png"
        label = run["model"] + (f".{run['variant']}" if run.get("variant") else "")
        if learning_curve(Path(run.get("run_dir", "")) / "metrics.csv", f"{label} x{run['scale']}: "
                          f"{budget_text(run['budget'])}", out / name):
            made.append({"file": name, "caption": f"Learning curve of {run['run_dir']} "
                                                  f"(budget: {budget_text(run['budget'])})"})
    return made, ""
