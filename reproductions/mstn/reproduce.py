"""Reproduce what can be reproduced of MSTN on this machine: ``nox -s reproduce-mstn``.

1. Params and Mult-Adds of ``mstn`` at x2 and x4, beside Table II's 1.68M. One set of weights serves
   both scales (reading A, ``model.py``); only the Mult-Adds differ: x2 runs the shared stages on a grid
   4x the x2 LR, i.e. twice the HR size per side. At 1024x720 that is 3.5T Mult-Adds at x4 and 14.1T at
   x2; one fvcore count is a real forward pass, minutes at x4 and tens of minutes (and ~15 GB of memory)
   at x2 on 2 CPU cores. Counts are cached; ``--counter analytic`` stores the model's own conv+matmul
   count (equal to fvcore's count of those ops, cross-checked by FlopCounterMode on the meta device)
   without a forward pass.
2. Training of one model at x4 (its x1/x2/x4 outputs, Eqs. 2-5) at the budget asked for.
3. Evaluation of those same weights at x2 and x4 (``basicsr`` protocol), beside bicubic and the paper:
   Set5 after a smoke run, every benchmark set present after the paper's recipe (``--sets`` chooses).

``--budget ci`` counts sizes at a small HR and guards the engine: a 30-iteration run of a narrow MSTN
(``CI_MODEL``: the same code, a fraction of the width) on the embedded samples, evaluated at x2 and x4
from the same weights. ``--budget smoke`` trains the registered model with the default smoke budget
except the LR patch (``SMOKE_TRAIN``): MSTN works on an HR-size grid, 3 stages of ~1.6M Mult-Adds per
grid pixel, which makes one step at the default LR patch of 32 (a 128x128 grid) take tens of seconds
on 2 CPU cores. Every measurement goes to the results store; what is skipped is said, with how to get it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from bench import registry, results
from bench.complexity import complexity, count_params, lr_size, meta_mult_adds
from bench.reported import reported_numbers
from bench.reproduce import (
    Skipped,
    argument_parser,
    available_sets,
    evaluate_step,
    finish,
    local_smoke,
    train_step,
)
from reproductions.mstn import VARIANTS
from reproductions.mstn.recipe import recipe

PARAMS_TOLERANCE = 0.02  # the target
SCALES = (2, 4)  # the scales the paper reports, both served by the one model trained at x4
BENCHMARKS = ("Set5", "Set14", "B100", "Urban100")
SMOKE_SETS = ("Set5",)  # a smoke-trained MSTN takes minutes per Set5 pass at x2 on 2 CPU cores
CI_HR = (48, 32)
# The engine guard: the registered code at a fraction of its width and depth (not a result).
CI_MODEL = dict(width=16, growth=8, dense_layers=2, blocks=1, stages=2, heads=2)
CI_TRAIN = dict(iterations=30, lr_patch=8, train_sets=("samples-train",))
# The smoke budget's one change: LR patch 12 (a 48x48 grid, HR 48) instead of 32, a tenth of the cost per
# step; iterations, batch and data as bench.train.smoke's default.
SMOKE_TRAIN = dict(lr_patch=12)


def _verdict(ours: float, paper: float | None) -> tuple[float | None, str]:
    if paper is None:
        return None, "no reported value"
    delta = (ours - paper) / paper
    return delta, "ok" if abs(delta) <= PARAMS_TOLERANCE else f"off by more than {PARAMS_TOLERANCE:.0%}"


def analytic_count(model, scale: int, hr: tuple[int, int]) -> dict:
    """Params and the model's own Mult-Adds formula, cross-checked on the meta device (no forward pass)."""
    lr_h, lr_w = lr_size(hr, scale)
    return {"model": "mstn", "scale": scale, "hr_size": f"{hr[0]}x{hr[1]}", "lr_size": f"{lr_w}x{lr_h}",
            "lr_pad": "none", **count_params(model), "analytic_mult_adds": model.analytic_mult_adds(lr_h, lr_w),
            "cross_check": {"flop_counter_mode_macs": meta_mult_adds(model, (1, 3, lr_h, lr_w))},
            "counter": "analytic conv + matmul (fvcore counts these ops alike; LayerNorm and bilinear not included)",
            "form": "as trained (nothing to reparameterise)"}


def run_complexity(rows: str, hr: tuple[int, int], counter: str, use_cache: bool) -> list[dict]:
    reported = {(r.model, r.variant, r.scale, r.metric): r.value for r in reported_numbers() if r.paper == "mstn"}
    paper_params = reported.get(("mstn", "", "2", "params"))  # Table II (x2); the x4 model is the same one
    wanted = [("", {}, s) for s in SCALES]
    if rows == "all":
        wanted += [(name, overrides, 4) for name, overrides in VARIANTS.items()]
    table = []
    for variant, overrides, scale in wanted:
        model = registry.make("mstn", scale=scale, **overrides)
        if counter == "fvcore":
            counted = complexity(model, scale, hr=hr, use_cache=use_cache)
        else:
            counted = analytic_count(model, scale, hr)
        delta, verdict = _verdict(counted["params"], paper_params)
        row = {"model": "mstn", "variant": variant, "scale": scale, "hr_size": counted["hr_size"],
               "lr_size": counted["lr_size"], "params": counted["params"], "paper_params": paper_params,
               "params_delta": delta, "params_verdict": verdict, "mult_adds": counted.get("mult_adds"),
               "analytic_mult_adds": counted.get("analytic_mult_adds"), "skipped_ops": counted.get("skipped_ops")}
        results.append({**counted, **row, "budget": "no training: model size only", "device": "cpu"}, "complexity")
        table.append(row)
        macs = counted.get("mult_adds") or counted["analytic_mult_adds"]
        print(f"mstn{' [' + variant + ']' if variant else ''} x{scale} at HR {counted['hr_size']}: params "
              f"{row['params']:,} vs {paper_params / 1e6:.2f}M ({delta:+.1%}, {verdict}); Mult-Adds "
              f"{macs / 1e9:.1f}G ({counter})", file=sys.stderr)
    return table


