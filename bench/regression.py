"""CI gate: ``python -m bench.regression --baseline reports/baselines/NAME.json [--update]``.

Compares the latest measurements in the results store with a committed baseline and exits 1 when

- a PSNR fell by more than its tolerance (default 0.05 dB; an entry may carry its own ``tolerance``),
- a params or Mult-Adds count changed at all,
- a reparameterisation equivalence broke (max |before - after| above the entry's ``limit``),
- a margin over a reference (``psnr_over_bicubic``) fell by more than its tolerance,
- or a baselined measurement is missing from the run.

A measurement stands in for a baseline entry when its budget tier is the same (a smoke PSNR is never
compared with a full-budget one); a changed recipe of the same tier is compared, not called missing.
The statuses come from ``bench.verdicts.regression``. ``--update`` rewrites the baseline from the
measurements on purpose, keeping per-entry tolerances; review its diff like code.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any

from bench import BenchError, help_summary, results
from bench.measurements import Key, Measurement, flatten
from bench.verdicts import regression

__all__ = ["GATED", "compare", "baseline_from", "main"]

GATED = ("psnr", "params", "mult_adds", "reparam_max_abs_diff", "psnr_over_bicubic")


@dataclasses.dataclass
class Outcome:
    label: str
    baseline: float
    measured: float | None
    status: str  # ok, improved, FELL, CHANGED, BROKEN, MISSING
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status.isupper()


def _measurements(records: list[dict[str, Any]]) -> dict[tuple[Key, str], Measurement]:
    """Latest measurement per (key, budget tier); records come oldest first."""
    found: dict[tuple[Key, str], Measurement] = {}
    for record in records:
        for m in flatten(record):
            if m.key.metric in GATED:
                found[(m.key, m.tier)] = m
    return found


def check_baseline(baseline: Any, path: Path | str) -> dict[str, Any]:
    """``baseline`` if it has the shape ``baseline_from`` writes, with finite values; else a BenchError naming
    what is wrong (a NaN baseline would fail every run, and a hand-edited entry must not become a traceback)."""
    if not isinstance(baseline, dict) or not isinstance(baseline.get("entries"), list):
        raise BenchError(f"{path} is not a baseline (an object with an 'entries' list)")
    for number, entry in enumerate(baseline["entries"]):
        where = f"{path}, entry {number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), dict) or not isinstance(
                entry.get("tier"), str):
            raise BenchError(f"{where} is not {{key: {{...}}, tier, value}}")
        try:
            label = Key(**entry["key"]).label()
        except TypeError as err:
            raise BenchError(f"{where} has a key that is not a measurement key: {err}") from None
        if not results.is_number(entry.get("value")) or not math.isfinite(entry["value"]):
            raise BenchError(f"{where} ({label}) has the value {entry.get('value')!r}, not a finite number")
        for bound in ("tolerance", "limit"):
            if entry.get(bound) is not None and not results.is_number(entry[bound]):
                raise BenchError(f"{where} ({label}) has the {bound} {entry[bound]!r}, not a number")
    return baseline


def _check(entry: dict[str, Any], measured: Measurement | None, tiers_seen: list[str]) -> Outcome:
    key = Key(**entry["key"])
    base = float(entry["value"])
    if measured is None:
        detail = f"measured only with budget tier {tiers_seen[0]!r}" if tiers_seen else "not measured in this run"
        return Outcome(key.label(), base, None, "MISSING", detail)
    status, detail = regression(key.metric, base, measured.value, entry.get("tolerance"), entry.get("limit"))
    return Outcome(key.label(), base, measured.value, status, detail)


def compare(baseline: dict[str, Any], records: list[dict[str, Any]]) -> list[Outcome]:
    measured = _measurements(records)
    outcomes = []
    for entry in baseline["entries"]:
        key = Key(**entry["key"])
        tiers = [t for (k, t) in measured if k == key]
        outcomes.append(_check(entry, measured.get((key, entry["tier"])), tiers))
    return outcomes


def baseline_from(records: list[dict[str, Any]], previous: dict[str, Any] | None, about: str) -> dict[str, Any]:
    """A baseline of every gated measurement in ``records``, keeping the previous entries' tolerances."""
    kept = {(json.dumps(e["key"], sort_keys=True), e["tier"]): e for e in (previous or {}).get("entries", [])}
    entries = []
    for (key, tier), m in sorted(_measurements(records).items(), key=lambda item: (item[0][0], item[0][1])):
        if not math.isfinite(m.value):
            raise BenchError(f"{key.label()} measured {m.value}: a baseline is never made from a value that is "
                             f"not a finite number; fix the run first")
        entry = {"key": dataclasses.asdict(key), "tier": tier, "value": m.value}
        old = kept.get((json.dumps(entry["key"], sort_keys=True), tier), {})
        entry.update({k: old[k] for k in ("tolerance", "limit") if k in old})
        entries.append(entry)
    return {"about": about, "entries": entries}


def _table(outcomes: list[Outcome]) -> str:
    width = max((len(o.label) for o in outcomes), default=10)
    lines = [f"{'measurement':<{width}}  {'baseline':>14}  {'measured':>14}  {'delta':>10}  status"]
    for o in outcomes:
        measured = "-" if o.measured is None else f"{o.measured:.6g}"
        delta = "" if o.measured is None else f"{o.measured - o.baseline:+.4g}"
        lines.append(f"{o.label:<{width}}  {o.baseline:>14.6g}  {measured:>14}  {delta:>10}  {o.status}"
                     + (f" ({o.detail})" if o.detail else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.regression", description=help_summary(__doc__))
    parser.add_argument("--baseline", required=True, help="baseline JSON, e.g. reports/baselines/ci.json")
    parser.add_argument("--results-dir", help="results store (default $BENCH_RESULTS_DIR, else results/)")
    parser.add_argument("--update", action="store_true", help="rewrite the baseline from these measurements")
    parser.add_argument("--about", default="", help="with --update: what produced these numbers")
    args = parser.parse_args(argv)
    path = Path(args.baseline)
    try:
        records = results.load_records(args.results_dir)
        if not records:
            raise BenchError(f"no measurements in {results.results_dir(args.results_dir)}")
        previous = check_baseline(json.loads(path.read_text(encoding="utf-8")), path) if path.is_file() else None
        if args.update:
            baseline = baseline_from(records, previous, args.about or (previous or {}).get("about", ""))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(baseline, indent=1) + "\n")
            print(f"wrote {len(baseline['entries'])} entries to {path}")
            return 0
        if previous is None:
            raise BenchError(f"no baseline at {path}; create one on purpose with --update")
        outcomes = compare(previous, records)
    except (BenchError, OSError, ValueError, KeyError, TypeError) as err:  # ValueError: bad UTF-8 or JSON
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(_table(outcomes))
    failed = [o for o in outcomes if o.failed]
    # Not "N passed, N failed": CI reads that shape as the test runner's summary.
    print(f"regression gate: {len(outcomes) - len(failed)} of {len(outcomes)} baselined measurements hold, "
          f"{len(failed)} regressed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
