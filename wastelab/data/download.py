"""Download TACO: its annotation file from GitHub, then its photos from Flickr.

By default each photo comes in Flickr's 640-pixel version (``flickr_640_url``): the book
shrinks photos to 50x50, and the originals are many times larger. ``full_size``
fetches the originals (``flickr_url``) instead. Files are written to a temporary name
and renamed only once complete (and, for photos, once they decode), so an interrupted
run leaves no half files; run it again to resume.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from PIL import Image
from tqdm import tqdm  # text bars: no ipywidgets needed in notebooks

from .. import __version__
from ..atomic import atomic_write
from .images import read_image

TACO_ANNOTATIONS_URL = (
    "https://raw.githubusercontent.com/pedropro/TACO/master/data/annotations.json"
)
USER_AGENT = f"wastelab/{__version__} (Python urllib)"
_CHUNK = 1 << 20
_TRANSIENT_HTTP = {408, 425, 429, 500, 502, 503, 504}
_URL_FIELDS = ("flickr_640_url", "flickr_url")  # preferred first; reversed: full size


class DownloadError(OSError):
    """A download that failed for good: after its retries, or at once (HTTP 404)."""


@dataclass
class DownloadReport:
    """What a :func:`download_taco` run did: files fetched, already complete, failed.

    ``fallbacks`` counts photos fetched in the other size because the preferred URL was
    missing or failed; ``full_size`` says which size was preferred.
    """

    downloaded: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    dest: Path | None = None
    full_size: bool = False
    fallbacks: int = 0

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed

    def summary(self, max_failures: int = 10) -> str:
        """A few lines for people: the counts, then up to ``max_failures`` failures."""
        where = f" into {self.dest}" if self.dest is not None else ""
        size = "originals" if self.full_size else "640-pixel versions"
        lines = [
            f"TACO download{where} ({size}): {self.downloaded} downloaded, "
            f"{self.skipped} already complete, {len(self.failed)} failed"
        ]
        if self.fallbacks:
            other = "640-pixel versions" if self.full_size else "originals"
            lines.append(
                f"  {self.fallbacks} of them as {other}: the preferred URL was missing "
                "or failed"
            )
        for file_name, reason in self.failed[:max_failures]:
            lines.append(f"  failed {file_name}: {reason}")
        if len(self.failed) > max_failures:
            lines.append(f"  ... and {len(self.failed) - max_failures} more failures")
        if self.failed:
            lines.append("  Run the download again to retry the failed files.")
        return "\n".join(lines)


def download_file(
    url: str,
    path: str | Path,
    retries: int = 3,
    timeout: float = 30,
    check_image: bool = True,
    backoff: float = 1.0,
) -> Path:
    """Fetch ``url`` into ``path`` atomically, retrying transient failures.

    Makes up to ``1 + retries`` attempts, sleeping ``backoff * 2**k`` seconds before
    retry ``k``; timeouts, dropped or short transfers and HTTP 408/429/5xx are retried,
    other HTTP errors (404, 403, ...) are not. With ``check_image`` the file must decode
    with Pillow, within its pixel limit, and content in another format than ``path``'s
    suffix says (TACO's Flickr originals are PNG behind ``.jpg`` names) is re-encoded to
    that format. Nothing is left at ``path`` on failure. Raises ``DownloadError`` for
    network failures and ``ValueError`` for data that is not a readable image.
    """
    path = Path(path)
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")

    def write(tmp: Path) -> None:
        _fetch_with_retries(url, tmp, retries, timeout, backoff)
        if check_image:
            _check_and_normalize_image(tmp, path.suffix, url)

    return atomic_write(path, write)


def download_taco(
    dest: str | Path,
    annotations_url: str = TACO_ANNOTATIONS_URL,
    workers: int = 8,
    retries: int = 3,
    timeout: float = 30,
    verbose: int = 1,
    backoff: float = 1.0,
    refresh_annotations: bool = False,
    full_size: bool = False,
) -> DownloadReport:
    """Download TACO into ``dest``: ``dest/annotations.json`` and its photos.

    An existing, readable ``annotations.json`` is reused unless ``refresh_annotations``.
    Every photo it lists is saved as ``dest/<file_name>``, from its ``flickr_640_url``
    (the original, ``flickr_url``, if that fails), or with ``full_size`` from
    ``flickr_url`` first; ``workers`` download in parallel. A photo already on disk that
    decodes is skipped (with ``full_size``: only if it has the annotated size), a
    partial or corrupt one is fetched again. Failed photos (including one over Pillow's
    pixel limit) are listed in the returned report, not raised: the others carry on.
    Raises ``ConnectionError`` if the annotations cannot be fetched (e.g. offline).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    ann_path = dest / "annotations.json"
    if refresh_annotations or _read_image_list(ann_path) is None:
        _download_annotations(annotations_url, ann_path, retries, timeout, backoff)
    images = _read_image_list(ann_path)
    if images is None:
        raise ValueError(f"{ann_path}: not a COCO annotation file (no 'images' list)")

    report = DownloadReport(dest=dest, full_size=full_size)
    fields = _URL_FIELDS[::-1] if full_size else _URL_FIELDS
    jobs: dict[str, dict[str, Any]] = {}
    for position, entry in enumerate(images):
        name = entry.get("file_name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            report.failed.append((f"image #{position}", "entry has no 'file_name'"))
        elif _unsafe(name):
            report.failed.append(
                (name, "unsafe file_name (absolute or with '..'); not written")
            )
        else:
            jobs.setdefault(name, entry)

    progress = tqdm(
        total=len(jobs),
        desc=f"TACO photos ({'originals' if full_size else '640 px'})",
        unit="img",
        disable=not verbose,
    )
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = {
            pool.submit(
                _fetch_photo, entry, dest / name, fields, retries, timeout, backoff
            ): name
            for name, entry in jobs.items()
        }
        for future in as_completed(futures):
            outcome, reason = future.result()
            if outcome in ("downloaded", "fallback"):
                report.downloaded += 1
                report.fallbacks += outcome == "fallback"
            elif outcome == "skipped":
                report.skipped += 1
            else:
                report.failed.append((futures[future], reason))
                progress.set_postfix(failed=len(report.failed))
            progress.update()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        progress.close()
    report.failed.sort()
    return report


# ---------------------------------------------------------------------------- internals


class _Transient(Exception):
    """A failure worth another try."""


def _download_annotations(
    url: str, path: Path, retries: int, timeout: float, backoff: float
) -> None:
    def write(tmp: Path) -> None:
        _fetch_with_retries(url, tmp, retries, timeout, backoff)
        if _read_image_list(tmp) is None:
            raise ValueError(f"{url}: not a COCO annotation file (no 'images' list)")

    try:
        atomic_write(path, write)
    except DownloadError as err:
        raise ConnectionError(
            f"could not download the TACO annotations from {url}: {err}. Downloading "
            "TACO needs the internet; without it the book falls back to synthetic data."
        ) from err


def _fetch_photo(
    entry: dict[str, Any],
    path: Path,
    fields: tuple[str, ...],
    retries: int,
    timeout: float,
    backoff: float,
) -> tuple[str, str]:
    """("skipped" | "downloaded" | "fallback" | "failed", reason); never raises."""
    try:
        return _fetch_photo_or_raise(entry, path, fields, retries, timeout, backoff)
    except Exception as err:  # one photo's surprise must not stop the others
        return "failed", f"{type(err).__name__}: {err}"


def _fetch_photo_or_raise(
    entry: dict[str, Any],
    path: Path,
    fields: tuple[str, ...],
    retries: int,
    timeout: float,
    backoff: float,
) -> tuple[str, str]:
    full_size = fields[0] == "flickr_url"
    if _complete(path, entry if full_size else None):
        return "skipped", ""
    urls = [(key, entry[key]) for key in fields if isinstance(entry.get(key), str)]
    if not urls:
        return "failed", f"no URL ({' or '.join(fields)}) in the annotations"
    reasons = []
    for key, url in urls:
        try:
            download_file(
                url,
                path,
                retries=retries,
                timeout=timeout,
                check_image=True,
                backoff=backoff,
            )
            return ("downloaded" if key == fields[0] else "fallback"), ""
        except (OSError, ValueError) as err:
            reasons.append(f"{key}: {err}")
    return "failed", "; ".join(reasons)


def _fetch_with_retries(
    url: str, tmp: Path, retries: int, timeout: float, backoff: float
) -> None:
    last: Exception | None = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            _fetch_once(url, tmp, timeout)
            return
        except _Transient as err:
            last = err
    raise DownloadError(f"{url}: {last} (after {retries + 1} attempts)")


def _fetch_once(url: str, tmp: Path, timeout: float) -> None:
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with (
            urllib.request.urlopen(request, timeout=timeout) as response,
            open(tmp, "wb") as fh,
        ):
            expected = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(_CHUNK):
                fh.write(chunk)
                received += len(chunk)
        if expected is not None and expected.isdigit() and received != int(expected):
            raise _Transient(f"incomplete transfer: {received} of {expected} bytes")
    except urllib.error.HTTPError as err:
        if err.code in _TRANSIENT_HTTP:
            raise _Transient(f"HTTP {err.code} {err.reason}") from err
        raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        raise _Transient(f"cannot reach server ({err.reason})") from err
    except (TimeoutError, ConnectionError, http.client.HTTPException) as err:
        raise _Transient(f"{type(err).__name__}: {err}") from err
    except ValueError as err:  # urllib: unknown URL type
        raise DownloadError(f"{url}: {err}") from err


def _check_and_normalize_image(tmp: Path, suffix: str, url: str) -> None:
    """Decode ``tmp`` fully; re-encode it when its format disagrees with ``suffix``."""
    try:
        with Image.open(tmp) as img:
            _check_pixel_limit(img.width * img.height, url)
            img.load()
            expected = Image.registered_extensions().get(suffix.lower())
            if expected is None or img.format == expected:
                return
            exif = img.getexif()
            out = (
                img
                if expected != "JPEG" or img.mode in ("RGB", "L")
                else img.convert("RGB")
            )
            options: dict[str, Any] = {"quality": 95} if expected == "JPEG" else {}
            if len(exif):
                options["exif"] = exif
            buffer = io.BytesIO()
            out.save(buffer, format=expected, **options)
    except _OverLimit:
        raise
    except Image.DecompressionBombError as err:  # over twice the limit: at open
        pixels = re.search(r"\((\d+) pixels\)", str(err))
        _check_pixel_limit(int(pixels.group(1)) if pixels else -1, url)
        raise _OverLimit(f"{url}: over Pillow's pixel limit ({err}); skipped") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ValueError(
            f"{url}: downloaded data is not a readable image ({err})"
        ) from err
    tmp.write_bytes(buffer.getvalue())


class _OverLimit(ValueError):
    """A photo with more pixels than Pillow's limit (``PIL.Image.MAX_IMAGE_PIXELS``)."""


def _check_pixel_limit(pixels: int, url: str) -> None:
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and pixels > limit:
        raise _OverLimit(
            f"{url}: {pixels:,} pixels is over Pillow's limit of {limit:,} "
            "(PIL.Image.MAX_IMAGE_PIXELS); skipped"
        )


def _complete(path: Path, entry: dict[str, Any] | None) -> bool:
    """True if ``path`` decodes (and, given ``entry``, has its annotated size)."""
    try:
        img = read_image(path)
    except Exception:  # missing, corrupt, over the pixel limit: fetch it (again)
        return False
    if entry is None:
        return True
    return img.size == (entry.get("width"), entry.get("height"))


def _read_image_list(path: Path) -> list[Any] | None:
    """The ``images`` list of a JSON annotation file; None if missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    images = data.get("images") if isinstance(data, dict) else None
    return images if isinstance(images, list) else None


def _unsafe(file_name: str) -> bool:
    parts = PurePosixPath(file_name.replace("\\", "/")).parts
    return (
        file_name.startswith(("/", "\\"))
        or ".." in parts
        or bool(parts and ":" in parts[0])
    )
