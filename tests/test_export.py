"""Student, instructor and nbgrader notebooks exported from a chapter (tools.export).

The fixture chapter tests/fixtures/book/99_sample.md has three code exercises (one
function, two functions in one cell, a value) whose references live in the package and in
tests/fixtures/wastelab_fixture_solutions.py, plus every MyST construct the exporter
rewrites. It is exported and executed; the book's real chapters are exported only.
"""

from __future__ import annotations

import base64
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools import export
from tools.export import EDITIONS, book_chapters, export_book, export_chapter, reference
from tools.notebooks import STUB_TAG, execute, read_notebook
from wastelab import neuron

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SAMPLE = FIXTURES / "book" / "99_sample.md"
OTHER = FIXTURES / "book" / "98_other.md"
BROKEN = FIXTURES / "broken_book" / "97_no_solution.md"
PYTHONPATH = os.pathsep.join([str(ROOT), str(FIXTURES)])


@pytest.fixture(scope="module")
def fixture_path():
    """The fixture's reference module importable here and in every kernel started here."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(FIXTURES))
        mp.setenv(
            "PYTHONPATH", PYTHONPATH + os.pathsep + os.environ.get("PYTHONPATH", "")
        )
        yield


@pytest.fixture(scope="module")
def exported(fixture_path) -> dict[str, nbformat.NotebookNode]:
    return {edition: export_chapter(SAMPLE, edition) for edition in EDITIONS}


def _cells(nb, role: str | None = None, cell_type: str | None = None) -> list:
    return [
        c
        for c in nb.cells
        if (role is None or c.metadata.get("wastelab", {}).get("role") == role)
        and (cell_type is None or c.cell_type == cell_type)
    ]


def _markdown(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _myst_leftovers(markdown: str) -> list[str]:
    """MyST syntax a plain notebook cannot render, outside code blocks and code spans."""
    text = re.sub(r"^(`{3,}|~{3,})(?![{`]).*?^\1\s*$", "", markdown, flags=re.M | re.S)
    found = re.findall(r"^\s*(?:>\s*)*(?:`{3,}|:{3,})\{[^}]*\}.*$", text, re.M)
    found += re.findall(
        r"(?<![`\w\\])\{[a-z][\w.:+-]*\}`", text
    )  # a role, not `{code}`
    found += re.findall(r"^\s*\([^()\s]+\)=\s*$", text, re.M)
    found += re.findall(r"^%.*$", text, re.M)
    return found


def _clear_solutions(nb) -> nbformat.NotebookNode:
    """What ``nbgrader generate_assignment`` makes of a solution cell (its ClearSolutions)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        if not cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        out, inside = [], False
        for line in cell.source.split("\n"):
            if "BEGIN SOLUTION" in line:
                indent = line[: len(line) - len(line.lstrip())]
                out += [
                    f"{indent}# YOUR CODE HERE",
                    f"{indent}raise NotImplementedError()",
                ]
                inside = True
            elif "END SOLUTION" in line:
                inside = False
            elif not inside:
                out.append(line)
        cell.source = "\n".join(out)
    return nb


# ------------------------------------------------------------------ every edition
@pytest.mark.parametrize("edition", EDITIONS)
def test_each_edition_is_a_valid_python_notebook_with_a_title_cell(exported, edition):
    nb = exported[edition]
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.wastelab == {
        "edition": edition,
        "source": "tests/fixtures/book/99_sample.md",
    }
    title = nb.cells[0].source
    assert (
        "Generated from `tests/fixtures/book/99_sample.md` by `python -m tools.export`"
        in title
    )
    assert "edit the source, not this file" in title
    assert nb.cells[1].source.startswith("# Sample chapter")
    assert len({c.id for c in nb.cells}) == len(nb.cells)
    assert "jupytext" not in nb.metadata


