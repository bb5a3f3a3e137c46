"""Reproduce what can be reproduced of MESR on this machine: ``nox -s reproduce-mesr``.

1. Params and Mult-Adds (fvcore, HR 1024x720, LR = HR // s; the model's own conv formula beside it) of
   MESR x2/x3/x4 and of every Table 1 / Table 2 row at x4. The paper's cells are not available (the seed
   text lost Tables 1-4); the one size anchor its text gives is checked instead: "nearly 1/6 fewer
   parameters than MSRN and DASR", i.e. about 5/6 of MSRN's 5.89M.
2. Activations at initialisation: the std of the shallow features and of every MSFEB output, for the
   default (merged skips) and the literal reading of Eqs. 6-8 and 18.
3. Training of MESR at x2 and x4 (``--scales``) at the budget asked (a smoke run is ``SMOKE_ITERATIONS`` long),
   then evaluation (``basicsr`` protocol: Y, shave = scale) of both stage outputs (refined: the model's output;
   coarse: the first stage's image) on Set5 after a smoke run, on every benchmark the paper uses after a paper
   run (``--sets`` chooses), with bicubic beside them.
4. ``--variants``: the Table 1 / Table 2 rows trained at x4 and evaluated on Set14 (Table 1's setting).

``--budget ci`` (for ``.ci/run``'s regression gate) counts MESR x2/x3/x4 at a small HR, checks the activations
at init, and trains a reduced MESR (width 8, 2 blocks) for 30 iterations on the embedded samples, only to
guard the training and two-output evaluation path. Every measurement goes to the results store with its
provenance; what is skipped is said, with how to get it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from bench import registry, results
from bench.complexity import complexity
from bench.reproduce import (
    Skipped,
    argument_parser,
    available_sets,
    evaluate_step,
    finish,
    local_smoke,
    train_step,
)
from reproductions.mesr import VARIANTS
from reproductions.mesr.recipe import recipe

MODEL = "mesr"
# MSRN's size as MSTN's Table II prints it (reproductions/mstn/reported.csv): the paper's anchor is 5/6 of it.
MSRN_PARAMS = 5.89e6
SIZE_ANCHOR = MSRN_PARAMS * 5 / 6
ANCHOR_TOLERANCE = 0.05  # "nearly" 1/6 fewer
NOT_AVAILABLE = "not available (Tables 1-4 were lost from the seed text; no public copy found)"
PAPER_SETS = ("Set5", "Set14", "B100", "Urban100")  # [paper, Sec. IV-A]
SMOKE_SETS = ("Set5",)  # the must-show; about 0.7 TMAC per Set5 pass at x2 on a CPU
TABLE_1_SETS = ("Set14",)  # Table 1: x4 on Set14 [paper]
CI_HR = (64, 64)
CI_MODEL = {"width": 8, "blocks": 2}  # a reduced MESR: the ci run guards the engine, it is no result
CI_TRAIN = dict(iterations=30, train_sets=("samples-train",))
# MESR's smoke run is longer than bench's default 900: 24 blocks of 5 funnel units train slowly. On Set5 x2 a
# 3000-step run ended 0.14 dB under bicubic; 4000 steps (milestones scale with it) passed it (2026-12-02 notes).
SMOKE_ITERATIONS = 4000


def size_rows(which: str) -> list[tuple[str, int, str, dict]]:
    """(label, scale, variant, model overrides) for each row to count."""
    rows = [(f"mesr x{s}", s, "", {}) for s in (2, 3, 4)]
    if which == "all":
        table = {"rb-dagger": "Table 2"}
        rows += [(f"{table.get(v, 'Table 1')}: {v} x4", 4, v, o.model) for v, o in VARIANTS.items()]
    return rows


def run_complexity(which: str, use_cache: bool, hr: tuple[int, int] = (1024, 720)) -> list[dict]:
    table = []
    for label, scale, variant, overrides in size_rows(which):
        counted = complexity(registry.make(MODEL, scale=scale, **overrides), scale, hr=hr, use_cache=use_cache,
                             cross_check=False)
        anchor = SIZE_ANCHOR if not variant else None  # the text's anchor is about the full model
        delta = None if anchor is None else (counted["params"] - anchor) / anchor
        verdict = ("no anchor" if delta is None else
                   "within the anchor's 5%" if abs(delta) <= ANCHOR_TOLERANCE else "off the anchor by more than 5%")
        row = {"row": label, "model": MODEL, "scale": scale, "variant": variant, "hr_size": counted["hr_size"],
               "lr_size": counted["lr_size"], "params": counted["params"], "mult_adds": counted["mult_adds"],
               "analytic_mult_adds": counted.get("analytic_mult_adds"), "paper_params": None,
               "paper_mult_adds": None, "paper": NOT_AVAILABLE, "size_anchor": anchor, "anchor_delta": delta,
               "anchor_verdict": verdict}
        results.append({**counted, **row, "budget": "no training: model size only", "device": "cpu"}, "complexity")
        table.append(row)
        anchor_text = "" if delta is None else f"; anchor ~{anchor / 1e6:.2f}M: {delta:+.1%}, {verdict}"
        print(f"{label:<26} params {row['params'] / 1e6:6.3f}M, Mult-Adds {row['mult_adds'] / 1e9:8.2f}G at HR "
              f"{row['hr_size']} (own formula {row['analytic_mult_adds'] / 1e9:.2f}G); paper: not available"
              f"{anchor_text}", file=sys.stderr)
    return table


def activation_stds(model: torch.nn.Module, lr: torch.Tensor) -> list[float]:
    """Std of the shallow features F0 and of each MSFEB's output, for one forward pass."""
    stds: list[float] = []
    hooks = [model.head.register_forward_hook(lambda m, i, o: stds.append(torch.relu(o).std().item()))]
    hooks += [block.register_forward_hook(lambda m, i, o: stds.append(o.std().item())) for block in model.body]
    try:
        with torch.no_grad():
            model(lr)
    finally:
        for hook in hooks:
            hook.remove()
    return stds


