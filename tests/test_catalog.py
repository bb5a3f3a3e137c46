"""Downloads against a local HTTP server on 127.0.0.1 (never the internet): streaming, resume,
checksums, safe extraction, verify."""

import dataclasses
import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from bench import BenchError
from bench.data import catalog


class RangeHandler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    requests: list[str | None] = []
    cut_after: int | None = None  # drop the connection after this many bytes, once

    def do_GET(self):  # noqa: N802
        body = self.files.get(self.path)
        type(self).requests.append(self.headers.get("Range"))
        if body is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
            self.send_response(206)
        else:
            self.send_response(200)
        chunk = body[start:]
        self.send_header("Content-Length", str(len(chunk)))
        self.end_headers()
        if type(self).cut_after is not None:
            self.wfile.write(chunk[: type(self).cut_after])
            type(self).cut_after = None
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(chunk)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    RangeHandler.files, RangeHandler.requests, RangeHandler.cut_after = {}, [], None
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", RangeHandler
    httpd.shutdown()
    httpd.server_close()


def png_bytes(value: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (value, 2 * value, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def entry(url: str, payload: bytes, members=(("bundle/Toy/", ""),), algorithm="sha256") -> catalog.Dataset:
    digest = f"{algorithm}:{hashlib.new(algorithm, payload).hexdigest()}"
    return catalog.Dataset("Toy", "test set", (catalog.Archive(url, digest, members),))


def test_download_extract_verify_and_load(server, tmp_path):
    base, handler = server
    payload = zip_bytes({"bundle/Toy/HR/a.png": png_bytes(10), "bundle/Toy/HR/b.png": png_bytes(20),
                         "bundle/Other/HR/c.png": png_bytes(30)})
    handler.files["/toy.zip"] = payload
    result = catalog.download(entry(base + "/toy.zip", payload), tmp_path, progress=False)
    assert result["files"] == 2
    assert sorted(p.name for p in (tmp_path / "Toy" / "HR").iterdir()) == ["a.png", "b.png"]
    assert not (tmp_path / "Toy" / "Other").exists()
    assert (tmp_path / "Toy" / "MANIFEST.sha256").read_text().count("HR/") == 2

    catalog.CATALOG["Toy"] = entry(base + "/toy.zip", payload)
    try:
        assert catalog.verify("Toy", tmp_path)["ok"] == 2
        (tmp_path / "Toy" / "HR" / "a.png").write_bytes(b"tampered")
        (tmp_path / "Toy" / "HR" / "b.png").unlink()
        report = catalog.verify("Toy", tmp_path)
        assert report["mismatched"] == ["HR/a.png"] and report["missing"] == ["HR/b.png"]
    finally:
        del catalog.CATALOG["Toy"]


def test_interrupted_download_resumes_with_range(server, tmp_path):
    base, handler = server
    payload = zip_bytes({"bundle/Toy/HR/a.png": png_bytes(10) * 50})
    handler.files["/toy.zip"] = payload
    handler.cut_after = len(payload) // 3
    spec = entry(base + "/toy.zip", payload)
    with pytest.raises(BenchError, match="broke off after .* again to resume"):
        catalog.download(spec, tmp_path, progress=False)
    part = tmp_path / ".downloads" / "toy.zip.part"
    kept = part.stat().st_size
    assert 0 < kept < len(payload)
    catalog.download(spec, tmp_path, progress=False)  # the next run asks only for the rest
    assert handler.requests[-1] == f"bytes={kept}-"
    assert (tmp_path / "Toy" / "HR" / "a.png").is_file()


def test_resume_sends_range_for_existing_part(server, tmp_path):
    base, handler = server
    payload = zip_bytes({"bundle/Toy/HR/a.png": png_bytes(40)})
    handler.files["/toy.zip"] = payload
    downloads = tmp_path / ".downloads"
    downloads.mkdir()
    (downloads / "toy.zip.part").write_bytes(payload[:100])
    catalog.download(entry(base + "/toy.zip", payload), tmp_path, progress=False)
    assert handler.requests == ["bytes=100-"]
    assert (downloads / "toy.zip").read_bytes() == payload


def test_checksum_mismatch_is_refused_and_kept_aside(server, tmp_path):
    base, handler = server
    handler.files["/toy.zip"] = zip_bytes({"bundle/Toy/HR/a.png": png_bytes(1)})
    wrong = entry(base + "/toy.zip", b"something else", algorithm="md5")
    with pytest.raises(BenchError, match="checksum md5:.* differs"):
        catalog.download(wrong, tmp_path, progress=False)
    assert (tmp_path / ".downloads" / "toy.zip.part.bad").exists()
    assert not (tmp_path / "Toy").exists()


def test_unreachable_server_and_404_are_clear(server, tmp_path):
    base, _ = server
    with pytest.raises(BenchError, match="HTTP 404"):
        catalog.download(entry(base + "/missing.zip", b""), tmp_path, progress=False)


@pytest.mark.parametrize("evil", ["bundle/Toy/../../escape.png", "/bundle/Toy/abs.png"])
def test_path_escape_is_refused(tmp_path, evil):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(zip_bytes({"bundle/Toy/HR/ok.png": b"x", evil: b"y"}))
    members = (("bundle/Toy/", ""), ("/bundle/Toy/", ""))
    with pytest.raises(BenchError, match="outside"):
        catalog.safe_extract(archive, members, tmp_path / "out")
    assert not (tmp_path / "escape.png").exists()


def test_symlink_in_tar_is_refused(tmp_path):
    archive = tmp_path / "links.tar"
    with tarfile.open(archive, "w") as tar:
        link = tarfile.TarInfo("bundle/Toy/HR/link.png")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(BenchError, match="not a regular file"):
        catalog.safe_extract(archive, (("bundle/Toy/", ""),), tmp_path / "out")


def test_a_tar_made_the_ordinary_way_extracts(tmp_path):
    """`tar cf` writes directory members (named without a trailing slash in tarfile); they are folders, not
    refusals (issue 21 item 1: every real benchmark archive was refused)."""
    import subprocess

    folder = tmp_path / "src" / "benchmark" / "Toy" / "HR"
    folder.mkdir(parents=True)
    (folder / "a.png").write_bytes(b"png bytes")
    archive = tmp_path / "real.tar"
    subprocess.run(["tar", "cf", str(archive), "-C", str(tmp_path / "src"), "benchmark"], check=True)
    with tarfile.open(archive) as tar:
        assert any(info.isdir() and not info.name.endswith("/") for info in tar)  # the case that was refused
    written = catalog.safe_extract(archive, (("benchmark/Toy/", ""),), tmp_path / "out")
    assert written == [(tmp_path / "out" / "HR" / "a.png").resolve()]
    assert (tmp_path / "out" / "HR" / "a.png").read_bytes() == b"png bytes"


def test_catalogue_is_complete_and_honest():
    for name in ("Set5", "Set14", "B100", "Urban100", "Manga109", "DIV2K-val"):
        assert name in catalog.CATALOG
    for dataset in catalog.CATALOG.values():
        assert dataset.archives or dataset.how_to_get or dataset.parts
        for archive in dataset.archives:
            assert archive.url.startswith("https://")
            assert archive.checksum is None or archive.checksum_source, archive.url
    with pytest.raises(BenchError, match="no public download"):
        catalog.download("Manga109", Path("/nonexistent"))


# --- the AMMS training sets: T91, BSD200 and their union "291" (fake archives with the real layouts) ---


def image_bytes(value: int, fmt: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (value, 2 * value, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def tgz_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def local_copy(name: str, base: str, payload: bytes, images: int | None, published: bool = True) -> catalog.Dataset:
    """The catalogue's entry with its real layout rules, served from 127.0.0.1 with a tiny archive."""
    real = catalog.CATALOG[name]
    (archive,) = real.archives
    url = base + "/" + archive.url.rsplit("/", 1)[1]
    checksum = f"sha256:{hashlib.sha256(payload).hexdigest()}" if published else None
    return dataclasses.replace(real, archives=(dataclasses.replace(archive, url=url, checksum=checksum),),
                               images=images)


BSDS300 = {
    "BSDS300/images/train/2092.jpg": image_bytes(10, "JPEG"),
    "BSDS300/images/train/8049.jpg": image_bytes(20, "JPEG"),
    "BSDS300/images/test/3096.jpg": image_bytes(30, "JPEG"),  # B100, a test set: must stay out
    "BSDS300/iids_train.txt": b"2092\n8049\n",
    "BSDS300/iids_test.txt": b"3096\n",
}
SRCNN_TRAIN = {
    "SRCNN/Train/t1.bmp": image_bytes(40, "BMP"),
    "SRCNN/Train/tt27.bmp": image_bytes(50, "BMP"),
    "SRCNN/Test/Set5/baby.bmp": image_bytes(60, "BMP"),
    "SRCNN/generate_train.m": b"folder = 'Train';\n",
}


def test_bsd200_takes_only_the_200_training_images(server, tmp_path, monkeypatch):
    from bench.data.benchmarks import find_dataset, load_image

    base, handler = server
    payload = tgz_bytes(BSDS300)
    handler.files["/BSDS300-images.tgz"] = payload
    monkeypatch.setitem(catalog.CATALOG, "BSD200", local_copy("BSD200", base, payload, images=2))
    result = catalog.download("bsds200", tmp_path, progress=False)
    assert result["name"] == "BSD200" and result["files"] == 2
    assert sorted(p.relative_to(tmp_path / "BSD200").as_posix() for p in (tmp_path / "BSD200").rglob("*")) == [
        "HR", "HR/2092.jpg", "HR/8049.jpg", "MANIFEST.sha256"]
    # the JPEGs are kept as they are and the loaders' <Set>/HR layout reads them
    assert (tmp_path / "BSD200" / "HR" / "2092.jpg").read_bytes() == BSDS300["BSDS300/images/train/2092.jpg"]
    assert load_image(find_dataset("BSD200", tmp_path) / "HR" / "8049.jpg").shape == (3, 16, 24)
    report = catalog.verify("BSD200", tmp_path)
    assert (report["ok"], report["mismatched"], report["missing"], report["notes"]) == (2, [], [], [])
    assert report["archives"][0]["checksum"].startswith("sha256:")


def test_t91_takes_the_train_folder_of_srcnns_package(server, tmp_path, monkeypatch):
    base, handler = server
    payload = zip_bytes(SRCNN_TRAIN)
    handler.files["/SRCNN_train.zip"] = payload
    monkeypatch.setitem(catalog.CATALOG, "T91", local_copy("T91", base, payload, images=2))
    assert catalog.download("91-image", tmp_path, progress=False)["files"] == 2
    assert sorted(p.name for p in (tmp_path / "T91" / "HR").iterdir()) == ["t1.bmp", "tt27.bmp"]
    assert catalog.verify("T91", tmp_path)["ok"] == 2


def test_a_layout_other_than_the_catalogued_one_is_refused(server, tmp_path, monkeypatch):
    base, handler = server
    payload = zip_bytes(SRCNN_TRAIN)
    handler.files["/SRCNN_train.zip"] = payload
    monkeypatch.setitem(catalog.CATALOG, "T91", local_copy("T91", base, payload, images=91))
    with pytest.raises(BenchError, match="T91 should be 91 images, but the archive gave 2"):
        catalog.download("T91", tmp_path, progress=False)
    assert not (tmp_path / "T91").exists()  # nothing half-used: no images without a MANIFEST (issue 21 item 7)


def test_a_missing_published_checksum_is_said_plainly(server, tmp_path, monkeypatch, capsys):
    base, handler = server
    payload = tgz_bytes(BSDS300)
    handler.files["/BSDS300-images.tgz"] = payload
    monkeypatch.setitem(catalog.CATALOG, "BSD200", local_copy("BSD200", base, payload, images=2, published=False))
    catalog.download("BSD200", tmp_path, progress=False)
    assert f"no published checksum; sha256 of what arrived: {hashlib.sha256(payload).hexdigest()}" in \
        capsys.readouterr().err
    report = catalog.verify("BSD200", tmp_path)
    assert report["ok"] == 2 and report["archives"][0]["checksum"] is None
    (note,) = report["notes"]
    assert "BSD200: no published checksum exists for" in note and "not that they are the published ones" in note
    assert note in capsys.readouterr().err


def test_291_is_t91_plus_bsd200(server, tmp_path, monkeypatch):
    base, handler = server
    tgz, zipped = tgz_bytes(BSDS300), zip_bytes(SRCNN_TRAIN)
    handler.files["/BSDS300-images.tgz"], handler.files["/SRCNN_train.zip"] = tgz, zipped
    monkeypatch.setitem(catalog.CATALOG, "BSD200", local_copy("BSD200", base, tgz, images=2))
    monkeypatch.setitem(catalog.CATALOG, "T91", local_copy("T91", base, zipped, images=2))
    assert {r["name"]: r["status"] for r in catalog.describe(tmp_path)["datasets"]}["291"] == "not present"
    result = catalog.download("291", tmp_path, progress=False)
    assert result["files"] == 4 and [r["name"] for r in result["parts"]] == ["T91", "BSD200"]
    rows = {r["name"]: r for r in catalog.describe(tmp_path)["datasets"]}
    assert rows["291"]["status"] == "present" and rows["DF2K"]["status"] == "not present"
    (tmp_path / "BSD200" / "HR" / "2092.jpg").unlink()
    report = catalog.verify("291", tmp_path)
    assert report["ok"] == 3 and report["missing"] == ["BSD200/HR/2092.jpg"] and report["notes"] == []


def test_training_sets_are_catalogued_with_cited_checksums():
    for name, images in (("T91", 91), ("BSD200", 200)):
        dataset = catalog.CATALOG[name]
        assert dataset.images == images
        (archive,) = dataset.archives
        algorithm, digest = archive.checksum.split(":")
        assert algorithm == "sha256" and len(digest) == 64 and digest == digest.lower()
        repository, path = archive.checksum_source.split(" ")[:2]  # "owner/repo path/to/file ..."
        assert repository.count("/") == 1 and "/" in path
    # BSD200 must never take BSDS300's test half, which is B100
    assert [prefix for prefix, _ in catalog.CATALOG["BSD200"].archives[0].members] == ["BSDS300/images/train/"]
    assert catalog.CATALOG["DF2K"].parts == ("DIV2K-train", "Flickr2K") and not catalog.CATALOG["DF2K"].archives
    assert catalog.CATALOG["291"].parts == ("T91", "BSD200")
    for union in ("DF2K", "291"):
        assert all(part in catalog.CATALOG for part in catalog.CATALOG[union].parts)
    with pytest.raises(BenchError, match="unknown dataset 'T92'; catalogue: .*T91"):
        catalog.download("T92", Path("/nonexistent"))


# ---- issue 21 item 7: a refused archive leaves nothing behind; verify stays inside the set folder --------

def ordinary_tar(tmp_path, later: tarfile.TarInfo) -> Path:
    """A tar made the ordinary way (directory members first, then the files, as `tar cf` writes them) with
    ``later`` appended after its good images."""
    source = tmp_path / "src"
    for name, value in (("a.png", 10), ("b.png", 20)):
        (source / "benchmark" / "Toy" / "HR").mkdir(parents=True, exist_ok=True)
        (source / "benchmark" / "Toy" / "HR" / name).write_bytes(png_bytes(value))
    archive = tmp_path / "toy.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(source / "benchmark", arcname="benchmark")  # recursive: directory members included
        tar.addfile(later, io.BytesIO(b"y" * later.size) if later.isfile() else None)
    with tarfile.open(archive) as tar:
        assert any(info.isdir() for info in tar) and tar.getmembers()[-1].name == later.name
    return archive


def escaping_member() -> tarfile.TarInfo:
    info = tarfile.TarInfo("benchmark/Toy/HR/../../../escape.png")
    info.size = 3
    return info


def symlink_member() -> tarfile.TarInfo:
    info = tarfile.TarInfo("benchmark/Toy/HR/z.png")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return info


@pytest.mark.parametrize("later", [escaping_member, symlink_member], ids=["dotdot", "symlink"])
def test_a_refused_archive_leaves_none_of_its_images(tmp_path, later):
    archive = ordinary_tar(tmp_path, later())
    out = tmp_path / "out" / "Toy"
    with pytest.raises(BenchError, match="refusing the archive"):
        catalog.safe_extract(archive, (("benchmark/Toy/", ""),), out)
    assert not out.exists()  # no a.png, b.png, nor the HR/ folder made for them
    assert not (tmp_path / "escape.png").exists()


@pytest.mark.parametrize("later", [escaping_member, symlink_member], ids=["dotdot", "symlink"])
def test_a_refused_download_leaves_no_set_for_the_loaders(server, tmp_path, later):
    from bench.data.benchmarks import find_dataset

    base, handler = server
    payload = ordinary_tar(tmp_path / "build", later()).read_bytes()
    handler.files["/toy.tar"] = payload
    root = tmp_path / "data"
    with pytest.raises(BenchError, match="refusing the archive"):
        catalog.download(entry(base + "/toy.tar", payload, members=(("benchmark/Toy/", ""),)), root, progress=False)
    assert sorted(p.name for p in root.iterdir()) == [".downloads"]  # no Toy/, no staging folder
    with pytest.raises(BenchError, match="not found"):
        find_dataset("Toy", root)


def test_a_refused_download_keeps_an_earlier_good_copy_untouched(server, tmp_path):
    base, handler = server
    good = zip_bytes({"bundle/Toy/HR/a.png": png_bytes(10)})
    handler.files["/good.zip"] = good
    catalog.download(entry(base + "/good.zip", good), tmp_path, progress=False)
    before = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "Toy").rglob("*") if p.is_file()}
    bad = zip_bytes({"bundle/Toy/HR/b.png": png_bytes(20), "bundle/Toy/../../escape.png": b"y"})
    handler.files["/bad.zip"] = bad
    with pytest.raises(BenchError, match="outside"):
        catalog.download(entry(base + "/bad.zip", bad, members=(("bundle/Toy/", ""),)), tmp_path, progress=False)
    after = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "Toy").rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_a_download_over_an_earlier_copy_rewrites_its_manifest(server, tmp_path):
    base, handler = server
    first = zip_bytes({"bundle/Toy/HR/a.png": png_bytes(10)})
    handler.files["/first.zip"] = first
    catalog.download(entry(base + "/first.zip", first), tmp_path, progress=False)
    second = zip_bytes({"bundle/Toy/HR/a.png": png_bytes(11), "bundle/Toy/HR/b.png": png_bytes(20)})
    handler.files["/second.zip"] = second
    result = catalog.download(entry(base + "/second.zip", second), tmp_path, progress=False)
    assert result["files"] == 2
    manifest = (tmp_path / "Toy" / "MANIFEST.sha256").read_text()
    assert hashlib.sha256(png_bytes(11)).hexdigest() + "  HR/a.png" in manifest and "HR/b.png" in manifest


def cli_error(capsys, argv) -> str:
    """Run ``python -m bench ARGV`` in-process: exit status 2 and exactly one ``error:`` line, no traceback."""
    from bench.__main__ import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    return errors[0]


@pytest.fixture
def toy_set(server, tmp_path, monkeypatch):
    base, handler = server
    payload = zip_bytes({"bundle/Toy/HR/a.png": png_bytes(10)})
    handler.files["/toy.zip"] = payload
    spec = entry(base + "/toy.zip", payload)
    monkeypatch.setitem(catalog.CATALOG, "Toy", spec)
    catalog.download(spec, tmp_path, progress=False)
    return tmp_path / "Toy"


def test_verify_refuses_a_manifest_entry_outside_the_set(toy_set, tmp_path, capsys):
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"not part of the set")
    manifest = toy_set / "MANIFEST.sha256"
    manifest.write_text(manifest.read_text() + f"{hashlib.sha256(b'not part of the set').hexdigest()}  ../secret.txt\n")
    line = cli_error(capsys, ["data", "verify", "Toy", "--data-root", str(tmp_path)])
    assert "../secret.txt" in line and "outside" in line


