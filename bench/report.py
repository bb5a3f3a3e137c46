"""Reported beside measured, cell by cell: ``python -m bench.report --html [--markdown] [--out DIR]``.

Every number of every paper's ``reported.csv`` gets a cell: the reported value, the latest measured
twin from the results store (``bench.measurements.latest``), the delta and a verdict from
``bench.verdicts`` (match, within tolerance, differs, short budget), ``measured differently`` (only under
another convention than the paper's, shown unjudged), or ``not measured`` with the reason (model not built
here, metric not measurable, a budget tier that skips it, or the command that would measure it).
Reported values keep the paper's printed digits; measured ones show one digit more. A row that states its
training set (``train=DF2K``) is compared only with weights trained on that set (``trained_on``).

Each paper page numbers its notes in one scheme: the paper's flags (``bench.reported``), the known differences
and the provenance of the measured values, each text once, listed under the table that first uses it; a
note on every cell of a row is marked on the row, one on every cell of a table on its heading. The index
leads with what was reproduced, then what is one command away and what needs a GPU budget.

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
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from bench import BenchError, help_summary, registry, results
from bench.figures import figures
from bench.measurements import Key, Measurement, budget_text, counted_at, latest, scale_text, size_protocol, tier_of
from bench.paper import TIERS, Evaluate, Sizes, Step, papers
from bench.reported import Reported, known_differences, paper_flags, paper_titles, reported_numbers
from bench.stats import CONFIDENCE, RESAMPLES, SEED, against_reference
from bench.verdicts import VERDICTS, relative_metric
from bench.verdicts import judge as verdict_of

__all__ = ["Cell", "build_cells", "by_training_set", "trained_on", "render_html", "render_markdown", "main"]

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
            return signed(100 * self.delta / self.reported.value, 1) + "%"
        return signed(self.delta, self.decimals())

    def decimals(self) -> int:
        """Decimal places of a measured value: one more than the paper printed, in the unit the report uses (at
        least the usual places of a quality metric: a misprinted SSIM "7251" still shows 0.72510)."""
        metric = self.reported.metric
        return max(printed_decimals(metric, self.reported.value, self.reported.printed) + 1,
                   MIN_DECIMALS.get(metric, 0))

    def measured_text(self) -> str:
        if self.measured is None:
            return ""
        return format_value(self.reported.metric, self.measured.value, self.decimals(), unit_of=self.reported.value)

    def notes(self) -> list[tuple[str, str]]:
        """(kind, text) of the notes on the reported number: the paper's flags, then the known difference."""
        return [("flag", flag) for flag in self.reported.flags] + (
            [("known difference", self.known)] if self.known else [])

    def reported_text(self) -> str:
        """The reported value with the paper's own digits (its precision is part of the number)."""
        return printed_text(self.reported.metric, self.reported.value, self.reported.printed)

    def verdict_text(self) -> str:
        """The verdict; a short-budget one names the budget tier the weights were trained with."""
        if self.verdict == "short budget" and self.measured is not None:
            return f"{self.verdict} ({self.measured.tier})"
        return self.verdict


MIN_DECIMALS = {"psnr": 2, "ssim": 4}


def signed(value: float, decimals: int) -> str:
    """``value`` with its sign, except a value that rounds to zero at ``decimals``: "0.000", never "-0.000"."""
    text = f"{value:+.{decimals}f}"
    return text[1:] if float(text) == 0 else text


def _unit(metric: str, value: float) -> tuple[int, str]:
    """(power of ten, suffix) the report writes a value of ``metric`` in: sizes in K/M/G, the rest as they are."""
    if metric.startswith("params"):
        return (6, "M") if value >= 1e6 else (3, "K")
    if metric.endswith("mult_adds"):
        return 9, "G"
    return 0, ""


def _printed_decimal(metric: str, value: float, printed: str) -> Decimal:
    """The printed value as a Decimal; a size typed as a whole integer ("694000" for "694K") has no significant
    trailing zeros."""
    try:
        number = Decimal(printed)
    except (ArithmeticError, ValueError):
        return Decimal(repr(value))
    whole = printed.strip().lstrip("+-").isdigit()
    return number.normalize() if whole and _unit(metric, value)[0] and number != 0 else number


