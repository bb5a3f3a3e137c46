"""Where every dataset comes from, how to check it, and a safe downloader.

``python -m bench data download NAME`` streams the archive into ``<root>/.downloads/`` (resuming a
partial ``.part`` file with an HTTP Range request), hashes it while it streams, refuses it if the
hash differs from the catalog's, and extracts only the members the catalog maps, refusing any
member that would land outside the dataset folder. It then writes ``<Set>/MANIFEST.sha256`` so
``python -m bench data verify NAME`` can re-check every file later.

Checksums are the published ones, with their source named; where no checksum is published the
entry says so, the download prints the hash it computed, for you to pin, and ``verify`` says plainly
that the files could only be checked against what arrived. An entry may also name how many images its
HR folder must end up with, so an archive whose layout differs from the catalogued one is refused
rather than half-used; and an entry may be a union of others (``DF2K``, ``291``), downloaded and
verified part by part.
"""

from __future__ import annotations

import hashlib
import http.client
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from bench import BenchError
from bench.data.benchmarks import SAMPLES_TEST, SAMPLES_TRAIN, canonical_name, data_roots

__all__ = ["Archive", "Dataset", "CATALOG", "describe", "download", "verify", "safe_extract", "fetch"]

_EDSR_BENCHMARK = "https://cv.snu.ac.kr/research/EDSR/benchmark.tar"
_EDSR_BENCHMARK_MD5 = "md5:4ace41d33c2384b97e6b320cd0afd6ba"
_DIV2K = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@dataclass(frozen=True)
class Archive:
    url: str
    checksum: str | None  # "sha256:<hex>" or "md5:<hex>"; None where nothing is published
    members: tuple[tuple[str, str], ...]  # (prefix inside the archive, folder under the dataset)
    size: int | None = None
    checksum_source: str = ""


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    archives: tuple[Archive, ...]
    how_to_get: str = ""  # for sets without a public archive
    aliases: tuple[str, ...] = ()  # other spellings, lower case
    images: int | None = None  # images the extracted HR/ must hold; None: not checked
    parts: tuple[str, ...] = ()  # a union of other entries, with no archive of its own


def _benchmark_set(name: str) -> Dataset:
    return Dataset(
        name,
        f"{name} HR and MATLAB-made LR_bicubic X2/X3/X4, from EDSR's benchmark.tar (one archive for four sets)",
        (Archive(_EDSR_BENCHMARK, _EDSR_BENCHMARK_MD5, ((f"benchmark/{name}/", ""),),
                 checksum_source="Coloquinte/torchSR torchsr/datasets/benchmarks.py"),),
    )


def _div2k(zip_name: str, checksum: str, size: int, members: tuple[tuple[str, str], ...]) -> Archive:
    return Archive(_DIV2K + zip_name, "sha256:" + checksum, members, size,
                   "tensorflow/datasets tensorflow_datasets/datasets/div2k/checksums.tsv")