@pytest.mark.parametrize("text", ["no separator here\n", "abc  HR/a.png\n", "\xff\xfe\n"],
                         ids=["one-field", "short-digest", "not-utf8"])
def test_a_malformed_manifest_is_one_error_line(toy_set, tmp_path, capsys, text):
    (toy_set / "MANIFEST.sha256").write_bytes(text.encode("latin-1"))
    line = cli_error(capsys, ["data", "verify", "Toy", "--data-root", str(tmp_path)])
    assert "MANIFEST" in line


@pytest.mark.parametrize("action", ["download", "verify"])
def test_data_download_or_verify_without_a_name_is_one_error_line(tmp_path, capsys, action):
    line = cli_error(capsys, ["data", action, "--data-root", str(tmp_path)])
    assert "needs a dataset name" in line


def test_a_killed_downloads_staging_folder_is_cleared_by_the_next(server, tmp_path):
    base, handler = server
    payload = zip_bytes({"bundle/Toy/HR/a.png": png_bytes(10)})
    handler.files["/toy.zip"] = payload
    stale = tmp_path / ".Toy.partial-killed" / "HR"
    stale.mkdir(parents=True)
    (stale / "half.png").write_bytes(b"half")
    catalog.download(entry(base + "/toy.zip", payload), tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".downloads", "Toy"]


def test_data_list_names_the_embedded_sets_first_and_aligns_its_columns(tmp_path, capsys):
    from bench.__main__ import main

    rows = catalog.describe(tmp_path)["datasets"]
    assert [(r["name"], r["status"]) for r in rows[:2]] == [("samples", "embedded"), ("samples-train", "embedded")]
    assert all(r["status"] in ("present", "not present") for r in rows[2:])
    assert main(["data", "list", "--data-root", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    status_column = {line.index(status) for line in lines for status in ("embedded", "not present") if status in line}
    assert len(lines) == len(rows) and len(status_column) == 1
