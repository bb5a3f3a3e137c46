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

__all__ = ["results_dir", "provenance", "append", "load_records"]


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
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_records(directory: str | os.PathLike | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    """All stored records (oldest first), optionally of one kind; unreadable files are reported."""
    folder = results_dir(directory)
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            print(f"warning: skipping unreadable result {path}: {err}", file=sys.stderr)
            continue
        if kind is None or record.get("kind") == kind:
            records.append(record)
    return records