@pytest.mark.parametrize("edition", EDITIONS)
def test_markdown_has_no_myst_left_and_reads_as_plain_markdown(exported, edition):
    nb = exported[edition]
    markdown = _markdown(nb)
    assert _myst_leftovers(markdown) == []
    for expected in [
        "> **Learning objectives**",
        "- compute a softmax (Goodfellow et al., 2016);",
        "solve Exercise 99.1, then look back at Exercise 98.1",  # refs, also to a sibling
        "the linked section.",  # {ref}`title <label>`
        "The first probability is `float(p[0])`.",  # the glued expression
        "(Proença and Simões, 2020); Goodfellow et al. (2016) explain",  # BibTeX accents
        "[Another chapter](98_other.ipynb) and in [the other chapter](98_other.ipynb)",
        "`{cite}` and ``x = `y` `` stays as it is",  # code spans are not roles
        "# a plain code block, kept verbatim: {cite}`not-a-role`",
        "![a tiny red picture](attachment:tiny.png)",
        "*Figure 99.1: A tiny red picture, drawn for this test.*",
        "Figure 99.1 shows it",  # {numref}
        "[this section](#A-figure-and-some-code)",
        "```python\ndef total(self) -> float:\n",  # :pyobject: Class.method
        "$$\nz = \\sum_i w_i x_i\n$$\n\nEquation (ch99-eq) is",
        "> **Note**\n>\n> A note with a **bold** word.",
        "> **More, folded**\n>\n> ```python\n> SIDE = 64",  # :lines: inside a dropdown
        "### Exercise 99.1: Softmax by hand",
        "### Exercise 99.2: Two derivatives",
        "### Exercise 99.3: Count the numbers",
        "### Exercise: A question",
        "**References**\n\n- Ian Goodfellow, Yoshua Bengio and Aaron Courville (2016). "
        "*Deep Learning*. MIT Press.",
    ]:
        assert expected in markdown, expected
    for gone in ["a MyST comment", "(ch99-start)=", "nobody", "dropdown", ":label:"]:
        assert gone.lower() not in markdown.lower(), gone
    figure = next(c for c in nb.cells if "attachment:tiny.png" in c.source)
    png = (FIXTURES / "book" / "images" / "tiny.png").read_bytes()
    assert base64.b64decode(figure.attachments["tiny.png"]["image/png"]) == png


def test_export_is_deterministic(fixture_path):
    for edition in EDITIONS:
        assert nbformat.writes(export_chapter(SAMPLE, edition)) == nbformat.writes(
            export_chapter(SAMPLE, edition)
        )


# ------------------------------------------------------------------ per edition
def test_student_edition_keeps_the_stubs_and_drops_every_solution(exported):
    nb = exported["student"]
    source = read_notebook(SAMPLE)
    source_stubs = [c for c in source.cells if "solution" in c.metadata]
    stubs = _cells(nb, "stub")
    assert [c.source for c in stubs] == [c.source for c in source_stubs]
    assert all(STUB_TAG in c.metadata.tags for c in stubs + _cells(nb, "check"))
    assert len(_cells(nb, "check")) == 3
    everything = "\n".join(c.source for c in nb.cells)
    for secret in [
        "SOLUTION-PROSE-MARKER",
        "Solution to",
        "So that nothing overflows",
        "def softmax(",
        "def sigmoid_derivative(",
        "pixel_count_answer",
        "class Counter",
    ]:
        assert secret not in everything, secret
    assert not any({"solution", "answer"} & set(c.metadata) for c in nb.cells)


def test_instructor_edition_has_the_reference_code_and_solutions(exported):
    nb = exported["instructor"]
    stubs = _cells(nb, "stub")
    assert inspect.getsource(neuron.softmax) in stubs[0].source
    assert stubs[0].source.startswith(
        "# Reference solution, from the book's tested code: "
        "wastelab.neuron.softmax\nimport numpy as np\n"
        "from numpy.typing import ArrayLike\n"
    )
    assert stubs[0].source.endswith("\nmy_softmax = softmax")
    assert (
        "from wastelab.neuron import sigmoid\n" in stubs[1].source
    )  # a helper it calls
    assert stubs[1].source.endswith(
        "my_relu_derivative = relu_derivative\n"
        "my_sigmoid_derivative = sigmoid_derivative"
    )
    assert (
        "from wastelab_fixture_solutions import SIDE, numbers_in_image"
        in stubs[2].source
    )
    assert stubs[2].source.endswith("\nn_numbers = pixel_count_answer()")
    assert not any(STUB_TAG in c.metadata.get("tags", []) for c in nb.cells)
    markdown = _markdown(nb)
    assert (
        "#### Solution to Exercise 99.1\n\nSubtract the maximum first, the "
        "SOLUTION-PROSE-MARKER (Goodfellow et al., 2016):" in markdown
    )
    assert (
        "```python\n" + inspect.getsource(neuron.sigmoid_derivative).strip() + "\n```"
        in markdown
    )
    whole_file = (FIXTURES / "wastelab_fixture_solutions.py").read_text().strip()
    assert (
        "```python\n" + whole_file + "\n```" in markdown
    )  # literalinclude, whole file
    assert (
        "#### Solution to the exercise \u201cA question\u201d\n\nSo that nothing overflows."
        in markdown
    )