def run_init_check(size: int = 24) -> list[dict]:
    rows = []
    for skips in ("merged", "literal"):
        torch.manual_seed(0)
        model = registry.make(MODEL, scale=2, skips=skips).eval()
        stds = activation_stds(model, torch.rand(1, 3, size, size))
        row = {"model": MODEL, "scale": 2, "variant": "" if skips == "merged" else "literal-skips", "skips": skips,
               "lr_size": f"{size}x{size}", "f0_std": stds[0], "block_stds": stds[1:], "growth": stds[-1] / stds[0],
               "budget": "initial weights (seed 0)", "device": "cpu"}
        results.append(row, "init-activations")
        rows.append(row)
        print(f"activations at init, {skips} skips: std F0 {stds[0]:.3g}, after block 12 {stds[12]:.3g}, "
              f"after block 24 {stds[-1]:.3g} (x{row['growth']:.3g})", file=sys.stderr)
    return rows


def run_training(scale: int, budget: str, data_root, runs: str, variant: str = "",
                 smoke_iterations: int = SMOKE_ITERATIONS) -> tuple[dict, dict]:
    """Train MESR (or a ``VARIANTS`` row) at ``scale``; returns (run summary, model overrides)."""
    overrides = dict(VARIANTS[variant].model) if variant else {}
    paper = recipe(scale, **(VARIANTS[variant].train if variant else {}))
    if budget == "ci":
        overrides.update(CI_MODEL)
        config = local_smoke(paper, data_root, **CI_TRAIN)
    elif budget == "paper":
        config = paper
    else:
        config = local_smoke(paper, data_root, iterations=smoke_iterations)
        budget = f"smoke-{smoke_iterations}"
    label = "-".join(p for p in (MODEL, variant, f"x{scale}", budget) if p)
    print(f"training {label}: {config.budget}", file=sys.stderr)
    return train_step(MODEL, scale, config, Path(runs) / label, data_root, **overrides), overrides


def evaluate_with(scale: int, datasets: list[str], weights: str, overrides: dict, variant: str,
                  data_root=None) -> list[dict]:
    """``evaluate_step`` of the model built with config ``overrides``, recorded under ``variant``."""
    return evaluate_step(MODEL, scale, datasets, weights=weights, data_root=data_root, variant=variant, **overrides)


def evaluate_stages(scale: int, datasets: list[str], weights: str, overrides: dict, variant: str,
                    data_root=None) -> dict[str, list[dict]]:
    """Both stage outputs of one trained model: the refined image (the model's output) and the coarse one."""
    refined_label = variant
    found = {"refined": evaluate_with(scale, datasets, weights, overrides, refined_label, data_root)}
    if overrides.get("refine", True):
        coarse_label = "-".join(p for p in (variant, "coarse") if p)
        found["coarse"] = evaluate_with(scale, datasets, weights, {**overrides, "output": "coarse"}, coarse_label,
                                        data_root)
    return found


