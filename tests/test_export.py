"""Student, instructor and nbgrader notebooks exported from a chapter (tools.export).

The fixture chapter tests/fixtures/book/99_sample.md has four code exercises (one
function, two functions in one cell, a value, one graded by hand) whose references and
self-checks live in the package and in tests/fixtures/wastelab_fixture_solutions.py, a
question, "check your understanding" questions with folded answers, and every MyST
construct the exporter rewrites. It is exported and executed; the book's real chapters are
exported only. nbgrader itself runs in tests/test_nbgrader.py.
"""

from __future__ import annotations

import ast
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
import numpy as np
import pytest

from tools import answers, export
from tools.export import EDITIONS, book_chapters, export_book, export_chapter, reference
from tools.notebooks import CHECK_TAG, OLD_TAG, STUB_TAG, execute, read_notebook
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
    assert nb.metadata.wastelab["edition"] == edition
    assert nb.metadata.wastelab["source"] == "tests/fixtures/book/99_sample.md"
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
        # a {dropdown} stays folded in Jupyter; :lines: inside it
        "<details>\n<summary>More, folded</summary>\n\n```python\nSIDE = 64",
        "### Exercise 99.1: Softmax by hand\n\nDifficulty: ★★☆\n\nWrite `my_softmax(z)`",
        # nudge and hint stay folded, in their order
        "<details>\n<summary>Nudge</summary>\n\nNUDGE-MARKER: what does a large",
        "<details>\n<summary>Hint</summary>\n\nHINT-MARKER: subtract",
        "### Exercise 99.2: Two derivatives",
        "### Exercise 99.3: Count the numbers",
        "### Exercise: A question",
        "## Check your understanding\n\n1. What does softmax return for two equal",
        "2. Does subtracting the maximum change the result?",
        "**References**\n\n- Ian Goodfellow, Yoshua Bengio and Aaron Courville (2016). "
        "*Deep Learning*. MIT Press.",
    ]:
        assert expected in markdown, expected
    for gone in ["a MyST comment", "(ch99-start)=", "nobody", "dropdown", ":label:"]:
        assert gone.lower() not in markdown.lower(), gone
    assert "\x00" not in markdown
    figure = next(c for c in nb.cells if "attachment:tiny.png" in c.source)
    png = (FIXTURES / "book" / "images" / "tiny.png").read_bytes()
    assert base64.b64decode(figure.attachments["tiny.png"]["image/png"]) == png


def test_export_is_deterministic(fixture_path):
    for edition in EDITIONS:
        assert nbformat.writes(export_chapter(SAMPLE, edition)) == nbformat.writes(
            export_chapter(SAMPLE, edition)
        )


# ------------------------------------------------------------------ per edition
SECRETS = [  # what only the instructor may see
    "SOLUTION-PROSE-MARKER",
    "Solution to",
    "So that nothing overflows",
    "FOLDED-ANSWER-ONE",
    "FOLDED-ANSWER-TWO",
    "def softmax(",
    "def sigmoid_derivative(",
    "pixel_count_answer",
    "def clipped_scores(",
    "class Counter",
]


def test_student_edition_keeps_stubs_and_checks_and_drops_every_answer(exported):
    nb = exported["student"]
    source = read_notebook(SAMPLE)
    source_stubs = [c for c in source.cells if "solution" in c.metadata]
    source_checks = [c for c in source.cells if CHECK_TAG in c.metadata.get("tags", [])]
    stubs, checks = _cells(nb, "stub"), _cells(nb, "check")
    assert [c.source for c in stubs] == [c.source for c in source_stubs]
    assert [c.source for c in checks] == [c.source for c in source_checks]
    assert all(c.metadata.tags == [STUB_TAG] for c in stubs)
    assert all(c.metadata.tags == [CHECK_TAG] for c in checks)
    everything = "\n".join(c.source for c in nb.cells)
    for secret in SECRETS:
        assert secret not in everything, secret
    assert not any(
        {"solution", "answer", "grading"} & set(c.metadata) for c in nb.cells
    )
    assert "NUDGE-MARKER" in everything and "HINT-MARKER" in everything


def test_instructor_edition_has_the_reference_code_solutions_and_answers(exported):
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
    assert (
        "1. What does softmax return for two equal scores?\n\n   <details>\n"
        "   <summary>Answer</summary>\n\n   FOLDED-ANSWER-ONE: one half each.\n\n"
        "   </details>" in markdown
    )


def _nbgrader(nb, key: str) -> list:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get(key)]


