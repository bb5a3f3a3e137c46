"""Prepared training sets: decode once, make the MATLAB-bicubic LR once, memory-map ever after.

``python -m bench data prepare SET --scale S`` writes, for every HR image of SET, two uint8 arrays as
``.npy`` files: the HR as training uses it (mod-cropped to S; a grayscale image as three equal channels)
and its LR (``make_lr``: MATLAB bicubic with 8-bit passes, what training would compute at start-up).
Training opens them with ``numpy.load(mmap_mode="r")``: nothing is decoded or resized, start-up takes
seconds whatever the set's size, and every process on a machine shares one copy in the OS page cache, so
a rank's own memory does not grow with the set.

Layout, beside the set where its folder is writable, else under ``$BENCH_CACHE_DIR/prepared``::

    <SET>/prepared/x<S>/hr/<name>.npy, lr/<name>.npy
                        progress.jsonl   one line per finished image: an interrupted run resumes
                        index.json       written last; its presence means complete

The index records each source file's size and modification time and each array's shape and CRC-32:
training uses a prepared set only while its HR folder still matches it, and ``--verify`` re-reads every
array against its checksum.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench import BenchError
from bench.data.benchmarks import is_embedded, load_image, make_lr, mod_crop
from bench.progress import Progress

__all__ = ["FORMAT", "PreparedImage", "image_paths", "open_prepared", "prepare", "prepare_for_training",
           "prepared_dirs"]

FORMAT = 1
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def image_paths(folder: Path) -> list[Path]:
    """The images of an HR folder, sorted by name."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise BenchError(f"{folder} holds no images")
    stems = [p.stem for p in paths]
    if len(set(stems)) != len(stems):
        raise BenchError(f"{folder} holds two images with the same name and different extensions")
    return paths


def _cache_root() -> Path:
    return Path(os.environ.get("BENCH_CACHE_DIR", "") or Path.home() / ".cache" / "sr-repro-bench") / "prepared"


def prepared_dirs(set_folder: Path, scale: int) -> list[Path]:
    """Where a set's prepared arrays may live, in the order they are looked for: beside the set, then in
    the cache (keyed by the set folder's absolute path, so two copies of a set never share one)."""
    key = hashlib.sha1(str(set_folder.resolve()).encode()).hexdigest()[:12]
    return [set_folder / "prepared" / f"x{scale}", _cache_root() / f"{set_folder.name}-{key}" / f"x{scale}"]


def _writable_dir(set_folder: Path, scale: int) -> Path:
    for folder in prepared_dirs(set_folder, scale):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
            return folder
        except OSError:
            continue
    raise BenchError(f"cannot write prepared arrays beside {set_folder} nor under {_cache_root()}; "
                     f"set BENCH_CACHE_DIR to a writable folder")


def _source(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"source_size": stat.st_size, "source_mtime_ns": stat.st_mtime_ns}


def _crc(array: np.ndarray) -> int:
    return zlib.crc32(memoryview(np.ascontiguousarray(array)).cast("B"))


def _save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        np.save(handle, array)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _prepare_one(path: Path, out: Path, scale: int) -> dict[str, Any]:
    """One image: decode, mod-crop, LR; each array written whole (temporary name, then renamed)."""
    hr = load_image(path)
    if hr.shape[0] == 1:
        hr = hr.expand(3, *hr.shape[-2:])
    hr = mod_crop(hr, scale).contiguous()
    record = {"name": path.stem, **_source(path)}
    for kind, tensor in (("hr", hr), ("lr", make_lr(hr, scale))) if scale > 1 else (("hr", hr),):
        array = tensor.numpy()
        _save(out / kind / f"{path.stem}.npy", array)
        record[f"{kind}_shape"], record[f"{kind}_crc32"] = list(array.shape), _crc(array)
    return record


def _kinds(scale: int) -> tuple[str, ...]:
    """The arrays kept per image: at x1 (arbitrary-scale training, which resizes each crop) the HR alone."""
    return ("hr", "lr") if scale > 1 else ("hr",)


def _init_worker() -> None:
    torch.set_num_threads(1)  # one process a core: threads inside each would only contend