def printed_decimals(metric: str, value: float, printed: str) -> int:
    """Decimal places the paper printed, in the report's unit: "1.6e6" params -> 1 (1.6M), "37.76" -> 2."""
    power, _ = _unit(metric, value)
    exponent = _printed_decimal(metric, value, printed).scaleb(-power).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def printed_text(metric: str, value: float, printed: str) -> str:
    """A reported value exactly as the paper printed it, in the report's unit: "1.6e6" params -> "1.6M"."""
    power, suffix = _unit(metric, value)
    if not power:
        return printed or f"{value:g}"
    return format(_printed_decimal(metric, value, printed).scaleb(-power), "f") + suffix


def format_value(metric: str, value: float, decimals: int | None = None, unit_of: float | None = None) -> str:
    """``value`` in the report's unit for ``metric`` (the unit of ``unit_of`` if given: a measured size is written
    in its reported twin's unit), at ``decimals`` places (default: the report's usual precision of the metric)."""
    power, suffix = _unit(metric, value if unit_of is None else unit_of)
    if decimals is None:
        decimals = {"M": 3, "K": 1, "G": 2}.get(suffix) or {"ssim": 4, "psnr": 3}.get(metric)
    if decimals is None:
        return f"{value:.4g}"
    return f"{value / 10 ** power:.{decimals}f}{suffix}"


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
        hr = re.search(r"hr (\d+x\d+)", row.protocol)
        lr_pad = re.search(r"lr-pad (\S+)", row.protocol)
        counter = "analytic_mult_adds" if "analytic" in row.protocol else "mult_adds"
        counted = size_protocol(hr.group(1) if hr else DEFAULT_HR, lr_pad.group(1) if lr_pad else "none")
        return Key(**base, metric=counter, protocol=counted), ""
    return None, f"the harness does not measure '{row.metric}'"


def _convention(key: Key) -> str:
    """How ``key`` was measured, for a cell whose paper measured otherwise."""
    if key.metric.endswith("mult_adds"):
        hr, lr_pad = counted_at(key.protocol)
        return f"at HR {hr}, LR " + (f"padded ({lr_pad})" if lr_pad else "not padded")
    return f"with {key.protocol or 'another setting'}"


def _hint(key: Key) -> str:
    name = registry.join_name(key.model, key.variant)
    if key.metric.startswith("params") or key.metric.endswith("mult_adds"):
        scale = key.scale or "2"  # an arbitrary-scale model's one printed size: any scale's count
        hr, lr_pad = counted_at(key.protocol or DEFAULT_HR)
        padding = f" --lr-pad {lr_pad}" if lr_pad else ""
        return f"python -m bench complexity {name} --scale {scale} --hr {hr}{padding}"
    ensemble = " --self-ensemble" if key.self_ensemble else ""
    return (f"python -m bench evaluate {name} --scale {key.scale} --dataset {key.dataset} "
            f"--protocol {key.protocol}{ensemble} --weights W")


def judge(cell: Cell) -> None:
    m, r = cell.measured, cell.reported
    assert m is not None and cell.key is not None
    verdict = verdict_of(cell.key.metric, m.value, r.value, r.printed, m.tier)
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


# reported.csv's names of training sets (``train=``), by the sets a recipe lists
TRAINING_SETS = {("DIV2K-train",): "DIV2K", ("DIV2K-train", "Flickr2K"): "DF2K"}


def trained_on(record: dict[str, Any]) -> str:
    """The training set of the weights a record measured, named as reported.csv names it ("DIV2K", "DF2K",
    else the sets joined by "+"); "" where the record does not say (released weights, sizes, bicubic)."""
    spent = record.get("budget") if isinstance(record.get("budget"), dict) else {}
    sets = spent.get("overrides", {}).get("train_sets")
    if sets is None and spent.get("tier") == "paper":  # the recipe as registered, unchanged
        name = registry.join_name(record.get("model", ""), record.get("variant", ""))
        try:
            sets = registry.get(name).build_recipe(record.get("scale")).train_sets
        except (BenchError, TypeError, ValueError):
            return ""
    return TRAINING_SETS.get(tuple(sorted(sets)), "+".join(sorted(sets))) if sets else ""


