"""The student edition's pages show the exercises and nothing that gives them away.

Reads the built student edition (``make student`` -> ``_build/student/html``); without it
the page tests skip, saying so, and with ``WASTELAB_REQUIRE_BUILD=1`` (CI) they fail
instead. A chapter page fails when it shows

- a Python traceback (an exercise cell must print a one-line verdict, not raise);
- a reference solution next to a stub: a check run on anything but the reader's answer
  (``check_sigmoid(neuron.sigmoid)``), a reference named in an exercise cell, in the cell
  right after a check, or (dotted, ``neuron.sigmoid``) in the exercise's text;
- a path of the build machine (``/work/``, ``/root/``, ``/home/...``, ``site-packages``);
- a solution (sphinx-exercise's solution blocks) or a folded answer to a question
  (``:class: dropdown answer``).

The detector itself is tested on small pages built by hand, so it is known to work even
where no build exists.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from tools.notebooks import CHECK_TAG, STUB_TAG, read_notebook, toc_files

ROOT = Path(__file__).resolve().parent.parent
STUDENT = ROOT / "_build" / "student" / "html"
CHAPTERS = [p for p in toc_files(ROOT) if re.match(r"\d\d_", p.name)]

MACHINE_PATH = re.compile(
    r"(/work/|/root/|/home/\w|site-packages|dist-packages|/usr/lib/python|/tmp/tmp)"
)
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^-{20,}\n\w+Error", re.M)


@dataclass(frozen=True)
class Exercises:
    """What a chapter's stubs define (the reader's names) and what their references are."""

    reader: frozenset[str]  # my_* functions and value names the stubs define
    references: frozenset[str]  # dotted paths of the references


def exercises_of(chapter: Path) -> Exercises:
    reader, references = set(), set()
    for cell in read_notebook(chapter).cells:
        if cell.cell_type != "code" or STUB_TAG not in cell.metadata.get("tags", []):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            tree = ast.Module([], [])
        reader |= {
            n.name
            for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        }
        answer = cell.metadata.get("answer", [])
        reader |= set(answer if isinstance(answer, list) else [answer])
        solution = cell.metadata.get("solution", [])
        references |= set(solution if isinstance(solution, list) else [solution])
    return Exercises(frozenset(reader), frozenset(references))


def _names(dotted: str) -> tuple[str, str]:
    """(bare name, last two parts): ``wastelab.neuron.sigmoid`` -> sigmoid, neuron.sigmoid."""
    parts = dotted.split(".")
    return parts[-1], ".".join(parts[-2:])


def _first_arguments_of_checks(code: str) -> list[str]:
    """The first argument of every ``check_*(...)`` call in ``code``, as written."""
    found = []
    for match in re.finditer(
        r"\bcheck_\w+\(\s*([^,()\s]+(?:\([^()]*\))?[^,)\s]*)", code
    ):
        found.append(match[1])
    return found


def page_problems(html: str, exercises: Exercises) -> list[str]:
    """What a student page must not show, one line per problem (empty: the page is fine)."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style"]):
        tag.decompose()
    main = soup.find("main") or soup.body or soup
    problems = []
    text = main.get_text("\n")

    if TRACEBACK.search(text) or main.select(".traceback, .output.error"):
        problems.append("a Python traceback")
    if found := MACHINE_PATH.search(text):
        problems.append(f"a path of the build machine ({found[0]!r})")
    for node in main.find_all(class_=True):
        classes = node.get("class", [])
        if "solution" in classes or any(c.startswith("solution-") for c in classes):
            problems.append("a solution block")
            break
    if "Solution to Exercise" in text:
        problems.append("a solution (“Solution to Exercise”)")
    if main.find(class_="answer"):
        problems.append("a folded answer to a question")

    bare = {_names(d)[0] for d in exercises.references} - exercises.reader
    dotted = {_names(d)[1] for d in exercises.references} | set(exercises.references)
    cells = main.select("div.cell")
    after_check = False
    for cell in cells:
        classes = set(cell.get("class", []))
        source = cell.select_one(".cell_input")
        code = source.get_text() if source else ""
        for argument in _first_arguments_of_checks(code):
            if argument not in exercises.reader:
                problems.append(
                    f"a check run on {argument!r}, not on the reader's answer"
                )
        exercise_cell = bool({f"tag_{STUB_TAG}", f"tag_{CHECK_TAG}"} & classes)
        if exercise_cell or after_check:
            for name in sorted(bare):
                if re.search(rf"(?<![\w]){re.escape(name)}\b", code):
                    problems.append(f"the reference {name!r} next to a stub")
        after_check = f"tag_{CHECK_TAG}" in classes
    for block in main.select(".exercise"):
        words = block.get_text(" ")
        for name in sorted(dotted):
            if re.search(rf"(?<![\w.]){re.escape(name)}\b", words):
                problems.append(f"the reference {name!r} in an exercise's text")
    return list(dict.fromkeys(problems))