CATALOG: dict[str, Dataset] = {
    d.name: d
    for d in (
        _benchmark_set("Set5"),
        _benchmark_set("Set14"),
        _benchmark_set("B100"),
        _benchmark_set("Urban100"),
        Dataset(
            "DIV2K-val",
            "DIV2K validation HR (0801-0900) and its official bicubic LR X2/X3/X4",
            (
                _div2k("DIV2K_valid_HR.zip", "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc",
                       448993893, (("DIV2K_valid_HR/", "HR/"),)),
                *(
                    _div2k(f"DIV2K_valid_LR_bicubic_X{s}.zip", digest, size,
                           ((f"DIV2K_valid_LR_bicubic/X{s}/", f"LR_bicubic/X{s}/"),))
                    for s, digest, size in (
                        (2, "60eed9875c697df51204aa579e2a699e1d5215095788a097ff54dd17e2664d57", 117763600),
                        (3, "04b9a2ed3b4a0715d3924d3ae8514830c3328fac8d30512ce716d6f419e052a3", 54513392),
                        (4, "a50a5d1c4b88de4e8d300d8fb2b904c52fe93b2b298a4899697760d7cbb6d553", 31505881),
                    )
                ),
            ),
        ),
        Dataset(
            "DIV2K-train",
            "DIV2K training HR (0001-0800), the training set of every paper here",
            (_div2k("DIV2K_train_HR.zip", "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335",
                    3530603713, (("DIV2K_train_HR/", "HR/"),)),),
            images=800,
        ),
        Dataset(
            "Flickr2K",
            "Flickr2K HR (2650 images); DIV2K + Flickr2K = DF2K",
            (Archive("https://cv.snu.ac.kr/research/EDSR/Flickr2K.tar", "md5:5d3f39443d5e9489bff8963f8f26cb03",
                     (("Flickr2K/Flickr2K_HR/", "HR/"),),
                     checksum_source="Coloquinte/torchSR torchsr/datasets/flickr2k.py"),),
            images=2650,
        ),
        Dataset(
            "Manga109",
            "Manga109 (109 comic volumes' covers); licence requires a request to the authors",
            (),
            how_to_get="request access at http://www.manga109.org/en/, then put the 109 PNGs in "
                       "<data root>/Manga109/HR/ (no public archive with a published checksum exists)",
        ),
        # T91: the 91 training images of Yang et al., "Image super-resolution via sparse representation" (TIP 2010),
        # as the SRCNN authors ship them in their training package: the Train/ folder of BMPs that its
        # generate_train.m reads (`folder = 'Train'`, `*.bmp`). SRCNN, VDSR, LapSRN and AMMS train on these 91.
        # Neither Yang et al. nor the SRCNN project page publishes a checksum; the SHA-256 below is the one
        # YeapJieShen/single-image-super-resolution docs/reproduction.md records for SRCNN_train.zip (a second
        # public repository pins the same digest for the same archive). The folder holding Train/ inside the zip
        # is documented nowhere, so the prefixes cover the layouts that code unpacking it assumes, and images=91
        # refuses an archive laid out otherwise. Other copies, not automated: Yang et al.'s ScSR.rar (RAR, which
        # this extractor does not read) and LapSRN's SR_training_datasets.zip (T91/*.png; plain http; no checksum).
        Dataset(
            "T91",
            "Yang et al.'s 91 training images (BMP, from SRCNN's training package); T91 + BSD200 = '291'",
            (Archive("https://mmlab.ie.cuhk.edu.hk/projects/SRCNN/SRCNN_train.zip",
                     "sha256:001146419f7acfb12a3e7929c8acd5de88a08d687d6881085f81321ad6982b1a",
                     (("SRCNN/Train/", "HR/"), ("SRCNN_train/SRCNN/Train/", "HR/"), ("Train/", "HR/")),
                     checksum_source="YeapJieShen/single-image-super-resolution docs/reproduction.md "
                                     "(a third party's record; the SRCNN authors publish none)"),),
            aliases=("t91", "91-image", "91-images", "yang91"),
            images=91,
        ),
        # BSD200: the 200 training images of the Berkeley Segmentation Dataset (Martin et al., ICCV 2001), i.e.
        # BSDS300/images/train/ of Berkeley's BSDS300-images.tgz. images/test/ (100) is B100, a test set here, so
        # it is not extracted. Berkeley publishes no checksum; the SHA-256 below is the one
        # Chicken20145/ai-assisted-parallel-image-processing scripts/download_datasets.py checks for this URL.
        # The images are Berkeley's JPEGs and stay JPEGs (HR/<id>.jpg): both loaders (bench.data.benchmarks and
        # bench.data.training) read .jpg, and this catalogue has no conversion step, so nothing is re-encoded.
        # LapSRN's SR_training_datasets.zip has a PNG copy named BSDS200 (plain http, no checksum).
        Dataset(
            "BSD200",
            "BSDS300's 200 training images (HR/<id>.jpg: Berkeley's JPEGs, read as they are); disjoint from B100",
            (Archive("https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/segbench/BSDS300-images.tgz",
                     "sha256:a5f7d0e49fe135c75518a3543ced24470156fd69305ae77845dff2a5138652b4",
                     (("BSDS300/images/train/", "HR/"),),
                     checksum_source="Chicken20145/ai-assisted-parallel-image-processing scripts/download_datasets.py "
                                     "(a third party's record; Berkeley publishes none)"),),
            aliases=("bsd200", "bsds200", "bsds300-train"),
            images=200,
        ),
        # Unions the papers name as one training set: no archive of their own, each part downloads and verifies
        # as itself. bench.data.training.UNIONS names the parts again for training; keep the two alike.
        Dataset("DF2K", "DIV2K-train + Flickr2K (800 + 2650 = 3450 images): EDSR's and later papers' DF2K", (),
                aliases=("df2k",), parts=("DIV2K-train", "Flickr2K")),
        Dataset("291", "T91 + BSD200 (91 + 200 images): the '291' training set of VDSR and the AMMS paper", (),
                aliases=("t91+bsd200",), parts=("T91", "BSD200")),
    )
}


