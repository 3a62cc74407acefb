"""The TACO downloader against a real HTTP server on 127.0.0.1 serving generated files."""

from __future__ import annotations

import functools
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wastelab.data.download import (
    TACO_ANNOTATIONS_URL,
    DownloadError,
    DownloadReport,
    download_file,
    download_taco,
)

FAST = {"backoff": 0.0, "timeout": 5}  # no sleeping between retries in tests


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler):
        super().__init__(address, handler)
        self.hits: Counter[str] = Counter()
        self.script: dict[
            str, list[str]
        ] = {}  # path -> misbehaviours for its first requests
        self.lock = threading.Lock()

    def handle_error(
        self, request, client_address
    ):  # a client hanging up early is expected
        pass


class _Handler(SimpleHTTPRequestHandler):
    timeout = 5  # a stuck connection cannot hold a server thread for long

    def log_message(self, format, *args):  # keep test output clean
        pass

    def do_GET(self):
        with self.server.lock:
            self.server.hits[self.path] += 1
            n = self.server.hits[self.path]
        script = self.server.script.get(self.path, [])
        action = script[n - 1] if n <= len(script) else "ok"
        if action == "503":
            self.send_error(503, "Service Unavailable")
        elif action == "truncate":
            body = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
        elif action == "slow":
            time.sleep(1.0)
            super().do_GET()
        else:
            super().do_GET()


@dataclass
class Site:
    url: str
    www: Path
    server: _Server

    def hits(self, path: str) -> int:
        return self.server.hits[path]


@pytest.fixture
def site(tmp_path):
    """An HTTP server on 127.0.0.1 (free port) serving ``tmp_path/www``; shut down after."""
    www = tmp_path / "www"
    www.mkdir()
    server = _Server(("127.0.0.1", 0), functools.partial(_Handler, directory=str(www)))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_address[1]}", www, server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


GOOD = ["batch_1/good.jpg", "batch_1/from_png.jpg", "batch_2/fallback.jpg"]
CORRUPT = "batch_1/corrupt.jpg"
GONE = "batch_2/gone.jpg"


@pytest.fixture
def taco_site(site, make_image):
    """``site`` serving a TACO-like annotations.json and photos: 3 good, 1 corrupt, 1 gone."""
    make_image(site.www / "photos/good.jpg", 40, 30, box=(5, 5, 10, 10), seed=1)
    make_image(
        site.www / "photos/original.png", 30, 40, seed=2
    )  # PNG behind a .jpg name
    make_image(site.www / "photos/small.jpg", 20, 15, seed=3)
    (site.www / "photos/corrupt.jpg").write_bytes(np.random.default_rng(0).bytes(2000))
    photos = f"{site.url}/photos"
    images = [
        {"id": 0, "file_name": GOOD[0], "flickr_url": f"{photos}/good.jpg"},
        {"id": 1, "file_name": GOOD[1], "flickr_url": f"{photos}/original.png"},
        {
            "id": 2,
            "file_name": GOOD[2],
            "flickr_url": f"{photos}/missing_original.png",
            "flickr_640_url": f"{photos}/small.jpg",
        },
        {"id": 3, "file_name": CORRUPT, "flickr_url": f"{photos}/corrupt.jpg"},
        {"id": 4, "file_name": GONE, "flickr_url": f"{photos}/gone.jpg"},
    ]
    for image in images:
        image.update(width=40, height=30)
    data = {"images": images, "annotations": [], "categories": []}
    (site.www / "annotations.json").write_text(json.dumps(data))
    return site


def _run(site: Site, dest: Path, **kwargs) -> DownloadReport:
    return download_taco(
        dest,
        annotations_url=f"{site.url}/annotations.json",
        workers=3,
        **{"retries": 2, "verbose": 0, **FAST, **kwargs},
    )


def _leftovers(dest: Path) -> list[Path]:
    return [p for p in dest.rglob("*") if p.name.endswith((".part", ".tmp"))]


