"""What the baselines contribute to the papers' tables: ``python -m bench reproduce baselines``.

1. Bicubic under the MATLAB-era protocol on every benchmark set present, x2/x3/x4 (the bicubic rows
   that AMMS's Table 2 and many others print).
2. The authors' public IMDN checkpoints (``$BENCH_WEIGHTS_DIR/imdn_x{2,3,4}.pth``) on every set present.
3. Params and Mult-Adds of the baselines the papers compare sizes with, at the papers' HR sizes.
4. The SwinIR-light x2 smoke training (the training engine's must-show), evaluated on Set5/Set14.

``--budget ci`` keeps this to a few minutes: sizes at a small HR, IMDN on Set5/Set14 only, and a
40-iteration training run on the embedded samples.
"""

from __future__ import annotations

import sys
from pathlib import Path

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
    weights_dir,
)

BENCHMARKS = ("Set5", "Set14", "B100", "Urban100")
IMDN_URL = "https://github.com/Zheng222/IMDN (checkpoints/IMDN_x{2,3,4}.pth), saved as imdn_x{s}.pth"
# (model, scale, HR, lr_pad) of the sizes the papers print: IMDN's 1280x720 rule; MSRA-SR's Table 1/3 at
# 1024x720 with SwinIR's padded LR; MSIT's Table I prints params only (EDSR-baseline, RDN, LIIF), which no
# HR changes.
SIZES = [("imdn", 2, (1280, 720), "none")] + [("swinir-light", s, (1024, 720), "swinir") for s in (2, 3, 4)] + [
    ("swinir-classical", 4, (1024, 720), "swinir")] + [
    (name, 2, (64, 64), "none") for name in ("rdn", "edsr-baseline", "liif-edsr-baseline", "liif-rdn")]
CI_HR = (64, 64)
SWINIR_CI = dict(iterations=40, train_sets=("samples-train",))  # a regression guard of the engine, not a result


def run_sizes(budget: str) -> list[dict]:
    rows = []
    for name, scale, hr, lr_pad in SIZES if budget != "ci" else [(n, s, CI_HR, "none") for n, s, _, _ in SIZES]:
        counted = complexity(registry.make(name, scale=scale), scale, hr=hr, lr_pad=lr_pad, cross_check=False)
        results.append({**counted, "budget": "no training: model size only", "device": "cpu"}, "complexity")
        print(f"{name} x{scale} at HR {counted['hr_size']}: params {counted['params']:,}, "
              f"Mult-Adds {counted['mult_adds'] / 1e9:.2f}G", file=sys.stderr)
        rows.append(counted)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("baselines", __doc__.split("\n")[0])
    args = parser.parse_args(argv)
    skipped = Skipped()
    summary: dict = {"paper": "baselines", "budget": args.budget}

    for scale in (2, 3, 4):
        present, missing = available_sets(BENCHMARKS, scale, args.data_root)
        if missing and scale == 2:
            skipped.add("bicubic/IMDN on " + ", ".join(missing), "not downloaded (python -m bench data download NAME)")
        evaluate_step("bicubic", scale, present, protocol="matlab", data_root=args.data_root)
        checkpoint = weights_dir() / f"imdn_x{scale}.pth"
        if not checkpoint.is_file():
            skipped.add(f"IMDN x{scale}", f"no checkpoint at {checkpoint}: get it from {IMDN_URL}")
            continue
        imdn_sets = [s for s in present if s in ("Set5", "Set14")] if args.budget == "ci" else present
        evaluate_step("imdn", scale, imdn_sets, weights=str(checkpoint), data_root=args.data_root)

    summary["sizes"] = run_sizes(args.budget)

    paper = registry.get("swinir-light").recipe(2)
    if args.budget == "paper":
        config = paper
    else:
        config = local_smoke(paper, args.data_root, **(SWINIR_CI if args.budget == "ci" else {}))
    run = train_step("swinir-light", 2, config, Path(args.runs) / f"swinir-light-x2-{args.budget}", args.data_root)
    summary["training"] = run
    eval_sets = [config.val_set]
    if args.budget != "ci":
        eval_sets = available_sets(("Set5", "Set14"), 2, args.data_root)[0] or eval_sets
    evaluate_step("swinir-light", 2, eval_sets, weights=run["weights"], data_root=args.data_root)
    return finish(summary, skipped, args.json)


if __name__ == "__main__":
    sys.exit(main())