def test_nbgrader_edition_has_solution_and_autograded_test_cells(exported):
    nb = exported["nbgrader"]
    solutions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert solutions == _cells(nb, "stub") and tests == _cells(nb, "check")
    labels = ["ch99-softmax", "ch99-derivatives", "ch99-count"]
    for cell, label in zip(solutions, labels, strict=True):
        assert cell.metadata.nbgrader == {
            "grade": False,
            "grade_id": f"{label}-solution",
            "locked": False,
            "schema_version": 3,
            "solution": True,
            "task": False,
        }
    for cell, label in zip(tests, labels, strict=True):
        assert cell.metadata.nbgrader == {
            "grade": True,
            "grade_id": f"{label}-test",
            "locked": True,
            "points": 1,
            "schema_version": 3,
            "solution": False,
            "task": False,
        }
    for cell, regions in zip(solutions, [1, 2, 1], strict=True):
        assert cell.source.count("### BEGIN SOLUTION") == regions
        assert cell.source.count("### END SOLUTION") == regions
    assert solutions[0].source.startswith(
        "def my_softmax(z):\n    ### BEGIN SOLUTION\n"
    )
    assert solutions[0].source.endswith("    return softmax(z)\n    ### END SOLUTION")
    assert solutions[2].source.startswith(
        "# height times width times channels\nn_numbers = ...\n### BEGIN SOLUTION\n"
    )
    assert all(c.metadata.nbgrader["locked"] for c in _cells(nb, cell_type="markdown"))
    grade_ids = [
        c.metadata.nbgrader["grade_id"] for c in nb.cells if "nbgrader" in c.metadata
    ]
    assert len(grade_ids) == len(set(grade_ids))
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", g) for g in grade_ids)
    assert not any(STUB_TAG in c.metadata.get("tags", []) for c in nb.cells)
    assert "Solution to" not in _markdown(nb)
    assert "BEGIN SOLUTION" not in _markdown(nb)  # nbgrader would choke on it


# ------------------------------------------------------------------ executed
def _errors(nb) -> list[dict]:
    return execute(nb, cwd=ROOT, timeout=120).errors


def test_instructor_notebook_runs_without_any_error(exported):
    errors = _errors(exported["instructor"])
    assert errors == []
    outputs = "".join(
        o.get("text", "")
        for c in _cells(exported["instructor"], "check")
        for o in c.outputs
    )
    assert "my_softmax passes" in outputs
    assert "✓ n_numbers" in outputs


@pytest.mark.parametrize("which", ["student", "nbgrader released"])
def test_unsolved_notebooks_fail_exactly_the_exercise_cells(exported, which):
    """Like ``nbgrader validate --invert``: the unsolved notebook fails every check."""
    nb = (
        exported["student"]
        if which == "student"
        else _clear_solutions(exported["nbgrader"])
    )
    errors = _errors(nb)
    failing = {e["cell"] for e in errors}
    checks = {i for i, c in enumerate(nb.cells) if c in _cells(nb, "check")}
    exercise_cells = checks | {
        i for i, c in enumerate(nb.cells) if c in _cells(nb, "stub")
    }
    assert checks <= failing <= exercise_cells
    assert {e["ename"] for e in errors} == {"NotImplementedError"}


def test_nbgrader_source_notebook_runs_without_any_error(exported):
    assert _errors(exported["nbgrader"]) == []


# ------------------------------------------------------------------ writing, errors
def test_export_book_writes_one_notebook_per_chapter(fixture_path, tmp_path):
    out = tmp_path / "exports" / "instructor"
    paths = export_book(ROOT, out, "instructor", chapters=[SAMPLE, OTHER])
    assert paths == [out / "99_sample.ipynb", out / "98_other.ipynb"]
    assert sorted(p.name for p in out.iterdir()) == [
        "98_other.ipynb",
        "99_sample.ipynb",
    ]
    written = nbformat.read(paths[0], as_version=4)
    assert nbformat.writes(written) == nbformat.writes(
        export_chapter(SAMPLE, "instructor")
    )


