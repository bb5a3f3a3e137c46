"""Downloads against a local HTTP server on 127.0.0.1 (never the internet): streaming, resume,
checksums, safe extraction, verify."""

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


def test_catalogue_is_complete_and_honest():
    for name in ("Set5", "Set14", "B100", "Urban100", "Manga109", "DIV2K-val"):
        assert name in catalog.CATALOG
    for dataset in catalog.CATALOG.values():
        assert dataset.archives or dataset.how_to_get
        for archive in dataset.archives:
            assert archive.url.startswith("https://")
            assert archive.checksum is None or archive.checksum_source, archive.url
    with pytest.raises(BenchError, match="no public download"):
        catalog.download("Manga109", Path("/nonexistent"))
