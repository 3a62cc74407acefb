"""A real nbgrader round trip: export, generate_assignment, autograde three students.

The nbgrader edition of three chapters (tests/fixtures/grading/, which mirror the book's
chapters 3, 4 and 7: one function, two functions, two stubs of one exercise, values, a
question, "check your understanding") goes through nbgrader itself (a dev dependency):
``generate_assignment`` must cut out the solutions and the hidden tests and leave no
reference named; ``autograde`` must give

- the release submitted unchanged: 0 on every test;
- the instructor edition's solutions pasted into the release: every test's point;
- every function aliased to its reference (``from wastelab.neuron import sigmoid as
  my_sigmoid``, ``from ... import output_delta as my_output_delta``): 0 on every test.

It takes 1.5-2 minutes on two shared cores (nine notebook runs, three nbgrader calls).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from tools.export import export_chapter
from tools.notebooks import STUB_TAG, read_notebook

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CHAPTERS = sorted((FIXTURES / "grading").glob("*.md"))
ASSIGNMENT = "chapters"
# the test cells and their points: one per exercise with a check
TESTS = {
    "03_neuron": ["ch03-sigmoid-test", "ch03-softmax-test", "ch03-derivatives-test"],
    "04_backprop": [
        "ch04-count-test",
        "ch04-hand-gradient-test",
        "ch04-output-delta-test",
    ],
    "07_metrics": ["ch07-prf-test", "ch07-majority-test"],
}
# what aliasing can reach: every exercise whose answer is a function
ALIASED = {
    "ch03-sigmoid-test",
    "ch03-softmax-test",
    "ch03-derivatives-test",
    "ch04-count-test",
    "ch04-output-delta-test",
    "ch07-prf-test",
}


def _stubs(chapter: Path) -> list[dict]:
    """The chapter's stub cells in order: the names they define, their references."""
    from tools.export import _stub_names

    stubs = []
    for cell in read_notebook(chapter).cells:
        if STUB_TAG in cell.metadata.get("tags", []):
            solutions = cell.metadata["solution"]
            solutions = solutions if isinstance(solutions, list) else [solutions]
            stubs.append(
                {
                    "names": _stub_names(cell.source),
                    "solutions": solutions,
                    "value": "answer" in cell.metadata,
                }
            )
    return stubs


def _role(nb, role: str) -> list:
    return [c for c in nb.cells if c.metadata.get("wastelab", {}).get("role") == role]


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A course folder with the three chapters released and three students graded."""
    try:  # a dev dependency: never skipped, so that CI runs the round trip
        import nbgrader  # noqa: F401
    except ImportError:
        pytest.fail(
            "nbgrader is missing: it is in the dev extra, pip install -e '.[dev]'"
        )
    start = time.perf_counter()
    course = tmp_path_factory.mktemp("course")
    source = course / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    env = {
        **os.environ,
        # nbgrader calls the `alembic` it installs; the kernels import the fixtures
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT), str(FIXTURES), os.environ.get("PYTHONPATH", "")]
        ),
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(FIXTURES))
        instructor = {}
        for chapter in CHAPTERS:
            nbformat.write(
                export_chapter(chapter, "nbgrader"), source / f"{chapter.stem}.ipynb"
            )
            instructor[chapter.stem] = export_chapter(chapter, "instructor")

    def nbgrader(*args: str) -> None:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "nbgrader",
                *args,
                f"--CourseDirectory.root={course}",
            ],
            cwd=course,
            env=env,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stdout + run.stderr

    nbgrader("generate_assignment", ASSIGNMENT)
    release = course / "release" / ASSIGNMENT
    for chapter in CHAPTERS:
        released = nbformat.read(release / f"{chapter.stem}.ipynb", as_version=4)
        students = {
            "unchanged": released,
            "instructor": _with_instructor_solutions(
                released, instructor[chapter.stem]
            ),
            "aliaser": _with_aliases(released, _stubs(chapter)),
        }
        for student, nb in students.items():
            folder = course / "submitted" / student / ASSIGNMENT
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, folder / f"{chapter.stem}.ipynb")
    nbgrader("autograde", ASSIGNMENT, "--create")
    seconds = time.perf_counter() - start
    print(f"nbgrader round trip (3 chapters, 3 students): {seconds:.0f} s")
    (course / "seconds.txt").write_text(f"{seconds:.1f}")
    return course


def _copy(nb):
    return nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))


def _with_instructor_solutions(released, instructor):
    """The release with every solution cell replaced by the instructor edition's code."""
    nb = _copy(released)
    for cell, solved in zip(_role(nb, "stub"), _role(instructor, "stub"), strict=True):
        cell.source = solved.source
    return nb


