"""Reported beside measured, cell by cell: ``python -m bench.report --html [--markdown] [--out DIR]``.

Every number of every paper's ``reported.csv`` gets a cell: the reported value, the latest measured
twin from the results store (``bench.measurements.latest``), the delta and a verdict from
``bench.verdicts`` (match, within tolerance, differs, short budget), or ``not measured`` with the reason
(model not built here, metric not measurable, or the command that would measure it).

HTML pages (index + one per paper) come from the jinja2 templates in ``reports/templates/`` with
autoescaping on (model names and notes are data) and no external assets, so they work offline.
matplotlib figures are written next to them when matplotlib is installed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench import BenchError, registry, results
from bench.figures import figures
from bench.measurements import Key, Measurement, budget_text, latest
from bench.reported import Reported, known_differences, paper_titles, reported_numbers
from bench.stats import CONFIDENCE, RESAMPLES, SEED, against_reference
from bench.verdicts import VERDICTS, relative_metric
from bench.verdicts import judge as verdict_of

__all__ = ["Cell", "build_cells", "render_html", "render_markdown", "main"]

TEMPLATES = Path(__file__).resolve().parents[1] / "reports" / "templates"
DEFAULT_HR = "1024x720"


@dataclass
class Cell:
    reported: Reported
    key: Key | None
    measured: Measurement | None = None
    delta: float | None = None
    verdict: str = "not measured"
    why: str = ""  # one short reason, shown in the cell
    hint: str = ""  # the command that would measure it (hover)
    known: str = ""  # the paper package's explanation of why this number cannot be reproduced

    @property
    def relative(self) -> bool:
        return relative_metric(self.key.metric if self.key else "")

    def delta_text(self) -> str:
        if self.delta is None:
            return ""
        if self.relative:
            text = f"{self.delta / self.reported.value:+.1%}"
        else:
            text = f"{self.delta:+.4f}" if self.key and self.key.metric == "ssim" else f"{self.delta:+.3f}"
        return text.replace("-", "+") if not text.strip("+-0.%") else text  # no signed zero: -0.0000 is +0.0000

    def measured_text(self) -> str:
        return "" if self.measured is None else format_value(self.reported.metric, self.measured.value)

    def reported_text(self) -> str:
        """Quality metrics as printed in the paper (their precision is part of the number)."""
        metric = self.reported.metric
        return self.reported.printed if metric in ("psnr", "ssim") else format_value(metric, self.reported.value)


def format_value(metric: str, value: float) -> str:
    if metric.startswith("params"):
        return f"{value / 1e6:.3f}M" if value >= 1e6 else f"{value / 1e3:.1f}K"
    if metric.endswith("mult_adds"):
        return f"{value / 1e9:.2f}G"
    if metric == "ssim":
        return f"{value:.4f}"
    if metric == "psnr":
        return f"{value:.3f}"
    return f"{value:.4g}"


def key_for(row: Reported) -> tuple[Key | None, str]:
    """The measurement key a reported row is compared with, or (None, why not)."""
    metric = row.metric
    parts = [p for p in row.variant.split(";") if p]
    ensemble = "self-ensemble" in parts
    variant = ";".join(p for p in parts if p != "self-ensemble" and not p.startswith("train="))
    base = {"model": row.model, "variant": variant, "scale": row.scale}
    if metric in ("psnr", "ssim"):
        return Key(**base, metric=metric, dataset=row.dataset, protocol=row.protocol, self_ensemble=ensemble), ""
    if metric == "params":  # counted the way the model's authors counted (see ModelCard.params_count)
        known = row.model in {card.name for card in registry.list_models()}
        return Key(**base, metric=registry.get(row.model).params_count if known else "params"), ""
    if metric == "mult_adds":  # fvcore, unless the table copied a model's own analytic count (say so in protocol)
        found = re.search(r"hr (\d+x\d+)", row.protocol)
        counter = "analytic_mult_adds" if "analytic" in row.protocol else "mult_adds"
        return Key(**base, metric=counter, protocol=found.group(1) if found else DEFAULT_HR), ""
    return None, f"the harness does not measure '{row.metric}'"


def _hint(key: Key) -> str:
    if key.metric.startswith("params") or key.metric.endswith("mult_adds"):
        return f"python -m bench complexity {key.model} --scale {key.scale} --hr {key.protocol or DEFAULT_HR}"
    ensemble = " --self-ensemble" if key.self_ensemble else ""
    return (f"python -m bench evaluate {key.model} --scale {key.scale} --dataset {key.dataset} "
            f"--protocol {key.protocol}{ensemble} --weights W")


def judge(cell: Cell) -> None:
    m, r = cell.measured, cell.reported
    assert m is not None and cell.key is not None
    verdict = verdict_of(cell.key.metric, m.value, r.value, r.printed, m.short_budget)
    cell.delta, cell.verdict, cell.why = verdict.delta, verdict.name, verdict.why
    if verdict.name == "short budget":
        cell.hint = m.provenance()


KEY_FIELDS = tuple(f.name for f in dataclasses.fields(Key))


def _key_frame(keys: Iterable[Key], **columns: list[Any]) -> pd.DataFrame:
    """One row per key, its fields as columns, with ``columns`` (one value per key) beside them."""
    table = pd.DataFrame([dataclasses.astuple(key) for key in keys], columns=KEY_FIELDS)
    return table.astype({"self_ensemble": bool}).assign(**columns)


def match(keys: list[Key | None], measured: dict[Key, Measurement]) -> list[tuple[Key | None, Measurement | None,
                                                                                   Measurement | None]]:
    """The report's matching rules, as merges of the wanted keys with the measured ones. For each of ``keys`` (in
    order; None where nothing is measurable): the key its cell is judged under, its measured twin, and the
    measurement of the same thing under another protocol (the last such key of ``measured``), each None if none."""
    have = _key_frame(measured, measured=list(measured.values()))
    wanted = _key_frame((k for k in keys if k is not None), key=[k for k in keys if k is not None],
                        row=[row for row, k in enumerate(keys) if k is not None])
    # arbitrary-scale models (LIIF, MSIT) print one size for every scale: the first count of any scale is it
    size = ["model", "variant", "metric"]
    any_scale = have.drop_duplicates(size)[[*size, "measured"]].rename(columns={"measured": "any_scale"})
    wanted = wanted.merge(any_scale, on=size, how="left")
    scaleless = (wanted["scale"] == "") & wanted["metric"].str.startswith("params") & wanted["any_scale"].notna()
    wanted.loc[scaleless, "key"] = wanted.loc[scaleless, "any_scale"].map(lambda m: m.key)
    wanted = _key_frame(wanted["key"], key=wanted["key"].tolist(), row=wanted["row"].tolist())
    elsewhere = [f for f in KEY_FIELDS if f != "protocol"]
    other = have.drop_duplicates(elsewhere, keep="last")[[*elsewhere, "measured"]].rename(columns={"measured": "other"})
    joined = wanted.merge(have, on=list(KEY_FIELDS), how="left").merge(other, on=elsewhere, how="left")
    found: list[tuple[Key | None, Measurement | None, Measurement | None]] = [(None, None, None)] * len(keys)
    for row in joined.itertuples(index=False):
        found[row.row] = (row.key, None if pd.isna(row.measured) else row.measured,
                          None if pd.isna(row.other) else row.other)
    return found


def build_cells(reported: list[Reported], measured: dict[Key, Measurement]) -> list[Cell]:
    known = {card.name for card in registry.list_models()}
    explained = known_differences()
    wanted = [key_for(row) for row in reported]
    cells = []
    for row, (_, why), (key, twin, other) in zip(reported, wanted, match([k for k, _ in wanted], measured),
                                                 strict=True):
        cell = Cell(row, key, why="not measurable" if key is None else "", hint=why,
                    known=explained.get((row.paper, row.model, row.variant, row.scale, row.metric, row.dataset))
                    or explained.get((row.paper, row.model, row.variant, row.scale, row.metric), ""))
        if key is not None and row.model not in known:
            cell.why = "not built here"
            cell.hint = f"{row.model} is not implemented in this harness"
        elif twin is not None:
            cell.measured = twin
            judge(cell)
        elif key is not None:
            cell.hint = _hint(key)
            if other is not None:
                cell.why = (f"measured only with {other.key.protocol or 'another setting'}: "
                            f"{format_value(key.metric, other.value)}")
            else:
                cell.why = "no run yet"
        cells.append(cell)
    return cells


# ---- layout -----------------------------------------------------------------------------------------

@dataclass
class Table:
    paper: str
    name: str
    columns: list[tuple[str, str]] = field(default_factory=list)  # (dataset, metric)
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (model, variant, scale)
    cells: dict[tuple, Cell] = field(default_factory=dict)

    def cell(self, row: tuple, column: tuple) -> Cell | None:
        return self.cells.get((row, column))


def tables_of(cells: list[Cell]) -> dict[str, list[Table]]:
    papers: dict[str, dict[str, Table]] = {}
    for cell in cells:
        r = cell.reported
        table = papers.setdefault(r.paper, {}).setdefault(r.table, Table(r.paper, r.table))
        row, column = (r.model, r.variant, r.scale), (r.dataset, r.metric)
        if row not in table.rows:
            table.rows.append(row)
        if column not in table.columns:
            table.columns.append(column)
        table.cells[(row, column)] = cell
    return {paper: list(tables.values()) for paper, tables in papers.items()}


def tally(cells: list[Cell]) -> dict[str, int]:
    counts = dict.fromkeys(VERDICTS, 0)
    for cell in cells:
        counts[cell.verdict] += 1
    return counts


# What the HTML tables and figures of each extra section read from a record: (numbers, other fields present).
_EXTRA_FIELDS = {
    "time": (("before_ms", "after_ms", "max_abs_diff"), ("lr_size", "device")),
    "train": (("steps", "it_per_s"), ("variant", "scale", "val_set", "val_psnr", "budget", "run_dir")),
    "compare": (("psnr", "reference_psnr", "margin"), ("variant", "dataset", "protocol", "reference", "beats",
                                                        "budget")),
}


def _complete(record: dict[str, Any]) -> bool:
    """Whether ``record`` has what its section of the HTML page reads; if not, one warning line says so and the
    record is left out (a hand-made or older record must not turn the report into a traceback)."""
    numbers, present = _EXTRA_FIELDS[record["kind"]]
    missing = [f for f in present if f not in record] + [
        f for f in numbers if isinstance(record.get(f), bool) or not isinstance(record.get(f), (int, float))]
    if record["kind"] == "train" and record.get("val_psnr") is not None and "val_psnr" not in missing and (
            isinstance(record["val_psnr"], bool) or not isinstance(record["val_psnr"], (int, float))):
        missing.append("val_psnr")
    if record["kind"] == "time" and not {"device_name", "time"} <= set(record.get("provenance", {})):
        missing.append("provenance")
    if missing:
        print(f"warning: leaving the {record['kind']} record of {record.get('model')} "
              f"({(record.get('provenance') or {}).get('time', 'no time')}) out of the HTML report: "
              f"{', '.join(missing)} missing or not numbers", file=sys.stderr)
    return not missing


def extra_records(records: list[dict[str, Any]], models: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Reparameterisation timings, training runs and comparisons of a paper's models (no reported twin cell)."""
    comparisons = {(r.get("model"), r.get("variant"), r.get("scale"), r.get("dataset"), r.get("protocol"),
                    r.get("reference")): r for r in records if r.get("kind") == "compare" and r.get("model") in models}
    return {
        "comparisons": list(comparisons.values()),
        # a model with nothing to reparameterise (bicubic) has no "after" time: it has no row here
        "reparameterization": [r for r in records if r.get("kind") == "time" and r.get("model") in models
                               and r.get("after_ms") is not None],
        # a resumed run is recorded again when it finishes: one row per run folder, the latest
        "training": list({r.get("run_dir"): r for r in records
                          if r.get("kind") == "train" and r.get("model") in models}.values()),
    }


