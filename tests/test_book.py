"""The book: every chapter in _toc.yml exists, follows the chapter pattern, and executes.

Executing a chapter runs it top to bottom in a fresh kernel, as a reader's "run all" would;
only exercise cells (tagged ``raises-exception``) may fail, and only with NotImplementedError.
"""

import os
import re
from pathlib import Path

import pytest

from tools.notebooks import STUB_TAG, execute, is_notebook, read_notebook, toc_files

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = [p for p in toc_files(ROOT) if re.match(r"\d\d_", p.name)]
NOTEBOOKS = [p for p in toc_files(ROOT) if is_notebook(p)]

# The course's numbers must appear, computed, in the executed pages.
COURSE_NUMBERS = {
    "03_neuron": ["0.10534997", "0.05231524", "0.77843681", "0.06389798"],
    "04_backprop": ["92"],
    "08_mlp": ["320,386"],
    "09_cnn": ["7,394"],
}


def test_toc_lists_only_existing_files():
    files = toc_files(ROOT)
    assert files[0].name == "intro.md"
    assert all(f.exists() for f in files)


def test_every_chapter_file_is_in_the_toc():
    listed = {p.resolve() for p in toc_files(ROOT)}
    for path in (ROOT / "book").glob("[0-9][0-9]_*.md"):
        assert path.resolve() in listed, f"{path.name} is not in _toc.yml"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_follows_the_pattern(path):
    text = path.read_text()
    assert is_notebook(path), f"{path.name} lacks the jupytext/kernelspec header"
    assert "Learning objectives" in text
    assert re.search(r"^## Summary", text, re.M), "no Summary section"
    assert re.search(r"^## Sources", text, re.M) and "{cite}" in text, (
        "no cited sources"
    )
    exercises = re.findall(r"^:{3,}\{exercise\}", text, re.M)
    solutions = re.findall(r"^:{3,}\{solution\}", text, re.M)
    assert len(exercises) >= 3, f"{len(exercises)} exercises, want at least 3"
    assert len(solutions) == len(exercises), "every exercise needs a solution"
    assert "solution-start" not in text, (
        "the split solution form crashes with hidden solutions"
    )
    assert text.count(":class: dropdown") >= len(solutions), (
        "solutions must be dropdowns"
    )
    nb = read_notebook(path)
    stubs = [
        c
        for c in nb.cells
        if c.cell_type == "code"
        and STUB_TAG in c.metadata.get("tags", [])
        and "solution" in c.metadata
    ]
    assert stubs, "at least one code exercise (a stub cell with a `solution` reference)"
    for cell in stubs:
        module, _, name = cell.metadata["solution"].rpartition(".")
        assert name in Path(ROOT, *module.split(".")).with_suffix(".py").read_text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_executes(path):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    run = execute(read_notebook(path), cwd=path.parent)
    assert not run.unexpected_errors, "\n".join(
        f"cell {e['cell']}: {e['ename']}: {e['evalue']}\n{e['source']}"
        for e in run.unexpected_errors
    )
    outputs, images = [], 0
    for cell in run.notebook.cells:
        for out in cell.get("outputs", []):
            outputs.append(
                out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
            )
            images += "image/png" in out.get("data", {})
    text = "\n".join(outputs)
    if "plots." in path.read_text():
        # a figure drawn but never displayed (backend not inline) leaves the page empty
        assert images, f"{path.name} draws figures but none reached the page"
    for number in COURSE_NUMBERS.get(path.stem, []):
        assert number in text, (
            f"{path.name}: the course's {number} is not in the outputs"
        )