def test_download_taco_fetches_good_photos_and_reports_bad_ones(taco_site, tmp_path):
    dest = tmp_path / "taco"
    report = _run(taco_site, dest)

    assert (report.downloaded, report.skipped) == (3, 0)
    failed = dict(report.failed)
    assert sorted(failed) == [CORRUPT, GONE]
    assert "HTTP 404" in failed[GONE]
    assert "not a readable image" in failed[CORRUPT]
    assert not report.ok

    assert json.loads((dest / "annotations.json").read_text())["images"][0]["id"] == 0
    for name in GOOD:
        with Image.open(dest / name) as img:
            img.load()
            assert (
                img.format == "JPEG"
            )  # the PNG original was re-encoded to match its name
    assert (dest / GOOD[0]).read_bytes() == (
        taco_site.www / "photos/good.jpg"
    ).read_bytes()
    with Image.open(dest / GOOD[2]) as img:
        assert img.size == (20, 15)  # from flickr_640_url, after the original's 404
    assert not (dest / CORRUPT).exists() and not (dest / GONE).exists()
    assert _leftovers(dest) == []

    assert taco_site.hits("/photos/gone.jpg") == 1  # a 404 is not retried
    assert (
        taco_site.hits("/photos/corrupt.jpg") == 1
    )  # nor is data that does not decode

    summary = report.summary()
    assert "3 downloaded, 0 already complete, 2 failed" in summary
    assert f"failed {GONE}: flickr_url:" in summary and "HTTP 404" in summary
    assert f"failed {CORRUPT}:" in summary
    assert "again" in summary


def test_second_run_skips_complete_files(taco_site, tmp_path):
    dest = tmp_path / "taco"
    _run(taco_site, dest)
    report = _run(taco_site, dest)
    assert (report.downloaded, report.skipped, len(report.failed)) == (0, 3, 2)
    assert taco_site.hits("/annotations.json") == 1  # the local copy is reused
    assert taco_site.hits("/photos/good.jpg") == 1
    assert taco_site.hits("/photos/corrupt.jpg") == 2  # failures are tried again

    report = _run(taco_site, dest, refresh_annotations=True)
    assert taco_site.hits("/annotations.json") == 2