REFERENCE = "bicubic"  # every evaluated model is compared with it image by image (bench.stats)
PAIRED_COLUMNS = ("model", "scale", "set", "protocol", "images", f"PSNR - {REFERENCE} (dB) [{CONFIDENCE:.0%} CI]",
                  "p", "better / worse", f"SSIM - {REFERENCE} [{CONFIDENCE:.0%} CI]", "p", "budget")
PAIRED_METHOD = (f"the mean of the per-image differences with its {CONFIDENCE:.0%} paired bootstrap interval "
                 f"({RESAMPLES:,} resamples, seed {SEED}), the Wilcoxon signed-rank p-value (two-sided)")


def paired_rows(paired: Sequence[dict[str, Any]], models: set[str]) -> list[list[str]]:
    """The comparisons (``bench.stats.against_reference``) of ``models``, one row of ``PAIRED_COLUMNS`` each."""
    rows = []
    for c in paired:
        if registry.split_name(c["a"]["name"])[0] not in models:
            continue
        psnr, ssim = c["psnr"], c["ssim"]
        model = c["a"]["name"] + (" +self-ensemble" if c["a"]["self_ensemble"] else "")
        rows.append([model, c["scale"], c["dataset"], c["protocol"], str(psnr["n"]),
                     f"{psnr['mean']:+.3f} [{psnr['low']:+.3f}, {psnr['high']:+.3f}]", f"{psnr['p_value']:.2g}",
                     f"{psnr['a_better']} / {psnr['b_better']}",
                     f"{ssim['mean']:+.4f} [{ssim['low']:+.4f}, {ssim['high']:+.4f}]", f"{ssim['p_value']:.2g}",
                     c["a"]["tier"]])
    return rows