def _with_aliases(released, stubs: list[dict]):
    """The release with each function an alias of its reference (values left alone)."""
    nb = _copy(released)
    for cell, stub in zip(_role(nb, "stub"), stubs, strict=True):
        if stub["value"]:
            continue
        lines = []
        for name, dotted in zip(stub["names"], stub["solutions"], strict=True):
            module, _, reference = dotted.rpartition(".")
            lines.append(f"from {module} import {reference} as {name}")
        cell.source = "\n".join(lines)
    return nb


def _scores(course: Path, student: str) -> dict[str, float]:
    """grade id -> autograded score of every test cell of ``student``'s submission."""
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for chapter in CHAPTERS:
            notebook = gradebook.find_submission_notebook(
                chapter.stem, ASSIGNMENT, student
            )
            for grade in notebook.grades:
                if grade.name.endswith("-test"):
                    assert grade.max_score == 1
                    scores[grade.name] = grade.auto_score
    return scores


ALL_TESTS = [name for names in TESTS.values() for name in names]


def test_the_release_has_no_solution_no_hidden_test_and_names_no_reference(course):
    release = course / "release" / ASSIGNMENT
    for chapter in CHAPTERS:
        nb = nbformat.read(release / f"{chapter.stem}.ipynb", as_version=4)
        text = "\n".join(c.source for c in nb.cells)
        for gone in ("BEGIN SOLUTION", "HIDDEN TESTS", "_hidden_", "Solution to"):
            assert gone not in text, (chapter.name, gone)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        for stub in _stubs(chapter):
            for dotted in stub["solutions"]:
                name = dotted.rpartition(".")[2]
                assert dotted not in text, dotted
                assert not re.search(rf"(?<![\w]){re.escape(name)}\b", code), name
        answers = [
            c
            for c in nb.cells
            if c.metadata.get("wastelab", {}).get("role") == "answer"
        ]
        assert answers and all(c.source == "YOUR ANSWER HERE" for c in answers)
        checks = _role(nb, "check")
        assert checks and all("strict=True" in c.source for c in checks)


def test_the_unchanged_release_scores_zero(course):
    assert _scores(course, "unchanged") == dict.fromkeys(ALL_TESTS, 0.0)


def test_the_instructor_solutions_score_full_marks(course):
    assert _scores(course, "instructor") == dict.fromkeys(ALL_TESTS, 1.0)


def test_aliasing_the_references_scores_zero_on_every_aliased_exercise(course):
    scores = _scores(course, "aliaser")
    assert {name: scores[name] for name in ALIASED} == dict.fromkeys(ALIASED, 0.0)
    assert sum(scores.values()) == 0.0  # the value exercises were left unsolved
    # failed by the hidden tests, after the visible check passed the alias
    for chapter in CHAPTERS:
        graded = (
            course / "autograded" / "aliaser" / ASSIGNMENT / f"{chapter.stem}.ipynb"
        )
        nb = nbformat.read(graded, as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id not in ALIASED:
                continue
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert [e.ename for e in errors] == ["AssertionError"], grade_id
            assert "must be a function written in this notebook" in errors[0].evalue


def test_questions_are_manually_graded_cells(course):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_notebook("03_neuron", ASSIGNMENT)
        manual = sorted(
            c.name for c in notebook.grade_cells if c.cell_type == "markdown"
        )
    assert manual == ["ch03-vanishing-answer", "question-1", "question-2"]


def test_the_round_trip_fits_in_three_minutes(course):
    seconds = float((course / "seconds.txt").read_text())
    assert seconds < 180, f"the nbgrader round trip took {seconds:.0f} s"
