"""What every benchmark shares: the machine it ran on, tables, JSON results, the command line.

A benchmark script measures, builds a JSON-able ``payload`` dict, prints it as text tables
(:func:`text_table`) and writes it with :func:`write_json`. Each script also offers
``tables(payload)`` and ``verdicts(payload)``, pure functions that the book's results page
(``book/results.md``) calls to render the same tables in Markdown (:func:`markdown_table`).
Nothing here imports TensorFlow: the book benchmark and the results page do without it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
SCHEMA = "wastelab-bench/1"

#: A table to show: (title, column names, rows of cells).
Table = tuple[str, list[str], list[list[Any]]]


def use_repo_package() -> None:
    """Put the repository root first on ``sys.path``, so ``import wastelab`` finds this tree."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


# --------------------------------------------------------------------------------------------
# The machine
# --------------------------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask), else ``os.cpu_count()``."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages (runnable processes), rounded; [] if unknown."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def _version(module: str) -> str | None:
    if module not in sys.modules:
        return None
    return getattr(sys.modules[module], "__version__", None)


def _git_commit() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}{'+changes' if dirty else ''}"


def gpu_names() -> list[str]:
    """GPUs TensorFlow sees, if TensorFlow is already imported; [] otherwise."""
    if "tensorflow" not in sys.modules:
        return []
    from wastelab.devices import gpu_names as tf_gpu_names

    return tf_gpu_names()


