"""Book build time and memory: every chapter executed in a fresh kernel, timed, its peak
memory sampled; optionally the whole build.

Executes each notebook listed in ``_toc.yml`` (or ``--chapters``) top to bottom with
:func:`tools.notebooks.execute`, as the build does, times it and samples the memory of
the kernel and its child processes (resident set size, summed, every 0.1 s). Chapters
over 60 s or over 1 GiB (what mybinder.org guarantees a session) are flagged.
``--full-build`` also times ``python -m tools.book_build --edition full`` (Sphinx, every
chapter executed, warnings as errors) in a fresh temporary copy of the repository, so the
execution cache starts empty and the repository's ``_build`` is left alone. Target: the
whole build in under 10 minutes on 2 cores.

    .venv/bin/python bench/bench_book.py [--chapters intro 01 book/03_neuron.md ...]
        [--full-build] [--json PATH] [--quick]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import common

NAME = "book"
CHAPTER_LIMIT_S = 60.0
MEMORY_LIMIT_MIB = 1024.0  # mybinder.org guarantees 1 GiB and stops a session at 2 GiB
SAMPLE_S = 0.1
BUILD_LIMIT_S = 600.0
COPY_IGNORE = (
    ".git",
    ".venv",
    "_build",
    "exports",
    "runs",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".ipynb_checkpoints",
    "*.egg-info",
)


class PeakMemory:
    """Samples the summed RSS of this process's descendants (a kernel and its children).

    ``with PeakMemory() as peak: ...`` then ``peak.mib``: the highest sum seen, in MiB
    (``None`` without psutil or when no child process was ever seen).
    """

    def __init__(self, interval: float = SAMPLE_S):
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, me) -> int:
        import psutil

        total = 0
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return total

    def _run(self) -> None:
        try:
            import psutil
        except ImportError:
            return
        me = psutil.Process()
        while True:
            self.peak_bytes = max(self.peak_bytes, self._sample(me))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mib(self) -> float | None:
        return self.peak_bytes / 2**20 if self.peak_bytes else None


def time_chapter(path: Path, timeout: int) -> dict[str, Any]:
    """Execute one chapter in a fresh kernel started in its folder; its time, peak memory
    (kernel and its children) and errors."""
    from tools.notebooks import execute, read_notebook

    nb = read_notebook(path)
    code_cells = sum(c.cell_type == "code" for c in nb.cells)
    with PeakMemory() as peak:
        run = execute(nb, cwd=path.resolve().parent, timeout=timeout)
    try:
        name = str(path.resolve().relative_to(common.ROOT))
    except ValueError:
        name = str(path)
    return {
        "chapter": name,
        "seconds": run.seconds,
        "code_cells": code_cells,
        "stub_errors": sum(e["stub"] for e in run.errors),
        "unexpected_errors": [
            {k: e[k] for k in ("cell", "ename", "evalue")}
            for e in run.unexpected_errors
        ],
        "over_limit": run.seconds > CHAPTER_LIMIT_S,
        "peak_rss_mib": peak.mib,
        "over_memory": peak.mib is not None and peak.mib > MEMORY_LIMIT_MIB,
        "load_average_after": common.load_average(),
    }


def time_full_build(timeout: int) -> dict[str, Any]:
    """Time ``python -m tools.book_build --edition full`` in a temporary copy of the repo."""
    with tempfile.TemporaryDirectory(prefix="wastelab_book_bench_") as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(
            common.ROOT,
            copy,
            ignore=shutil.ignore_patterns(*COPY_IGNORE),
            symlinks=True,
        )
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(copy), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
        cmd = [sys.executable, "-m", "tools.book_build", "--edition", "full"]
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout
            )
            code, tail = proc.returncode, (proc.stdout + proc.stderr)[-2000:]
        except subprocess.TimeoutExpired:
            code, tail = None, f"timed out after {timeout} s"
        seconds = time.perf_counter() - start
    return {
        "command": " ".join(cmd[1:]),
        "seconds": seconds,
        "returncode": code,
        "ok": code == 0,
        "output_tail": tail,
        "load_average_after": common.load_average(),
    }


# --------------------------------------------------------------------------------------------
# Report (pure functions of the JSON: the results page calls them too)
# --------------------------------------------------------------------------------------------


def _limits(payload: dict[str, Any]) -> tuple[float, float]:
    """The time and memory limits the payload was measured against (older results: 2 min)."""
    settings = payload.get("settings", {})
    return (
        settings.get("chapter_limit_s", CHAPTER_LIMIT_S),
        settings.get("memory_limit_mib", MEMORY_LIMIT_MIB),
    )


def _flags(chapter: dict[str, Any], payload: dict[str, Any]) -> str:
    seconds, mib = _limits(payload)
    flags = [f"over {seconds:.0f} s"] if chapter["over_limit"] else []
    if chapter.get("over_memory"):
        flags.append(f"over {mib:,.0f} MiB")
    return ", ".join(flags)


def tables(payload: dict[str, Any]) -> list[common.Table]:
    """Per-chapter execution times, peak memory (kernel and children, RSS) and totals."""
    rows = [
        [
            c["chapter"],
            common.fixed(c["seconds"]),
            common.fixed(c.get("peak_rss_mib"), 0),
            c["code_cells"],
            len(c["unexpected_errors"]),
            _flags(c, payload),
        ]
        for c in payload["chapters"]
    ]
    rows.append(
        [
            "all chapters (execution only)",
            common.fixed(payload["execution_seconds"]),
            None,
            sum(c["code_cells"] for c in payload["chapters"]),
            sum(len(c["unexpected_errors"]) for c in payload["chapters"]),
            "",
        ]
    )
    build = payload.get("full_build")
    if build:
        status = "ok" if build["ok"] else f"FAILED (exit {build['returncode']})"
        rows.append(
            [
                f"full build: {build['command']}",
                common.fixed(build["seconds"]),
                None,
                None,
                None,
                status,
            ]
        )
    return [
        (
            "Execution time and peak memory per chapter (fresh kernel each)",
            ["chapter", "seconds", "peak MiB", "code cells", "errors", "flag"],
            rows,
        )
    ]


def verdicts(payload: dict[str, Any]) -> list[str]:
    """Whether the build stays under 10 minutes, and every chapter under its time and
    memory limits (60 s and 1 GiB: what a mybinder.org session is sure to get)."""
    limit_s, limit_mib = _limits(payload)
    lines = []
    build = payload.get("full_build")
    if build and build["ok"]:
        met = build["seconds"] < BUILD_LIMIT_S
        lines.append(
            f"Whole build < {BUILD_LIMIT_S / 60:.0f} min: {'met' if met else 'NOT MET'}"
            f" - {build['seconds']:.0f} s for the full, executed build."
        )
    elif build:
        lines.append(
            f"Whole build < {BUILD_LIMIT_S / 60:.0f} min: unknown - the timed build "
            f"failed (exit {build['returncode']})."
        )
    else:
        total = payload["execution_seconds"]
        met = total < BUILD_LIMIT_S
        lines.append(
            f"Whole build < {BUILD_LIMIT_S / 60:.0f} min: "
            f"{'met for execution' if met else 'NOT MET'} - executing the chapters "
            f"takes {total:.0f} s (the build adds Sphinx's time on top; time it "
            f"with --full-build)."
        )
    slow = [c for c in payload["chapters"] if c["over_limit"]]
    if slow:
        lines.append(
            f"Chapters over {limit_s:.0f} s: "
            + ", ".join(f"{c['chapter']} ({c['seconds']:.0f} s)" for c in slow)
            + "."
        )
    else:
        lines.append(
            f"Every chapter under {limit_s:.0f} s: met "
            f"({len(payload['chapters'])} executed)."
        )
    measured = [c for c in payload["chapters"] if c.get("peak_rss_mib") is not None]
    big = [c for c in measured if c["peak_rss_mib"] > limit_mib]
    if not measured:
        lines.append(
            "Peak memory per chapter: not measured (a result from before memory "
            "sampling, or psutil is missing)."
        )
    elif big:
        lines.append(
            f"Chapters over {limit_mib:,.0f} MiB peak memory: "
            + ", ".join(f"{c['chapter']} ({c['peak_rss_mib']:,.0f} MiB)" for c in big)
            + "."
        )
    else:
        top = max(measured, key=lambda c: c["peak_rss_mib"])
        lines.append(
            f"Every chapter within {limit_mib:,.0f} MiB peak memory: met (highest "
            f"{top['peak_rss_mib']:,.0f} MiB, {top['chapter']})."
        )
    failed = [c for c in payload["chapters"] if c["unexpected_errors"]]
    if failed:
        lines.append(
            "Chapters with unexpected cell errors: "
            + ", ".join(
                f"{c['chapter']} ({c['unexpected_errors'][0]['ename']})" for c in failed
            )
            + "."
        )
    return lines


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def resolve_chapter(name: str, notebooks) -> Path:
    """A chapter given as a path, or as a name in the table of contents: ``intro``, ``01``
    or ``06_training`` (its file name without ``.md``, or the start of it up to a ``_``).
    ``notebooks()`` lists the notebooks in ``_toc.yml``; it is called only for a name."""
    path = Path(name)
    if path.is_file():
        return path
    matches = [
        nb for nb in notebooks() if nb.stem == name or nb.stem.startswith(f"{name}_")
    ]
    if len(matches) != 1:
        found = ", ".join(nb.stem for nb in matches) or "nothing in _toc.yml"
        raise FileNotFoundError(f"no such chapter: {name} (matches {found})")
    return matches[0]


def main(argv: list[str] | None = None) -> int:
    p = common.parser(NAME, __doc__.split("\n\n")[0])
    p.add_argument(
        "--chapters",
        nargs="+",
        default=None,
        help="notebooks to execute, as paths or as names in _toc.yml (intro, 01, "
        "06_training); default: every notebook in _toc.yml",
    )
    p.add_argument(
        "--full-build",
        action="store_true",
        help="also time python -m tools.book_build --edition full",
    )
    p.add_argument(
        "--timeout", type=int, default=600, help="seconds per chapter / build"
    )
    args = p.parse_args(argv)
    common.use_repo_package()
    # the kernels import this tree's wastelab too
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(common.ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    from tools.notebooks import is_notebook, toc_files

    def notebooks() -> list[Path]:
        return [f for f in toc_files(common.ROOT) if is_notebook(f)]

    if args.chapters is None:
        chapters = notebooks()[:1] if args.quick else notebooks()
    else:
        chapters = [resolve_chapter(name, notebooks) for name in args.chapters]
    settings = {
        "chapters": [str(c) for c in chapters],
        "full_build": args.full_build,
        "quick": args.quick,
        "chapter_limit_s": CHAPTER_LIMIT_S,
        "memory_limit_mib": MEMORY_LIMIT_MIB,
        "build_limit_s": BUILD_LIMIT_S,
    }
    payload = common.new_payload(NAME, settings)
    start = time.perf_counter()
    results = []
    for chapter in chapters:
        row = time_chapter(chapter, args.timeout)
        results.append(row)
        peak = row["peak_rss_mib"]
        print(
            f"{row['chapter']}: {row['seconds']:.1f} s"
            + (f", peak {peak:,.0f} MiB" if peak is not None else "")
            + (
                f", {len(row['unexpected_errors'])} unexpected errors"
                if row["unexpected_errors"]
                else ""
            ),
            flush=True,
        )
    payload["chapters"] = results
    payload["execution_seconds"] = sum(r["seconds"] for r in results)
    payload["chapters_wall_seconds"] = time.perf_counter() - start
    if args.full_build:
        print("timing the full build ...", flush=True)
        payload["full_build"] = time_full_build(args.timeout * max(len(chapters), 1))
    payload["target_met"] = all(
        not r["over_limit"] and not r["over_memory"] for r in results
    ) and (
        payload["full_build"]["ok"] and payload["full_build"]["seconds"] < BUILD_LIMIT_S
        if args.full_build
        else payload["execution_seconds"] < BUILD_LIMIT_S
    )
    common.finish_payload(payload)
    common.print_report(
        "Book: execution and build time", payload, tables(payload), verdicts(payload)
    )
    path = common.write_json(args.json, payload)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