def test_nbgrader_edition_has_solution_test_and_manually_graded_cells(exported):
    nb = exported["nbgrader"]
    solutions = _nbgrader(nb, "solution")
    stubs, checks = _cells(nb, "stub"), _cells(nb, "check")
    assert [c for c in solutions if c.cell_type == "code"] == stubs
    tests = [c for c in _nbgrader(nb, "grade") if not c.metadata.nbgrader["solution"]]
    assert tests == checks[:3]  # the fourth exercise is graded by hand
    labels = ["ch99-softmax", "ch99-derivatives", "ch99-count"]
    for cell, label in zip(stubs, labels, strict=False):
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
    for cell, regions in zip(stubs, [1, 2, 1, 1], strict=True):
        assert cell.source.count("### BEGIN SOLUTION") == regions
        assert cell.source.count("### END SOLUTION") == regions
    assert stubs[0].source.startswith("def my_softmax(z):\n    ### BEGIN SOLUTION\n")
    assert stubs[0].source.endswith("    return softmax(z)\n    ### END SOLUTION")
    assert stubs[2].source.startswith(
        "# height times width times channels\nn_numbers = ...\n### BEGIN SOLUTION\n"
    )
    # graded by hand: the exercise marked `grading: manual` (its check stays ungraded),
    # the question and the two "check your understanding" questions, with model answers
    assert stubs[3].metadata.nbgrader == {
        "grade": True,
        "grade_id": "ch99-clip-solution",
        "locked": False,
        "points": 1,
        "schema_version": 3,
        "solution": True,
        "task": False,
    }
    assert "nbgrader" not in checks[3].metadata
    manual = [c for c in _nbgrader(nb, "grade") if c.cell_type == "markdown"]
    assert [(c.metadata.nbgrader["grade_id"], c.source) for c in manual] == [
        ("ch99-question-answer", "So that nothing overflows."),
        ("question-1", "FOLDED-ANSWER-ONE: one half each."),
        ("question-2", "FOLDED-ANSWER-TWO: no, it cancels in the fraction."),
    ]
    assert all(c.metadata.nbgrader["solution"] for c in manual)
    assert nb.metadata.wastelab["graded_by_hand"] == [
        "ch99-clip: marked `grading: manual`"
    ]
    text = [c for c in _cells(nb, cell_type="markdown") if c not in manual]
    assert all(c.metadata.nbgrader["locked"] for c in text)
    grade_ids = [
        c.metadata.nbgrader["grade_id"] for c in nb.cells if "nbgrader" in c.metadata
    ]
    assert len(grade_ids) == len(set(grade_ids))
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", g) for g in grade_ids)
    assert "Solution to" not in _markdown(nb)
    assert "BEGIN SOLUTION" not in _markdown(nb)  # nbgrader would choke on it


def _hidden(cell) -> str:
    match = re.search(
        r"### BEGIN HIDDEN TESTS\n.*### END HIDDEN TESTS", cell.source, re.S
    )
    return match[0] if match else ""


def test_nbgrader_test_cells_are_the_strict_check_then_literal_hidden_tests(exported):
    softmax, derivatives, count = _cells(exported["nbgrader"], "check")[:3]
    visible = softmax.source.split("### BEGIN HIDDEN TESTS")[0]
    assert visible == (
        "from wastelab_fixture_solutions import check_softmax\n\n"
        "check_softmax(my_softmax, strict=True)\n\n"
    )
    hidden = _hidden(softmax)
    assert hidden.endswith("### END HIDDEN TESTS") and softmax.source.endswith(hidden)
    assert 'assert getattr(my_softmax, "__module__", None) == "__main__"' in hidden
    # the check's three inputs, with the reference's results as literals, overflow strict
    assert (
        "((np.array([1000.0, 1000.0], dtype=np.float64),), {}, "
        "np.array([0.5, 0.5], dtype=np.float64), True, 1e-06, 1e-08)," in hidden
    )
    assert hidden.count("), True, 1e-06, 1e-08),") == 3
    hidden = _hidden(derivatives)
    assert "my_relu_derivative" in hidden and "my_sigmoid_derivative" in hidden
    assert "((0.0,), {}, 0.25, False, 1e-06, 1e-08)," in hidden
    assert "assert _hidden_close(n_numbers, 12288, 1e-06, 1e-08)" in _hidden(count)
    for cell in (softmax, derivatives, count):  # numpy only, no package, no reference
        code = _hidden(cell)
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(ast.parse(code))
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        }
        assert imported == {"warnings", "numpy"}, imported
        for name in ("wastelab", "check_", "softmax(", "neuron", "pixel_count"):
            assert name not in code.replace("my_softmax(", ""), name