# ---- rendering ------------------------------------------------------------------------------------------

def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["value"] = lambda v, metric: format_value(metric, v)
    env.filters["css"] = lambda verdict: verdict.replace(" ", "-")
    env.filters["budget"] = budget_text
    return env


def _pages(cells: list[Cell], records: list[dict[str, Any]], paired: Sequence[dict[str, Any]]
           ) -> list[dict[str, Any]]:
    titles = paper_titles()
    built = {card.name for card in registry.list_models()}
    records = [r for r in records if r.get("kind") not in _EXTRA_FIELDS or r.get("model") not in built
               or (r["kind"] == "time" and r.get("after_ms") is None) or _complete(r)]
    pages = []
    for paper, tables in sorted(tables_of(cells).items()):
        mine = [c for c in cells if c.reported.paper == paper]
        models = {c.reported.model for c in mine}
        pages.append({"paper": paper, "title": titles.get(paper, paper), "tables": tables, "cells": mine,
                      "tally": tally(mine), "extra": extra_records(records, models & built),
                      "paired": paired_rows(paired, models & built)})
    return pages


def render_html(cells: list[Cell], records: list[dict[str, Any]], out: Path,
                paired: Sequence[dict[str, Any]] = ()) -> Path:
    """``paired``: ``bench.stats.against_reference(records)``, shown on each model's paper pages."""
    out.mkdir(parents=True, exist_ok=True)
    env = _environment()
    pages = _pages(cells, records, paired)
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    for page in pages:
        page["figures"], page["figures_note"] = figures(page["paper"], page["cells"], page["extra"], out)
        footnotes: list[str] = []
        for cell in page["cells"]:
            if cell.measured is not None:
                text = cell.measured.provenance()
                if text not in footnotes:
                    footnotes.append(text)
        page["footnotes"] = footnotes
        numbers = {text: number for number, text in enumerate(footnotes, start=1)}
        html = env.get_template("paper.html.j2").render(
            page=page, verdicts=VERDICTS, generated=stamp, paired_columns=PAIRED_COLUMNS, reference=REFERENCE,
            paired_method=PAIRED_METHOD, footnote=lambda c, n=numbers: n[c.measured.provenance()])
        (out / f"{page['paper']}.html").write_text(html)
    index = out / "index.html"
    index.write_text(env.get_template("index.html.j2").render(pages=pages, verdicts=VERDICTS, generated=stamp))
    return index