def by_training_set(records: Iterable[dict[str, Any]]) -> dict[str, dict[Key, Measurement]]:
    """Training set -> ``latest`` of the records of weights trained on it."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(trained_on(record), []).append(record)
    return {name: latest(group) for name, group in groups.items() if name}


def build_cells(reported: list[Reported], measured: dict[Key, Measurement],
                trained: dict[str, dict[Key, Measurement]] | None = None) -> list[Cell]:
    """``measured``: ``latest(records)``; ``trained``: ``by_training_set(records)``, where a row that states its
    training set finds its twin (if None, it is taken from ``measured``)."""
    if trained is None:
        trained = {}
        for key, m in measured.items():
            trained.setdefault(trained_on(m.record), {})[key] = m
    known = {card.name for card in registry.list_models()}
    explained = known_differences()
    plans = tier_plans()
    wanted = [key_for(row) for row in reported]
    found: list[tuple[Key | None, Measurement | None, Measurement | None]] = [(None, None, None)] * len(reported)
    stated = [row.trained_on if row.metric in ("psnr", "ssim") else "" for row in reported]  # sizes: any training
    for train in set(stated):
        rows = [i for i, row_train in enumerate(stated) if row_train == train]
        pool = trained.get(train, {}) if train else measured
        for i, twin in zip(rows, match([wanted[i][0] for i in rows], pool), strict=True):
            found[i] = twin
    cells = []
    for row, (_, why), (key, twin, other) in zip(reported, wanted, found, strict=True):
        cell = Cell(row, key, why="not measurable" if key is None else "", hint=why,
                    known=explained.get((row.paper, row.model, row.variant, row.scale, row.metric, row.dataset))
                    or explained.get((row.paper, row.model, row.variant, row.scale, row.metric), ""))
        elsewhere = measured.get(key) if key is not None else None
        if key is not None and row.model not in known:
            cell.why = "not built here"
            cell.hint = f"{row.model} is not implemented in this harness"
        elif twin is not None:
            cell.measured = twin
            judge(cell)
        elif key is not None:
            cell.hint = _hint(key)
            if other is not None:
                cell.verdict = "measured differently"
                cell.why = f"measured only {_convention(other.key)}: {format_value(key.metric, other.value)}"
            elif elsewhere is not None:  # the row states a training set; these weights were trained on another
                other_set = trained_on(elsewhere.record) or "a set not recorded"
                cell.verdict = "measured differently"
                cell.why = (f"measured only with weights trained on {other_set}: "
                            f"{format_value(key.metric, elsewhere.value)}")
            else:
                cell.why = skipped_by_budget(key, plans)
        cells.append(cell)
    return cells


def tier_plans() -> list[tuple[str, Step]]:
    """(tier, the step as that tier runs it) for every step of every paper's manifest that the tier runs."""
    return [(tier, plan) for paper in papers().values() for step in paper.steps for tier in TIERS
            if not isinstance(plan := step.at(tier), str)]


def skipped_by_budget(key: Key, plans: list[tuple[str, Step]]) -> str:
    """Why a cell has no measurement, from the papers' manifests (``plans``: ``tier_plans()``): "not run at the
    ci (or smoke) budget" where some budget tiers measure it and others deliberately skip it; else "no run yet"."""
    name = registry.join_name(key.model, key.variant)
    runs = {tier for tier, plan in plans if _measures(plan, key, name)}
    skipped = [tier for tier in TIERS if tier not in runs]
    return f"not run at the {' or '.join(skipped)} budget" if runs and skipped else "no run yet"


def _measures(step: Step, key: Key, name: str) -> bool:
    """Whether ``step`` (as a tier runs it) measures ``key`` of the registered ``name``."""
    if isinstance(step, Evaluate):
        return (key.metric in ("psnr", "ssim") and name in step.models and key.dataset in step.sets
                and key.protocol == step.protocol and key.self_ensemble == step.ensemble
                and key.scale in {scale_text(s) for s in step.scales})
    if isinstance(step, Sizes):
        at_size = (not key.metric.endswith("mult_adds")
                   or key.protocol == size_protocol(f"{step.hr[0]}x{step.hr[1]}", step.lr_pad))
        return at_size and (name, key.scale) in {(row, scale_text(s)) for row, s in step.rows}
    return False


# ---- layout -----------------------------------------------------------------------------------------

