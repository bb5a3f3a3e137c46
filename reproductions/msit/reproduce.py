"""Reproduce what can be reproduced of MSIT on this machine: ``nox -s reproduce-msit``.

1. Params of every model and Table III row beside the paper's: the trainable form the paper counts
   (stage B with its frozen RIM basis kernels as buffers), and the deployed form (RIM merged into plain
   convolutions). MSIT prints no Mult-Adds; fvcore counts the final model at a 64x64 HR, for reference
   (at 1024x720 the MLP alone is 2.4 T multiply-adds: 737K queries of a 12,546-input layer).
2. RIM merge: max |RIM - merged| of the whole model on random weights, and latency before/after.
3. Two-stage training of msit-edsr at the budget asked for: stage A (plain convs, scale U(1, 4)), then
   stage B (RIM, started from stage A's weights, U(1, 8)). ``smoke`` is a short CPU run, ``paper`` the
   recipe, ``ci`` trains nothing (the engine's arbitrary-scale path is covered by the tests).
4. Evaluation of the trained weights on Set5 at x2 and x4 (smoke; every benchmark set present and x2-x8
   after ``--budget paper``) with the paper's Table II protocol (``liif-y``: Y, unrounded, shave = scale),
   beside bicubic under the same protocol. DIV2K-val (Tables I, III-V, ``div2k-rgb``) where present.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
from pathlib import Path

import torch

from bench import registry, results
from bench.complexity import complexity, count_params
from bench.reparam import reparameterize
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
from bench.timing import time_reparameterization
from reproductions.msit import VARIANTS
from reproductions.msit.model import KernelRemapConv
from reproductions.msit.recipe import recipe

SIZE_ROWS = [("msit-edsr", ""), ("msit-edsr", "rim"), ("msit-edsr", "plain-conv"), ("msit-edsr", "conventional-sa"),
             ("msit-edsr", "refconv"), ("msit-edsr", "no-msno-conventional-sa"), ("msit-rdn", "")]
SMALL_HR = (64, 64)  # Mult-Adds for reference only: the paper prints none
# Smoke budgets of the two stages: one MSIT step (batch 2, 32 x 32 LR, 1024 queries) takes 1-2 s on 2 CPU cores.
SMOKE_A = dict(iterations=500, batch_size=2, lr_patch=32)
SMOKE_B = dict(iterations=250, batch_size=2, lr_patch=32)
BENCHMARKS = ("Set5", "Set14", "B100", "Urban100")


def run_sizes() -> list[dict]:
    """Params as trained (the paper's count) and deployed; fvcore Mult-Adds at a small HR for the final model."""
    reported = {(r.model, r.variant): r.value for r in reported_numbers() if r.paper == "msit" and r.metric == "params"}
    rows = []
    for name, variant in SIZE_ROWS:
        model = registry.make(name, scale=2, **VARIANTS.get(variant, {}))
        trained = count_params(model)
        deployed = copy.deepcopy(model)
        reparameterize(deployed)
        paper = reported.get((name, variant))
        record = {"model": name, "variant": variant, "scale": 2, **trained, "deployed_params": params(deployed),
                  "paper_params": paper, "params_delta": None if paper is None else trained["params"] / paper - 1,
                  "form": "as trained (RIM basis kernels are frozen buffers): the paper's count",
                  "budget": "no training: model size only", "device": "cpu"}
        if (name, variant) == ("msit-edsr", ""):
            counted = complexity(model, 2, hr=SMALL_HR, cross_check=False)
            record.update(mult_adds=counted["mult_adds"], hr_size=counted["hr_size"], lr_size=counted["lr_size"],
                          skipped_ops=counted["skipped_ops"])
        results.append(record, "complexity")
        print(f"{name} {variant or '(final)'}: {trained['params']:,} params as trained"
              f"{f' (paper {paper / 1e6:.1f}M)' if paper else ''}, {record['deployed_params']:,} deployed",
              file=sys.stderr)
        rows.append(record)
    return rows


def params(model: torch.nn.Module) -> int:
    return count_params(model)["params"]


def run_rim(budget: str) -> dict:
    """Merge equality and latency of msit-edsr (stage B) with a random basis (a stand-in for stage A)."""
    torch.manual_seed(0)
    model = registry.make("msit-edsr", scale=2)
    for module in model.modules():
        if isinstance(module, KernelRemapConv):
            torch.nn.init.normal_(module.weight, 0.0, 0.05)
    lr_shape = (1, 3, 16, 16) if budget == "ci" else (1, 3, 48, 48)
    timed = time_reparameterization(model, lr_shape, warmup=1, repeats=3 if budget == "ci" else 10)
    record = {"model": "msit-edsr", "variant": "", "scale": 2, **timed, "budget": "no training: random weights"}
    results.append(record, "time")
    print(f"RIM merge (21 convs): max |diff| {timed['max_abs_diff']:.2e}; {timed['before_ms']:.0f} -> "
          f"{timed['after_ms']:.0f} ms at LR {timed['lr_size']} x2; params {timed['params_before']:,} -> "
          f"{timed['params_after']:,}", file=sys.stderr)
    return record


def stage_configs(budget: str, data_root) -> tuple:
    """(stage A config, stage B config without its init_from) for the budget."""
    a, b = recipe("a"), recipe("b")
    if budget == "paper":
        return a, b
    # One validation at the end: a full Set5 pass of MSIT takes minutes on a CPU.
    a = local_smoke(a, data_root, **SMOKE_A)
    b = local_smoke(b, data_root, **SMOKE_B)
    return dataclasses.replace(a, val_every=a.iterations), dataclasses.replace(b, val_every=b.iterations)


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("msit", __doc__.split("\n")[0])
    parser.add_argument("--encoder", choices=("edsr", "rdn"), default="edsr", help="which MSIT to train")
    args = parser.parse_args(argv)
    skipped = Skipped()
    summary: dict = {"paper": "msit", "budget": args.budget, "sizes": run_sizes(), "rim": run_rim(args.budget)}
    if args.budget == "ci":
        skipped.add("training", "the ci budget trains nothing (one MSIT step takes seconds on a CPU)")
        return finish(summary, skipped, args.json)

    name = f"msit-{args.encoder}"
    config_a, config_b = stage_configs(args.budget, args.data_root)
    run_a = train_step(name, 2, config_a, Path(args.runs) / f"{name}-a-{args.budget}", args.data_root, conv="plain")
    config_b = dataclasses.replace(config_b, init_from=run_a["weights"])
    run_b = train_step(name, 2, config_b, Path(args.runs) / f"{name}-b-{args.budget}", args.data_root)
    summary["training"] = {"stage_a": run_a, "stage_b": run_b}

    sets = available_sets(("Set5",) if args.budget == "smoke" else BENCHMARKS, 2, args.data_root)[0]
    if not sets:
        sets = ["samples"]
        skipped.add("Set5", "not downloaded; evaluated on the embedded samples instead")
    scales = (2, 4) if args.budget == "smoke" else (2, 3, 4, 6, 8)
    evaluations = []
    for scale in scales:
        evaluate_step("bicubic", scale, sets, protocol="liif-y", data_root=args.data_root)
        for stage, run in (("plain-conv", run_a), ("", run_b)):
            evaluations += evaluate_step(name, scale, sets, protocol="liif-y", weights=run["weights"],
                                         data_root=args.data_root, variant=stage, conv="plain" if stage else "rim")
    div2k = available_sets(("DIV2K-val",), 2, args.data_root)[0] if args.budget == "paper" else []
    for scale in (2, 3, 4, 6, 12, 18, 24, 30) if div2k else ():
        evaluations += evaluate_step(name, scale, div2k, protocol="div2k-rgb", weights=run_b["weights"],
                                     data_root=args.data_root)
    summary["evaluations"] = [{k: e[k] for k in ("model", "variant", "dataset", "scale", "psnr", "ssim", "budget")}
                              for e in evaluations]
    return finish(summary, skipped, args.json)


if __name__ == "__main__":
    sys.exit(main())