def _read_progress(out: Path, paths: dict[str, Path], scale: int) -> dict[str, dict[str, Any]]:
    """Images an interrupted run (or an earlier complete one) finished whose source is unchanged and whose arrays
    are there."""
    done: dict[str, dict[str, Any]] = {}
    lines: list[str] = []
    try:  # a complete earlier preparation whose set has changed since: its unchanged images count
        lines += [json.dumps(r) for r in json.loads((out / "index.json").read_text())["images"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if (out / "progress.jsonl").is_file():
        lines += (out / "progress.jsonl").read_text().splitlines()
    for line in lines:
        try:
            record = json.loads(line)
            path = paths[record["name"]]
        except (ValueError, KeyError, TypeError):
            continue  # a line cut by the interruption, or an image no longer in the set
        if {k: record.get(k) for k in ("source_size", "source_mtime_ns")} == _source(path) and all(
                (out / kind / f"{path.stem}.npy").is_file() for kind in _kinds(scale)):
            done[record["name"]] = record
    return done


def _sets_of(name: str) -> list[str]:
    """A set name, or a union of sets (DF2K, 291), as the folder names under a data root."""
    from bench.data.training import expand_set_names

    names = expand_set_names([name])
    for part in names:
        if is_embedded(part):
            raise BenchError(f"{part} is embedded (scikit-image's images, no folder): it needs no preparing")
    return names


def prepare(name: str, scale: int, data_root=None, workers: int | None = None, progress: bool = True,
            verify: bool = False) -> list[dict[str, Any]]:
    """Prepare a set (or each set of a union) at ``scale``; returns one summary per set. Already prepared
    images are kept (an interrupted run resumes); ``verify`` re-reads every array of a complete set."""
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise BenchError(f"prepare takes a whole scale of at least 1, got {scale!r}")
    return [_prepare_set(part, scale, data_root, workers, progress, verify) for part in _sets_of(name)]


def prepare_for_training(names: list[str], scale: int, data_root=None, local_rank: int = 0,
                         progress: bool = True) -> None:
    """Before a run: the named sets that have a folder and are not prepared at ``scale`` are prepared now, once
    (later runs memory-map them), by the machine's first process (local rank 0); its other processes wait for
    the arrays. A process that cannot prepare raises, and torchrun then stops the others."""
    from bench.data.training import expand_set_names, training_folder

    missing = [(name, folder) for name in expand_set_names(list(names))
               if (folder := training_folder(name, data_root)) is not None and open_prepared(folder, scale) is None]
    if not missing:
        return
    if local_rank == 0:
        for name, _ in missing:
            print(f"note: {name} is not prepared at x{scale}: preparing it now, once (`python -m bench data prepare "
                  f"{name} --scale {scale}` does the same ahead of a run)", file=sys.stderr)
            _prepare_set(name, scale, data_root, None, progress, False)
        return
    waited = 0.0
    while any(open_prepared(folder, scale) is None for _, folder in missing):
        if waited % 60 == 0:
            print(f"waiting for local rank 0 to prepare {', '.join(n for n, _ in missing)} at x{scale}",
                  file=sys.stderr)
        time.sleep(2)
        waited += 2


def _prepare_set(name: str, scale: int, data_root, workers: int | None, progress: bool, verify: bool) -> dict:
    from bench.data.training import training_folder

    folder = training_folder(name, data_root, required=True)
    paths = {p.stem: p for p in image_paths(folder / "HR")}
    existing = open_prepared(folder, scale)
    if existing is not None:
        summary = {"set": name, "scale": scale, "folder": str(existing.folder), "images": len(existing.images),
                   "prepared_now": 0, "bytes": existing.nbytes()}
        if verify:
            summary["verified"] = existing.verify(progress)
        return summary
    out = _writable_dir(folder, scale)
    for kind in _kinds(scale):
        (out / kind).mkdir(exist_ok=True)
    done = _read_progress(out, paths, scale)
    (out / "progress.jsonl").write_text("".join(json.dumps(r) + "\n" for r in done.values()))
    (out / "index.json").unlink(missing_ok=True)  # stale: rewritten when every image is done
    todo = [p for stem, p in paths.items() if stem not in done]
    count = workers or os.cpu_count() or 1
    if done:
        print(f"prepare {name} x{scale}: resuming, {len(done)} of {len(paths)} images already done", file=sys.stderr)
    with Progress(len(paths), f"prepare {name} x{scale}", unit="img", initial=len(done), enabled=progress) as bar, \
            open(out / "progress.jsonl", "a") as log:
        def finished(record: dict[str, Any]) -> None:
            done[record["name"]] = record
            log.write(json.dumps(record) + "\n")
            log.flush()
            bar.update(1)

        if count == 1 or len(todo) <= 1:
            for path in todo:
                finished(_prepare_one(path, out, scale))
        else:
            with ProcessPoolExecutor(min(count, len(todo)), initializer=_init_worker) as pool:
                futures = [pool.submit(_prepare_one, path, out, scale) for path in todo]
                for future in as_completed(futures):
                    finished(future.result())
    records = [done[stem] for stem in paths]
    index = {"format": FORMAT, "set": name, "scale": scale, "source": str((folder / "HR").resolve()),
             "images": records}
    tmp = out / "index.json.tmp"
    tmp.write_text(json.dumps(index))
    os.replace(tmp, out / "index.json")
    (out / "progress.jsonl").unlink(missing_ok=True)
    prepared = open_prepared(folder, scale)
    if prepared is None:
        raise BenchError(f"internal: {out} does not read back as a prepared set")
    return {"set": name, "scale": scale, "folder": str(out), "images": len(records), "prepared_now": len(todo),
            "bytes": prepared.nbytes(), **({"verified": prepared.verify(progress)} if verify else {})}


@dataclass
class PreparedImage:
    """One prepared image: its HR and LR uint8 ``[3, H, W]`` arrays, memory-mapped on first use. It pickles
    as its paths (a DataLoader worker maps the files itself instead of receiving a copy)."""

    name: str
    hr_path: Path
    lr_path: Path
    _hr: np.ndarray | None = None
    _lr: np.ndarray | None = None

    @property
    def hr(self) -> np.ndarray:
        if self._hr is None:
            self._hr = np.load(self.hr_path, mmap_mode="r")
        return self._hr

    @property
    def lr(self) -> np.ndarray:
        if self._lr is None:
            self._lr = np.load(self.lr_path, mmap_mode="r")
        return self._lr

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "hr_path": self.hr_path, "lr_path": self.lr_path, "_hr": None, "_lr": None}


@dataclass
class PreparedSet:
    folder: Path
    index: dict[str, Any]
    images: list[PreparedImage]

    def nbytes(self) -> int:
        return sum((self.folder / kind / f"{r['name']}.npy").stat().st_size
                   for r in self.index["images"] for kind in _kinds(self.index["scale"]))

    def verify(self, progress: bool = True) -> int:
        """Re-read every array against the shape and CRC-32 in the index; the number checked."""
        with Progress(len(self.images), f"verify {self.index['set']} x{self.index['scale']}", unit="img",
                      enabled=progress) as bar:
            for record, image in zip(self.index["images"], self.images, strict=True):
                for kind in _kinds(self.index["scale"]):
                    array = getattr(image, kind)
                    if list(array.shape) != record[f"{kind}_shape"] or _crc(array) != record[f"{kind}_crc32"]:
                        raise BenchError(f"{self.folder / kind / (record['name'] + '.npy')} does not match its "
                                         f"checksum: delete {self.folder} and prepare the set again")
                bar.update(1)
        return len(self.images)


def open_prepared(set_folder: Path, scale: int) -> PreparedSet | None:
    """The complete prepared arrays of a set at ``scale`` that still match its HR folder, else None."""
    paths = None
    for folder in prepared_dirs(set_folder, scale):
        try:
            index = json.loads((folder / "index.json").read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(index, dict) or index.get("format") != FORMAT or index.get("scale") != scale:
            continue
        if paths is None:
            paths = {p.stem: p for p in image_paths(set_folder / "HR")}
        records = index.get("images", [])
        if [r.get("name") for r in records] != list(paths) or any(
                {k: r.get(k) for k in ("source_size", "source_mtime_ns")} != _source(paths[r["name"]])
                for r in records):
            print(f"note: {folder} was prepared from another state of {set_folder / 'HR'}; not used "
                  f"(prepare the set again)", file=sys.stderr)
            continue
        lr_kind = _kinds(scale)[-1]  # x1: the "LR" is the HR itself
        images = [PreparedImage(r["name"], folder / "hr" / f"{r['name']}.npy", folder / lr_kind / f"{r['name']}.npy")
                  for r in records]
        return PreparedSet(folder, index, images)
    return None