def test_literal_writes_what_hidden_tests_need_with_numpy_only():
    values = [
        0.1,
        -0.0,
        float("inf"),
        3,
        True,
        None,
        "text",
        (1, 2.5),
        (7,),
        [1, [2, 3]],
        {0: 0.7142857142857143, 1: 1.6666666666666667},
        np.float32(0.25),
        np.int64(92),
        np.arange(6, dtype=np.uint8).reshape(2, 3),
        np.array([0.1, float("nan")]),
        np.array([True, False]),
        np.zeros((2, 0)),
    ]
    for value in values:
        text = answers.literal(value)
        back = eval(text, {"np": np})
        assert type(back) is type(value), text
        if isinstance(value, np.ndarray):
            assert back.dtype == value.dtype and back.shape == value.shape
            np.testing.assert_array_equal(back, value)
        elif isinstance(value, float) and value != value:
            assert back != back
        else:
            assert back == value or repr(back) == repr(value), text
    for value in (object(), np.array(["a"]), np.zeros(100_000)):
        with pytest.raises(answers.NotLiteral):
            answers.literal(value)


def test_strict_checks_makes_only_self_checks_strict(fixture_path):
    source = (
        "from wastelab_fixture_solutions import check_softmax\n"
        "from wastelab.exercises.core import check_value\n"
        "check_softmax(my_softmax)\n"
        "check_softmax(\n    my_softmax,\n)\n"
        "check_softmax(my_softmax, strict=False)\n"
        "check_value('x', x, 1)  # ünïcode before the call: 'ä'\n"
        "print('check_softmax(x)')\n"
    )
    assert answers.strict_checks(source) == (
        "from wastelab_fixture_solutions import check_softmax\n"
        "from wastelab.exercises.core import check_value\n"
        "check_softmax(my_softmax, strict=True)\n"
        "check_softmax(\n    my_softmax, strict=True,\n)\n"
        "check_softmax(my_softmax, strict=False)\n"
        "check_value('x', x, 1)  # ünïcode before the call: 'ä'\n"
        "print('check_softmax(x)')\n"
    )


# ------------------------------------------------------------------ executed
def _errors(nb) -> list[dict]:
    return execute(nb, cwd=ROOT, timeout=120).errors


def _outputs(cells) -> str:
    return "".join(o.get("text", "") for c in cells for o in c.get("outputs", []))


def test_instructor_notebook_runs_without_any_error_and_passes_every_check(exported):
    nb = exported["instructor"]
    assert _errors(nb) == []
    outputs = _outputs(_cells(nb, "check"))
    for name in ("my_softmax", "my_relu_derivative", "my_sigmoid_derivative"):
        assert f"✓ {name}" in outputs, outputs
    assert "✓ n_numbers" in outputs and "✗" not in outputs


def test_student_notebook_runs_without_any_error_and_says_not_done_yet(exported):
    nb = exported["student"]
    assert _errors(nb) == []  # no cell may fail: stubs raise only when called
    outputs = _outputs(_cells(nb, "check"))
    assert outputs.count("not done yet") == 5, outputs  # two checks in one cell
    assert "Traceback" not in outputs


def test_released_nbgrader_notebook_fails_exactly_the_exercise_cells(exported):
    """Like ``nbgrader validate --invert``: the unsolved notebook fails every test."""
    nb = _clear_solutions(exported["nbgrader"])
    errors = _errors(nb)
    failing = {e["cell"] for e in errors}
    index = {id(c): i for i, c in enumerate(nb.cells)}
    tests = {index[id(c)] for c in _nbgrader(nb, "grade") if c.cell_type == "code"}
    tests -= {index[id(c)] for c in _nbgrader(nb, "solution")}
    exercise_cells = {index[id(c)] for c in _cells(nb, "stub") + _cells(nb, "check")}
    assert tests and tests <= failing <= exercise_cells
    assert {e["ename"] for e in errors} == {"NotImplementedError"}


def test_nbgrader_source_notebook_passes_its_hidden_tests(exported):
    assert _errors(exported["nbgrader"]) == []


