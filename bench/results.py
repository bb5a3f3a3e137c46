"""The results store: every measurement is one JSON file with its provenance.

One file per record means a write never touches an earlier record: each is written to a temporary
file, flushed to disk and renamed into place (atomic on POSIX), so an interrupted run leaves either
the whole record or nothing, and parallel writers (DDP ranks, several shells) cannot clobber each
other. The folder is ``$BENCH_RESULTS_DIR``, else ``./results``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from bench import BenchError
from bench.measurements import scale_text, tier_of

__all__ = ["results_dir", "provenance", "append", "load_records", "record_problem", "is_number", "frame",
           "image_frame", "IDENTITY", "PROVENANCE"]


def results_dir(directory: str | os.PathLike | None = None) -> Path:
    return Path(directory or os.environ.get("BENCH_RESULTS_DIR", "") or "results")


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def device_name(device: torch.device | str) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def provenance(device: torch.device | str = "cpu") -> dict[str, Any]:
    return {
        "git_commit": _git_commit(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device_name": device_name(device),
        "host": platform.node(),
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def append(record: dict[str, Any], kind: str, directory: str | os.PathLike | None = None) -> Path:
    """Store ``record`` (a measurement of ``kind``: evaluate, complexity, time, train) with provenance."""
    folder = results_dir(directory)
    folder.mkdir(parents=True, exist_ok=True)
    full = {"kind": kind, **record, "provenance": provenance(record.get("device", "cpu"))}
    # Microseconds in the name: load_records sorts by name, and "latest" must not depend on a random suffix.
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%f")
    path = folder / f"{stamp}-{kind}-{uuid.uuid4().hex[:8]}.json"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(full, handle, indent=1, allow_nan=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, ValueError):  # json's allow_nan=False: a NaN or infinite value
            raise BenchError(f"not storing the {kind} record of {record.get('model', '?')}: {err} "
                             f"(a NaN or infinite value is a broken measurement, not a result)") from None
        raise
    return path


_KEY_TEXT = ("model", "variant", "dataset", "protocol", "reference", "hr_size")  # text fields of a measurement
_NUMBERS = ("psnr", "ssim", "params", "params_trainable", "params_leaf_modules", "mult_adds", "analytic_mult_adds",
            "max_abs_diff", "margin", "before_ms", "after_ms")


def is_number(value: Any) -> bool:
    """An int or float (not a bool) that converts to a float; NaN and infinities included."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        float(value)
    except OverflowError:  # an integer too large for a float
        return False
    return True


