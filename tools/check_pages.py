"""Open every page of a built edition in headless Chromium and check what a reader sees.

    python tools/check_pages.py _build/html [_build/student/html ...] [--screenshots DIR]

Each page is loaded from disk (``file://``) with every host name unresolvable, as on a
machine without internet. Checked on every page:

- math: MathJax has typeset every formula (its output elements are there) and no raw
  ``\\(``, ``\\[`` or ``$$`` is left in the text;
- code: no code block (``pre``, folded ones unfolded first) is wider than its column, in
  a 1440 x 900 window (the theme's full column width: 88 columns of code fit);
- images: every ``<img>`` has loaded;
- scripts: no JavaScript error and no failed load in the browser's console, and nothing is
  fetched from the network;
- chapter pages (``NN_*.html``): the launch buttons (Binder) are there.

Prints one line per failing page and problem and exits 1 if there is any. Screenshots of
the intro, the first chapter and the chapter with the most formulas go to ``DIR``
(default: ``_build/screenshots``, named by edition). Needs Debian's ``chromium`` and
``chromium-driver`` and the ``selenium`` package.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# A laptop screen wide enough for the theme's full column: 89 characters of code fit (88
# in boxes, see tools/static/wastelab.css); at 1280 px only 77 would.
WINDOW = (1440, 900)
CHAPTER = re.compile(r"^\d\d_.*\.html$")
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads"}
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    # offline: every host name fails to resolve, so a page that needs the network shows it
    "--host-resolver-rules=MAP * ~NOTFOUND",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
]

# Waits for MathJax (if the page loads it) to finish typesetting; never rejects.
WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const mj = window.MathJax;
if (!mj || !mj.startup || !mj.startup.promise) { done(mj ? "not started" : "absent"); return; }
mj.startup.promise.then(() => done("typeset"), (err) => done("failed: " + err));
"""

# Unfolds everything folded (solutions, hidden cells), then measures the page.
INSPECT = r"""
document.querySelectorAll("details").forEach((d) => { d.open = true; });
document.querySelectorAll(".toggle-hidden").forEach((e) => e.classList.remove("toggle-hidden"));
const skip = "script, style, pre, code, textarea, mjx-container, .MathJax";
const raw = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const text = node.nodeValue;
  if (!/\\\(|\\\[|\$\$/.test(text)) continue;
  if (node.parentElement && node.parentElement.closest(skip)) continue;
  raw.push(text.trim().slice(0, 60));
}
const wide = [];
document.querySelectorAll("pre").forEach((pre) => {
  if (pre.clientWidth === 0 || pre.scrollWidth <= pre.clientWidth + 1) return;
  const lines = pre.innerText.split("\n");
  const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), "");
  wide.push({over: pre.scrollWidth - pre.clientWidth, chars: longest.length,
             line: longest.trim().slice(0, 50)});
});
const broken = [];
document.querySelectorAll("img").forEach((img) => {
  const svg = /\.svg(\?|#|$)/i.test(img.currentSrc || img.src);
  if (!img.complete || (!svg && img.naturalWidth === 0)) {
    broken.push((img.getAttribute("src") || "").slice(-60));
  }
});
const network = performance.getEntriesByType("resource").map((r) => r.name)
  .filter((name) => /^https?:/.test(name));
const launch = document.querySelectorAll(".dropdown-launch-buttons a[href^='http']").length;
return {
  mathSources: document.querySelectorAll(".math").length,
  mathOutput: document.querySelectorAll("mjx-container").length,
  mathErrors: document.querySelectorAll("mjx-merror").length,
  raw, wide, broken, network, launch,
};
"""


@dataclass
class Report:
    """What checking one or more editions found: pages checked and (page, problem) lines."""

    pages: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def browser_available() -> str | None:
    """``None`` if Chromium, its driver and selenium are all here, else what is missing."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        return (
            "missing "
            + ", ".join(missing)
            + " (apt-get install chromium chromium-driver; pip install selenium)"
        )
    return None


def html_pages(html_dir: Path) -> list[Path]:
    """Every page of a built book, redirects (the root ``index.html``) left out."""
    pages = []
    for path in sorted(html_dir.rglob("*.html")):
        if SKIP_DIRS & set(path.relative_to(html_dir).parts):
            continue
        head = path.read_text(errors="replace")[:2000].lower()
        if 'http-equiv="refresh"' in head:
            continue
        pages.append(path)
    return pages


def start_browser(profile: str):
    """A headless Chromium driven by Debian's chromedriver; the console log is kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(
        service=Service(executable_path=CHROMEDRIVER), options=options
    )
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


