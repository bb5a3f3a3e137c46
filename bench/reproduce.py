"""Steps every paper's ``reproduce`` module is made of, and ``python -m bench reproduce PAPER|all``.

A paper's ``reproductions/<paper>/reproduce.py`` has ``main(argv) -> int`` taking ``--budget``:

- ``ci``: minutes on 2 CPU cores, deterministic; what ``.ci/run`` feeds the regression gate;
- ``smoke`` (default): what a laptop CPU affords, labelled short budget, still learns (beats bicubic);
- ``paper``: the paper's recipe, unchanged (a GPU or a torchrun cluster).

Each step stores its measurements in the results store and says on stderr what it skipped and why
(no data downloaded, no weights published), so a fresh machine completes on the embedded samples.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from bench import BenchError, registry, results

__all__ = ["BUDGETS", "Skipped", "argument_parser", "available_sets", "evaluate_step", "finish", "local_smoke",
           "train_step", "weights_dir", "main"]

BUDGETS = ("ci", "smoke", "paper")


class Skipped(list):
    """(step, why) pairs, printed as they happen and returned in the summary."""

    def add(self, step: str, why: str) -> None:
        self.append({"step": step, "why": why})
        print(f"skipped {step}: {why}", file=sys.stderr)


def argument_parser(paper: str, description: str, ci: str = "minutes, deterministic") -> argparse.ArgumentParser:
    """A paper's reproduce options, starting with the ones every paper takes (``ci``: what its ci budget does)."""
    parser = argparse.ArgumentParser(prog=f"python -m bench reproduce {paper}", description=description)
    parser.add_argument("--budget", choices=BUDGETS, default="smoke",
                        help=f"ci: {ci}; smoke: a labelled short CPU budget; paper: the paper's recipe")
    parser.add_argument("--data-root", help="benchmark sets (default: $BENCH_DATA_ROOT, else ./datasets)")
    parser.add_argument("--runs", default="runs", help="folder for training runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    return parser


def available_sets(names: tuple[str, ...], scale: int, data_root=None) -> tuple[list[str], list[str]]:
    """(present, missing) among benchmark set ``names``."""
    from bench.data.benchmarks import find_dataset

    present, missing = [], []
    for name in names:
        try:
            find_dataset(name, data_root)
            present.append(name)
        except BenchError:
            missing.append(name)
    return present, missing


def weights_dir() -> Path:
    """Published checkpoints: ``$BENCH_WEIGHTS_DIR``, else ``./weights``."""
    return Path(os.environ.get("BENCH_WEIGHTS_DIR", "") or "weights")


def evaluate_step(name: str, scale: int, datasets: list[str], protocol: str = "basicsr", weights: str | None = None,
                  data_root=None, device: str = "auto", variant: str = "", budget: str | None = None,
                  results_dir=None, **model_args: Any) -> list[dict[str, Any]]:
    """Evaluate one model (``model_args``: its config options) on each of ``datasets``; store and return the
    records."""
    from bench.checkpoints import load_weights, training_budget
    from bench.data.benchmarks import load_test_set
    from bench.evaluate import evaluate, resolve_device
    from bench.metrics import get_protocol

    card = registry.get(name)
    model = registry.make(name, scale=scale, **model_args)
    if weights:
        load_weights(model, weights)
    trained = training_budget(weights) if weights else None
    stored = []
    for dataset in datasets:
        result = evaluate(model, card, load_test_set(dataset, scale, data_root), get_protocol(protocol),
                          resolve_device(device), progress=True)
        result.update(variant=variant, weights=weights or "none (parameter-free)",
                      budget=budget or (f"weights trained with budget: {trained}" if trained else "inference only"))
        results.append(result, "evaluate", results_dir)
        print(f"{name} x{scale} {dataset} ({protocol}): PSNR {result['psnr']:.3f} dB, SSIM {result['ssim']:.4f}"
              f" [{result['budget']}]", file=sys.stderr)
        stored.append(result)
    return stored


def local_smoke(paper, data_root=None, **budget):
    """``bench.train.smoke`` of a paper recipe on what this machine has: train on B100 + Urban100 and
    validate on Set5 where present, else on the embedded samples (never on images it trained on)."""
    from bench.train import smoke

    train_sets = tuple(available_sets(("B100", "Urban100"), 2, data_root)[0]) or ("samples-train",)
    val_set = "Set5" if available_sets(("Set5",), 2, data_root)[0] else "samples"
    return smoke(paper, **{"train_sets": train_sets, "val_set": val_set, **budget})


def finish(summary: dict[str, Any], skipped: Skipped, as_json: bool) -> int:
    summary["skipped"] = skipped
    if as_json:
        print(json.dumps(summary, indent=1, default=str))
    return 0


def train_step(name: str, scale: int, config, run_dir: str | os.PathLike, data_root=None,
               **model_args: Any) -> dict[str, Any]:
    """Train (resuming a run folder of the same recipe); returns the summary with the weights path."""
    from bench.train import train

    return train({"name": name, "args": {"scale": scale, **model_args}}, config, run_dir, data_root)


def _papers() -> dict[str, str]:
    """Paper name -> its reproduce module, for the installed paper packages that have one."""
    found = {}
    for entry in entry_points(group=registry.ENTRY_POINT_GROUP):
        module = f"{entry.value}.reproduce"
        if importlib.util.find_spec(module) is not None:
            found[entry.name] = module
    return found


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    papers = _papers()
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: python -m bench reproduce PAPER|all [--budget {'|'.join(BUDGETS)}] [options of the paper]\n"
              f"papers: {', '.join(sorted(papers))}")
        return 0 if argv else 2
    which, rest = argv[0], argv[1:]
    if which != "all" and which not in papers:
        print(f"error: no reproduction for {which!r}; papers with one: {', '.join(sorted(papers))}", file=sys.stderr)
        return 2
    status = 0
    for paper in sorted(papers) if which == "all" else [which]:
        print(f"== reproduce {paper}", file=sys.stderr)
        status = max(status, importlib.import_module(papers[paper]).main(rest))
    return status