def record_problem(record: Any) -> str | None:
    """Why ``record`` cannot be one of the store's records (the report and the gate would misread it), or None.
    Checks the shape the readers rely on, not the values: a NaN PSNR is a record, for the gate to fail."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    if not isinstance(record.get("kind"), str):
        return "no 'kind' string"
    for field in (*_KEY_TEXT, "run_dir"):
        if field in record and not isinstance(record[field], str):
            return f"'{field}' is {record[field]!r}, not a string"
    if "scale" in record and (isinstance(record["scale"], bool) or not isinstance(record["scale"], (int, float, str))):
        return f"'scale' is {record['scale']!r}, not a number"
    for field in _NUMBERS:
        if record.get(field) is not None and not is_number(record[field]):
            return f"'{field}' is {record[field]!r}, not a number"
    spent = record.get("budget")
    if spent is not None and not isinstance(spent, str):
        if not isinstance(spent, dict):
            return f"'budget' is {spent!r}, neither text nor an object"
        if any(k in spent and not isinstance(spent[k], str) for k in ("tier", "note")) or \
                not isinstance(spent.get("overrides", {}), dict):
            return f"'budget' {spent!r} is not {{tier, note, overrides}}"
    if "provenance" in record and not isinstance(record["provenance"], dict):
        return f"'provenance' is {record['provenance']!r}, not an object"
    return None


def load_records(directory: str | os.PathLike | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    """All stored records (oldest first), optionally of one kind. A file that is not a record (unreadable,
    not UTF-8, not JSON, or JSON of another shape) is skipped with one warning line naming it."""
    folder = results_dir(directory)
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as err:  # ValueError: bad UTF-8 or bad JSON
            print(f"warning: skipping unreadable result {path}: {err}", file=sys.stderr)
            continue
        problem = record_problem(record)
        if problem is not None:
            print(f"warning: skipping result {path}: {problem}", file=sys.stderr)
            continue
        if kind is None or record.get("kind") == kind:
            records.append(record)
    return records


# ---- the store as pandas frames ---------------------------------------------------------------------------

IDENTITY = ("kind", "model", "variant", "scale", "dataset", "protocol", "self_ensemble")  # what was measured, where
PROVENANCE = ("git_commit", "time", "device_name", "torch", "python", "host", "command")


def _records(directory: str | os.PathLike | None, records: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return load_records(directory) if records is None else records


def _identity(record: dict[str, Any]) -> dict[str, Any]:
    scale = record.get("scale")
    return {**{field: record.get(field) for field in IDENTITY}, "variant": record.get("variant", ""),
            "scale": None if scale is None else scale_text(scale),  # as reported.csv types it: "2", "2.5"
            "tier": tier_of(record.get("budget", ""))}


def _time(record: dict[str, Any]) -> pd.Timestamp:
    text = (record.get("provenance") or {}).get("time")
    return pd.to_datetime(text, utc=True, errors="coerce") if isinstance(text, str) else pd.NaT


def frame(directory: str | os.PathLike | None = None, *,
          records: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """Every stored record as one row (index ``record``: its place in the store, oldest first): what was measured
    (``IDENTITY``), the budget's ``tier``, every other scalar field of the record (psnr, params, mult_adds,
    margin, ...), the budget's ``budget_note`` and the provenance (``PROVENANCE``; ``time`` a UTC timestamp).
    Nested fields (per-image scores, timing details) are left out: ``image_frame`` has the scores. ``records``,
    when given, are used instead of reading the store."""
    rows = []
    for record in _records(directory, records):
        spent, given = record.get("budget", ""), record.get("provenance") or {}
        rows.append({**_identity(record),
                     **{k: v for k, v in record.items() if k not in (*IDENTITY, "budget", "provenance")
                        and (v is None or isinstance(v, (str, int, float, bool)))},
                     "budget_note": spent.get("note") if isinstance(spent, dict) else spent,
                     **{field: given.get(field) for field in PROVENANCE}, "time": _time(record)})
    first, last = [*IDENTITY, "tier"], ["budget_note", *PROVENANCE]
    table = pd.DataFrame(rows, columns=None if rows else [*first, *last])
    table = table[[*first, *(c for c in table.columns if c not in first + last), *last]]
    table.index.name = "record"
    return table


def _score(value: Any) -> float | None:
    return float(value) if is_number(value) and math.isfinite(value) else None


def image_frame(directory: str | os.PathLike | None = None, *,
                records: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """One row per named image of every record that stored per-image scores: ``record`` (its row in ``frame``),
    ``IDENTITY``, ``tier``, ``time``, then ``image`` (its name), ``psnr`` (NaN where infinite: the output was
    the ground truth itself) and ``ssim``."""
    rows = [{"record": number, **_identity(record), "time": _time(record), "image": image["name"],
             "psnr": _score(image.get("psnr")), "ssim": _score(image.get("ssim"))}
            for number, record in enumerate(_records(directory, records))
            if isinstance(record.get("per_image"), list)
            for image in record["per_image"] if isinstance(image, dict) and isinstance(image.get("name"), str)]
    columns = ["record", *IDENTITY, "tier", "time", "image", "psnr", "ssim"]
    return pd.DataFrame(rows, columns=columns).astype({"psnr": float, "ssim": float})