def machine_info() -> dict[str, Any]:
    """Where and when a measurement runs: CPU, cores, GPUs, load, versions, date, commit.

    Versions of TensorFlow and Keras are given only when the benchmark imported them.
    """
    import numpy as np

    tf_loaded = "tensorflow" in sys.modules
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "gpus": gpu_names() if tf_loaded else [],
        "load_average": load_average(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tensorflow": _version("tensorflow"),
        "keras": _version("keras"),
        "platform": platform.platform(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "git_commit": _git_commit(),
    }


def machine_line(info: dict[str, Any]) -> str:
    """One line naming the machine, versions, load and date of a result."""
    gpus = ", ".join(info.get("gpus") or []) or "no GPU"
    versions = [f"Python {info.get('python')}", f"numpy {info.get('numpy')}"]
    versions += [
        f"{name} {info[key]}"
        for key, name in (("tensorflow", "TensorFlow"), ("keras", "Keras"))
        if info.get(key)
    ]
    load = info.get("load_average") or []
    load_text = f"load average {load[0]:.2f} (1 min)" if load else "load unknown"
    return (
        f"{info.get('cpu')} x {info.get('cores')} cores, {gpus}; {', '.join(versions)}; "
        f"{load_text}; {info.get('date')}"
        + (f"; commit {info['git_commit']}" if info.get("git_commit") else "")
    )


def data_fingerprint(data: Any) -> str:
    """A short SHA-256 of a ``Splits``' images and labels: tells whether the data changed."""
    import hashlib

    h = hashlib.sha256()
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        h.update(getattr(data, name).tobytes())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def cell(value: Any, digits: int = 3) -> str:
    """A value as table text: floats rounded to ``digits``, None as "-", the rest as str."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.{digits}f}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def fixed(value: float | None, digits: int = 1) -> str | None:
    """A number as text with ``digits`` decimals (seconds, rates), None kept for "-"."""
    return None if value is None else f"{value:,.{digits}f}"


def text_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 3
) -> str:
    """An aligned plain-text table: first column left-aligned, the others right-aligned."""
    cells = [list(columns)] + [[cell(v, digits) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def markdown_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 3
) -> str:
    """The same table as GitHub/MyST Markdown (pipes escaped)."""

    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    head = "| " + " | ".join(esc(c) for c in columns) + " |"
    align = (
        "| "
        + " | ".join(":--" if i == 0 else "--:" for i in range(len(columns)))
        + " |"
    )
    body = ["| " + " | ".join(esc(cell(v, digits)) for v in row) + " |" for row in rows]
    return "\n".join([head, align, *body])


def print_report(
    title: str,
    payload: dict[str, Any],
    tables: Sequence[Table],
    verdicts: Sequence[str],
) -> None:
    """Print a benchmark's result: title, machine line, every table, the verdicts."""
    print(f"\n{title}")
    print(f"measured on: {machine_line(payload['machine'])}")
    for name, columns, rows in tables:
        print(f"\n{name}\n{text_table(columns, rows)}")
    if verdicts:
        print()
        for verdict in verdicts:
            print(f"- {verdict}")


# --------------------------------------------------------------------------------------------
# JSON results and the command line
# --------------------------------------------------------------------------------------------


def default_json_path(name: str) -> Path:
    """``bench/results/<name>.json``."""
    return RESULTS_DIR / f"{name}.json"


def write_json(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as indented JSON, atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        tmp.write_text(json.dumps(payload, indent=1, sort_keys=False) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_json(path: str | Path) -> dict[str, Any] | None:
    """A result written by :func:`write_json`, or None if there is no such file."""
    path = Path(path)
    if not path.is_file():
        return None
    payload = json.loads(path.read_text())
    if payload.get("schema") != SCHEMA:
        raise ValueError(
            f"{path}: not a wastelab benchmark result (schema "
            f"{payload.get('schema')!r}, expected {SCHEMA!r})"
        )
    return payload


def new_payload(benchmark: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The start of every result: schema, benchmark name, settings, machine (updated at the
    end by :func:`finish_payload`)."""
    return {
        "schema": SCHEMA,
        "benchmark": benchmark,
        "settings": settings,
        "machine": machine_info(),
        "load_average_start": load_average(),
        "started": time.time(),
    }


def finish_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Record the machine again at the end (versions of what got imported, load at the end)."""
    start_date = payload["machine"]["date"]
    payload["machine"] = {**machine_info(), "date": start_date}
    payload["load_average_end"] = load_average()
    if "started" in payload:
        payload["wall_seconds"] = time.time() - payload["started"]
    return payload


def parser(name: str, description: str) -> argparse.ArgumentParser:
    """A command line with ``--json PATH`` (default ``bench/results/<name>.json``) and
    ``--quick`` (tiny settings, for the smoke tests)."""
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--json",
        type=Path,
        default=default_json_path(name),
        help=f"where to write the result (default bench/results/{name}.json)",
    )
    p.add_argument(
        "--quick",
        "--smoke",
        action="store_true",
        dest="quick",
        help="tiny settings that only check the benchmark runs (smoke tests)",
    )
    return p


# --------------------------------------------------------------------------------------------
# The results page
# --------------------------------------------------------------------------------------------


def markdown_report(
    payload: dict[str, Any], tables: Sequence[Table], verdicts: Sequence[str]
) -> str:
    """A result as Markdown: where it was measured, its tables, its verdicts."""
    parts = [f"*Measured on {machine_line(payload['machine'])}.*"]
    start, end = payload.get("load_average_start"), payload.get("load_average_end")
    if start and end:
        parts[0] += (
            f" *Load average (1 min) {start[0]:.2f} at the start, {end[0]:.2f} at the "
            f"end.*"
        )
    if payload.get("started") and payload.get("wall_seconds"):
        parts[0] += f" *The whole run took {payload['wall_seconds'] / 60:.1f} min.*"
    if payload.get("settings", {}).get("quick"):
        parts.append(
            "**These figures come from the smoke-test settings (`--quick`): they "
            "only show that the benchmark runs, not how fast or how good anything is.**"
        )
    for title, columns, rows in tables:
        parts += [f"**{title}**", markdown_table(columns, rows)]
    if verdicts:
        parts.append("\n".join(f"- {v}" for v in verdicts))
    return "\n\n".join(parts)


def results_markdown(script: str, result: str, command: str | None = None) -> str:
    """The Markdown for one benchmark's saved result, or a note that it is not measured yet.

    ``script``: the benchmark module in ``bench/`` (e.g. ``"bench_speed"``), whose
    ``tables(payload)`` and ``verdicts(payload)`` render ``bench/results/<result>.json``.
    """
    import importlib

    payload = read_json(default_json_path(result))
    command = command or f".venv/bin/python bench/{script}.py"
    if payload is None:
        return (
            f"*Not measured yet: run `{command}` (it writes "
            f"`bench/results/{result}.json`), then build the book again.*"
        )
    if str(Path(__file__).parent) not in sys.path:
        sys.path.insert(0, str(Path(__file__).parent))
    module = importlib.import_module(script)
    return markdown_report(payload, module.tables(payload), module.verdicts(payload))