def render_markdown(cells: list[Cell], paired: Sequence[dict[str, Any]] = ()) -> str:
    """``paired`` as for ``render_html``."""
    built = {card.name for card in registry.list_models()}
    lines = ["# Reported vs measured", ""]
    for paper, tables in sorted(tables_of(cells).items()):
        lines += [f"## {paper}", ""]
        for table in tables:
            lines += [f"### {table.name}", "", "| model | variant | scale | " +
                      " | ".join(f"{d} {m}".strip() for d, m in table.columns) + " |",
                      "|---|---|---|" + "---|" * len(table.columns)]
            for row in table.rows:
                parts = []
                for column in table.columns:
                    cell = table.cell(row, column)
                    if cell is None:
                        parts.append("")
                        continue
                    metric = cell.reported.metric
                    text = cell.reported_text()
                    if cell.measured is not None:
                        text += f" / {format_value(metric, cell.measured.value)} ({cell.delta_text()}, {cell.verdict})"
                    else:
                        text += " / not measured"
                    if cell.known:
                        text += f" [known: {cell.known}]"
                    parts.append(text)
                lines.append(f"| {row[0]} | {row[1]} | {row[2]} | " + " | ".join(parts) + " |")
            lines.append("")
        rows = paired_rows(paired, {c.reported.model for c in cells if c.reported.paper == paper} & built)
        if rows:
            lines += [f"### Image by image against {REFERENCE}", "", "| " + " | ".join(PAIRED_COLUMNS) + " |",
                      "|" + "---|" * len(PAIRED_COLUMNS), *("| " + " | ".join(row) + " |" for row in rows), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.split("\n")[0])
    parser.add_argument("--html", action="store_true", help="write index.html and one page per paper")
    parser.add_argument("--markdown", action="store_true", help="write report.md")
    parser.add_argument("--out", default="reports/out", help="output folder (default reports/out)")
    parser.add_argument("--results-dir", help="results store (default $BENCH_RESULTS_DIR, else results/)")
    args = parser.parse_args(argv)
    try:
        if not (args.html or args.markdown):
            raise BenchError("say what to write: --html and/or --markdown")
        records = results.load_records(args.results_dir)
        cells = build_cells(reported_numbers(), latest(records))
        out = Path(args.out)
        counts = tally(cells)
        print(f"{len(cells)} reported numbers, {len(records)} stored measurements from "
              f"{results.results_dir(args.results_dir)}: " + ", ".join(f"{v} {k}" for k, v in counts.items()),
              file=sys.stderr)
        paired = against_reference(records, REFERENCE)
        if args.html:
            print(f"HTML report: {render_html(cells, records, out, paired)}")
        if args.markdown:
            out.mkdir(parents=True, exist_ok=True)
            path = out / "report.md"
            path.write_text(render_markdown(cells, paired))
            print(f"Markdown report: {path}")
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
