"""Reproduce what can be reproduced of MSRA-SR on this machine: ``nox -s reproduce-msra``.

1. Params and Mult-Adds of every model and Table 4 row, beside the paper's (fvcore, deployed form,
   LR = (HR // s // 16 + 1) * 16 per side: the convention that fits the paper's Table 1, see
   ``shared/specs/msra_swinir.md`` §3.3). Full-size counts take minutes each on a CPU; they are
   cached, so a second run is instant.
2. MS-DWC reparameterisation: max |before - after| of the whole model, and latency before/after of
   one FFN and of the whole model (the paper: FFN 0.15 s -> 0.02 s on its GPU).
3. Training of msra-light x2 at the budget asked for (``smoke`` on a CPU by default, ``paper`` for the
   paper's recipe), then evaluation (``basicsr`` protocol) on Set5 and Set14 after a smoke run, on every
   benchmark set present after the paper's (``--sets`` chooses).

``--budget ci`` (for ``.ci/run``'s regression gate) counts sizes at a small HR, proves the
reparameterisation on a small input and does not train. Every measurement goes to the results store
with its provenance; what is skipped is said, with how to get it.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import torch
from torch import nn

from bench import registry, results
from bench.complexity import complexity
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
from bench.timing import measure_latency, time_reparameterization
from reproductions.msra import VARIANTS
from reproductions.msra.recipe import recipe

PARAMS_TOLERANCE, MULT_ADDS_TOLERANCE = 0.02, 0.03  # the targets
BENCHMARKS = ("Set5", "Set14", "B100", "Urban100", "Manga109")
# A smoke-trained model is evaluated on the small sets: msra-light takes about a minute per Urban100 image on
# 2 CPU cores, so B100 + Urban100 would take well over an hour.
SMOKE_SETS = ("Set5", "Set14")
CI_HR = (64, 64)


def complexity_rows(which: str) -> list[tuple[str, str, int, str, dict, bool]]:
    """(label, model, scale, variant, overrides, as_trained) for each row to count."""
    rows = [(f"msra-light x{s}", "msra-light", s, "", {}, False) for s in (2, 3, 4)]
    rows.append(("msra-classical x4", "msra-classical", 4, "", {}, False))
    if which == "all":
        rows += [(f"Table 4: {v}", "msra-light", 2, v, o, t) for v, (o, t) in VARIANTS.items()]
    return rows


def _verdict(ours: float, paper: float | None, tolerance: float) -> tuple[float | None, str]:
    if paper is None:
        return None, "no reported value"
    delta = (ours - paper) / paper
    return delta, "ok" if abs(delta) <= tolerance else f"off by more than {tolerance:.0%}"


def run_complexity(which: str, use_cache: bool, hr: tuple[int, int] = (1024, 720),
                   lr_pad: str = "swinir") -> list[dict]:
    reported = {(r.model, r.variant, r.scale, r.metric): r.value for r in reported_numbers() if r.paper == "msra"}
    table = []
    for label, name, scale, variant, overrides, as_trained in complexity_rows(which):
        model = registry.make(name, scale=scale, **overrides)
        counted = complexity(model, scale, hr=hr, lr_pad=lr_pad, use_cache=use_cache, cross_check=False,
                             as_trained=as_trained)
        paper_params = reported.get((name, variant, str(scale), "params"))
        paper_macs = reported.get((name, variant, str(scale), "mult_adds" if not variant else "flops"))
        if hr != (1024, 720):
            paper_macs = None  # the paper counts at 1024x720: a count at another size has no twin
        d_params, v_params = _verdict(counted["params"], paper_params, PARAMS_TOLERANCE)
        d_macs, v_macs = _verdict(counted["mult_adds"], paper_macs, MULT_ADDS_TOLERANCE)
        row = {"row": label, "model": name, "scale": scale, "variant": variant, "form": counted["form"],
               "hr_size": counted["hr_size"], "lr_size": counted["lr_size"], "lr_pad": lr_pad,
               "params": counted["params"], "paper_params": paper_params,
               "params_delta": d_params, "params_verdict": v_params, "mult_adds": counted["mult_adds"],
               "paper_mult_adds": paper_macs, "mult_adds_delta": d_macs, "mult_adds_verdict": v_macs}
        results.append({**counted, **row, "budget": "no training: model size only", "device": "cpu"}, "complexity")
        table.append(row)
        print(f"{label:<28} params {row['params'] / 1e3:8.1f}K vs {_k(paper_params)} ({_pct(d_params)}, "
              f"{v_params}); Mult-Adds {row['mult_adds'] / 1e9:7.2f}G vs {_g(paper_macs)} ({_pct(d_macs)}, {v_macs})",
              file=sys.stderr)
    return table


def _k(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 1e3:.0f}K"


def _g(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 1e9:.1f}G"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1%}"


class _AtSize(nn.Module):
    """A feed-forward block at a fixed image size, callable with its tokens alone (for timing)."""

    def __init__(self, ffn: nn.Module, size: tuple[int, int]):
        super().__init__()
        self.ffn, self.size = ffn, size

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.ffn(tokens, self.size)


def run_reparameterization(device: str, lr: tuple[int, int], repeats: int) -> dict:
    torch.manual_seed(0)
    model = registry.make("msra-light", scale=2).eval()
    for module in model.modules():  # trained-like, non-trivial branch weights
        if isinstance(module, nn.Conv2d) and module.groups > 1:
            nn.init.normal_(module.weight, std=0.1)
    whole = time_reparameterization(model, (1, 3, lr[1], lr[0]), device, warmup=1, repeats=repeats)
    ffn = _AtSize(model.groups[0][0].ffn, (lr[1], lr[0])).to(device)
    tokens = torch.rand(1, lr[0] * lr[1], 60, device=device)
    deployed = copy.deepcopy(ffn)
    reparameterize(deployed)
    with torch.inference_mode():
        ffn_diff = (ffn(tokens) - deployed(tokens)).abs().max().item()
    ffn_before = measure_latency(ffn, tokens, 1, repeats)
    ffn_after = measure_latency(deployed, tokens, 1, repeats)
    record = {"model": "msra-light", "scale": 2, "lr_size": f"{lr[0]}x{lr[1]}", "device": device,
              "before_ms": whole["before_ms"], "after_ms": whole["after_ms"], "max_abs_diff": whole["max_abs_diff"],
              "ffn_before_ms": ffn_before["median_ms"], "ffn_after_ms": ffn_after["median_ms"],
              "ffn_max_abs_diff": ffn_diff, "budget": "random weights (latency and equivalence do not need training)"}
    results.append(record, "time")
    print(f"MS-DWC reparameterisation at LR {lr[0]}x{lr[1]} on {device}: whole model {record['before_ms']:.0f} -> "
          f"{record['after_ms']:.0f} ms (max |diff| {record['max_abs_diff']:.1e}); one FFN "
          f"{record['ffn_before_ms']:.1f} -> {record['ffn_after_ms']:.1f} ms (max |diff| {ffn_diff:.1e})",
          file=sys.stderr)
    return record


def run_training(budget: str, data_root, runs: str) -> dict:
    paper = recipe("msra-light")
    config = paper if budget == "paper" else local_smoke(paper, data_root)  # the default smoke budget
    print(f"training msra-light x2, budget: {config.budget}", file=sys.stderr)
    return train_step("msra-light", 2, config, Path(runs) / f"msra-light-x2-{budget}", data_root)


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("msra", __doc__.split("\n")[0], ci="minutes, no training")
    parser.add_argument("--rows", choices=["main", "all"], default="all",
                        help="main: light x2/x3/x4 + classical x4; all: also every Table 4 row")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--lr", default="128x96", help="LR WIDTHxHEIGHT for the latency measurement")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--sets", help="comma-separated sets to evaluate on (default: Set5,Set14 for smoke, "
                        "every benchmark for paper)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.lr.split("x"))
    skipped = Skipped()
    summary: dict = {"paper": "msra", "budget": args.budget}
    if args.budget == "ci":
        summary["complexity"] = run_complexity("main", use_cache=False, hr=CI_HR, lr_pad="none")
        summary["reparameterization"] = run_reparameterization(args.device, (32, 32), 1)
        skipped.add("training and evaluation", "budget ci does not train (use --budget smoke or paper)")
    else:
        summary["complexity"] = run_complexity(args.rows, not args.no_cache)
        summary["reparameterization"] = run_reparameterization(args.device, (width, height), args.repeats)
        run = run_training(args.budget, args.data_root, args.runs)
        summary["training"] = run
        wanted = tuple(args.sets.split(",")) if args.sets else BENCHMARKS if args.budget == "paper" else SMOKE_SETS
        present, missing = available_sets(wanted, 2, args.data_root)
        if missing:
            skipped.add("evaluation on " + ", ".join(missing), "not downloaded (python -m bench data download NAME)")
        if not args.sets and args.budget != "paper":
            skipped.add("evaluation on " + ", ".join(s for s in BENCHMARKS if s not in SMOKE_SETS),
                        "hours on a CPU for a smoke-trained model (ask with --sets)")
        summary["evaluation"] = evaluate_step("msra-light", 2, present or ["samples"], weights=run["weights"],
                                              data_root=args.data_root)
    return finish(summary, skipped, args.json)


if __name__ == "__main__":
    sys.exit(main())