@dataclass
class Table:
    paper: str
    name: str
    columns: list[tuple[str, str]] = field(default_factory=list)  # (dataset, metric)
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (model, variant, scale)
    cells: dict[tuple, Cell] = field(default_factory=dict)
    # note numbers (``annotate``): on the heading, on a row, beside a cell's reported and its measured value
    marks: list[int] = field(default_factory=list)
    row_marks: dict[tuple, list[int]] = field(default_factory=dict)
    cell_marks: dict[tuple, list[int]] = field(default_factory=dict)
    measured_marks: dict[tuple, int] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)  # the notes this table is the first to use

    def cell(self, row: tuple, column: tuple) -> Cell | None:
        return self.cells.get((row, column))

    @property
    def anchor(self) -> str:
        """The table's id on its page: its name as a URL fragment ("Table 1" -> "table-1")."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")

    def measured(self, row: tuple | None = None) -> bool:
        """Whether a cell of ``row`` (of the table, if None) has a measured value, under the paper's convention or
        another: the page's "measured only" view hides the rows and tables that have none."""
        return any(cell.measured is not None or cell.verdict == "measured differently"
                   for (r, _), cell in self.cells.items() if row is None or r == row)


@dataclass(frozen=True)
class Note:
    number: int
    kind: str  # "flag", "known difference" or "measured with" (a measured value's provenance)
    text: str


def annotate(tables: list[Table], flags: Sequence[str] = ()) -> list[Note]:
    """Number a page's notes, each text once, in order of first use, and mark where each applies. Returns the
    paper's own flags (``flags``: numbered first, shown at the top of the page); each table's ``notes`` are
    those it is the first to use."""
    numbers: dict[tuple[str, str], int] = {}

    def number(kind: str, text: str, new: list[Note]) -> int:
        if (kind, text) not in numbers:
            numbers[(kind, text)] = len(numbers) + 1
            new.append(Note(numbers[(kind, text)], kind, text))
        return numbers[(kind, text)]

    page: list[Note] = []
    for flag in flags:
        number("flag", flag, page)
    for table in tables:
        carriers: dict[tuple[str, str], set[tuple]] = {}
        for place, cell in table.cells.items():
            for note in cell.notes():
                carriers.setdefault(note, set()).add(place)
        for row in table.rows:
            places = [(row, column) for column in table.columns if (row, column) in table.cells]
            for place in places:
                cell = table.cells[place]
                for note in cell.notes():
                    n = number(*note, table.notes)
                    if len(carriers[note]) == len(table.cells) and len(table.rows) > 1:
                        marks = table.marks
                    elif set(places) <= carriers[note] and len(places) > 1:
                        marks = table.row_marks.setdefault(row, [])
                    else:
                        marks = table.cell_marks.setdefault(place, [])
                    if n not in marks:
                        marks.append(n)
        for place, cell in table.cells.items():  # after the flags, so that those come first under the table
            if cell.measured is not None:
                table.measured_marks[place] = number("measured with", cell.measured.source(), table.notes)
    return page


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


# ---- the index: what was reproduced, what is one command away, what needs a GPU budget ------------------

REPRODUCED = ("match", "within tolerance")
KINDS = ("sizes (params, Mult-Adds)", "bicubic rows", "released weights of compared methods", "models trained here")
EXAMPLES = 4


def kind_of(cell: Cell) -> str:
    """Which of ``KINDS`` a measured cell is."""
    assert cell.measured is not None
    if cell.reported.metric not in ("psnr", "ssim"):
        return KINDS[0]
    if cell.reported.model == REFERENCE:
        return KINDS[1]
    return KINDS[2] if cell.measured.tier == "none" else KINDS[3]


def _duration(seconds: float) -> str:
    return f"about {seconds / 60:.0f} min" if seconds < 5400 else f"about {seconds / 3600:.1f} h"