# ------------------------------------------------------------------ the built pages
def _page(chapter: Path) -> Path:
    page = STUDENT / chapter.relative_to(ROOT).with_suffix(".html")
    if not page.is_file():
        message = f"{page.relative_to(ROOT)} missing: run `make student` first"
        if os.environ.get("WASTELAB_REQUIRE_BUILD") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return page


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_student_page_shows_no_answer_and_no_machinery(chapter):
    page = _page(chapter)
    problems = page_problems(page.read_text(encoding="utf-8"), exercises_of(chapter))
    assert problems == [], f"{page.relative_to(ROOT)}: " + "; ".join(problems)


def test_student_edition_ships_no_chapter_source():
    """The sources next to the pages (``_sources/``, the download button) hold every
    solution and answer: the student edition must not copy them."""
    if not CHAPTERS:
        pytest.skip("no chapters")
    _page(CHAPTERS[0])  # skips (or fails in CI) without a build
    leaked = [
        str(path.relative_to(STUDENT))
        for path in sorted((STUDENT / "_sources").rglob("*"))
        if path.is_file()
        and re.search(r"\{solution\}|dropdown answer", path.read_text(errors="replace"))
    ]
    assert leaked == [], f"the student edition ships solutions in {leaked}"


# ------------------------------------------------------------------ the detector
SIGMOID = Exercises(frozenset({"my_sigmoid"}), frozenset({"wastelab.neuron.sigmoid"}))


def _html(*cells: str, text: str = "") -> str:
    return f"<html><body><main>{text}{''.join(cells)}</main></body></html>"


def _cell(code: str, tag: str = "", output: str = "") -> str:
    out = f'<div class="cell_output"><pre>{output}</pre></div>' if output else ""
    classes = f"cell tag_{tag}" if tag else "cell"
    return (
        f'<div class="{classes} docutils container">'
        f'<div class="cell_input"><pre>{code}</pre></div>{out}</div>'
    )


STUB = _cell("def my_sigmoid(z):\n    raise NotImplementedError", STUB_TAG)
CHECK = _cell(
    "from wastelab.exercises.ch03 import check_sigmoid\ncheck_sigmoid(my_sigmoid)",
    CHECK_TAG,
    "… not done yet: your code above still raises NotImplementedError",
)
EXERCISE = (
    '<div class="exercise admonition"><p>Exercise 3.1</p>'
    "<p>Difficulty: ★★☆</p><p>Write my_sigmoid: the sigmoid of z.</p></div>"
)


def test_a_clean_page_passes():
    # a reference used far from the stubs (after a plain cell) is the chapter's teaching
    page = _html(STUB, CHECK, _cell("x = 1"), _cell("neuron.sigmoid(0)"), text=EXERCISE)
    assert page_problems(page, SIGMOID) == []


@pytest.mark.parametrize(
    "page, problem",
    [
        (
            _html(
                STUB,
                _cell(
                    "check_sigmoid(my_sigmoid)",
                    CHECK_TAG,
                    "Traceback (most recent call last):\n  NotImplementedError",
                ),
            ),
            "a Python traceback",
        ),
        (
            _html(
                STUB, _cell("my_sigmoid(0)", "", "-" * 75 + "\nNotImplementedError   x")
            ),
            "a Python traceback",
        ),
        (
            _html(STUB, CHECK, _cell("check_sigmoid(neuron.sigmoid)")),
            "a check run on 'neuron.sigmoid', not on the reader's answer",
        ),
        (
            _html(
                STUB, CHECK, _cell("from wastelab.neuron import sigmoid\nsigmoid(0)")
            ),
            "the reference 'sigmoid' next to a stub",
        ),
        (
            _html(STUB, _cell("check_sigmoid(my_sigmoid)\nsigmoid(1)", CHECK_TAG)),
            "the reference 'sigmoid' next to a stub",
        ),
        (
            _html(
                STUB, CHECK, text=EXERCISE.replace("the sigmoid", "like neuron.sigmoid")
            ),
            "the reference 'neuron.sigmoid' in an exercise's text",
        ),
        (
            _html(STUB, _cell("import x", "", "/work/main/.venv/lib/python3.11/x.py")),
            "a path of the build machine ('/work/')",
        ),
        (
            _html(
                _cell("import x", "", "warning in /usr/local/lib/site-packages/k.py")
            ),
            "a path of the build machine ('site-packages')",
        ),
        (
            _html(_cell("load()", "", "Using /home/ana/taco.npz")),
            "a path of the build machine ('/home/a')",
        ),
        (
            _html(
                STUB, text='<div class="solution admonition dropdown"><p>x</p></div>'
            ),
            "a solution block",
        ),
        (
            _html(text="<h4>Solution to Exercise 3.1</h4>"),
            "a solution (“Solution to Exercise”)",
        ),
        (
            _html(
                text='<div class="admonition dropdown answer"><p>One half.</p></div>'
            ),
            "a folded answer to a question",
        ),
    ],
)
def test_the_detector_finds_what_gives_an_exercise_away(page, problem):
    assert problem in page_problems(page, SIGMOID)