def test_export_book_defaults_to_the_chapters_of_the_toc(tmp_path):
    (tmp_path / "book").mkdir()
    shutil.copy(OTHER, tmp_path / "book" / OTHER.name)
    (tmp_path / "book" / "intro.md").write_text("# Welcome\n\nNot a notebook.\n")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/98_other\n"
    )
    assert book_chapters(tmp_path) == [tmp_path / "book" / "98_other.md"]
    paths = export_book(tmp_path, tmp_path / "out", "student")
    assert [p.name for p in paths] == ["98_other.ipynb"]
    assert export_book(tmp_path, tmp_path / "out2", "student", chapters=["98"]) == [
        tmp_path / "out2" / "98_other.ipynb"
    ]
    with pytest.raises(FileNotFoundError, match="'42'"):
        export_book(tmp_path, tmp_path / "out3", "student", chapters=["42"])


def test_a_stub_without_solution_metadata_stops_the_instructor_export(tmp_path):
    student = export_chapter(BROKEN, "student")  # the student edition does not need it
    assert _cells(student, "exercise")
    for edition in ("instructor", "nbgrader"):
        with pytest.raises(
            ValueError,
            match=r"97_no_solution.md, cell \d+ "
            r"\('def my_function\(\):'\): .*`solution",
        ):
            export_chapter(BROKEN, edition)
    out = tmp_path / "out"
    with pytest.raises(ValueError):
        export_book(ROOT, out, "instructor", chapters=[OTHER, BROKEN])
    assert not out.exists() or list(out.iterdir()) == []  # nothing half written


def test_bad_edition_and_missing_chapter_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="edition must be one of"):
        export_chapter(SAMPLE, "teacher")
    with pytest.raises(FileNotFoundError, match="nowhere.md"):
        export_chapter(tmp_path / "nowhere.md", "student")
    gated = tmp_path / "06_gated.md"
    gated.write_text(
        OTHER.read_text() + "\n:::{solution-start} ch98-question\n:::\n"
        "The answer.\n\n:::{solution-end}\n:::\n"
    )
    with pytest.raises(ValueError, match="gated solutions"):
        export_chapter(gated, "student")


def test_unknown_or_broken_myst_is_left_readable(tmp_path):
    chapter = tmp_path / "05_odd.md"
    chapter.write_text(
        SAMPLE.read_text().split("(ch99-start)=")[0]
        + "\n".join(
            [
                "# Odd",
                "",
                ":::{unknown-thing} Its title",
                ":class: whatever",
                "",
                "Its body.",
                ":::",
                "",
                "```{literalinclude} missing.py",
                ":pyobject: nothing",
                "```",
                "",
                "```{figure} no/such.png",
                "",
                "A caption.",
                "```",
                "",
                "Text with {unknownrole}`some text` and {term}`a term <glossary-a>`.",
                "",
                "```{note}",
                "never closed, runs to the end",
            ]
        )
    )
    nb = export_chapter(chapter, "student")
    markdown = _markdown(nb)
    assert "**Its title**\n\nIts body." in markdown
    assert "*(literalinclude missing.py: " in markdown and "missing.py" in markdown
    assert "*(image `no/such.png`)*" in markdown and "A caption." in markdown
    assert "Text with some text and a term." in markdown
    assert "> never closed, runs to the end" in markdown
    assert _myst_leftovers(markdown) == []


def test_a_chapter_without_bibliography_gets_its_references_at_the_end(tmp_path):
    shutil.copy(FIXTURES / "book" / "references.bib", tmp_path / "references.bib")
    chapter = tmp_path / "07_cites.md"
    chapter.write_text(OTHER.read_text() + "\nAs {cite:t}`proenca2020taco` show.\n")
    nb = export_chapter(chapter, "student")
    assert "As Proença and Simões (2020) show." in _markdown(nb)
    assert nb.cells[-1].source == (
        "**References**\n\n- Pedro F. Proença and Pedro Simões (2020). *TACO: Trash "
        "Annotations in Context for Litter Detection*. arXiv preprint arXiv:2003.06975."
    )


