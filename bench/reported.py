"""Reported numbers: typed in once from a paper's table, kept as data, never computed.

Each paper package keeps a ``reported.csv`` beside its ``__init__.py`` with the columns
``paper, table, model, variant, scale, dataset, metric, value, protocol, note``. ``bench`` finds
those files through the same entry-point group that registers the models.
"""

from __future__ import annotations

import csv
import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from bench import BenchError
from bench.registry import ENTRY_POINT_GROUP

__all__ = ["Reported", "COLUMNS", "read_reported", "reported_numbers", "paper_titles", "known_differences"]

COLUMNS = ("paper", "table", "model", "variant", "scale", "dataset", "metric", "value", "protocol", "note")


@dataclass(frozen=True)
class Reported:
    paper: str
    table: str
    model: str
    variant: str
    scale: str  # "2", "3", "4", or a non-integer scale such as "2.5" for arbitrary-scale papers
    dataset: str
    metric: str  # psnr, ssim, params, mult_adds, ...
    value: float
    protocol: str
    note: str
    source: str  # file and line it was read from
    printed: str = ""  # the value exactly as typed (its last digit is the paper's precision)


def read_reported(path: Path) -> list[Reported]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise BenchError(f"{path}: columns must be {', '.join(COLUMNS)}; got {reader.fieldnames}")
        rows = []
        for line, row in enumerate(reader, start=2):
            try:
                value = float(row["value"])
            except ValueError:
                raise BenchError(f"{path}:{line}: value {row['value']!r} is not a number") from None
            source = f"{path.parent.name}/{path.name}:{line}"
            rows.append(Reported(**{**row, "value": value}, source=source, printed=row["value"].strip()))
    return rows


def reported_numbers() -> list[Reported]:
    """Every reported number of every installed paper package."""
    rows: list[Reported] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        module = importlib.import_module(entry.value)
        path = Path(module.__file__).parent / "reported.csv"
        if path.is_file():
            rows += read_reported(path)
    return rows


def paper_titles() -> dict[str, str]:
    """Short paper name -> title, from each paper package's ``PAPER_TITLES`` (optional)."""
    titles: dict[str, str] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        titles.update(getattr(importlib.import_module(entry.value), "PAPER_TITLES", {}))
    return titles


def known_differences() -> dict[tuple[str, ...], str]:
    """Why a reproduction cannot reach a reported number, from each paper package's
    ``KNOWN_DIFFERENCES``: (paper, model, variant, scale, metric as in reported.csv) -> reason, for every
    dataset of that row; a sixth element, the dataset, narrows it to one cell."""
    found: dict[tuple[str, ...], str] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found.update(getattr(importlib.import_module(entry.value), "KNOWN_DIFFERENCES", {}))
    return found