def test_hidden_tests_fail_aliases_and_patched_checks(exported):
    """Without nbgrader: what a student who aliases the reference or fakes the check gets."""
    nb = nbformat.from_dict(json.loads(json.dumps(exported["nbgrader"])))
    stubs, checks = _cells(nb, "stub"), _cells(nb, "check")
    stubs[0].source = "from wastelab.neuron import softmax as my_softmax"
    stubs[1].source = (
        "import wastelab_fixture_solutions as checks\n"
        "checks.check_relu_derivative = lambda *a, **k: print('✓ fine')\n"
        "checks.check_sigmoid_derivative = lambda *a, **k: print('✓ fine')\n"
        "def my_relu_derivative(z):\n    return z\n\n"
        "def my_sigmoid_derivative(z):\n    return z"
    )
    errors = {e["cell"]: e for e in _errors(nb)}
    index = {id(c): i for i, c in enumerate(nb.cells)}
    softmax, derivatives = errors[index[id(checks[0])]], errors[index[id(checks[1])]]
    assert softmax["ename"] == "AssertionError"
    assert "must be a function written in this notebook" in softmax["evalue"]
    assert derivatives["ename"] == "AssertionError"
    assert "my_relu_derivative: hidden test 1 failed" in derivatives["evalue"]
    assert index[id(checks[2])] not in errors  # the value exercise is untouched


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
            r"\('def my_function\(\):'\): an `exercise` cell without `solution`",
        ):
            export_chapter(BROKEN, edition)
    out = tmp_path / "out"
    with pytest.raises(ValueError):
        export_book(ROOT, out, "instructor", chapters=[OTHER, BROKEN])
    assert not out.exists() or list(out.iterdir()) == []  # nothing half written


def _chapter_with(tmp_path, cells: str):
    """A one-exercise chapter: the fixture's header, then ``cells`` (MyST)."""
    header = OTHER.read_text().split("# Another chapter")[0]
    chapter = tmp_path / "96_guard.md"
    chapter.write_text(
        header + "# Guarded\n\n:::{exercise} Sigmoid\n:label: ch96-sigmoid\n\n"
        "Difficulty: ★☆☆\n\nWrite it.\n:::\n\n"
        "```{code-cell} ipython3\n---\ntags: [exercise]\n"
        "solution: wastelab.neuron.sigmoid\n---\ndef my_sigmoid(z):\n"
        "    raise NotImplementedError\n```\n\n" + cells
    )
    return chapter


@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize(
    "cells, message",
    [
        (  # the old tag that let a cell fail
            f"```{{code-cell}} ipython3\n:tags: [{OLD_TAG}]\n\nmy_sigmoid(0)\n```\n",
            "the tag `raises-exception` is gone",
        ),
        (  # "this is what success looks like": the check run on the reference
            "```{code-cell} ipython3\nfrom wastelab import neuron\n"
            "from wastelab.exercises.ch03 import check_sigmoid\n"
            "check_sigmoid(neuron.sigmoid)\n```\n",
            "runs a check on `neuron.sigmoid`, not on the reader's answer",
        ),
        (  # a check cell that imports the reference
            "```{code-cell} ipython3\n:tags: [exercise-check]\n\n"
            "from wastelab.neuron import sigmoid\nprint(my_sigmoid(0) == sigmoid(0))\n```\n",
            "the check cell names the reference 'sigmoid'",
        ),
    ],
    ids=["old-tag", "check-on-reference", "reference-in-check"],
)
def test_cells_that_show_an_answer_stop_every_export(tmp_path, cells, message, edition):
    chapter = _chapter_with(tmp_path, cells)
    with pytest.raises(ValueError, match=re.escape(message)):
        export_chapter(chapter, edition)