def _evaluation_costs(records: list[dict[str, Any]]) -> tuple[dict[tuple, float], dict[str, int]]:
    """(name, scale, self-ensemble) -> measured seconds per image (the mean over its stored evaluations),
    and set -> its number of images, from the stored evaluations."""
    spent: dict[tuple, list[float]] = {}
    sizes: dict[str, int] = {}
    for r in records:
        if r.get("kind") == "evaluate" and r.get("seconds") and r.get("n_images"):
            key = (registry.join_name(r.get("model", ""), r.get("variant", "")), scale_text(r.get("scale")),
                   bool(r.get("self_ensemble")))
            spent.setdefault(key, []).append(r["seconds"] / r["n_images"])
            sizes[r.get("dataset", "")] = r["n_images"]
    return {key: sum(v) / len(v) for key, v in spent.items()}, sizes


def _paper_iteration_seconds(records: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """(name, scale) -> seconds per iteration of a stored training run with the paper's budget."""
    return {(registry.join_name(r.get("model", ""), r.get("variant", "")), scale_text(r.get("scale"))):
            1 / r["it_per_s"] for r in records
            if r.get("kind") == "train" and tier_of(r.get("budget")) == "paper" and r.get("it_per_s")}


def summary(cells: list[Cell], records: list[dict[str, Any]], data_root=None) -> dict[str, Any]:
    """The index's lead: reproduced cells by kind (with examples), then the commands that would measure the
    rest, grouped as one command away (sizes; evaluations of bicubic and of stored released weights) or
    needing a GPU budget (the paper's recipe), each with an estimated cost where a stored measurement gives one."""
    titles = paper_titles()
    reproduced = {kind: [] for kind in KINDS}
    for cell in cells:
        if cell.verdict in REPRODUCED:
            reproduced[kind_of(cell)].append(cell)
    per_image, set_sizes = _evaluation_costs(records)
    iteration = _paper_iteration_seconds(records)
    released = {(registry.join_name(r.get("model", ""), r.get("variant", "")), scale_text(r.get("scale"))):
                r["weights"] for r in records
                if r.get("kind") == "evaluate" and tier_of(r.get("budget")) == "none"
                and not str(r.get("weights", "none")).startswith("none")}
    built = {card.name for card in registry.list_models()}
    commands: dict[str, dict[str, Any]] = {}  # command -> {group, cells, cost (seconds or None), basis}
    for cell in cells:
        key, row = cell.key, cell.reported
        if key is None or row.model not in built or cell.verdict not in ("not measured", "measured differently",
                                                                         "short budget"):
            continue
        name = registry.join_name(key.model, key.variant)
        waiting = cell.verdict != "short budget"  # nothing measured under the paper's convention yet
        if waiting and row.metric not in ("psnr", "ssim"):
            group, command, cost, basis = "sizes", cell.hint, None, "no stored timing of a count"
        elif waiting and not row.trained_on and (
                key.model == REFERENCE or (name, key.scale) in released):
            weights = f" --weights {released[(name, key.scale)]}" if key.model != REFERENCE else ""
            command = (f"python -m bench evaluate {name} --scale {key.scale} --dataset {key.dataset} "
                       f"--protocol {key.protocol}{' --self-ensemble' if key.self_ensemble else ''}{weights}")
            seconds = per_image.get((name, key.scale, key.self_ensemble))
            images = set_sizes.get(key.dataset)
            group = "evaluations"
            if seconds is None or images is None:
                cost, basis = None, "no stored evaluation of this model at this scale, or of this set"
            else:
                cost, basis = seconds * images, f"{seconds:.2f} s per image measured here x {images} images"
        elif name in built and registry.get(name).recipe is not None:
            recipe = registry.get(name).build_recipe(int(key.scale) if key.scale.isdigit() else float(key.scale))
            sets = {"DF2K": " --train-sets DIV2K-train,Flickr2K", "DIV2K": " --train-sets DIV2K-train"}
            command = f"python -m bench train {name} --scale {key.scale} --recipe paper{sets.get(row.trained_on, '')}"
            group = "training"
            seconds = iteration.get((name, key.scale))
            if seconds is None:
                cost, basis = None, (f"{recipe.iterations:,} iterations of batch {recipe.batch_size}; no paper-budget "
                                     f"run stored to time one ('--dry-run' estimates GPU-hours from FLOPs)")
            else:
                cost, basis = recipe.iterations * seconds, f"{recipe.iterations:,} iterations x {seconds:.2f} s"
        else:
            continue
        entry = commands.setdefault(command, {"group": group, "command": command, "cells": 0, "cost": cost,
                                              "basis": basis, "papers": set(), "dataset": key.dataset})
        entry["cells"] += 1
        entry["papers"].add(titles.get(row.paper, row.paper))
    groups = {}
    for group in ("sizes", "evaluations", "training"):
        mine = sorted((c for c in commands.values() if c["group"] == group), key=lambda c: -c["cells"])
        known = [c["cost"] for c in mine if c["cost"] is not None]
        groups[group] = {"commands": mine, "cells": sum(c["cells"] for c in mine),
                         "cost": _duration(sum(known)) if known else "",
                         "unestimated": len(mine) - len(known)}
    return {"reproduced": [{"kind": kind, "cells": found, "count": len(found),
                            "papers": len({c.reported.paper for c in found}),
                            "examples": _examples(found)} for kind, found in reproduced.items()],
            "total": sum(len(found) for found in reproduced.values()), "groups": groups, "titles": titles,
            "next": next_steps(groups, data_root)}


def next_steps(groups: dict[str, dict[str, Any]], data_root=None) -> list[str]:
    """The commands to run next, first: fetch the four benchmark sets the waiting evaluations need (with no data,
    the report has only sizes; DIV2K and Manga109 are large or on request), then the reproduction that evaluates
    bicubic and the released weights on them; with those sets present, the evaluation that fills the most cells;
    else the largest size count."""
    from bench.paper import BENCHMARKS
    from bench.reproduce import available_sets

    evaluations, sizes = groups["evaluations"]["commands"], groups["sizes"]["commands"]
    wanted = [name for name in BENCHMARKS if any(c["dataset"] == name for c in evaluations)]
    missing = available_sets(wanted, data_root)[1]
    if missing:
        return [f"python -m bench data download {name}" for name in missing] + [
            "python -m bench reproduce baselines --budget ci"]
    if evaluations:
        return [evaluations[0]["command"]]
    return [sizes[0]["command"]] if sizes else []


def _examples(cells: list[Cell]) -> list[Cell]:
    """Up to ``EXAMPLES`` cells, of as many different models as there are."""
    seen, chosen = set(), []
    for cell in cells:
        if cell.reported.model not in seen and len(chosen) < EXAMPLES:
            seen.add(cell.reported.model)
            chosen.append(cell)
    return chosen


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
                      "flags": annotate(tables, paper_flags().get(paper, ())), "tally": tally(mine),
                      "extra": extra_records(records, models & built), "paired": paired_rows(paired, models & built),
                      "alone": measured_alone(mine, latest(records), models & built)})
    return pages