def console_errors(driver) -> list[str]:
    """The browser's console errors since the last call (JavaScript errors, failed loads)."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry.get("level") == "SEVERE"
    ]


def check_page(driver, page: Path, name: str) -> tuple[list[str], dict]:
    """Load one page and return its problems and measurements."""
    console_errors(driver)  # drop what an earlier page left in the log
    driver.get(page.resolve().as_uri())
    mathjax = driver.execute_async_script(WAIT_FOR_MATHJAX)
    info = driver.execute_script(INSPECT)
    problems = []
    if info["mathSources"]:
        if mathjax != "typeset":
            problems.append(f"math not typeset: MathJax {mathjax}")
        elif info["mathOutput"] < info["mathSources"]:
            problems.append(
                f"math not typeset: {info['mathOutput']} of "
                f"{info['mathSources']} formulas rendered"
            )
    if info["mathErrors"]:
        problems.append(f"{info['mathErrors']} formulas with TeX errors")
    for text in info["raw"]:
        problems.append(f"raw TeX left in the text: {text!r}")
    for pre in info["wide"]:
        problems.append(
            f"code block wider than its column by {pre['over']} px (longest line "
            f"{pre['chars']} characters): {pre['line']!r}"
        )
    for src in info["broken"]:
        problems.append(f"image did not load: {src}")
    for url in info["network"]:
        problems.append(f"fetched from the network (not offline-complete): {url}")
    for message in console_errors(driver):
        problems.append(f"console error: {message[:200]}")
    if CHAPTER.match(page.name) and not info["launch"]:
        problems.append("no launch buttons (Binder) on a chapter page")
    return problems, info


def screenshot(driver, page: Path, out: Path, scroll_to: str | None = None) -> Path:
    """A window-sized screenshot of ``page`` (top, or scrolled to the first ``scroll_to``)."""
    driver.get(page.resolve().as_uri())
    driver.execute_async_script(WAIT_FOR_MATHJAX)
    if scroll_to:
        driver.execute_script(
            "const e = document.querySelector(arguments[0]);"
            "if (e) e.scrollIntoView({block: 'center'});",
            scroll_to,
        )
        time.sleep(0.2)
    out.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(out))
    return out


def edition_label(html_dir: Path) -> str:
    """``full`` for ``_build/html``, ``student`` for ``_build/student/html``."""
    parts = html_dir.resolve().parts
    if "_build" in parts:
        inner = parts[len(parts) - parts[::-1].index("_build") : -1]
        return "-".join(inner) or "full"
    return html_dir.resolve().parent.name or "book"


def default_screenshot_dir(html_dir: Path) -> Path:
    """The ``_build`` folder above ``html_dir``, plus ``screenshots``."""
    resolved = html_dir.resolve()
    for parent in resolved.parents:
        if parent.name == "_build":
            return parent / "screenshots"
    return resolved.parent / "screenshots"


def check_edition(
    html_dir: Path,
    screenshots: Path | None = None,
    report: Report | None = None,
    driver=None,
) -> Report:
    """Check every page under ``html_dir``; add its problems and screenshots to ``report``."""
    report = report or Report()
    html_dir = Path(html_dir)
    pages = html_pages(html_dir)
    if not pages:
        report.problems.append((str(html_dir), "no HTML pages: is the book built?"))
        return report
    own = driver is None
    profile = tempfile.mkdtemp(prefix="wastelab_chromium_")
    start = time.perf_counter()
    try:
        driver = driver or start_browser(profile)
        math_counts = {}
        for page in pages:
            name = os.path.relpath(page)
            try:
                problems, info = check_page(driver, page, name)
            except Exception as err:  # a page that hangs or crashes the renderer
                problems, info = (
                    [f"could not check: {type(err).__name__}: {err}"[:300]],
                    {},
                )
            report.problems.extend((name, p) for p in problems)
            math_counts[page] = info.get("mathSources", 0)
            report.pages += 1
        out = screenshots or default_screenshot_dir(html_dir)
        label = edition_label(html_dir)
        chapters = [p for p in pages if CHAPTER.match(p.name)]
        shots = [(p, None) for p in pages if p.stem in ("intro", "index")][:1]
        if chapters:
            shots.append((chapters[0], None))
            most_math = max(chapters, key=lambda p: math_counts.get(p, 0))
            shots.append(
                (most_math, "div.math" if math_counts.get(most_math) else None)
            )
        for page, target in shots:
            suffix = "-math" if target else ""
            path = out / f"{label}-{page.stem}{suffix}.png"
            report.screenshots.append(screenshot(driver, page, path, target))
    finally:
        if own and driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        report.seconds += time.perf_counter() - start
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "html_dirs", type=Path, nargs="+", help="built editions' HTML folders"
    )
    parser.add_argument(
        "--screenshots",
        type=Path,
        default=None,
        help="folder for screenshots (default: _build/screenshots)",
    )
    args = parser.parse_args(argv)
    missing = browser_available()
    if missing:
        print(f"cannot check pages: {missing}", file=sys.stderr)
        return 2
    report = Report()
    for html_dir in args.html_dirs:
        check_edition(html_dir, args.screenshots, report)
    for page, problem in report.problems:
        print(f"{page}: {problem}")
    print(
        f"checked {report.pages} pages in {report.seconds:.0f} s: "
        f"{len(report.problems)} problems; screenshots: "
        + ", ".join(str(p) for p in report.screenshots)
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
