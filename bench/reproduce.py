"""One runner for every paper's manifest: ``python -m bench reproduce PAPER|all [--budget ci|smoke|paper]``.

It runs each step of the paper's manifest (``bench.paper``) as the budget tier asks, stores every
measurement in the results store with its structured budget, says what it skipped and why (a set not
downloaded, with the command that fetches it; a step the tier leaves out), and ends with the paper's
cells measured in this run, judged by ``bench.verdicts`` exactly as the report judges them. A fresh
machine completes every paper on the embedded samples.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from bench import BenchError, registry, results
from bench.checkpoints import weights_dir
from bench.measurements import budget, latest, tier_of
from bench.paper import TIERS, Context, Evaluate, Paper, Probe, Reparam, Sizes, Step, Train, papers
from bench.plan import add_plan_options

__all__ = ["run_paper", "available_sets", "local_smoke", "evaluate_models", "weights_budget", "main"]


def available_sets(names: tuple[str, ...], data_root=None) -> tuple[list[str], list[str]]:
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


def local_smoke(paper, data_root=None, tier: str = "smoke", **budget_fields):
    """``bench.train.smoke`` of a paper recipe on what this machine has: train on B100 + Urban100 and
    validate on Set5 where present, else on the embedded samples (never on images it trained on)."""
    from bench.train import smoke

    train_sets = tuple(available_sets(("B100", "Urban100"), data_root)[0]) or ("samples-train",)
    val_set = "Set5" if available_sets(("Set5",), data_root)[0] else "samples"
    return smoke(paper, **{"train_sets": train_sets, "val_set": val_set, "tier": tier, **budget_fields})


def weights_budget(path: str | None) -> dict[str, Any]:
    """The budget of a measurement of these weights: the training budget our checkpoints store, else none
    spent here (the authors' released weights, or a parameter-free model)."""
    from bench.checkpoints import read_spec, training_budget

    if not path:
        return budget("none", "parameter-free: inference only")
    stored = training_budget(path)
    if isinstance(stored, dict):
        return stored
    if stored:  # a label written before budgets were structured
        return {"tier": tier_of(stored), "overrides": {}, "note": str(stored)}
    if read_spec(path) is None:
        return budget("none", "the authors' released weights")
    return budget("none", "weights with no recorded budget")


def evaluate_models(name: str, scale: float, datasets: list[str], protocol: str = "basicsr",
                    weights: str | None = None, data_root=None, device: str = "auto",
                    results_dir=None, ensemble: bool = False) -> list[dict[str, Any]]:
    """Evaluate one registered model (a variant by its name) on each of ``datasets``; store and return.
    ``ensemble``: x8 geometric self-ensemble; the records say so (``self_ensemble``), which pairs them with
    the reported rows tagged ``self-ensemble``."""
    from bench.checkpoints import load_weights
    from bench.data.benchmarks import load_test_set
    from bench.evaluate import evaluate, resolve_device
    from bench.metrics import get_protocol

    card = registry.get(name)
    model = registry.make(name, scale=scale)
    if weights:
        load_weights(model, weights)
    spent = weights_budget(weights)
    stored = []
    for dataset in datasets:
        result = evaluate(model, card, load_test_set(dataset, scale, data_root), get_protocol(protocol),
                          resolve_device(device), progress=True, ensemble=ensemble)
        result.update(weights=weights or "none (parameter-free)", budget=spent)
        results.append(result, "evaluate", results_dir)
        print(f"{name}{' (x8 self-ensemble)' if ensemble else ''} x{scale} {dataset} ({protocol}): "
              f"PSNR {result['psnr']:.3f} dB, SSIM {result['ssim']:.4f} [{spent['tier']}]", file=sys.stderr)
        stored.append(result)
    return stored


# ---- the steps -----------------------------------------------------------------------------------------

def run_sizes(step: Sizes, ctx: Context) -> list[dict[str, Any]]:
    from bench.complexity import complexity, count_params

    rows = []
    for name, scale in step.rows:
        card = registry.get(name)
        model = registry.make(name, scale=scale)
        as_trained = card.variant is not None and card.variant.form == "as-trained"
        record = complexity(model, scale, hr=step.hr, lr_pad=step.lr_pad, use_cache=step.cache and ctx.use_cache,
                            cross_check=False, as_trained=as_trained, counter=step.counter)
        if step.params_form == "as-trained" and not as_trained:  # complexity counted the deployed form
            record.update(count_params(model), deployed_params=record["params"],
                          form="as trained (the paper's count); Mult-Adds of the deployed form")
        record.update(model=card.base, variant=card.variant_name, device="cpu",
                      budget=budget("none", "model size only: no training"))
        results.append(record, "complexity")
        macs = record.get("mult_adds", record.get("analytic_mult_adds"))
        print(f"{name} x{scale}: params {record['params']:,}"
              + (f", Mult-Adds {macs / 1e9:.3f}G at HR {record['hr_size']} ({step.counter})" if macs else ""),
              file=sys.stderr)
        rows.append(record)
    return rows


def run_reparam(step: Reparam, ctx: Context) -> list[dict[str, Any]]:
    from bench.evaluate import resolve_device
    from bench.reparam import reparameterize
    from bench.timing import measure_latency, time_reparameterization

    device = resolve_device(ctx.device)
    torch.manual_seed(0)
    card = registry.get(step.model)
    model = registry.make(step.model, scale=step.scale).eval()
    if step.perturb is not None:
        step.perturb(model)
    width, height = step.lr
    timed = time_reparameterization(model, (1, 3, height, width), device, warmup=step.warmup, repeats=step.repeats)
    record = {"model": card.base, "variant": card.variant_name, "scale": step.scale, **timed,
              "budget": budget("none", "random weights: latency and equivalence need no training")}
    line = (f"{step.model} x{step.scale} reparameterisation at LR {width}x{height} on {device}: "
            f"{timed['before_ms']:.1f} -> {timed['after_ms']:.1f} ms, max |diff| {timed['max_abs_diff']:.1e}")
    for label, part, x in step.parts(model.to(device), (height, width)) if step.parts else []:
        deployed = copy.deepcopy(part)
        reparameterize(deployed)
        with torch.inference_mode():
            record[f"{label}_max_abs_diff"] = (part(x) - deployed(x)).abs().max().item()
        record[f"{label}_before_ms"] = measure_latency(part, x, step.warmup, step.repeats)["median_ms"]
        record[f"{label}_after_ms"] = measure_latency(deployed, x, step.warmup, step.repeats)["median_ms"]
        line += (f"; {label} {record[f'{label}_before_ms']:.2f} -> {record[f'{label}_after_ms']:.2f} ms "
                 f"(max |diff| {record[f'{label}_max_abs_diff']:.1e})")
    results.append(record, "time")
    print(line, file=sys.stderr)
    return [record]


def _run_dir(ctx: Context, spec: dict, config) -> Path:
    """One folder per (model, recipe): a changed recipe starts a new run instead of clashing with the old."""
    digest = hashlib.sha256(json.dumps([spec, config.as_dict()], sort_keys=True, default=str).encode()).hexdigest()
    return ctx.runs / f"{spec['name']}-x{spec['args']['scale']}-{config.tier}-{digest[:8]}"


def run_train(step: Train, ctx: Context) -> list[dict[str, Any]]:
    from bench.train import train

    card = registry.get(step.model)
    runs = []
    for scale in step.scales:
        config = card.build_recipe(scale)
        if ctx.tier != "paper":
            config = local_smoke(config, ctx.data_root, tier=ctx.tier, **step.budget)
        spec = {"name": card.name, "args": {"scale": scale}}
        if ctx.plan_only is not None:
            from bench.plan import plan, plan_text

            if step.init_from:
                config = replace(config, init_from=f"(the weights of step {step.init_from})")
            runs.append(plan(spec, config, ctx.data_root, **ctx.plan_only))
            print(plan_text(runs[-1]), file=sys.stderr)
            continue
        if step.init_from:
            config = replace(config, init_from=ctx.weights[(step.init_from, scale)])
        print(f"training {card.name} x{scale}, budget: {config.budget}", file=sys.stderr)
        summary = train(spec, config, _run_dir(ctx, spec, config), ctx.data_root)
        ctx.weights[(step.id, scale)] = summary["weights"]
        runs.append(summary)
    return runs


def _weights_for(step: Evaluate, scale: float, ctx: Context) -> tuple[str | None, str]:
    """(weights file or None for a parameter-free model, why it is missing)."""
    if not step.weights:
        return None, ""
    if "{" in step.weights:
        path = Path(step.weights.format(weights_dir=weights_dir(), scale=scale))
        return (str(path), "") if path.is_file() else ("", f"no weights at {path}: {step.weights_source}")
    trained = {s: w for (id_, s), w in ctx.weights.items() if id_ == step.weights}
    if not trained:
        return "", f"step {step.weights!r} trained nothing in this run"
    return trained.get(scale) or next(iter(trained.values())), ""  # one model trained at one scale serves all


def run_evaluate(step: Evaluate, ctx: Context) -> list[dict[str, Any]]:
    stored = []
    wanted = ctx.sets or step.sets
    present, missing = available_sets(wanted, ctx.data_root)
    if missing:
        ctx.skip(f"{step.id} on {', '.join(missing)}", "not downloaded (python -m bench data download NAME)")
    if not present and step.fallback:
        present = [step.fallback]
    for scale in step.scales:
        weights, why = _weights_for(step, scale, ctx)
        if weights == "":
            ctx.skip(f"{step.id} x{scale}", why)
            continue
        trained_on = set(weights_budget(weights).get("overrides", {}).get("train_sets", ())) if weights else set()
        if trained_on & set(present):
            ctx.skip(f"{step.id} x{scale} on {', '.join(s for s in present if s in trained_on)}",
                     "the weights were trained on it (a short budget trains on the benchmark sets it does not test)")
        sets = [s for s in present if s not in trained_on]
        if not sets:
            continue
        # once per scale, whatever the number of models compared with it
        reference = (evaluate_models(step.against, scale, sets, step.protocol, None, ctx.data_root, ctx.device,
                                     ensemble=step.ensemble) if step.against else [])
        stored += reference
        for name in step.models:
            evaluated = evaluate_models(name, scale, sets, step.protocol, weights, ctx.data_root, ctx.device,
                                        ensemble=step.ensemble)
            stored += evaluated
            if step.against:
                stored += [_compare(ours, ref) for ours, ref in zip(evaluated, reference, strict=True)]
    return stored


def _compare(ours: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """A stored comparison of two evaluations on the same set, scale and protocol."""
    margin = ours["psnr"] - reference["psnr"]
    name = "-".join(p for p in (reference["model"], reference["variant"]) if p)
    record = {"model": ours["model"], "variant": ours["variant"], "scale": ours["scale"], "dataset": ours["dataset"],
              "protocol": ours["protocol"], "reference": name, "psnr": ours["psnr"], "reference_psnr":
              reference["psnr"], "ssim": ours["ssim"], "reference_ssim": reference["ssim"], "margin": margin,
              "beats": margin > 0, "budget": ours["budget"]}
    results.append(record, "compare")
    print(f"{ours['model']}{'.' + ours['variant'] if ours['variant'] else ''} x{ours['scale']} {ours['dataset']}: "
          f"{margin:+.3f} dB over {name}: {'beats' if margin > 0 else 'does NOT beat'} it "
          f"[{ours['budget'].get('tier', '?')}]", file=sys.stderr)
    return record


def run_probe(step: Probe, ctx: Context) -> list[dict[str, Any]]:
    records = step.run(ctx)
    for record in records:
        record.setdefault("budget", budget("none", "random or initial weights: no training"))
        results.append(record, step.kind)
    return records


RUNNERS = {Sizes: run_sizes, Reparam: run_reparam, Train: run_train, Evaluate: run_evaluate, Probe: run_probe}


# ---- a paper ---------------------------------------------------------------------------------------------

def run_paper(paper: Paper, ctx: Context, only: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run ``paper``'s steps at ``ctx.tier``; ``only``: these step ids (opt-in steps included)."""
    unknown = set(only) - {step.id for step in paper.steps}
    if unknown:
        raise BenchError(f"{paper.name} has no step {', '.join(sorted(unknown))}; its steps: "
                         f"{', '.join(step.id for step in paper.steps)}")
    started = results.provenance()["time"]
    summary: dict[str, Any] = {"paper": paper.name, "title": paper.title, "budget": ctx.tier, "steps": {}}
    for step in paper.steps:
        if only and step.id not in only:
            continue
        if step.opt_in and not only:
            ctx.skip(step.id, f"runs only when asked: --steps {step.id}")
            continue
        plan: Step | str = step.at(ctx.tier)
        if isinstance(plan, str):
            ctx.skip(step.id, plan)
            continue
        if ctx.plan_only is not None and not isinstance(plan, Train):
            continue  # a dry run plans the trainings alone
        print(f"== {paper.name}: {step.id} (budget {ctx.tier})", file=sys.stderr)
        summary["steps"][step.id] = RUNNERS[type(plan)](plan, ctx)
    summary["skipped"] = ctx.skipped
    if ctx.plan_only is None:
        summary["cells"] = _cells_measured(paper, started)
    return summary


def _cells_measured(paper: Paper, started: str) -> dict[str, int]:
    """The reported cells, of any paper's tables, whose measured twin this run produced, judged as the report
    judges them (a compared method's rows sit in the tables of the papers that compare with it)."""
    from bench.report import build_cells, by_training_set, tally
    from bench.reported import reported_numbers

    records = results.load_records()
    cells = build_cells(reported_numbers(), latest(records), by_training_set(records))
    rows = [c for c in cells if c.measured and c.measured.record.get("provenance", {}).get("time", "") >= started]
    for cell in rows:
        r = cell.reported
        print(f"  {r.paper} {r.table}: {r.model}{'.' + r.variant if r.variant else ''} x{r.scale} {r.dataset} "
              f"{r.metric}: paper {cell.reported_text()}, measured {cell.measured_text()} ({cell.delta_text()}): "
              f"{cell.verdict_text()}", file=sys.stderr)
    counts = {k: v for k, v in tally(rows).items() if v}
    print(f"{paper.name}: {len(rows)} reported cells measured in this run: "
          + (", ".join(f"{v} {k}" for k, v in counts.items()) or "none"), file=sys.stderr)
    return counts


def _steps_text(known: dict[str, Paper]) -> str:
    """Each paper's steps and the tiers that run them, for --help."""
    lines = ["steps (the tiers that run them; opt-in steps run when named with --steps):"]
    for name, paper in sorted(known.items()):
        steps = [f"{s.id} ({'opt-in: ' if s.opt_in else ''}"
                 f"{', '.join(t for t in TIERS if not isinstance(s.at(t), str)) or 'none'})" for s in paper.steps]
        lines.append(f"  {name}: " + "; ".join(steps))
    return "\n".join(lines)


def argument_parser(known: dict[str, Paper]) -> argparse.ArgumentParser:
    choices = sorted(known)
    parser = argparse.ArgumentParser(prog="python -m bench reproduce", epilog=_steps_text(known),
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description="Run a paper's manifest (or all of them) at a budget tier; every "
                                                 "measurement goes to the results store.")
    parser.add_argument("paper", choices=[*choices, "all"], metavar="PAPER", help=f"{', '.join(choices)} or all")
    parser.add_argument("--budget", choices=TIERS, default="smoke",
                        help="ci: minutes, deterministic (the regression gate's numbers); smoke: a labelled short "
                             "CPU budget; paper: the paper's recipe, unchanged (a GPU, or torchrun)")
    parser.add_argument("--steps", help="comma-separated step ids to run (also the opt-in ones); default: all")
    parser.add_argument("--sets", help="comma-separated sets every evaluation uses instead of the manifest's")
    parser.add_argument("--data-root", help="benchmark sets (default: $BENCH_DATA_ROOT, else ./datasets)")
    parser.add_argument("--runs", default="runs", help="folder for training runs")
    parser.add_argument("--device", default="auto", help="cpu, cuda, ... (default: cuda if available)")
    parser.add_argument("--no-cache", action="store_true", help="count sizes again even if cached")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    add_plan_options(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    known = papers()
    if argv and argv[0] not in (*known, "all") and not argv[0].startswith("-"):
        print(f"error: no reproduction for {argv[0]!r}; papers with one: {', '.join(sorted(known))}", file=sys.stderr)
        return 2
    args = argument_parser(known).parse_args(argv)
    chosen = sorted(known) if args.paper == "all" else [args.paper]
    only = tuple(s for s in (args.steps or "").split(",") if s)
    unknown = sorted(set(only) - {step.id for name in chosen for step in known[name].steps})
    if unknown:  # a usage error, before anything runs
        where = (f"{args.paper} has no step {', '.join(unknown)}; its steps: "
                 f"{', '.join(step.id for step in known[args.paper].steps)}" if args.paper != "all"
                 else f"no paper has a step {', '.join(unknown)} (python -m bench reproduce --help lists them)")
        print(f"error: {where}", file=sys.stderr)
        return 2
    summaries, status = [], 0
    for name in chosen:
        steps = only if args.paper != "all" else tuple(s for s in only if s in {x.id for x in known[name].steps})
        if only and not steps:
            continue  # `all --steps ID`: the papers that have no such step run nothing
        print(f"== reproduce {name} ({known[name].title}), budget {args.budget}", file=sys.stderr)
        ctx = Context(name, args.budget, args.data_root, Path(args.runs), args.device, not args.no_cache,
                      tuple(s for s in (args.sets or "").split(",") if s))
        if args.dry_run:
            ctx.plan_only = {"world_size": args.world_size or int(os.environ.get("WORLD_SIZE", "1")),
                             "device_class": args.device_class, "utilisation": args.utilisation}
        try:
            summaries.append(run_paper(known[name], ctx, steps))
        except BenchError as err:  # one paper's failure does not stop the others; the exit status says it
            print(f"error: {name}: {err}", file=sys.stderr)
            summaries.append({"paper": name, "error": str(err), "skipped": ctx.skipped})
            status = 1
    if args.json:
        print(json.dumps({"budget": args.budget, "papers": summaries}, indent=1, default=str))
    return status