def run_training(budget: str, data_root, runs: str) -> dict:
    """One model at x4 (reading A); its weights serve x2 and x4."""
    run_dir = Path(runs) / f"mstn-x4-{budget}"
    if budget == "ci":
        config = local_smoke(recipe(stages=CI_MODEL["stages"]), data_root, **CI_TRAIN)
        print(f"training mstn [ci-narrow] x4, budget: {config.budget}", file=sys.stderr)
        return train_step("mstn", 4, config, run_dir, data_root, **CI_MODEL)
    config = recipe() if budget == "paper" else local_smoke(recipe(), data_root, **SMOKE_TRAIN)
    print(f"training mstn x4, budget: {config.budget}", file=sys.stderr)
    return train_step("mstn", 4, config, run_dir, data_root)


def compare_with_bicubic(evaluated: list[dict], data_root) -> list[dict]:
    """Each evaluated (set, scale) beside bicubic under the same protocol and the paper's Table I."""
    reported = {(r.dataset, r.scale, r.metric): r.value for r in reported_numbers()
                if r.paper == "mstn" and r.model == "mstn" and r.table == "Table I"}
    rows = []
    for result in evaluated:
        dataset, scale = result["dataset"], result["scale"]
        bicubic = evaluate_step("bicubic", scale, [dataset], protocol=result["protocol"], data_root=data_root)[0]
        row = {"dataset": dataset, "scale": scale, "variant": result.get("variant", ""), "psnr": result["psnr"],
               "ssim": result["ssim"], "bicubic_psnr": bicubic["psnr"], "bicubic_ssim": bicubic["ssim"],
               "beats_bicubic": result["psnr"] > bicubic["psnr"],
               "paper_psnr": reported.get((dataset, str(scale), "psnr")),
               "paper_ssim": reported.get((dataset, str(scale), "ssim")), "budget": result["budget"]}
        paper = "n/a" if row["paper_psnr"] is None else f"{row['paper_psnr']:.2f}/{row['paper_ssim']:.4f}"
        print(f"{dataset} x{scale}: mstn {row['psnr']:.3f}/{row['ssim']:.4f}, bicubic {row['bicubic_psnr']:.3f}/"
              f"{row['bicubic_ssim']:.4f} ({'beats' if row['beats_bicubic'] else 'does NOT beat'} bicubic); "
              f"paper {paper} [{row['budget']}]", file=sys.stderr)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("mstn", __doc__.split("\n")[0], ci="minutes, an engine guard")
    parser.add_argument("--rows", choices=["main", "all"], default="main",
                        help="main: mstn at x2 and x4; all: also every VARIANTS row at x4")
    parser.add_argument("--counter", choices=["fvcore", "analytic"], default="fvcore",
                        help="full-size Mult-Adds: fvcore (a forward pass, cached) or the model's own formula")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--no-train", action="store_true", help="sizes only")
    parser.add_argument("--sets", help="comma-separated sets to evaluate on (default: Set5 for smoke, "
                        "every benchmark for paper)")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    skipped = Skipped()
    summary: dict = {"paper": "mstn", "budget": args.budget}
    if args.budget == "ci":
        summary["complexity"] = run_complexity("main", CI_HR, "fvcore", use_cache=False)
        skipped.add("full-size (1024x720) Mult-Adds", "budget ci counts at a small HR (use --budget smoke)")
    else:
        summary["complexity"] = run_complexity(args.rows, (1024, 720), args.counter, not args.no_cache)
    if args.no_train:
        skipped.add("training and evaluation", "--no-train")
        return finish(summary, skipped, args.json)

    run = run_training(args.budget, args.data_root, args.runs)
    summary["training"] = run
    if args.budget == "ci":
        sets = [run.get("val_set") or "samples"]
        evaluated = [r for s in SCALES for r in evaluate_step("mstn", s, sets, weights=run["weights"],
                                                              data_root=args.data_root, variant="ci-narrow",
                                                              **CI_MODEL)]
    else:
        wanted = tuple(args.sets.split(",")) if args.sets else BENCHMARKS if args.budget == "paper" else SMOKE_SETS
        if not args.sets and args.budget != "paper":
            skipped.add("evaluation on " + ", ".join(s for s in BENCHMARKS if s not in SMOKE_SETS),
                        "an hour or more on a CPU for a smoke-trained model (ask with --sets)")
        evaluated = []
        for scale in SCALES:  # the same weights at both scales
            present, missing = available_sets(wanted, scale, args.data_root)
            if missing and scale == SCALES[0]:
                skipped.add("evaluation on " + ", ".join(missing),
                            "not downloaded (python -m bench data download NAME)")
            evaluated += evaluate_step("mstn", scale, present or ["samples"], weights=run["weights"],
                                       data_root=args.data_root)
    summary["evaluation"] = evaluated
    summary["against_bicubic"] = compare_with_bicubic(evaluated, args.data_root)
    return finish(summary, skipped, args.json)


if __name__ == "__main__":
    sys.exit(main())
