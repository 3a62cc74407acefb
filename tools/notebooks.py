"""Reading the book's chapters as notebooks and executing them (tests, exports, benchmarks)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import yaml

# Exercise cells (book/instructors.md): a stub defines ``my_*`` (metadata ``solution``
# names the reference) and raises ``NotImplementedError`` only when called; the check cell
# after it calls a self-check on ``my_*``. No cell may fail: the old tag that let a cell
# fail (``raises-exception``) is refused by the exporter and the book test.
STUB_TAG = "exercise"
CHECK_TAG = "exercise-check"
OLD_TAG = "raises-exception"


def toc_files(root: str | Path = ".") -> list[Path]:
    """Every file listed in ``root/_toc.yml`` (root page first), as paths with their suffix."""
    root = Path(root)
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    paths = []
    for name in names:
        matches = [
            p for p in (root / f"{name}.md", root / f"{name}.ipynb") if p.exists()
        ]
        if not matches:
            raise FileNotFoundError(
                f"_toc.yml lists {name!r}: no {name}.md or .ipynb exists"
            )
        paths.append(matches[0])
    return paths


def is_notebook(path: str | Path) -> bool:
    """True for a MyST Markdown notebook (a jupytext header with a kernelspec) or an .ipynb."""
    path = Path(path)
    if path.suffix == ".ipynb":
        return True
    head = path.read_text().split("\n---", 1)[0]
    return path.read_text().startswith("---") and "kernelspec" in head


def read_notebook(path: str | Path):
    """A chapter as an ``nbformat`` notebook (MyST ``.md`` through jupytext)."""
    import jupytext

    return jupytext.read(str(path))


@dataclass
class Execution:
    """What executing a notebook gave: the executed notebook, its errors, the time taken."""

    notebook: object
    errors: list[dict]
    seconds: float

    @property
    def unexpected_errors(self) -> list[dict]:
        """Every error: no cell may fail, exercise cells included (a stub raises only
        when called, and a self-check prints its verdict in a notebook)."""
        return list(self.errors)


def execute(
    nb, cwd: str | Path, timeout: int = 600, kernel: str = "python3"
) -> Execution:
    """Run every cell of ``nb`` in a fresh kernel started in ``cwd``; collect cell errors.

    Every error is reported in ``errors`` (and in ``unexpected_errors``) with the cell
    index, its source, the error and ``stub``: whether it is an exercise cell (tagged
    ``exercise`` or ``exercise-check``).
    """
    from nbclient import NotebookClient

    nb.metadata["kernelspec"] = {
        "name": kernel,
        "display_name": "Python 3",
        "language": "python",
    }
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    errors = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append(
                    {
                        "cell": index,
                        "ename": out["ename"],
                        "evalue": out["evalue"],
                        "stub": bool(
                            {STUB_TAG, CHECK_TAG} & set(cell.metadata.get("tags", []))
                        ),
                        "source": cell.source[:300],
                    }
                )
    return Execution(nb, errors, seconds)


def preview(chapter: str | Path, out: str | Path | None = None) -> int:
    """Build one chapter alone as a strict one-page book (for writing and reviewing chapters).

    Returns the ``jupyter-book`` exit code; the HTML lands in ``out/_build/html``.
    """
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    chapter = Path(chapter).resolve()
    out = Path(out or f"/tmp/preview_{chapter.stem}")
    shutil.rmtree(out, ignore_errors=True)
    (out / "book").mkdir(parents=True)
    for name in ("wastelab", "tools"):
        (out / name).symlink_to(root / name)
    shutil.copy(root / "book" / "references.bib", out / "book" / "references.bib")
    shutil.copy(chapter, out / "book" / chapter.name)
    for asset in (root / "book").iterdir():
        if asset.is_dir() and not asset.name.startswith((".", "_")):
            (out / "book" / asset.name).symlink_to(asset)
    config = yaml.safe_load((root / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "force"
    config["execute"].pop("cache", None)
    (out / "_config.yml").write_text(yaml.safe_dump(config))
    # the back-matter pages (results, references, ...) so that links to them resolve
    pages = [
        p
        for p in sorted((root / "book").glob("*.md"))
        if not p.name[:2].isdigit() and p.stem not in ("intro", chapter.stem)
    ]
    for page in pages:
        shutil.copy(page, out / "book" / page.name)
    (out / "bench").symlink_to(root / "bench")
    entries = "".join(f"  - file: book/{p.stem}\n" for p in pages)
    (out / "_toc.yml").write_text(
        f"format: jb-book\nroot: book/{chapter.stem}\nchapters:\n{entries}"
    )
    jb = Path(sys.executable).with_name("jupyter-book")
    return subprocess.run(
        [str(jb), "build", str(out), "-W", "-n", "--keep-going"], cwd=out
    ).returncode


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.notebooks check|preview CHAPTER.md``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tools.notebooks")
    parser.add_argument("action", choices=["check", "preview"])
    parser.add_argument("chapter", type=Path)
    args = parser.parse_args(argv)
    if args.action == "preview":
        return preview(args.chapter)
    run = execute(read_notebook(args.chapter), cwd=args.chapter.resolve().parent)
    print(
        f"{args.chapter}: executed in {run.seconds:.1f} s; "
        f"{len(run.unexpected_errors)} errors (no cell may fail, exercise cells included)"
    )
    for err in run.unexpected_errors:
        print(
            f"  cell {err['cell']}: {err['ename']}: {err['evalue']}\n    {err['source']!r}"
        )
    return 1 if run.unexpected_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