def _entry(name: str) -> Dataset:
    lowered = name.lower()
    for dataset in CATALOG.values():
        if lowered == dataset.name.lower() or lowered in dataset.aliases:
            return dataset
    try:
        canonical = canonical_name(name)
    except BenchError:
        raise BenchError(f"unknown dataset {name!r}; catalogue: {', '.join(CATALOG)}") from None
    if canonical not in CATALOG:
        raise BenchError(f"{canonical} is built in and needs no download; catalogue: {', '.join(CATALOG)}")
    return CATALOG[canonical]


def _target_root(data_root) -> Path:
    return data_roots(data_root)[0]


def _found(name: str, data_root) -> Path | None:
    return next((r / name for r in data_roots(data_root) if (r / name / "HR").is_dir()), None)


def describe(data_root=None) -> dict:
    """Every set a command can name: the embedded ones first (always there), then the catalog's."""
    rows = [{"name": name, "status": "embedded", "location": "scikit-image's bundled sample images",
             "source": f"{len(images)} images: {', '.join(images)}", "description": what,
             "published_checksum": None}
            for name, images, what in (("samples", SAMPLES_TEST, "the default test set"),
                                       ("samples-train", SAMPLES_TRAIN, "the default training set"))]
    for d in CATALOG.values():
        if d.parts:
            found = [_found(part, data_root) for part in d.parts]
            present = all(found)
            location = ", ".join(str(f) for f in found) if present else None
            source = f"union of {' + '.join(d.parts)}: `data download {d.name}` fetches each part"
        else:
            folder = _found(d.name, data_root)
            present, location = folder is not None, str(folder) if folder else None
            source = ", ".join(a.url for a in d.archives) or d.how_to_get
        rows.append({"name": d.name, "status": "present" if present else "not present", "location": location,
                     "source": source, "description": d.description,
                     "published_checksum": all(a.checksum for a in d.archives) if d.archives else None})
    return {"datasets": rows}


def _checksum_notes(entry: Dataset) -> list[str]:
    """One plain sentence per archive of ``entry`` that has no published checksum."""
    return [f"{entry.name}: no published checksum exists for {a.url}; the download could not be checked against "
            f"one, so MANIFEST.sha256 records the files as they arrived and verify can only tell that they have "
            f"not changed since, not that they are the published ones" for a in entry.archives if a.checksum is None]