ALONE_METRICS = ("params", "mult_adds", "psnr", "ssim")
ALONE_HEADING = "Measured here, no reported twin"


def measured_alone(cells: list[Cell], measured: dict[Key, Measurement], models: set[str]) -> list[Measurement]:
    """Measurements of ``models`` that no cell of ``cells`` is judged against (sizes of models the paper prints
    none for, evaluations of reduced ci models, ...): a page lists them apart from its reported tables. Of the
    parameter counts, the one each model's authors' count uses (``ModelCard.params_count``)."""
    twins = {c.key for c in cells} | {c.measured.key for c in cells if c.measured is not None}

    def shown(key: Key) -> bool:
        if key.metric == "params" or key.metric.startswith("params_"):
            return key.metric == registry.get(key.model).params_count
        return key.metric in ALONE_METRICS

    return sorted((m for key, m in measured.items() if key.model in models and key not in twins and shown(key)),
                  key=lambda m: m.key)


def render_html(cells: list[Cell], records: list[dict[str, Any]], out: Path,
                paired: Sequence[dict[str, Any]] = ()) -> Path:
    """``paired``: ``bench.stats.against_reference(records)``, shown on each model's paper pages."""
    out.mkdir(parents=True, exist_ok=True)
    env = _environment()
    pages = _pages(cells, records, paired)
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    for page in pages:
        page["figures"], page["figures_note"] = figures(page["paper"], page["cells"], page["extra"], out)
        html = env.get_template("paper.html.j2").render(
            page=page, verdicts=VERDICTS, generated=stamp, paired_columns=PAIRED_COLUMNS, reference=REFERENCE,
            paired_method=PAIRED_METHOD, alone_heading=ALONE_HEADING)
        (out / f"{page['paper']}.html").write_text(html)
    index = out / "index.html"
    index.write_text(env.get_template("index.html.j2").render(pages=pages, verdicts=VERDICTS, generated=stamp,
                                                              summary=summary(cells, records)))
    return index