def test_a_check_cell_on_the_readers_answer_is_fine(tmp_path):
    chapter = _chapter_with(
        tmp_path,
        "```{code-cell} ipython3\n:tags: [exercise-check]\n\n"
        "from wastelab.exercises.ch03 import check_sigmoid\n"
        "check_sigmoid(my_sigmoid)\n```\n",
    )
    nb = export_chapter(chapter, "nbgrader")
    (test,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert "check_sigmoid(my_sigmoid, strict=True)" in test.source
    assert "### BEGIN HIDDEN TESTS" in test.source


def test_a_reference_that_fails_its_own_check_stops_the_nbgrader_export(tmp_path):
    chapter = _chapter_with(
        tmp_path,
        "```{code-cell} ipython3\n:tags: [exercise-check]\n\n"
        "from wastelab.exercises.ch03 import check_softmax\n"
        "check_softmax(my_sigmoid)\n```\n",
    )
    with pytest.raises(ValueError, match=r"reference fails its own check: my_softmax"):
        export_chapter(chapter, "nbgrader")


def test_a_check_that_needs_the_notebook_is_graded_by_hand(tmp_path):
    chapter = _chapter_with(
        tmp_path,
        "```{code-cell} ipython3\n:tags: [exercise-check]\n\n"
        "from wastelab.exercises.ch03 import check_sigmoid\n"
        "check_sigmoid(my_sigmoid, verbose=data_loaded_above)\n```\n",
    )
    nb = export_chapter(chapter, "nbgrader")
    (stub,) = _cells(nb, "stub")
    assert stub.metadata.nbgrader["grade"] and stub.metadata.nbgrader["points"] == 1
    assert "data_loaded_above" in stub.metadata.wastelab["grading"]
    assert "nbgrader" not in _cells(nb, "check")[0].metadata


def test_export_outside_a_repository_says_to_pass_root(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert export.main(["--edition", "student"]) == 2
    err = capsys.readouterr().err
    assert f"no _toc.yml in {tmp_path}" in err
    assert "run `python -m tools.export` from the repository" in err
    assert "--root PATH/TO/REPOSITORY" in err
    # the same, as instructors run it (the package on the path, the book elsewhere)
    run = subprocess.run(
        [sys.executable, "-m", "tools.export", "--edition", "student"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "--root" in run.stderr, run.stderr


def test_export_with_root_works_from_anywhere(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "notebooks"
    code = export.main(
        ["--edition", "student", "--root", str(ROOT), "--out", str(out), str(OTHER)]
    )
    assert code == 0, capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["98_other.ipynb"]
    assert f"1 student notebook(s) in {out}" in capsys.readouterr().out


# ------------------------------------------------------------------ tools.answers
def test_value_answers_are_computed_literals():
    for answer in answers.VALUE_ANSWERS:
        value = answer()
        answers.literal(value)  # a literal a hidden test can hold
        assert isinstance(value, (int, float)) and not isinstance(value, bool), answer
        assert answer.__name__.startswith("ch"), "named after its chapter"
    source = inspect.getsource(answers)
    for typed in ("0.93", "10.0", "2432", "= 10\n", "= 16\n"):  # computed, not typed
        assert typed not in source, typed


def test_value_answers_are_what_the_exercises_ask():
    from wastelab import metrics

    survey = np.array([1] * 140 + [0] * 1860)  # 1 = bottle
    other = metrics.binary_report(survey, np.zeros_like(survey))
    bottle = metrics.binary_report(survey, np.ones_like(survey))
    assert answers.ch07_majority_accuracy() == pytest.approx(other["accuracy"])
    assert answers.ch07_majority_f1() == other["f1"] == 0.0
    assert answers.ch07_always_bottle_f1() == pytest.approx(bottle["f1"])
    assert answers.ch07_always_bottle_f1() == pytest.approx(2 * 140 / (2000 + 140))
    assert answers.ch06_steps_per_epoch() == 16  # 15 full batches of 64 and one of 40
    assert answers.ch11_steps_on_four_gpus() == 10  # ceil(10,000 / (4 * 256))
    assert answers.ch09_conv_params() == 5 * 5 * 3 * 32 + 32
    assert answers.ch05_tape_gradient() == pytest.approx(3 * 2**2 - 2)


def test_value_answers_are_not_in_the_installed_package():
    """Reference values for graders live in tools/answers.py, beside the exporter."""
    import wastelab

    package = Path(wastelab.__file__).parent
    found = [
        f"{path.relative_to(package)}: {name}"
        for path in sorted((package / "exercises").glob("ch*.py"))
        for name in re.findall(r"^def (\w+_answer)\(", path.read_text(), re.M)
    ]
    assert found == [], f"value answers still ship in the package: {found}"


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
    """Every chapter of _toc.yml exports (not executed here: that is the book build's job).

    The exporter refuses chapters that show an answer or still use ``raises-exception``;
    the nbgrader edition runs each check cell once on the references.
    """
    nb = export_chapter(chapter, edition)
    nbformat.validate(nb)
    markdown = _markdown(nb)
    assert _myst_leftovers(markdown) == [], chapter.name
    source = read_notebook(chapter)
    n_stubs = sum(STUB_TAG in c.metadata.get("tags", []) for c in source.cells)
    assert len(_cells(nb, "stub")) == n_stubs
    if edition != "instructor":
        assert "#### Solution" not in markdown
        answers_in_source = chapter.read_text().count(":class: dropdown answer")
        assert "<summary>Answer</summary>" not in markdown or not answers_in_source
    if edition == "nbgrader":
        for cell in _cells(nb, "stub"):
            assert cell.source.count("### BEGIN SOLUTION") >= 1
            assert cell.metadata.nbgrader["solution"] is True
        for cell in _cells(nb, "check"):
            if cell.metadata.get("nbgrader", {}).get("grade"):
                assert "### BEGIN HIDDEN TESTS" in cell.source
        ids = [
            c.metadata.nbgrader["grade_id"]
            for c in nb.cells
            if "nbgrader" in c.metadata
        ]
        assert len(ids) == len(set(ids))