def _hash_file(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(archive: Archive, folder: Path, progress: bool = True, timeout: float = 60) -> Path:
    """Download ``archive.url`` into ``folder`` (resuming a ``.part``), check its hash, return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / PurePosixPath(archive.url).name
    algorithm = archive.checksum.split(":", 1)[0] if archive.checksum else "sha256"
    if final.exists() and archive.checksum in (None, f"{algorithm}:{_hash_file(final, algorithm)}"):
        return final
    part = final.with_name(final.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(archive.url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # the .part is already complete
            response = None
        else:
            raise BenchError(f"download of {archive.url} failed: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        raise BenchError(f"cannot reach {archive.url}: {err}; a partial download stays in {part}") from None
    if response is not None:
        with response:
            resumed = response.status == 206
            if not resumed:
                have = 0  # the server ignored the Range header: start over
            length = response.headers.get("Content-Length")
            total = have + int(length) if length else archive.size
            with part.open("ab" if resumed else "wb") as out, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, desc=final.name, disable=not progress
            ) as bar:
                received, problem = 0, None
                try:
                    for block in iter(lambda: response.read(1 << 20), b""):
                        out.write(block)
                        received += len(block)
                        bar.update(len(block))
                except (OSError, http.client.HTTPException) as err:
                    problem = err
                if problem is not None or (length is not None and received < int(length)):
                    raise BenchError(f"download of {archive.url} broke off after {have + received} bytes "
                                     f"({problem or 'connection closed'}); run the same command again "
                                     f"to resume from {part}")
    digest = f"{algorithm}:{_hash_file(part, algorithm)}"
    if archive.checksum is not None and digest != archive.checksum:
        bad = part.with_name(part.name + ".bad")
        part.replace(bad)
        raise BenchError(f"{archive.url}: checksum {digest} differs from the catalogue's {archive.checksum}; "
                         f"kept as {bad} for inspection")
    part.replace(final)
    return final


def _members(path: Path) -> Iterator[tuple[str, object, str]]:
    """(name, handle, kind) for every member of a zip or tar archive; kind: "file", "dir" or "other" (links,
    devices ...). tarfile names directories without a trailing slash, so the kind is asked, not guessed."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
                yield info.filename, (archive, info), "other" if is_link else "dir" if info.is_dir() else "file"
    elif tarfile.is_tarfile(path):
        with tarfile.open(path) as archive:
            for info in archive:
                yield info.name, (archive, info), "file" if info.isfile() else "dir" if info.isdir() else "other"
    else:
        raise BenchError(f"{path} is neither a zip nor a tar archive")


def _open_member(handle):
    archive, info = handle
    return archive.open(info) if isinstance(archive, zipfile.ZipFile) else archive.extractfile(info)


def safe_extract(path: Path, members: tuple[tuple[str, str], ...], destination: Path) -> list[Path]:
    """Extract the regular files under each archive prefix to ``destination/<folder>``.

    Links, devices and anything whose resolved path leaves ``destination`` are refused, and a refused (or
    broken) archive leaves nothing behind: the files written before the refusal, and the folders made for
    them, are removed again."""
    destination = destination.resolve()
    written: list[Path] = []
    made: list[Path] = []  # folders this call created, parents first
    try:
        for name, handle, kind in _members(path):
            for prefix, folder in members:
                if not name.startswith(prefix) or name == prefix:
                    continue
                relative = PurePosixPath(folder) / PurePosixPath(name[len(prefix):])
                target = (destination / relative).resolve()
                if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts or \
                        not target.is_relative_to(destination):
                    raise BenchError(f"{path}: member {name!r} would land outside {destination}; "
                                     f"refusing the archive")
                if kind == "dir":  # folders are made for the files they hold
                    continue
                if kind != "file":
                    raise BenchError(f"{path}: member {name!r} is not a regular file; refusing the archive")
                missing = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
                target.parent.mkdir(parents=True, exist_ok=True)
                made += reversed(missing)
                tmp = target.with_name(target.name + ".tmp")
                try:
                    with _open_member(handle) as source, tmp.open("wb") as out:
                        shutil.copyfileobj(source, out)
                    tmp.replace(target)
                finally:
                    tmp.unlink(missing_ok=True)
                written.append(target)
    except BaseException:
        for done in written:
            done.unlink(missing_ok=True)
        for folder in reversed(made):  # deepest first; a folder that holds anything else stays
            try:
                folder.rmdir()
            except OSError:
                pass
        raise
    return written


def _move_into_place(staging: Path, destination: Path) -> None:
    """Move a fully extracted and checked ``staging`` folder to ``destination``: a rename when there is none
    yet; else file by file, its old MANIFEST removed first and the new one moved last, so that no MANIFEST
    ever lists files that are not the ones it hashed."""
    if not destination.exists():
        staging.rename(destination)
        return
    (destination / "MANIFEST.sha256").unlink(missing_ok=True)
    files = sorted(p for p in staging.rglob("*") if p.is_file() and p.name != "MANIFEST.sha256")
    for source in [*files, staging / "MANIFEST.sha256"]:
        target = destination / source.relative_to(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        source.replace(target)


def download(name: str | Dataset, data_root=None, progress: bool = True) -> dict:
    entry = name if isinstance(name, Dataset) else _entry(name)
    if entry.parts:
        results = [download(part, data_root, progress) for part in entry.parts]
        return {"name": entry.name, "location": ", ".join(r["location"] for r in results),
                "files": sum(r["files"] for r in results), "manifest": ", ".join(r["manifest"] for r in results),
                "parts": results}
    if not entry.archives:
        raise BenchError(f"{entry.name} has no public download: {entry.how_to_get}")
    root = _target_root(data_root)
    destination = root / entry.name
    # Extracted into a hidden sibling first and moved into place only once every archive was extracted and
    # checked: a refused or broken download leaves no images behind for the loaders to pick up.
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f".{entry.name}.partial-*"):  # left by a killed download; the loaders never read it
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{entry.name}.partial-"))
    try:
        written: list[Path] = []
        for archive in entry.archives:
            path = fetch(archive, root / ".downloads", progress)
            if archive.checksum is None:
                print(f"note: {archive.url} has no published checksum; sha256 of what arrived: "
                      f"{_hash_file(path)}", file=sys.stderr)
            written += safe_extract(path, archive.members, staging)
        prefixes = ", ".join(p for a in entry.archives for p, _ in a.members)
        if not written:
            raise BenchError(f"the archive for {entry.name} held none of the expected folders ({prefixes})")
        images = sum(p.suffix.lower() in _IMAGE_SUFFIXES for p in written)
        if entry.images is not None and images != entry.images:
            raise BenchError(f"{entry.name} should be {entry.images} images, but the archive gave {images} under "
                             f"{prefixes}: its layout is not the catalogued one, and nothing was extracted "
                             f"(the archive stays in {root / '.downloads'})")
        staged = staging.resolve()
        relative = sorted({p.relative_to(staged).as_posix() for p in written})
        lines = [f"{_hash_file(staged / r)}  {r}" for r in relative]
        (staging / "MANIFEST.sha256").write_text("\n".join(lines) + "\n")
        _move_into_place(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"name": entry.name, "location": str(destination), "files": len(relative),
            "manifest": str(destination / "MANIFEST.sha256")}


def _manifest_entries(manifest: Path, folder: Path) -> list[tuple[str, str]]:
    """(sha256, path) of every line of a MANIFEST.sha256; a malformed line, or a path that would leave
    ``folder`` (absolute, ``..``, or through a link), is refused before anything is hashed."""
    try:
        text = manifest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise BenchError(f"cannot read {manifest}: {err}") from None
    inside = folder.resolve()
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, relative = line.partition("  ")
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not relative:
            raise BenchError(f"{manifest}, line {number} is not '<sha256>  <path>': {line[:100]!r}; "
                             f"the MANIFEST is damaged (download the set again to rewrite it)")
        pure = PurePosixPath(relative)
        if pure.is_absolute() or ".." in pure.parts or not (folder / relative).resolve().is_relative_to(inside):
            raise BenchError(f"{manifest}, line {number} names {relative!r}, outside {folder}; refusing to "
                             f"verify against this MANIFEST")
        entries.append((digest, relative))
    return entries


def verify(name: str, data_root=None) -> dict:
    """Re-hash every file listed in ``<Set>/MANIFEST.sha256`` (written by ``download``).

    ``notes`` (also printed to stderr) says when an archive had no published checksum, so that a clean
    verify is not read as more than it is."""
    entry = _entry(name)
    if entry.parts:
        reports = [verify(part, data_root) for part in entry.parts]
        return {"name": entry.name, "location": ", ".join(r["location"] for r in reports),
                "ok": sum(r["ok"] for r in reports),
                "mismatched": [f"{r['name']}/{m}" for r in reports for m in r["mismatched"]],
                "missing": [f"{r['name']}/{m}" for r in reports for m in r["missing"]],
                "notes": [n for r in reports for n in r["notes"]], "parts": reports}
    roots = [r for r in data_roots(data_root) if (r / entry.name).is_dir()]
    if not roots:
        looked = ", ".join(str(r / entry.name) for r in data_roots(data_root))
        raise BenchError(f"{entry.name} is not present (looked in {looked}); "
                         f"`python -m bench data download {entry.name}` fetches it")
    folder = roots[0] / entry.name
    manifest = folder / "MANIFEST.sha256"
    if not manifest.is_file():
        raise BenchError(f"{folder} has no MANIFEST.sha256 (it was not made by `data download`); "
                         f"nothing to verify against")
    ok, mismatched, missing = 0, [], []
    for digest, relative in _manifest_entries(manifest, folder):
        path = folder / relative
        if not path.is_file():
            missing.append(relative)
        elif _hash_file(path) != digest:
            mismatched.append(relative)
        else:
            ok += 1
    notes = _checksum_notes(entry)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    archives = [{"url": a.url, "checksum": a.checksum, "checksum_source": a.checksum_source or None}
                for a in entry.archives]
    return {"name": entry.name, "location": str(folder), "ok": ok, "mismatched": mismatched, "missing": missing,
            "archives": archives, "notes": notes}
