"""The results store: every measurement is one JSON file with its provenance.

One file per record means a write never touches an earlier record: each is written to a temporary
file, flushed to disk and renamed into place (atomic on POSIX), so an interrupted run leaves either
the whole record or nothing, and parallel writers (DDP ranks, several shells) cannot clobber each
other. The folder is ``$BENCH_RESULTS_DIR``, else ``./results``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import torch

from bench import BenchError

__all__ = ["results_dir", "provenance", "append", "load_records", "record_problem", "is_number"]


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