def _marks(numbers: Sequence[int]) -> str:
    return f" [{', '.join(map(str, numbers))}]" if numbers else ""


def render_markdown(cells: list[Cell], paired: Sequence[dict[str, Any]] = (),
                    measured: dict[Key, Measurement] | None = None) -> str:
    """``paired`` as for ``render_html``; ``measured``: ``latest(records)``, whose measurements with no reported
    twin each paper's section lists. Notes are numbered as on the HTML pages (``annotate``): ``[n]``."""
    built = {card.name for card in registry.list_models()}
    titles = paper_titles()
    lines = ["# Reported vs measured", ""]
    for paper, tables in sorted(tables_of(cells).items()):
        mine = [c for c in cells if c.reported.paper == paper]
        lines += [f"## {titles.get(paper, paper)}", "",
                  "Verdicts: " + ", ".join(f"{verdict} {count}" for verdict, count in tally(mine).items()), ""]
        flags = annotate(tables, paper_flags().get(paper, ()))
        if flags:
            lines += ["Flags on the paper as a whole:", "", *_note_lines(flags), ""]
        for table in tables:
            lines += [f"### {table.name}{_marks(table.marks)}", "", "| model | variant | scale | " +
                      " | ".join(f"{d} {m}".strip() for d, m in table.columns) + " |",
                      "|---|---|---|" + "---|" * len(table.columns)]
            for row in table.rows:
                parts = []
                for column in table.columns:
                    cell = table.cell(row, column)
                    if cell is None:
                        parts.append("")
                        continue
                    text = cell.reported_text() + _marks(table.cell_marks.get((row, column), []))
                    if cell.measured is not None:
                        mark = _marks([table.measured_marks[(row, column)]])
                        text += f" / {cell.measured_text()}{mark} ({cell.delta_text()}, {cell.verdict_text()})"
                    else:
                        text += f" / {cell.verdict} ({cell.why})" if cell.why else f" / {cell.verdict}"
                    parts.append(text)
                lines.append(f"| {row[0]}{_marks(table.row_marks.get(row, []))} | {row[1]} | {row[2]} | "
                             + " | ".join(parts) + " |")
            lines += ["", *_note_lines(table.notes), ""] if table.notes else [""]
        alone = measured_alone(mine, measured or {}, {c.reported.model for c in mine} & built)
        if alone:
            lines += [f"### {ALONE_HEADING}", "", "| model | scale | measured | where | value | budget |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {m.key.model}{'.' + m.key.variant if m.key.variant else ''} | {m.key.scale} | {m.key.metric} "
                      f"| {' '.join(filter(None, (m.key.dataset, m.key.protocol)))} | "
                      f"{format_value(m.key.metric, m.value)} | {m.tier} |" for m in alone]
            lines.append("")
        rows = paired_rows(paired, {c.reported.model for c in mine} & built)
        if rows:
            lines += [f"### Image by image against {REFERENCE}", "", "| " + " | ".join(PAIRED_COLUMNS) + " |",
                      "|" + "---|" * len(PAIRED_COLUMNS), *("| " + " | ".join(row) + " |" for row in rows), ""]
    return "\n".join(lines)


def _note_lines(notes: Sequence[Note]) -> list[str]:
    return [f"- [{note.number}] {note.kind}: {note.text}" for note in notes]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=help_summary(__doc__))
    parser.add_argument("--html", action="store_true", help="write index.html and one page per paper")
    parser.add_argument("--markdown", action="store_true", help="write report.md")
    parser.add_argument("--out", default="reports/out", help="output folder (default reports/out)")
    parser.add_argument("--results-dir", help="results store (default $BENCH_RESULTS_DIR, else results/)")
    args = parser.parse_args(argv)
    try:
        if not (args.html or args.markdown):
            raise BenchError("say what to write: --html and/or --markdown")
        records = results.load_records(args.results_dir)
        cells = build_cells(reported_numbers(), latest(records), by_training_set(records))
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
            path.write_text(render_markdown(cells, paired, latest(records)))
            print(f"Markdown report: {path}")
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
