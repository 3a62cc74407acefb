"""Book build time: every chapter executed in a fresh kernel, timed; optionally the whole build.

Executes each notebook listed in ``_toc.yml`` (or ``--chapters``) top to bottom with
:func:`wastelab.notebooks.execute`, as the build does, and times it; chapters over two
minutes are flagged. ``--full-build`` also times ``python -m wastelab.book_build --edition
full`` (Sphinx, every chapter executed, warnings as errors) in a fresh temporary copy of the
repository, so the execution cache starts empty and the repository's ``_build`` is left alone.
Target: the whole build in under 10 minutes on 2 cores.

    .venv/bin/python bench/bench_book.py [--chapters book/03_neuron.md ...] [--full-build]
        [--json PATH] [--quick]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common

NAME = "book"
CHAPTER_LIMIT_S = 120.0
BUILD_LIMIT_S = 600.0
COPY_IGNORE = (".git", ".venv", "_build", "exports", "runs", "__pycache__",
               ".pytest_cache", ".ruff_cache", ".hypothesis", ".ipynb_checkpoints", "*.egg-info")


def time_chapter(path: Path, timeout: int) -> dict[str, Any]:
    """Execute one chapter in a fresh kernel started in its folder; its time and errors."""
    from wastelab.notebooks import execute, read_notebook

    nb = read_notebook(path)
    code_cells = sum(c.cell_type == "code" for c in nb.cells)
    run = execute(nb, cwd=path.resolve().parent, timeout=timeout)
    try:
        name = str(path.resolve().relative_to(common.ROOT))
    except ValueError:
        name = str(path)
    return {"chapter": name, "seconds": run.seconds, "code_cells": code_cells,
            "stub_errors": sum(e["stub"] for e in run.errors),
            "unexpected_errors": [{k: e[k] for k in ("cell", "ename", "evalue")}
                                  for e in run.unexpected_errors],
            "over_limit": run.seconds > CHAPTER_LIMIT_S,
            "load_average_after": common.load_average()}


def time_full_build(timeout: int) -> dict[str, Any]:
    """Time ``python -m wastelab.book_build --edition full`` in a temporary copy of the repo."""
    with tempfile.TemporaryDirectory(prefix="wastelab_book_bench_") as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(common.ROOT, copy, ignore=shutil.ignore_patterns(*COPY_IGNORE),
                        symlinks=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(copy), os.environ.get("PYTHONPATH", "")) if p)}
        cmd = [sys.executable, "-m", "wastelab.book_build", "--edition", "full"]
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True,
                                  timeout=timeout)
            code, tail = proc.returncode, (proc.stdout + proc.stderr)[-2000:]
        except subprocess.TimeoutExpired:
            code, tail = None, f"timed out after {timeout} s"
        seconds = time.perf_counter() - start
    return {"command": " ".join(cmd[1:]), "seconds": seconds, "returncode": code,
            "ok": code == 0, "output_tail": tail, "load_average_after": common.load_average()}


# --------------------------------------------------------------------------------------------
# Report (pure functions of the JSON: the results page calls them too)
# --------------------------------------------------------------------------------------------


def tables(payload: dict[str, Any]) -> list[common.Table]:
    """Per-chapter execution times and the totals."""
    rows = [[c["chapter"], common.fixed(c["seconds"]), c["code_cells"], len(c["unexpected_errors"]),
             "over 2 min" if c["over_limit"] else ""] for c in payload["chapters"]]
    rows.append(["all chapters (execution only)", common.fixed(payload["execution_seconds"]),
                 sum(c["code_cells"] for c in payload["chapters"]),
                 sum(len(c["unexpected_errors"]) for c in payload["chapters"]), ""])
    build = payload.get("full_build")
    if build:
        status = "ok" if build["ok"] else f"FAILED (exit {build['returncode']})"
        rows.append([f"full build: {build['command']}", common.fixed(build["seconds"]), None, None,
                     status])
    return [("Execution time per chapter (fresh kernel each)",
             ["chapter", "seconds", "code cells", "errors", "flag"], rows)]


def verdicts(payload: dict[str, Any]) -> list[str]:
    """Whether the build stays under 10 minutes and every chapter under 2."""
    lines = []
    build = payload.get("full_build")
    if build and build["ok"]:
        met = build["seconds"] < BUILD_LIMIT_S
        lines.append(f"Whole build < {BUILD_LIMIT_S / 60:.0f} min: {'met' if met else 'NOT MET'}"
                     f" - {build['seconds']:.0f} s for the full, executed build.")
    elif build:
        lines.append(f"Whole build < {BUILD_LIMIT_S / 60:.0f} min: unknown - the timed build "
                     f"failed (exit {build['returncode']}).")
    else:
        total = payload["execution_seconds"]
        met = total < BUILD_LIMIT_S
        lines.append(f"Whole build < {BUILD_LIMIT_S / 60:.0f} min: "
                     f"{'met for execution' if met else 'NOT MET'} - executing the chapters "
                     f"takes {total:.0f} s (the build adds Sphinx's time on top; time it "
                     f"with --full-build).")
    slow = [c for c in payload["chapters"] if c["over_limit"]]
    if slow:
        lines.append("Chapters over 2 min: " + ", ".join(
            f"{c['chapter']} ({c['seconds']:.0f} s)" for c in slow) + ".")
    else:
        lines.append(f"Every chapter under 2 min: met ({len(payload['chapters'])} executed).")
    failed = [c for c in payload["chapters"] if c["unexpected_errors"]]
    if failed:
        lines.append("Chapters with unexpected cell errors: " + ", ".join(
            f"{c['chapter']} ({c['unexpected_errors'][0]['ename']})" for c in failed) + ".")
    return lines


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = common.parser(NAME, __doc__.split("\n\n")[0])
    p.add_argument("--chapters", type=Path, nargs="+", default=None,
                   help="notebooks to execute (default: every notebook in _toc.yml)")
    p.add_argument("--full-build", action="store_true",
                   help="also time python -m wastelab.book_build --edition full")
    p.add_argument("--timeout", type=int, default=600, help="seconds per chapter / build")
    args = p.parse_args(argv)
    common.use_repo_package()
    # the kernels import this tree's wastelab too
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(common.ROOT), os.environ.get("PYTHONPATH", "")) if p)
    from wastelab.notebooks import is_notebook, toc_files

    chapters = args.chapters
    if chapters is None:
        chapters = [f for f in toc_files(common.ROOT) if is_notebook(f)]
        if args.quick:
            chapters = chapters[:1]
    missing = [str(c) for c in chapters if not c.is_file()]
    if missing:
        raise FileNotFoundError(f"no such chapter: {', '.join(missing)}")
    settings = {"chapters": [str(c) for c in chapters], "full_build": args.full_build,
                "quick": args.quick, "chapter_limit_s": CHAPTER_LIMIT_S,
                "build_limit_s": BUILD_LIMIT_S}
    payload = common.new_payload(NAME, settings)
    start = time.perf_counter()
    results = []
    for chapter in chapters:
        row = time_chapter(chapter, args.timeout)
        results.append(row)
        print(f"{row['chapter']}: {row['seconds']:.1f} s"
              + (f", {len(row['unexpected_errors'])} unexpected errors"
                 if row["unexpected_errors"] else ""), flush=True)
    payload["chapters"] = results
    payload["execution_seconds"] = sum(r["seconds"] for r in results)
    payload["chapters_wall_seconds"] = time.perf_counter() - start
    if args.full_build:
        print("timing the full build ...", flush=True)
        payload["full_build"] = time_full_build(args.timeout * max(len(chapters), 1))
    payload["target_met"] = (
        all(not r["over_limit"] for r in results)
        and (payload["full_build"]["ok"] and payload["full_build"]["seconds"] < BUILD_LIMIT_S
             if args.full_build else payload["execution_seconds"] < BUILD_LIMIT_S))
    common.finish_payload(payload)
    common.print_report("Book: execution and build time", payload, tables(payload),
                        verdicts(payload))
    path = common.write_json(args.json, payload)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