def test_reference_copies_the_imports_the_definition_needs(fixture_path):
    softmax = reference("wastelab.neuron.softmax")
    assert softmax.source == inspect.getsource(neuron.softmax).rstrip("\n")
    assert softmax.imports == [
        "import numpy as np",
        "from numpy.typing import ArrayLike",
    ]
    method = reference("wastelab_fixture_solutions.Counter.total")
    assert method.name == "total" and method.source.startswith("def total(self)")
    with pytest.raises(ValueError, match="no_such_function"):
        reference("wastelab.neuron.no_such_function")


def test_bibtex_entries_read_as_plain_text():
    bib = export.read_bib(FIXTURES / "book" / "references.bib")
    assert set(bib) == {"goodfellow2016deep", "proenca2020taco", "uncited2000"}
    assert export._cite_parts(bib["proenca2020taco"], "x") == (
        "Proença and Simões",
        "2020",
    )
    assert export._cite_parts(bib["uncited2000"], "x") == ("Nobody", "2000")
    assert export._cite_parts(None, "unknown-key") == ("unknown-key", "")
    assert (
        export._latex_to_text(r"Schr{\"o}dinger--Stra{\ss}e \url{https://x.org}")
        == "Schrödinger\u2013Straße https://x.org"
    )


# ------------------------------------------------------------------ the real chapters
def _real_chapters() -> list[Path]:
    try:
        return book_chapters(ROOT)
    except (FileNotFoundError, KeyError):
        return []


@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize("chapter", _real_chapters(), ids=lambda p: p.stem)
def test_real_chapter_exports_cleanly(chapter, edition):
    """Every chapter of _toc.yml exports (not executed here: that is the book build's job)."""
    nb = export_chapter(chapter, edition)
    nbformat.validate(nb)
    assert _myst_leftovers(_markdown(nb)) == [], chapter.name
    source = read_notebook(chapter)
    n_tagged = sum(STUB_TAG in c.metadata.get("tags", []) for c in source.cells)
    tagged = [c for c in nb.cells if STUB_TAG in c.metadata.get("tags", [])]
    if edition == "student":
        assert len(tagged) == n_tagged
        assert "#### Solution" not in _markdown(nb)
    else:
        assert tagged == []
    if edition == "nbgrader":
        for cell in _cells(nb, "stub"):
            assert cell.source.count("### BEGIN SOLUTION") >= 1
            assert cell.metadata.nbgrader["solution"] is True
        ids = [
            c.metadata.nbgrader["grade_id"]
            for c in nb.cells
            if "nbgrader" in c.metadata
        ]
        assert len(ids) == len(set(ids))


# ------------------------------------------------------------------ nbgrader itself
@pytest.mark.slow
def test_nbgrader_generates_and_autogrades_the_fixture(fixture_path, tmp_path):
    """Optional (40-70 s): only where nbgrader is installed (it is not a dependency)."""
    pytest.importorskip("nbgrader")
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    (course / "source" / "ps99").mkdir(parents=True)
    nbformat.write(
        export_chapter(SAMPLE, "nbgrader"), course / "source/ps99/99_sample.ipynb"
    )
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }

    def nbgrader(*args):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "nbgrader",
                *args,
                f"--CourseDirectory.root={course}",
            ],
            cwd=course,
            env=env,
            check=True,
            capture_output=True,
        )

    nbgrader("generate_assignment", "ps99")
    released = nbformat.read(course / "release/ps99/99_sample.ipynb", as_version=4)
    stubs = [
        c.source
        for c in released.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    ]
    assert (
        stubs[0]
        == "def my_softmax(z):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    )
    for student, notebook in (
        ("alice", course / "release/ps99/99_sample.ipynb"),
        ("bob", course / "source/ps99/99_sample.ipynb"),
    ):
        (course / "submitted" / student / "ps99").mkdir(parents=True)
        shutil.copy(
            notebook, course / "submitted" / student / "ps99" / "99_sample.ipynb"
        )
    nbgrader("autograde", "ps99", "--create")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {
            s: gradebook.find_submission("ps99", s).score for s in ("alice", "bob")
        }
    assert scores == {"alice": 0.0, "bob": 3.0}