def test_truncated_file_on_disk_is_fetched_again(taco_site, tmp_path):
    dest = tmp_path / "taco"
    _run(taco_site, dest)
    photo = dest / GOOD[0]
    photo.write_bytes(photo.read_bytes()[: photo.stat().st_size // 2])

    report = _run(taco_site, dest)
    assert (report.downloaded, report.skipped) == (1, 2)
    assert photo.read_bytes() == (taco_site.www / "photos/good.jpg").read_bytes()
    assert taco_site.hits("/photos/good.jpg") == 2


def test_bad_entries_are_reported_not_written(site, make_image, tmp_path):
    make_image(site.www / "ok.jpg")
    images = [
        {"id": 0, "file_name": "../evil.jpg", "flickr_url": f"{site.url}/ok.jpg"},
        {"id": 1, "file_name": "no_url.jpg"},
        {"id": 2, "flickr_url": f"{site.url}/ok.jpg"},
        {"id": 3, "file_name": "fine.jpg", "flickr_url": f"{site.url}/ok.jpg"},
    ]
    (site.www / "annotations.json").write_text(json.dumps({"images": images}))
    dest = tmp_path / "dest"
    report = _run(site, dest)
    reasons = dict(report.failed)
    assert "unsafe file_name" in reasons["../evil.jpg"]
    assert "no URL" in reasons["no_url.jpg"]
    assert "no 'file_name'" in reasons["image #2"]
    assert report.downloaded == 1 and (dest / "fine.jpg").is_file()
    assert not (tmp_path / "evil.jpg").exists()


def test_offline_raises_connection_error(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dest = tmp_path / "taco"
    with pytest.raises(ConnectionError, match=r"needs the internet.*synthetic data"):
        download_taco(
            dest,
            annotations_url=f"http://127.0.0.1:{port}/annotations.json",
            retries=1,
            verbose=0,
            **FAST,
        )
    assert not (dest / "annotations.json").exists() and _leftovers(dest) == []


def test_annotations_that_are_not_coco_are_refused(site, tmp_path):
    (site.www / "annotations.json").write_text('{"hello": "world"}')
    with pytest.raises(ValueError, match="not a COCO annotation file"):
        _run(site, tmp_path / "taco")
    assert not (tmp_path / "taco" / "annotations.json").exists()


def test_progress_bar_shown_and_silenced(taco_site, tmp_path, capsys):
    _run(taco_site, tmp_path / "a", verbose=0)
    assert capsys.readouterr().err == ""
    _run(taco_site, tmp_path / "b", verbose=1)
    assert "5/5" in capsys.readouterr().err


def test_default_url_is_tacos_annotation_file():
    assert TACO_ANNOTATIONS_URL == (
        "https://raw.githubusercontent.com/pedropro/TACO/master/data/annotations.json"
    )


# ------------------------------------------------------------------------ download_file


def test_download_file_retries_short_transfers_and_server_errors(
    site, make_image, tmp_path
):
    make_image(site.www / "flaky.jpg")
    site.server.script["/flaky.jpg"] = ["truncate", "503"]
    path = download_file(f"{site.url}/flaky.jpg", tmp_path / "x.jpg", retries=2, **FAST)
    assert path.read_bytes() == (site.www / "flaky.jpg").read_bytes()
    assert site.hits("/flaky.jpg") == 3


def test_download_file_gives_up_after_its_retries(site, make_image, tmp_path):
    make_image(site.www / "flaky.jpg")
    site.server.script["/flaky.jpg"] = ["truncate", "503", "503"]
    with pytest.raises(DownloadError, match=r"flaky\.jpg: HTTP 503 .*after 2 attempts"):
        download_file(f"{site.url}/flaky.jpg", tmp_path / "x.jpg", retries=1, **FAST)
    assert site.hits("/flaky.jpg") == 2
    assert list(tmp_path.iterdir()) == [site.www]  # nothing written beside it


def test_download_file_short_transfer_is_named(site, make_image, tmp_path):
    make_image(site.www / "flaky.jpg")
    site.server.script["/flaky.jpg"] = ["truncate"]
    with pytest.raises(DownloadError, match=r"incomplete transfer: \d+ of \d+ bytes"):
        download_file(f"{site.url}/flaky.jpg", tmp_path / "x.jpg", retries=0, **FAST)


def test_download_file_times_out(site, make_image, tmp_path):
    make_image(site.www / "slow.jpg")
    site.server.script["/slow.jpg"] = ["slow"]
    with pytest.raises(DownloadError, match=r"slow\.jpg: .*timed out"):
        download_file(
            f"{site.url}/slow.jpg",
            tmp_path / "x.jpg",
            retries=0,
            timeout=0.2,
            backoff=0.0,
        )
    assert not (tmp_path / "x.jpg").exists()


def test_download_file_404_and_corrupt(site, tmp_path):
    with pytest.raises(DownloadError, match=r"nothing\.jpg: HTTP 404"):
        download_file(f"{site.url}/nothing.jpg", tmp_path / "a.jpg", retries=3, **FAST)
    assert site.hits("/nothing.jpg") == 1
    (site.www / "junk.jpg").write_bytes(b"<html>rate limited</html>")
    with pytest.raises(
        ValueError, match=r"junk\.jpg: downloaded data is not a readable image"
    ):
        download_file(f"{site.url}/junk.jpg", tmp_path / "b.jpg", **FAST)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["www"]


def test_download_file_without_image_check_keeps_bytes(site, tmp_path):
    (site.www / "notes.txt").write_text("hello")
    path = download_file(
        f"{site.url}/notes.txt",
        tmp_path / "sub" / "notes.txt",
        check_image=False,
        **FAST,
    )
    assert path.read_text() == "hello"


def test_download_file_bad_url(tmp_path):
    with pytest.raises(DownloadError, match="unknown url type"):
        download_file("not a url", tmp_path / "x.jpg", **FAST)


# ------------------------------------------------------------------------ sizes, limits


@pytest.fixture
def sized_site(site, make_image):
    """Two photos, each as an 'original' (64x48) and a '640' version (32x24)."""
    images = []
    for k in range(2):
        make_image(site.www / f"o{k}.jpg", 64, 48, seed=k)
        make_image(site.www / f"s{k}.jpg", 32, 24, seed=k)
        images.append(
            {
                "id": k,
                "file_name": f"batch_1/{k}.jpg",
                "width": 64,
                "height": 48,
                "flickr_url": f"{site.url}/o{k}.jpg",
                "flickr_640_url": f"{site.url}/s{k}.jpg",
            }
        )
    (site.www / "annotations.json").write_text(json.dumps({"images": images}))
    return site


def test_default_fetches_the_640_versions_and_full_size_the_originals(
    sized_site, tmp_path
):
    dest = tmp_path / "taco"
    report = _run(sized_site, dest)
    assert (report.downloaded, report.fallbacks, report.full_size) == (2, 0, False)
    assert sized_site.hits("/o0.jpg") == 0 and sized_site.hits("/s0.jpg") == 1
    with Image.open(dest / "batch_1/0.jpg") as img:
        assert img.size == (32, 24)
    assert "(640-pixel versions): 2 downloaded" in report.summary()

    report = _run(sized_site, dest, full_size=True)  # the small copies are replaced
    assert (report.downloaded, report.skipped) == (2, 0)
    with Image.open(dest / "batch_1/0.jpg") as img:
        assert img.size == (64, 48)
    assert "(originals): 2 downloaded" in report.summary()
    report = _run(sized_site, dest, full_size=True)
    assert (report.downloaded, report.skipped) == (0, 2)
    report = _run(sized_site, dest)  # an original is good enough for the default
    assert (report.downloaded, report.skipped) == (0, 2)


def test_the_other_size_is_a_fallback(sized_site, tmp_path):
    (sized_site.www / "s1.jpg").unlink()
    report = _run(sized_site, tmp_path / "taco")
    assert (report.downloaded, report.fallbacks, report.failed) == (2, 1, [])
    assert "1 of them as originals" in report.summary()


def test_a_photo_over_the_pixel_limit_is_skipped_and_the_others_carry_on(
    sized_site, monkeypatch, tmp_path, recwarn
):
    # 1,000 pixels: the 32x24 versions (768) pass, the 64x48 originals (3,072) do not
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    (sized_site.www / "s1.jpg").unlink()  # photo 1 exists only as an original
    report = _run(sized_site, tmp_path / "taco")
    assert report.downloaded == 1
    [(name, reason)] = report.failed
    assert name == "batch_1/1.jpg" and "\n" not in reason
    assert "3,072 pixels is over Pillow's limit of 1,000" in reason
    assert not (tmp_path / "taco/batch_1/1.jpg").exists()
    # between one and two times the limit, Pillow only warns: still refused
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)
    report = _run(sized_site, tmp_path / "taco", full_size=True)
    assert (report.downloaded, report.fallbacks) == (1, 1)  # 0 as its 640 version
    [(name, reason)] = report.failed
    assert "3,072 pixels is over Pillow's limit of 2,000" in reason


def test_an_oversized_photo_already_on_disk_is_fetched_again(
    sized_site, monkeypatch, tmp_path
):
    dest = tmp_path / "taco"
    _run(sized_site, dest, full_size=True)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    report = _run(sized_site, dest)  # the originals on disk no longer decode
    assert (report.downloaded, report.skipped, report.failed) == (2, 0, [])


def test_a_surprise_in_one_photo_does_not_stop_the_others(
    sized_site, monkeypatch, tmp_path
):
    from wastelab.data import download

    real = download.download_file

    def flaky(url, path, **kwargs):
        if url.endswith("s0.jpg"):
            raise RuntimeError("something nobody expected")
        return real(url, path, **kwargs)

    monkeypatch.setattr(download, "download_file", flaky)
    report = _run(sized_site, tmp_path / "taco")
    assert report.downloaded == 1
    assert report.failed == [
        ("batch_1/0.jpg", "RuntimeError: something nobody expected")
    ]


def test_cli_download_exits_non_zero_after_its_report(taco_site, tmp_path, capsys):
    from wastelab.cli import main

    dest = tmp_path / "taco"
    url = f"{taco_site.url}/annotations.json"
    args = ["-q", "data", "download", "taco", "--dest", str(dest), "--retries", "0"]
    assert main([*args, "--annotations-url", url]) == 1  # 2 of 5 photos failed
    out = capsys.readouterr().out
    assert "3 downloaded, 0 already complete, 2 failed" in out
    assert f"failed {GONE}:" in out and "again" in out
    data = json.loads((dest / "annotations.json").read_text())
    data["images"] = [i for i in data["images"] if i["file_name"] in GOOD]
    (dest / "annotations.json").write_text(json.dumps(data))
    assert main([*args, "--annotations-url", url]) == 0
    assert "0 downloaded, 3 already complete, 0 failed" in capsys.readouterr().out
