"""Reported numbers: typed in once from a paper's table, kept as data, never computed.

Each paper's manifest (``bench.paper.Paper``) names its ``reported.csv``, with the columns
``paper, table, model, variant, scale, dataset, metric, value, protocol, note``.

A ``note`` holds routine provenance first ("printed as 1,592K", "label: ..."), shown on hover, then any
flags, each starting with ``flag: `` (``"printed as 723K; flag: scale printed as x2 ...; flag: ..."``). A
flag is what a reader must see beside the number: a typo in the paper, an inconsistency between its tables
or between its text and a table, or a reading the reproduction had to choose (with the paper's line
numbers). The report numbers each flag and shows it under its table. Flags that concern no single number
("the text names a method its tables do not print") are the manifest's ``Paper.flags`` (``paper_flags``),
shown at the top of the paper's page.

The ``protocol`` says how the paper measured: for PSNR/SSIM the evaluation protocol (``bench.metrics``); for
Mult-Adds the HR size (``hr 1280x720``; 1024x720 if absent), ``lr-pad P`` where the LR was padded before counting
(``bench.complexity.lr_size``) and ``analytic`` where the table copied a model's own formula. The report judges a
cell only against a measurement made the same way; one made another way is "measured differently".
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench import BenchError
from bench.paper import papers

__all__ = ["Reported", "COLUMNS", "FLAG", "read_reported", "reported_numbers", "reported_frame", "paper_titles",
           "known_differences", "paper_flags"]

COLUMNS = ("paper", "table", "model", "variant", "scale", "dataset", "metric", "value", "protocol", "note")
FLAG = "flag: "  # starts each flag in a note (see the module's docstring)


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

    @property
    def routine_note(self) -> str:
        """The note's routine provenance: what comes before its first flag."""
        return self.note.split(FLAG)[0].strip().rstrip(";").strip()

    @property
    def flags(self) -> list[str]:
        """The note's flags, in the order typed."""
        return [flag.strip().rstrip(";").strip() for flag in self.note.split(FLAG)[1:]]

    @property
    def trained_on(self) -> str:
        """The training set the row states (``train=DIV2K`` in its variant), "" if it states none."""
        return next((part.removeprefix("train=") for part in self.variant.split(";") if part.startswith("train=")),
                    "")


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
    """Every reported number of every installed paper."""
    return [row for paper in papers().values() if paper.reported is not None for row in read_reported(paper.reported)]


def reported_frame(rows: list[Reported] | None = None) -> pd.DataFrame:
    """Every reported number (or ``rows``) as one row: ``COLUMNS``, then ``source`` and ``printed``."""
    rows = reported_numbers() if rows is None else rows
    return pd.DataFrame([dataclasses.asdict(row) for row in rows],
                        columns=[field.name for field in dataclasses.fields(Reported)])


def paper_titles() -> dict[str, str]:
    """Short paper name -> title, venue and year."""
    titles = {}
    for name, paper in papers().items():
        titles.update({**paper.other_titles, name: paper.title})
    return titles


def known_differences() -> dict[tuple[str, ...], str]:
    """Why a reproduction cannot reach a reported number: (paper, model, variant, scale, metric as in
    reported.csv) -> reason, for every dataset of that row; a sixth element, the dataset, narrows it to one
    cell."""
    return {key: why for paper in papers().values() for key, why in paper.known_differences.items()}


def paper_flags() -> dict[str, tuple[str, ...]]:
    """Paper name -> its flags that concern no single reported number (``Paper.flags``)."""
    return {name: paper.flags for name, paper in papers().items() if paper.flags}
