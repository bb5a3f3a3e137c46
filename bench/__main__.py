"""``python -m bench <command>``: list, evaluate, data.

With ``--json`` a command prints exactly one JSON object on stdout; logs and progress bars go to
stderr. A user error prints one ``error:`` line (no traceback) and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bench import BenchError, registry


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
         "channels": c.channels, "description": c.description}
        for c in cards
    ]
    width = max((len(c.name) for c in cards), default=5)
    lines = [f"{m['model']:<{width}}  {str(m['scales']):<10}  {m['paper']}: {m['description']}" for m in models]
    _emit({"models": models}, args.json, "\n".join(lines) or f"no model matches {args.pattern!r}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from bench import results
    from bench.data.benchmarks import load_test_set
    from bench.evaluate import evaluate, resolve_device
    from bench.metrics import get_protocol

    card = registry.get(args.model)
    protocol = get_protocol(args.protocol)
    card.check_scale(args.scale)
    model = registry.make(card.name, scale=args.scale)
    if args.weights:
        from bench.checkpoints import load_weights

        load_weights(model, args.weights)
    elif any(True for _ in model.parameters()):
        raise BenchError(f"{card.name} has learned parameters and no weights were given (--weights PATH); "
                         f"evaluating a random initialisation measures nothing")
    test_set = load_test_set(args.dataset, args.scale, args.data_root, lr=args.lr)
    device = resolve_device(args.device)
    result = evaluate(model, card, test_set, protocol, device, progress=not args.quiet)
    result["weights"] = args.weights or "none (parameter-free)"
    result["budget"] = "inference only"
    if not args.no_save:
        result["stored_as"] = str(results.append(result, "evaluate", args.results_dir))
    rows = [f"  {r['name']:<20} {_fmt(r['psnr'], 3):>8} dB  {r['ssim']:.4f}" for r in result["per_image"]]
    text = "\n".join([
        f"{card.name} on {test_set.name} x{args.scale}, protocol {protocol.name}: {protocol.description}",
        f"LR: {result['lr_source']}; data: {test_set.location}" + (f" ({test_set.note})" if test_set.note else ""),
        *(rows if args.per_image else []),
        f"mean PSNR {_fmt(result['psnr'], 3)} dB, SSIM {result['ssim']:.4f} over {result['n_images']} images "
        f"in {result['seconds']:.2f} s on {result['device']}",
    ])
    _emit(result, args.json, text)


def cmd_data(args: argparse.Namespace) -> None:
    from bench.data import catalog

    if args.action == "list":
        payload = catalog.describe()
        text = "\n".join(f"{d['name']:<10} {d['status']:<12} {d['source']}" for d in payload["datasets"])
    elif args.action == "download":
        payload = catalog.download(args.name, args.data_root, progress=not args.quiet)
        text = f"{payload['name']}: {payload['files']} files in {payload['location']}"
    else:
        payload = catalog.verify(args.name, args.data_root)
        bad = payload["mismatched"] + payload["missing"]
        text = f"{payload['name']}: {payload['ok']} files verified" + (f", problems: {', '.join(bad)}" if bad else "")
        if bad:
            _emit(payload, args.json, text)
            raise SystemExit(1)
    _emit(payload, args.json, text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        p.add_argument("--quiet", action="store_true", help="no progress bars")

    p = sub.add_parser("list", help="registered models")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'msra-*'")
    common(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("evaluate", help="PSNR/SSIM of a model on a test set")
    p.add_argument("model")
    p.add_argument("--dataset", default="samples", help="Set5, Set14, B100, Urban100, Manga109, DIV2K-val, "
                   "samples (default: the embedded scikit-image set)")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--weights", help="checkpoint: ours (carries its spec) or the authors' release")
    p.add_argument("--protocol", default="basicsr", help="basicsr (default), matlab, div2k-rgb, liif-y")
    p.add_argument("--lr", default="auto", choices=["auto", "paired", "generated"],
                   help="LR images: the set's MATLAB-made files if present (auto), or our imresize")
    p.add_argument("--data-root", help="folder holding <Set>/HR (default: $BENCH_DATA_ROOT, else ./datasets)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--per-image", action="store_true", help="print every image's scores")
    p.add_argument("--no-save", action="store_true", help="do not store the result")
    p.add_argument("--results-dir", help="results store (default: $BENCH_RESULTS_DIR, else ./results)")
    common(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("data", help="list, download or verify datasets")
    p.add_argument("action", choices=["list", "download", "verify"])
    p.add_argument("name", nargs="?", help="dataset name (download / verify)")
    p.add_argument("--data-root", help="where datasets live (default: first of $BENCH_DATA_ROOT, else ./datasets)")
    common(p)
    p.set_defaults(func=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
