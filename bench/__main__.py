"""``python -m bench <command>``: list, evaluate, complexity, time, train, reproduce, data, results, compare.

With ``--json`` a command prints exactly one JSON object on stdout; logs and progress bars go to
stderr. A user error prints one ``error:`` line (no traceback) and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from bench import BenchError, help_summary, registry
from bench.complexity import COUNTERS
from bench.measurements import budget
from bench.metrics import PROTOCOLS
from bench.tiling import STITCHES, Tiled


def _emit(payload: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        print(json.dumps(payload, indent=1, allow_nan=False))
    else:
        print(text)


def _fmt(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def cmd_list(args: argparse.Namespace) -> None:
    cards = registry.list_models(args.pattern)
    models = [
        {"model": c.name, "paper": c.paper, "scales": list(c.scales) if c.scales else "any",
         "channels": c.channels, "description": c.description, "config": c.config_fields()}
        for c in cards
    ]
    width = max((len(c.name) for c in cards), default=5)
    lines = [f"{m['model']:<{width}}  {str(m['scales']):<10}  {m['paper']}: {m['description']}" for m in models]
    _emit({"models": models}, args.json, "\n".join(lines) or f"no model matches {args.pattern!r}")


def _model_with_weights(card: registry.ModelCard, scale: float | None, weights: str | None,
                        default_scale: int) -> tuple[Any, float]:
    """The model to measure, and its scale. One of our checkpoints carries its spec: the model is built
    from it (so an option it was trained with, e.g. ``mean_shift=False``, is kept), at the checkpoint's
    scale, or at ``scale`` for an arbitrary-scale model. Otherwise the model is built by name at ``scale``
    (``default_scale`` when not given) and foreign weights, if any, are loaded into it."""
    from bench.checkpoints import load_model, load_weights, read_spec

    spec = read_spec(weights) if weights else None
    if spec is None:
        scale = default_scale if scale is None else scale
        model = registry.make(card.name, scale=scale)
        if weights:
            load_weights(model, weights)
        return model, scale
    if spec["name"] != card.name:
        raise BenchError(f"{weights} is a checkpoint of {spec['name']} {spec.get('args', {})}, not of {card.name}: "
                         f"name the model it holds")
    stored = spec.get("args", {}).get("scale")
    if scale is None or scale == stored:
        return load_model(weights), stored
    if card.scales is None:  # an arbitrary-scale model: the same weights serve any scale
        return load_model(weights, scale=scale), scale
    raise BenchError(f"{weights} holds {card.name} x{stored} weights and {card.name} is a fixed-scale model: "
                     f"--scale {scale} does not fit them (leave --scale out, or give {stored})")


def _tiled(model, args: argparse.Namespace):
    """The model, or the model run tile by tile when ``--tile`` is given (bench.tiling)."""
    return Tiled(model, args.tile, args.tile_overlap, args.tile_stitch) if args.tile else model


def _tile_text(tile: dict | None) -> str:
    return f" in {tile['size']}-pixel tiles (overlap {tile['overlap']}, {tile['stitch']})" if tile else ""


def cmd_evaluate(args: argparse.Namespace) -> None:
    from bench import results
    from bench.data.benchmarks import load_test_set
    from bench.evaluate import evaluate, resolve_device
    from bench.metrics import get_protocol
    from bench.reproduce import weights_budget

    card = registry.get(args.model)
    protocol = get_protocol(args.protocol)
    model, scale = _model_with_weights(card, args.scale, args.weights, default_scale=4)
    if not args.weights and any(True for _ in model.parameters()):
        raise BenchError(f"{card.name} has learned parameters and no weights were given (--weights PATH); "
                         f"evaluating a random initialisation measures nothing")
    test_set = load_test_set(args.dataset, scale, args.data_root, lr=args.lr)
    device = resolve_device(args.device)
    model = _tiled(model, args)
    result = evaluate(model, card, test_set, protocol, device, progress=not args.quiet, ensemble=args.self_ensemble)
    result["weights"] = args.weights or "none (parameter-free)"
    result["budget"] = weights_budget(args.weights)
    if not args.no_save:
        result["stored_as"] = str(results.append(result, "evaluate", args.results_dir))
    rows = [f"  {r['name']:<20} {_fmt(r['psnr'], 3):>8} dB  {r['ssim']:.4f}" for r in result["per_image"]]
    text = "\n".join([
        f"{card.name}{' (x8 self-ensemble)' if args.self_ensemble else ''}{_tile_text(result['tile'])} on "
        f"{test_set.name} x{scale}, "
        f"protocol {protocol.name}: {protocol.description}",
        f"LR: {result['lr_source']}; data: {test_set.location}" + (f" ({test_set.note})" if test_set.note else ""),
        *(rows if args.per_image else []),
        f"mean PSNR {_fmt(result['psnr'], 3)} dB, SSIM {result['ssim']:.4f} over {result['n_images']} images "
        f"in {result['seconds']:.2f} s on {result['device']}",
    ])
    _emit(result, args.json, text)


def _scale(text: str) -> float:
    """A scale as typed: an int when whole ("4"), else a float ("1.5")."""
    value = float(text)
    return int(value) if value.is_integer() else value


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise BenchError(f"sizes are WIDTHxHEIGHT, e.g. 1024x720; got {text!r}") from None
    if width < 1 or height < 1:
        raise BenchError(f"sizes must be positive, got {text!r}")
    return width, height


def _store_complexity(result: dict, args: argparse.Namespace) -> None:
    from bench import results

    if not args.no_save:
        base, variant = registry.split_name(result["model"])
        record = {**result, "model": base, "variant": variant, "device": "cpu",
                  "budget": budget("none", "model size only: no training")}
        result["stored_as"] = str(results.append(record, "complexity", args.results_dir))


def cmd_complexity(args: argparse.Namespace) -> None:
    from bench.complexity import complexity

    if args.all is not None:
        return cmd_complexity_all(args)
    if not args.model:
        raise BenchError("complexity needs a model name, or --all for every registered model")
    model = registry.make(args.model, scale=args.scale)
    hr = _size(args.hr)
    counter = args.counter or "fvcore"
    result = complexity(model, args.scale, hr=hr, lr_pad=args.lr_pad, use_cache=not args.no_cache,
                        as_trained=args.as_trained, counter=counter)
    _store_complexity(result, args)
    g = 1e9
    lines = [
        f"{result['model']} x{args.scale}, {result['form']}: HR {result['hr_size']}, LR {result['lr_size']} "
        f"(lr_pad {result['lr_pad']})",
        f"params {result['params']:,} (trainable {result['params_trainable']:,}; "
        f"leaf modules only, thop/SwinIR style: {result['params_leaf_modules']:,})",
        f"Mult-Adds {result['mult_adds'] / g:.3f} G ({result['counter']})",
        *(f"  {op:<32} {v / g:10.3f} G" for op, v in result.get("by_operator", {}).items()),
        ("skipped by fvcore (not counted): " if counter == "fvcore" else
         "resampling fvcore has no formula for (not counted): ") + (", ".join(result.get("skipped_ops", {})) or "none"),
    ]
    if "cross_check" in result:
        check = result["cross_check"]
        lines.append(f"cross-check: FlopCounterMode/2 on meta {check['flop_counter_mode_macs'] / g:.3f} G vs "
                     f"fvcore conv+linear+matmul {check['fvcore_matmul_like'] / g:.3f} G "
                     f"(rel. diff {check['relative_difference']:.2e})")
    if result.get("analytic_mult_adds") is not None:
        lines.append(f"the model's own analytic count: {result['analytic_mult_adds'] / g:.3f} G")
    if "cached" in result:
        lines.append(f"(from cache {result['cached']})")
    _emit(result, args.json, "\n".join(lines))


def cmd_complexity_all(args: argparse.Namespace) -> None:
    """Every registered model, ablation row and scale (arbitrary-scale models at x2, x3, x4) at one HR size."""
    from bench.complexity import complexity
    from bench.progress import Progress

    if args.model:
        raise BenchError("give a model name or --all PATTERN, not both")
    hr = _size(args.hr)
    counter = args.counter or "fvcore-meta"
    jobs = [(card.name, scale) for card in registry.list_models(args.all) for scale in (card.scales or (2, 3, 4))]
    if not jobs:
        raise BenchError(f"no registered model matches {args.all!r} (`python -m bench list` shows all)")
    progress = Progress(len(jobs), f"counting at HR {args.hr} ({counter})", unit="count", enabled=not args.quiet,
                        every=10.0)
    rows, start = [], time.perf_counter()
    for name, scale in jobs:
        result = complexity(registry.make(name, scale=scale), scale, hr=hr, lr_pad=args.lr_pad,
                            use_cache=not args.no_cache, as_trained=args.as_trained, counter=counter,
                            cross_check=False)
        _store_complexity(result, args)
        rows.append(result)
        progress.update(1, model=f"{name} x{scale}")
    progress.close()
    seconds = time.perf_counter() - start
    cached = sum("cached" in r for r in rows)
    lines = [f"{'model':<36} {'scale':>5} {'params':>12} {'Mult-Adds (G)':>14}  LR",
             *(f"{r['model']:<36} {'x' + str(r['scale']):>5} {r['params']:>12,} "
               f"{r['mult_adds'] / 1e9 if 'mult_adds' in r else float('nan'):>14.3f}  {r['lr_size']}" for r in rows),
             f"{len(rows)} counts at HR {args.hr} ({rows[0]['counter']}), {cached} from the cache, in {seconds:.0f} s"]
    _emit({"hr": args.hr, "counter": counter, "seconds": seconds, "rows": rows}, args.json, "\n".join(lines))


def cmd_time(args: argparse.Namespace) -> None:
    from bench import results
    from bench.complexity import lr_size
    from bench.evaluate import resolve_device
    from bench.timing import time_reparameterization

    device = resolve_device(args.device)
    model, scale = _model_with_weights(registry.get(args.model), args.scale, args.weights, default_scale=4)
    if args.lr:
        width, height = _size(args.lr)
    else:
        height, width = lr_size(_size(args.hr), scale)
    warmup = args.warmup if args.warmup is not None else (25 if device.type == "cuda" else 2)
    repeats = args.repeats if args.repeats is not None else (100 if device.type == "cuda" else 10)
    base, variant = registry.split_name(args.model)
    tiled = _tiled(model, args)
    result = {"model": base, "variant": variant, "scale": scale, "spec": model.spec,
              "tile": tiled.settings() if tiled is not model else None,
              **time_reparameterization(tiled, (1, 3, height, width), device, warmup, repeats)}
    result["weights"] = args.weights or "random init (latency does not depend on the values)"
    result["budget"] = budget("none", "given weights" if args.weights else "random weights: latency needs no training")
    if not args.no_save:
        result["stored_as"] = str(results.append(result, "time", args.results_dir))
    b = result["before"]
    lines = [f"{args.model} x{scale}{_tile_text(result['tile'])} on {result['device']}, LR {result['lr_size']}, "
             f"{repeats} repeats after {warmup} warm-up",
             f"as trained: median {b['median_ms']:.2f} ms (IQR {b['iqr_ms']:.2f}, mean {b['mean_ms']:.2f}); "
             f"peak memory {b['peak_memory_bytes'] / 2**20:.0f} MiB ({b['peak_memory_kind']})"]
    if result["after_ms"] is None:
        lines.append(result["note"])
    else:
        a = result["after"]
        lines.append(f"deployed ({result['reparameterized_modules']} modules merged): median {a['median_ms']:.2f} ms "
                     f"(IQR {a['iqr_ms']:.2f}), speed-up x{result['speedup']:.2f}, "
                     f"max |before - after| = {result['max_abs_diff']:.2e}")
    _emit(result, args.json, "\n".join(lines))


def cmd_train(args: argparse.Namespace) -> None:
    import dataclasses
    import datetime as dt

    from bench.train import TrainConfig, smoke, train

    card = registry.get(args.model)
    card.check_scale(args.scale)
    config: TrainConfig = card.build_recipe(args.scale)
    budget_fields = {k: v for k, v in (("iterations", args.iterations), ("batch_size", args.batch_size),
                                       ("lr_patch", args.lr_patch), ("val_set", args.val_set)) if v is not None}
    if args.train_sets:
        budget_fields["train_sets"] = tuple(args.train_sets.split(","))
    other = {k: v for k, v in (("seed", args.seed), ("amp", args.amp)) if v is not None}
    if args.recipe == "smoke":  # the smoke budget is built from the options, so its schedule scales with them
        config = smoke(config, **budget_fields)
    else:
        other.update(budget_fields)
    changed = ", ".join(f"{k} {v} (recipe {getattr(config, k)})" for k, v in other.items() if getattr(config, k) != v)
    if changed:
        config = dataclasses.replace(config, **other, budget=f"{config.budget}; overridden: {changed}",
                                     overrides={**config.overrides, **other})
    retention = {k: v for k, v in (("keep_last", args.keep_last), ("loader_workers", args.workers)) if v is not None}
    config = dataclasses.replace(config, **retention)
    spec = {"name": card.name, "args": {"scale": args.scale}}
    if args.dry_run:
        from bench.plan import plan, plan_text

        world = args.world_size or int(os.environ.get("WORLD_SIZE", "1"))
        payload = plan(spec, config, args.data_root, world, args.device_class, args.utilisation)
        _emit(payload, args.json, plan_text(payload))
        return
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    run_dir = args.run_dir or f"runs/{card.name}-x{args.scale}-{args.recipe}-{stamp}"
    summary = train(spec, config, run_dir, args.data_root,
                    resume=not args.no_resume, progress=not args.quiet)
    text = (f"{card.name} x{args.scale} [{config.budget}]: {summary['steps']} steps at {summary['it_per_s']:.2f} it/s, "
            f"{config.val_set} PSNR {summary.get('val_psnr') or float('nan'):.3f} dB; run folder {run_dir}")
    _emit(summary, args.json, text)


def cmd_reproduce(args: argparse.Namespace) -> int:
    from bench.reproduce import main as reproduce

    return reproduce([args.paper, *args.options])


def cmd_data(args: argparse.Namespace) -> None:
    from bench.data import catalog

    if args.action == "list":
        payload = catalog.describe(args.data_root)
        width = max(len(d["name"]) for d in payload["datasets"])
        text = "\n".join(f"{d['name']:<{width}}  {d['status']:<11}  {d['source']}" for d in payload["datasets"])
    elif not args.name and args.action in ("download", "verify"):
        raise BenchError(f"data {args.action} needs a dataset name, e.g. `python -m bench data {args.action} Set5` "
                         f"(`python -m bench data list` names them)")
    elif args.action == "download":
        payload = catalog.download(args.name, args.data_root, progress=not args.quiet)
        text = f"{payload['name']}: {payload['files']} files in {payload['location']}"
    elif args.action == "prepare":
        from bench.data.prepared import prepare

        if not args.name or args.scale is None:
            raise BenchError("data prepare needs a set and a scale, e.g. `python -m bench data prepare DF2K --scale 2`")
        sets = prepare(args.name, args.scale, args.data_root, workers=args.workers, progress=not args.quiet,
                       verify=args.verify)
        payload = {"name": args.name, "scale": args.scale, "sets": sets}
        text = "\n".join(
            f"{s['set']} x{s['scale']}: {s['images']} images ({s['prepared_now']} prepared now"
            + (f", {s['verified']} verified" if "verified" in s else "")
            + f"), {s['bytes'] / 2**30:.2f} GiB in {s['folder']}" for s in sets)
    else:
        payload = catalog.verify(args.name, args.data_root)
        bad = payload["mismatched"] + payload["missing"]
        text = f"{payload['name']}: {payload['ok']} files verified" + (f", problems: {', '.join(bad)}" if bad else "")
        if bad:
            _emit(payload, args.json, text)
            raise SystemExit(1)
    _emit(payload, args.json, text)


# Columns the table and Markdown views show (where the selection has a value); csv and json give every column.
RESULT_COLUMNS = ("kind", "model", "variant", "scale", "dataset", "protocol", "self_ensemble", "psnr", "ssim",
                  "params", "mult_adds", "hr_size", "reference", "margin", "before_ms", "after_ms", "max_abs_diff",
                  "steps", "val_psnr", "tier", "time", "git_commit")
IMAGE_COLUMNS = ("record", "model", "variant", "scale", "dataset", "protocol", "self_ensemble", "tier", "time",
                 "image", "psnr", "ssim")


def _stored(directory: str | None) -> list[dict[str, Any]]:
    from bench import results

    records = results.load_records(directory)
    if not records:
        raise BenchError(f"the results store {results.results_dir(directory)} holds no results (`python -m bench "
                         f"evaluate bicubic --dataset Set5 --scale 2` stores one; --results-dir or "
                         f"$BENCH_RESULTS_DIR names another store)")
    return records


def _paper_models(paper: str) -> set[str]:
    from bench.reported import paper_titles, reported_numbers

    models = {row.model for row in reported_numbers() if row.paper == paper}
    if not models:
        raise BenchError(f"--paper {paper!r} is not a paper with reported numbers; papers: " +
                         "; ".join(f"{name} ({title})" for name, title in sorted(paper_titles().items())))
    return models


def _scale_text(text: str) -> str:
    """A scale typed on the command line as the results frame holds it: "2.0" -> "2", "2.5" -> "2.5"."""
    from bench.measurements import scale_text

    try:
        return scale_text(_scale(text))
    except ValueError:
        raise BenchError(f"--scale takes a number, e.g. 2 or 2.5; got {text!r}") from None


def _select(table, args: argparse.Namespace):
    """The rows of ``table`` the filters keep; a filter that keeps none is an error that names what there is."""
    from fnmatch import fnmatchcase

    import pandas as pd

    names = pd.Series([registry.join_name(model, variant) for model, variant
                       in zip(table["model"].fillna(""), table["variant"].fillna(""), strict=True)], index=table.index)
    filters = {  # option: (its value, the column it reads, the rows it keeps)
        "--kind": (args.kind, table["kind"], lambda: table["kind"] == args.kind),
        "--paper": (args.paper, table["model"], lambda: table["model"].isin(_paper_models(args.paper))),
        "--model": (args.model, names, lambda: names.map(lambda name: fnmatchcase(name, args.model) or
                                                         fnmatchcase(name.partition(".")[0], args.model))),
        "--dataset": (args.dataset, table["dataset"], lambda: table["dataset"] == args.dataset),
        "--scale": (args.scale, table["scale"], lambda: table["scale"] == _scale_text(args.scale)),
    }
    keep = pd.Series(True, index=table.index)
    for option, (value, column, kept) in filters.items():
        if value is None:
            continue
        rows = keep & kept()
        if not rows.any():
            there = ", ".join(sorted({str(v) for v in column[keep].dropna() if v != ""})) or "none"
            raise BenchError(f"no stored result has {option} {value}"
                             + ("" if keep.all() else " among those the other filters keep") + f" (there: {there})")
        keep = rows
    return table[keep]


def _shown(table, columns: tuple[str, ...]):
    """The ``columns`` of ``table`` that hold a value, as text: scores to their usual digits, counts whole."""
    import pandas as pd

    def text(column: str, value: Any) -> str:
        if value is None or value != value:  # None or NaN
            return ""
        if column == "time":
            return value.isoformat()
        if column == "git_commit":
            return str(value)[:10]
        if isinstance(value, float):
            if column == "ssim":
                return f"{value:.4f}"
            return f"{value:,.0f}" if value.is_integer() else f"{value:.3f}"
        return str(value)

    table = table.reset_index()
    return pd.DataFrame({column: [text(column, v) for v in table[column].astype(object)]
                     for column in columns if column in table and table[column].notna().any()})


def _markdown(table) -> str:
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |"
              for row in table.itertuples(index=False)]
    return "\n".join(lines)


def cmd_results(args: argparse.Namespace) -> None:
    from bench import results

    records = _stored(args.results_dir)
    table = results.image_frame(records=records) if args.per_image else results.frame(records=records)
    if table.empty:
        raise BenchError("no stored evaluation holds per-image scores (`python -m bench evaluate` stores them)")
    chosen = _select(table, args)
    as_json = args.json or args.format == "json"
    if as_json or args.format == "csv":
        full = chosen.dropna(axis="columns", how="all")
        if as_json:
            rows = json.loads(full.reset_index(drop=args.per_image).to_json(orient="records", date_format="iso"))
            _emit({"count": len(rows), "stored": len(records), "rows": rows}, True, "")
        else:
            print(full.to_csv(index=not args.per_image), end="")
        return
    shown = _shown(chosen, IMAGE_COLUMNS if args.per_image else RESULT_COLUMNS)
    print(_markdown(shown) if args.format == "markdown" else shown.to_string(index=False))
    print(f"{len(chosen)} of {len(table)} {'images' if args.per_image else 'records'} in "
          f"{results.results_dir(args.results_dir)}", file=sys.stderr)


def _signed(value: float, digits: int) -> str:
    return f"{value:+.{digits}f}"


def cmd_compare(args: argparse.Namespace) -> None:
    from bench.stats import compare

    result = compare(args.a, args.b, args.dataset, args.scale, args.protocol, records=_stored(args.results_dir))

    def named(side: dict) -> str:
        return side["name"] + (" (x8 self-ensemble)" if side["self_ensemble"] else "")

    def line(metric: str, label: str, digits: int, unit: str) -> str:
        d = result[metric]
        return (f"{label} {args.a} - {args.b} = {_signed(d['mean'], digits)}{unit}, "
                f"{result['confidence']:.0%} CI [{_signed(d['low'], digits)}, {_signed(d['high'], digits)}]; "
                f"Wilcoxon p = {d['p_value']:.2g}; {d['a_better']} of {d['n']} images favour {args.a}, "
                f"{d['b_better']} {args.b}, {d['ties']} tied")

    sides = [f"  {named(s)}: PSNR {_fmt(s['psnr'], 3)} dB, SSIM {_fmt(s['ssim'], 4)} (budget {s['tier']}, "
             f"{s['time']}, commit {(s['git_commit'] or '?')[:10]})" for s in (result["a"], result["b"])]
    text = "\n".join([
        f"{args.a} vs {args.b} on {result['dataset']} x{result['scale']}, protocol {result['protocol']}, "
        f"images paired by name:", *sides, line("psnr", "PSNR", 3, " dB"), line("ssim", "SSIM", 4, ""),
        f"(CI: paired bootstrap of the mean difference, {result['resamples']:,} resamples, seed {result['seed']}; "
        f"Wilcoxon signed-rank, two-sided)", *(f"note: {n}" for n in result["notes"])])
    _emit(result, args.json, text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=help_summary(__doc__))
    sub = parser.add_subparsers(dest="command", required=True)

    def tile_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--tile", type=int, metavar="SIZE",
                       help="run the model on LR tiles of SIZE pixels (SwinIR's tile grid), for bounded memory")
        p.add_argument("--tile-overlap", type=int, default=32, metavar="N",
                       help="LR pixels neighbouring tiles share (default 32, SwinIR's)")
        p.add_argument("--tile-stitch", choices=STITCHES, default="crop",
                       help="crop: each output pixel from one tile (exact when the receptive field fits in half "
                            "the overlap); average: SwinIR's mean over the tiles (default crop)")

    def common(p: argparse.ArgumentParser, stores: bool = False) -> None:
        p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        if stores:
            p.add_argument("--no-save", action="store_true", help="do not store the result")
            p.add_argument("--results-dir", help="results store (default: $BENCH_RESULTS_DIR, else ./results)")

    p = sub.add_parser("list", help="registered models")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'msra-*'")
    common(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("evaluate", help="PSNR/SSIM of a model on a test set")
    p.add_argument("model")
    p.add_argument("--dataset", default="samples", help="Set5, Set14, B100, Urban100, Manga109, DIV2K-val, "
                   "samples (default: the embedded scikit-image set)")
    p.add_argument("--scale", type=_scale, help="e.g. 4; arbitrary-scale models take any, e.g. 1.5 (default: "
                   "the scale of the --weights checkpoint where it carries its spec, else 4)")
    p.add_argument("--weights", help="checkpoint: ours (carries its spec: the model is built from it) or the "
                   "authors' release")
    p.add_argument("--protocol", default="basicsr", help=f"{', '.join(PROTOCOLS)} (default basicsr; the README's "
                   "protocol table says who uses each)")
    p.add_argument("--lr", default="auto", choices=["auto", "paired", "generated"],
                   help="LR images: the set's MATLAB-made files if present (auto), or our imresize")
    p.add_argument("--data-root", help="folder holding <Set>/HR (default: $BENCH_DATA_ROOT, else ./datasets)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--self-ensemble", action="store_true", help="x8 flips/rotations averaged (the '+' rows)")
    tile_options(p)
    p.add_argument("--per-image", action="store_true", help="print every image's scores")
    common(p, stores=True)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("complexity", help="params and Mult-Adds (fvcore) at an HR output size")
    p.add_argument("model", nargs="?", help="a registered model (or --all)")
    p.add_argument("--all", nargs="?", const="*", metavar="PATTERN",
                   help="every registered model, ablation row and scale (or those matching PATTERN, e.g. 'msra*'), "
                        "counted with fvcore-meta unless --counter says otherwise")
    p.add_argument("--counter", choices=COUNTERS,
                   help="fvcore: a real forward pass (the reference; minutes for a transformer at 1024x720); "
                        "fvcore-meta: fvcore's formulas on the meta device (seconds; equal to fvcore, tested); "
                        "meta: FlopCounterMode (conv/linear/matmul only); analytic: the model's own formula "
                        "(default: fvcore for one model, fvcore-meta for --all)")
    p.add_argument("--scale", type=int, default=4, help="upscaling factor (default 4; --all counts every scale)")
    p.add_argument("--hr", default="1024x720", help="HR output WIDTHxHEIGHT (1280x720: the CARN/IMDN 720p rule)")
    p.add_argument("--lr-pad", default="none",
                   help="none; swinir: LR side = (HR // s // window + 1) * window, as SwinIR's and MSRA-SR's tables; "
                        "swinir-16: the same at window 16 for a model without windows (MSRA-SR's RCAN)")
    p.add_argument("--as-trained", action="store_true",
                   help="count the multi-branch training form (default: the deployed, reparameterized form)")
    p.add_argument("--no-cache", action="store_true", help="count again even if a cached count exists")
    common(p, stores=True)
    p.set_defaults(func=cmd_complexity)

    p = sub.add_parser("time", help="latency before and after reparameterisation")
    p.add_argument("model")
    p.add_argument("--scale", type=int, help="default: the scale of the --weights checkpoint where it carries its "
                   "spec, else 4")
    p.add_argument("--hr", default="1024x720", help="HR output WIDTHxHEIGHT; the LR input is HR // scale")
    p.add_argument("--lr", help="LR input WIDTHxHEIGHT (overrides --hr)")
    p.add_argument("--weights", help="checkpoint to load first (latency does not depend on its values; ours "
                   "carry their spec, and the model is built from it)")
    p.add_argument("--device", default="auto", help="cpu, cuda, ... (default: cuda if available)")
    p.add_argument("--warmup", type=int, help="warm-up runs (default 25 on CUDA, 2 on CPU)")
    p.add_argument("--repeats", type=int, help="timed runs (default 100 on CUDA, 10 on CPU)")
    tile_options(p)
    common(p, stores=True)
    p.set_defaults(func=cmd_time)

    p = sub.add_parser("train", help="train with a paper's recipe (also under torchrun)")
    p.add_argument("model")
    p.add_argument("--scale", type=int, default=2, help="upscaling factor (default 2)")
    p.add_argument("--recipe", choices=["paper", "smoke"], default="smoke",
                   help="paper: the paper's full recipe; smoke: the same with a short, labelled budget")
    p.add_argument("--iterations", type=int, help="optimiser steps (default: the recipe's; fewer is a labelled "
                   "short budget)")
    p.add_argument("--batch-size", type=int, help="global batch (split over torchrun processes)")
    p.add_argument("--lr-patch", type=int)
    p.add_argument("--train-sets", help="comma-separated, e.g. B100,Urban100 or samples-train")
    p.add_argument("--val-set")
    p.add_argument("--seed", type=int)
    p.add_argument("--amp", choices=["none", "bf16", "fp16"], help="mixed precision (CUDA only)")
    p.add_argument("--run-dir", help="default: runs/<model>-x<s>-<recipe>-<time>; an existing one resumes")
    p.add_argument("--no-resume", action="store_true")
    p.add_argument("--data-root")
    p.add_argument("--keep-last", type=int, help="step checkpoints kept, the newest (default 1; the best is kept too)")
    p.add_argument("--workers", type=int, help="DataLoader processes building batches (default: 0 on a CPU, up to "
                   "8 per GPU)")
    from bench.plan import add_plan_options

    add_plan_options(p)
    common(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("reproduce", help="a paper's reproduction (nox -s reproduce-PAPER runs the same)")
    p.add_argument("paper", help="msra, baselines, ... or all; --help after it lists the paper's options")
    p.add_argument("options", nargs=argparse.REMAINDER, help="--budget ci|smoke|paper and the paper's options")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("data", help="list, download, verify or prepare datasets")
    p.add_argument("action", choices=["list", "download", "verify", "prepare"],
                   help="prepare: decode a training set and make its LR once, as memory-mapped arrays for training")
    p.add_argument("name", nargs="?", help="dataset name (download / verify / prepare; prepare takes DF2K too)")
    p.add_argument("--scale", type=int, help="prepare: the training scale (1: HR only, for arbitrary-scale training)")
    p.add_argument("--workers", type=int, help="prepare: processes (default: one per core)")
    p.add_argument("--verify", action="store_true", help="prepare: re-read every prepared array against its checksum")
    p.add_argument("--data-root", help="where datasets live (default: first of $BENCH_DATA_ROOT, else ./datasets)")
    common(p)
    p.set_defaults(func=cmd_data)
    p = sub.add_parser("results", help="the stored measurements as a table, filtered (csv, json, markdown too)")
    p.add_argument("--model", help="shell-style pattern on the model or model.variant name, e.g. 'msra*'")
    p.add_argument("--dataset", help="e.g. Urban100")
    p.add_argument("--scale", help="e.g. 2 or 2.5")
    p.add_argument("--kind", help="evaluate, complexity, time, train, compare, ...")
    p.add_argument("--paper", help="the models a paper's tables print, e.g. msra (the report's page names)")
    p.add_argument("--per-image", action="store_true", help="one row per image of the evaluations that stored them")
    p.add_argument("--format", choices=["table", "csv", "json", "markdown"], default="table",
                   help="table and markdown show the main columns; csv and json every column with a value")
    p.add_argument("--results-dir", help="results store (default: $BENCH_RESULTS_DIR, else ./results)")
    common(p)
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("compare", help="two models on the same images: mean PSNR/SSIM difference, bootstrap CI, "
                       "Wilcoxon test")
    p.add_argument("a", help="a model, or model.variant, with a stored evaluation (the most recent is taken)")
    p.add_argument("b", help="the model A is compared against, e.g. bicubic")
    p.add_argument("--dataset", required=True)
    p.add_argument("--scale", type=_scale, required=True)
    p.add_argument("--protocol", help="default: the one protocol both are evaluated under")
    p.add_argument("--results-dir", help="results store (default: $BENCH_RESULTS_DIR, else ./results)")
    common(p)
    p.set_defaults(func=cmd_compare)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = args.func(args) or 0  # commands return None, or an exit status of their own
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