def compare_with_bicubic(scale: int, stages: dict[str, list[dict]], data_root=None) -> list[dict]:
    """Per set: each stage's PSNR against bicubic's (same protocol), and refined against coarse."""
    sets = [r["dataset"] for r in stages["refined"]]
    bicubic = {r["dataset"]: r["psnr"] for r in evaluate_step("bicubic", scale, sets, data_root=data_root)}
    rows = []
    for i, dataset in enumerate(sets):
        row = {"scale": scale, "dataset": dataset, "bicubic": bicubic[dataset],
               **{stage: records[i]["psnr"] for stage, records in stages.items()}}
        row["beats_bicubic"] = all(row[s] > row["bicubic"] for s in stages)
        if "coarse" in row:
            row["refined_minus_coarse"] = row["refined"] - row["coarse"]
        rows.append(row)
        coarse = f", coarse {row['coarse']:.3f} (refined - coarse {row['refined_minus_coarse']:+.3f})" \
            if "coarse" in row else ""
        print(f"x{scale} {dataset}: refined {row['refined']:.3f}{coarse}, bicubic {row['bicubic']:.3f} dB: "
              f"{'beats' if row['beats_bicubic'] else 'does not beat'} bicubic", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("mesr", __doc__.split("\n")[0], ci="minutes, a reduced model")
    parser.add_argument("--rows", choices=["main", "all"], default="all",
                        help="main: MESR x2/x3/x4; all: also every Table 1/2 row at x4")
    parser.add_argument("--scales", default="2,4", help="comma-separated scales to train MESR at")
    parser.add_argument("--variants", default="",
                        help="comma-separated Table 1/2 rows to train at x4 (or 'all'); none by default")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--smoke-iterations", type=int, default=SMOKE_ITERATIONS,
                        help=f"iterations of a smoke run (default {SMOKE_ITERATIONS}; bench's smoke default is 900)")
    parser.add_argument("--sets", help="comma-separated sets to evaluate on (default: Set5 for smoke, "
                        "Set5,Set14,B100,Urban100 for paper)")
    args = parser.parse_args(argv)
    skipped = Skipped()
    summary: dict = {"paper": "mesr", "budget": args.budget}
    ci = args.budget == "ci"
    # ci: the three scales at a small HR (each count traces the whole 24-block model); the rows' sizes are tested
    summary["complexity"] = run_complexity("main" if ci else args.rows, use_cache=not args.no_cache and not ci,
                                           **({"hr": CI_HR} if ci else {}))
    summary["init_activations"] = run_init_check()

    scales = [2] if ci else [int(s) for s in args.scales.split(",")]
    wanted = tuple(args.sets.split(",")) if args.sets else PAPER_SETS if args.budget == "paper" else SMOKE_SETS
    if not args.sets and args.budget == "smoke":
        skipped.add("evaluation on " + ", ".join(s for s in PAPER_SETS if s not in SMOKE_SETS),
                    "a CPU hour and more for a smoke-trained 5M-parameter model (ask with --sets)")
    summary["training"], summary["evaluation"], summary["against_bicubic"] = [], [], []
    for scale in scales:
        run, overrides = run_training(scale, args.budget, args.data_root, args.runs,
                                      smoke_iterations=args.smoke_iterations)
        summary["training"].append(run)
        present, missing = available_sets(wanted, scale, args.data_root)
        if missing:
            skipped.add(f"x{scale} evaluation on " + ", ".join(missing),
                        "not downloaded (python -m bench data download NAME)")
        variant = "ci-reduced" if ci else ""
        stages = evaluate_stages(scale, present or ["samples"], run["weights"], overrides, variant, args.data_root)
        summary["evaluation"].append(stages)
        summary["against_bicubic"] += compare_with_bicubic(scale, stages, args.data_root)

    variants = list(VARIANTS) if args.variants == "all" else [v for v in args.variants.split(",") if v]
    if ci or not variants:
        skipped.add("training of the Table 1/2 rows", "ask with --variants NAME,... or all (5 trainings at x4)")
        variants = []
    for variant in variants:
        run, overrides = run_training(4, args.budget, args.data_root, args.runs, variant, args.smoke_iterations)
        present, _ = available_sets(TABLE_1_SETS, 4, args.data_root)
        summary["training"].append(run)
        summary["evaluation"].append(evaluate_stages(4, present or ["samples"], run["weights"], overrides, variant,
                                                     args.data_root))
    return finish(summary, skipped, args.json)


if __name__ == "__main__":
    sys.exit(main())
