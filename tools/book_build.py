"""Build the book's editions with Jupyter Book 1.x, strictly (warnings and cell errors fail).

``python -m tools.book_build --edition full`` writes ``_build/html``;
``--edition student`` writes ``_build/student/html`` from the same sources with every
solution removed (sphinx-exercise's ``hide_solutions``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

HTML_EDITIONS = ("full", "student")


def edition_config(root: Path, edition: str, out_dir: Path) -> Path:
    """The ``_config.yml`` to build ``edition`` with: the book's own, or a student copy of it."""
    config_path = root / "_config.yml"
    if edition == "full":
        return config_path
    if edition != "student":
        raise ValueError(f"edition must be one of {HTML_EDITIONS}, got {edition!r}")
    config = yaml.safe_load(config_path.read_text())
    config["title"] = f"{config['title']} (student edition)"
    sphinx = config.setdefault("sphinx", {})
    sphinx.setdefault("config", {})["hide_solutions"] = True
    # the copy lives under _build/: local extension folders become absolute paths
    local = sphinx.get("local_extensions") or {}
    sphinx["local_extensions"] = {
        k: str((root / v).resolve()) for k, v in local.items()
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    student = out_dir / "_config_student.yml"
    student.write_text(yaml.safe_dump(config, sort_keys=False))
    return student


def build(root: Path, edition: str = "full", strict: bool = True) -> Path:
    """Build one edition of the book under ``root/_build`` and return its HTML folder."""
    root = root.resolve()
    output = root / "_build" if edition == "full" else root / "_build" / "student"
    config = edition_config(root, edition, output)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [
        str(jb) if jb.exists() else "jupyter-book",
        "build",
        str(root),
        "--config",
        str(config),
        "--toc",
        str(root / "_toc.yml"),
        "--builder",
        "html",
    ]
    if edition != "full":
        cmd += ["--path-output", str(output)]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=root, check=True)
    html = output / "_build" / "html" if edition != "full" else output / "html"
    if edition != "full":
        # _build/student/_build/html -> _build/student/html
        target = output / "html"
        shutil.rmtree(target, ignore_errors=True)
        html.rename(target)
        shutil.rmtree(output / "_build", ignore_errors=True)
        html = target
    print(f"built the {edition} edition in {time.perf_counter() - start:.0f} s: {html}")
    return html


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edition", choices=HTML_EDITIONS, default="full")
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--no-strict", action="store_true", help="let warnings pass")
    args = parser.parse_args(argv)
    try:
        build(args.root, args.edition, strict=not args.no_strict)
    except subprocess.CalledProcessError as err:
        print(
            f"the {args.edition} edition failed to build (exit {err.returncode})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
