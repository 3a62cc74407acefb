"""Export chapters as plain Jupyter notebooks: student, instructor and nbgrader editions.

A chapter is a MyST Markdown notebook; Jupyter cannot render MyST directives and roles, so
the exporter rewrites its Markdown into plain Jupyter Markdown (exercises become numbered
headings, admonitions blockquotes, folded ones and hints ``<details>``, ``literalinclude``
real code blocks, citations author-year text) and treats the exercise cells per edition.
A stub cell carries the tag ``exercise`` and names its reference in the metadata
``solution`` (``answer`` for a value); its check cell carries ``exercise-check``.

- ``student``: solutions and folded answers to questions (``:class: dropdown answer``)
  removed, stubs and checks kept as they are;
- ``instructor``: solutions and answers kept, each stub replaced by the tested reference
  code its ``solution`` metadata names, so every check passes;
- ``nbgrader``: an nbgrader source notebook: each stub becomes a solution cell with the
  reference between ``### BEGIN SOLUTION`` / ``### END SOLUTION``; each check cell an
  autograded test cell: the visible check, made strict, then hidden tests with literal
  inputs and expected values computed from the reference now (:mod:`tools.answers`);
  questions (exercises without a stub, answers to "check your understanding") and
  exercises whose checks compare no literal values become manually graded cells; the
  text is read-only.

No edition may show an answer: a cell that runs a check on anything but the reader's
``my_*`` (or a value stub's name), or a check cell that names a reference, stops the
export, as does the old ``raises-exception`` tag.

``export_chapter(path, edition)`` returns the notebook; ``export_book(root, out, edition)``
writes one ``.ipynb`` per chapter; ``python -m tools.export`` is the command line.
"""

from __future__ import annotations

import ast
import base64
import importlib
import importlib.util
import inspect
import mimetypes
import re
import textwrap
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

from . import answers as _answers
from .notebooks import (
    CHECK_TAG,
    OLD_TAG,
    STUB_TAG,
    is_notebook,
    read_notebook,
    toc_files,
)

EDITIONS = ("student", "instructor", "nbgrader")

_ADMONITIONS = {
    "admonition",
    "note",
    "tip",
    "hint",
    "important",
    "attention",
    "caution",
    "warning",
    "danger",
    "error",
    "seealso",
    "margin",
    "sidebar",
    "topic",
    "dropdown",
    "card",
    "epigraph",
    "pull-quote",
    "highlights",
    "prf:remark",
}
_DROPPED = {
    "bibliography",
    "tableofcontents",
    "toctree",
    "contents",
    "highlight",
    "index",
    "exercise-end",
    "solution-end",
}
_CODE_DIRECTIVES = {"code-block", "code", "sourcecode", "jupyter-execute", "ipython"}
_CODE_ROLES = {
    "code",
    "file",
    "samp",
    "command",
    "program",
    "envvar",
    "option",
    "literal",
    "func",
    "class",
    "meth",
    "mod",
    "attr",
    "data",
    "obj",
    "exc",
    "const",
}
_LANGUAGES = {
    ".py": "python",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".toml": "toml",
    ".sh": "bash",
    ".json": "json",
    ".md": "markdown",
    ".cfg": "ini",
    ".txt": "",
}


# ------------------------------------------------------------------------- MyST blocks
@dataclass
class _Block:
    """A piece of Markdown: plain text, a plain fenced code block, or a MyST directive."""

    kind: str  # "text" | "fence" | "directive"
    lines: list[str]  # text: its lines; fence: all lines verbatim; directive: its body
    name: str = ""
    args: str = ""
    indent: str = ""
    options: dict = field(default_factory=dict)
    content: list[str] = field(default_factory=list)


_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
_DIRECTIVE = re.compile(r"^\{(?P<name>[^}\s]+)\}\s*(?P<args>.*)$")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")


def _parse(text: str) -> list[_Block]:
    """Split Markdown into text, plain fences and directives (nested ones stay in bodies)."""
    lines = text.split("\n")
    blocks: list[_Block] = []
    plain: list[str] = []
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        info = match["info"].strip() if match else ""
        directive = _DIRECTIVE.match(info) if match else None
        is_fence = match and (
            directive or (match["fence"][0] != ":" and "`" not in info)
        )
        if not is_fence:
            plain.append(lines[i])
            i += 1
            continue
        char, count, indent = match["fence"][0], len(match["fence"]), match["indent"]
        end = i + 1
        while end < len(lines):
            stripped = lines[end].strip()
            if stripped and set(stripped) == {char} and len(stripped) >= count:
                break
            end += 1
        body = [_dedent_line(line, indent) for line in lines[i + 1 : end]]
        if plain:
            blocks.append(_Block("text", plain))
            plain = []
        if directive:
            block = _Block(
                "directive", body, directive["name"], directive["args"].strip(), indent
            )
            block.options, block.content = _split_options(body)
            blocks.append(block)
        else:
            blocks.append(_Block("fence", lines[i : end + 1]))
        i = end + 1
    if plain:
        blocks.append(_Block("text", plain))
    return blocks


def _dedent_line(line: str, indent: str) -> str:
    if indent and line.startswith(indent):
        return line[len(indent) :]
    return "" if not line.strip() else line


def _split_options(body: list[str]) -> tuple[dict, list[str]]:
    """A directive body's options (``:key: value`` lines or a YAML block) and its content."""
    options: dict = {}
    i = 0
    if body and body[0].strip() == "---":
        end = next((j for j in range(1, len(body)) if body[j].strip() == "---"), None)
        if end is not None:
            try:
                loaded = yaml.safe_load("\n".join(body[1:end]))
            except yaml.YAMLError:
                loaded = None
            options = loaded if isinstance(loaded, dict) else {}
            i = end + 1
    else:
        while i < len(body) and (match := _OPTION.match(body[i].strip())):
            options[match["key"]] = match["value"].strip()
            i += 1
    content = body[i:]
    while content and not content[0].strip():
        content = content[1:]
    while content and not content[-1].strip():
        content = content[:-1]
    return options, content


def _walk(blocks: list[_Block]):
    """Every directive in document order, nested ones included (code cells not entered)."""
    for block in blocks:
        if block.kind == "directive":
            yield block
            if (
                block.name not in ("code-cell", "literalinclude")
                and block.name not in _CODE_DIRECTIVES
            ):
                yield from _walk(_parse("\n".join(block.content)))


# ------------------------------------------------------------------------- bibliography
def _latex_to_text(text: str) -> str:
    """BibTeX field text as plain Unicode (pybtex): accents, ``\\url``, braces, dashes."""
    from pybtex.richtext import Text

    text = re.sub(r"\\url\{([^}]*)\}", r"\1", text)
    text = Text.from_latex(text).render_as("text").replace("\xa0", " ")
    text = re.sub(r"\\[A-Za-z]+\s*", "", text)  # commands pybtex does not know
    return unicodedata.normalize("NFC", re.sub(r"\s+", " ", text).strip())


def read_bib(path: str | Path) -> dict[str, dict[str, str]]:
    """Entries of a BibTeX file, read by pybtex, as ``{key: {field: text}}``.

    Fields are lower-case and keep their LaTeX; people (``author``, ``editor``) are
    joined with `` and `` as in the file.
    """
    from pybtex.database import parse_file

    entries: dict[str, dict[str, str]] = {}
    for key, entry in parse_file(str(path), bib_format="bibtex").entries.items():
        fields = {"type": entry.type.lower()}
        fields.update({name.lower(): value for name, value in entry.fields.items()})
        for role, people in entry.persons.items():
            fields[role.lower()] = " and ".join(str(person) for person in people)
        entries[key] = fields
    return entries


def _split_authors(authors: str) -> list[str]:
    names, depth, current = [], 0, ""
    for token in re.split(r"(\{|\}|\s+and\s+)", authors):
        depth += token == "{"
        depth -= token == "}"
        if depth == 0 and re.fullmatch(r"\s+and\s+", token or ""):
            names.append(current)
            current = ""
        else:
            current += token or ""
    return [n.strip() for n in names + [current] if n.strip()]


def _last_name(name: str) -> str:
    if name.startswith("{") and name.endswith("}"):
        return _latex_to_text(name)
    return _latex_to_text(name.split(",")[0] if "," in name else name.split()[-1])


def _cite_parts(entry: dict[str, str] | None, key: str) -> tuple[str, str]:
    """(authors, year) for an in-text citation: "Goodfellow et al.", "2016"."""
    if not entry:
        return key, ""
    names = [
        _last_name(n)
        for n in _split_authors(entry.get("author", entry.get("editor", "")))
    ]
    if not names:
        authors = _latex_to_text(entry.get("title", key))
    elif len(names) == 1:
        authors = names[0]
    elif len(names) == 2:
        authors = f"{names[0]} and {names[1]}"
    else:
        authors = f"{names[0]} et al."
    return authors, _latex_to_text(entry.get("year", ""))


def _full_name(name: str) -> str:
    """ "Last, First" -> "First Last", as plain text."""
    if "," in name and not name.startswith("{"):
        last, _, first = name.partition(",")
        name = f"{first.strip()} {last.strip()}"
    return _latex_to_text(name)


def _reference_line(entry: dict[str, str], key: str) -> str:
    """A reference list entry: authors (year). *Title*. Venue."""
    names = [_full_name(n) for n in _split_authors(entry.get("author", ""))]
    authors = (
        names[0]
        if len(names) == 1
        else ", ".join(names[:-1]) + " and " + names[-1]
        if names
        else ""
    )
    year = _latex_to_text(entry.get("year", "n.d."))
    title = _latex_to_text(entry.get("title", key))
    venue = next(
        (
            _latex_to_text(entry[f])
            for f in ("journal", "booktitle", "publisher", "howpublished", "school")
            if f in entry
        ),
        "",
    )
    note = _latex_to_text(entry.get("url", entry.get("note", "")))
    parts = [f"{authors} ({year}). *{title}*." if authors else f"*{title}* ({year})."]
    if venue:
        parts.append(f"{venue}.")
    if note:
        parts.append(note)
    return " ".join(parts)


# ------------------------------------------------------------------------- chapter index
@dataclass
class _Index:
    """What other pages may refer to in a chapter: labels, exercise numbers, glue values."""

    path: Path
    number: str | None
    title: str
    labels: dict[str, str]  # label -> text a reference to it reads as
    sections: dict[str, str]  # section label -> its heading
    numbers: dict[str, str]  # label -> number ("3.2") for {numref}
    glue: dict[str, str]  # glue name -> the expression the chapter glues
    cited: list[str]


def _chapter_number(path: Path) -> str | None:
    match = re.match(r"(\d+)_", path.name)
    return str(int(match[1])) if match else None


def _strip_front_matter(text: str) -> str:
    """The text after a leading ``---`` YAML header (the jupytext header of a chapter)."""
    match = re.match(r"---\n.*?\n---[ \t]*(\n|$)", text, re.S)
    return text[match.end() :] if match else text


_LABEL_LINE = re.compile(r"^\s*\((?P<label>[^()\s]+)\)=\s*$")
_CITE = re.compile(r"\{cite(?::\w+)?\}`([^`]+)`")


def _index(path: Path) -> _Index:
    """Scan one chapter file (raw MyST) for its labels, numbers, citations and glue calls."""
    text = _strip_front_matter(path.read_text(encoding="utf-8"))
    number = _chapter_number(path)
    prefix = f"{number}." if number else ""
    title_match = re.search(r"^#\s+(.+)$", text, re.M)
    title = title_match[1].strip() if title_match else path.stem
    labels, numbers, glue, sections = {}, {}, {}, {}
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if match := _LABEL_LINE.match(line):
            heading = next((h for h in lines[i + 1 : i + 4] if h.strip()), "")
            if heading_match := re.match(r"^#+\s+(.+)$", heading):
                labels[match["label"]] = sections[match["label"]] = heading_match[
                    1
                ].strip()
    exercises = figures = 0
    blocks = _parse(text)
    for block in _walk(blocks):
        label = str(block.options.get("label", block.options.get("name", "")))
        if block.name in ("exercise", "exercise-start"):
            if "nonumber" in block.options:
                labels[label] = (
                    f"the exercise \u201c{block.args}\u201d"
                    if block.args
                    else "the exercise"
                )
                continue
            exercises += 1
            numbers[label] = f"{prefix}{exercises}"
            labels[label] = f"Exercise {prefix}{exercises}"
        elif block.name == "figure" and block.content:
            figures += 1
            numbers[label] = f"{prefix}{figures}"
            labels[label] = f"Figure {prefix}{figures}"
        elif block.name == "code-cell":
            glue.update(_glue_calls("\n".join(block.content)))
    cited = []
    for match in _CITE.finditer(text):
        cited += [k.strip() for k in match[1].split(",") if k.strip() not in cited]
    labels.pop("", None)
    numbers.pop("", None)
    return _Index(
        path, number, title, labels, sections, numbers, glue, list(dict.fromkeys(cited))
    )


def _glue_calls(source: str) -> dict[str, str]:
    """``glue("name", expr, ...)`` calls in a code cell, as ``{name: "expr"}``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) == "glue"
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found[node.args[0].value] = ast.unparse(node.args[1])
    return found


# ------------------------------------------------------------------------- reference code
@dataclass
class Reference:
    """A tested reference solution: its definition's source and the imports it needs."""

    dotted: str
    name: str
    source: str
    imports: list[str]


def _find_definition(tree: ast.Module, qualname: str) -> ast.AST | None:
    """The top-level function or class ``qualname`` (or ``Class.method``) in ``tree``."""
    scope: list[ast.stmt] = tree.body
    node = None
    for part in qualname.split("."):
        node = next(
            (
                n
                for n in scope
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and n.name == part
            ),
            None,
        )
        if node is None:
            return None
        scope = node.body if isinstance(node, ast.ClassDef) else []
    return node


def _node_source(lines: list[str], node: ast.AST) -> str:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return textwrap.dedent("\n".join(lines[start - 1 : node.end_lineno]))


def _module_bindings(tree: ast.Module, module: str, is_package: bool) -> dict[str, str]:
    """Top-level names of a module -> the statement that binds them in another namespace."""
    package = module if is_package else module.rpartition(".")[0]
    bindings: dict[str, str] = {}

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        bindings[alias.asname] = (
                            f"import {alias.name} as {alias.asname}"
                        )
                    else:
                        top = alias.name.split(".")[0]
                        bindings[top] = f"import {alias.name}"
            elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
                base = node.module or ""
                if node.level:
                    parent = (
                        package.rsplit(".", node.level - 1)[0]
                        if node.level > 1
                        else package
                    )
                    base = f"{parent}.{base}" if base else parent
                for alias in node.names:
                    name = alias.asname or alias.name
                    suffix = f" as {alias.asname}" if alias.asname else ""
                    bindings[name] = f"from {base} import {alias.name}{suffix}"
            elif isinstance(
                node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            ):
                bindings[node.name] = f"from {module} import {node.name}"
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = (
                    node.targets if isinstance(node, ast.Assign) else [node.target]
                )
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            bindings[name.id] = f"from {module} import {name.id}"
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return bindings


def _locate(dotted: str) -> tuple[Path, str, str, bool]:
    """(source file, qualified name, module name, is_package) for a dotted reference path.

    Walks down packages with ``find_spec`` (which imports only the packages on the way, not
    the module itself); a name re-exported by a package is imported to find where it lives.
    """
    parts = dotted.split(".")
    module, spec, cut = "", None, 0
    for end in range(1, len(parts)):
        name = ".".join(parts[:end])
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            found = None
        if found is None:
            break
        module, spec, cut = name, found, end
        if found.submodule_search_locations is None:
            break
    if spec is None:
        raise ValueError(f"solution {dotted!r}: no importable module in that path")
    qualname = ".".join(parts[cut:])
    is_package = spec.submodule_search_locations is not None
    if spec.origin and spec.origin.endswith(".py"):
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
        if _find_definition(tree, qualname) is not None:
            return Path(spec.origin), qualname, module, is_package
    try:
        obj = importlib.import_module(module)
        for part in parts[cut:]:
            obj = getattr(obj, part)
        source_file = inspect.getsourcefile(obj)
        owner = inspect.getmodule(obj)
    except (ImportError, AttributeError, TypeError) as err:
        raise ValueError(f"solution {dotted!r}: {err}") from err
    if not source_file or owner is None:
        raise ValueError(f"solution {dotted!r}: no Python source for it")
    return (
        Path(source_file),
        obj.__qualname__,
        owner.__name__,
        hasattr(owner, "__path__"),
    )


def reference(dotted: str) -> Reference:
    """The source of the reference ``dotted`` and the import lines its source needs.

    Imports are the module-level names the definition uses (``np``, ``ArrayLike``, helper
    functions), written as the module itself binds them (``import numpy as np``,
    ``from wastelab.neuron import sigmoid``), so the source runs in a fresh notebook.
    """
    path, qualname, module, is_package = _locate(dotted)
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    node = _find_definition(tree, qualname)
    if node is None:
        raise ValueError(f"solution {dotted!r}: {qualname} not found in {path}")
    bindings = _module_bindings(tree, module, is_package)
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - {node.name}
    imports = _merge_imports(
        [bindings[name] for name in sorted(used) if name in bindings]
    )
    return Reference(dotted, node.name, _node_source(text.split("\n"), node), imports)


# ------------------------------------------------------------------------- stubs
def _stub_definitions(source: str) -> list[ast.stmt]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [
        n
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]


def _stub_names(source: str) -> list[str]:
    """Names the stub defines (its ``def``/``class`` names, in order)."""
    nodes = _stub_definitions(source)
    if nodes:
        return [n.name for n in nodes]
    return re.findall(r"^(?:async\s+)?(?:def|class)\s+(\w+)", source, re.M)


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def _hints(lines: list[str]) -> list[str]:
    """The stub's comment lines worth keeping for the reader, without "YOUR CODE HERE"
    (nbgrader writes its own): ``# YOUR CODE HERE: multiply`` -> ``# multiply``."""
    kept = []
    for line in lines:
        if not line.lstrip().startswith("#"):
            continue
        line = re.sub(r"#\s*YOUR CODE HERE\s*:?\s*", "# ", line, flags=re.I)
        if line.strip() != "#":
            kept.append(line)
    return kept


def _merge_imports(lines: list[str]) -> list[str]:
    """``import`` lines first, then one ``from M import a, b`` per module, in first-seen order."""
    plain = list(dict.fromkeys(line for line in lines if line.startswith("import ")))
    froms: dict[str, list[str]] = {}
    for line in lines:
        if match := re.fullmatch(r"from (\S+) import (.+)", line):
            names = froms.setdefault(match[1], [])
            names += [
                n for n in (x.strip() for x in match[2].split(",")) if n not in names
            ]
    return plain + [
        f"from {module} import {', '.join(names)}" for module, names in froms.items()
    ]


def _forward_call(node: ast.FunctionDef | ast.AsyncFunctionDef, target: str) -> str:
    """``target(a, b, *args, k=k, **kw)``: a call passing the stub's parameters on."""
    a = node.args
    parts = [p.arg for p in a.posonlyargs + a.args]
    parts += [f"*{a.vararg.arg}"] if a.vararg else []
    parts += [f"{p.arg}={p.arg}" for p in a.kwonlyargs]
    parts += [f"**{a.kwarg.arg}"] if a.kwarg else []
    call = f"{target}({', '.join(parts)})"
    return f"await {call}" if isinstance(node, ast.AsyncFunctionDef) else call


# ------------------------------------------------------------------------- the exporter
class _Exporter:
    """One chapter, one edition: Markdown rewriting and cell treatment."""

    def __init__(self, path: Path, edition: str, root: Path):
        self.path, self.edition, self.root = path, edition, root
        self.index = _index(path)
        self.others = [
            _index(p)
            for p in sorted(path.parent.glob("*.md"))
            if p != path and _safe_is_notebook(p)
        ]
        self.labels = {k: v for other in self.others for k, v in other.labels.items()}
        self.labels.update(self.index.labels)
        self.numbers = {k: v for other in self.others for k, v in other.numbers.items()}
        self.numbers.update(self.index.numbers)
        self.titles = {other.path.stem: other.title for other in self.others}
        self.titles[path.stem] = self.index.title
        bib = next(
            (
                p
                for p in (
                    path.parent / "references.bib",
                    root / "book" / "references.bib",
                )
                if p.exists()
            ),
            None,
        )
        self.bib = read_bib(bib) if bib else {}
        self.exercises = 0
        self.figures = 0
        self.current_exercise = ""
        self.code_exercises: set[str] = set()  # labels of exercises with a stub cell
        self.manual: list[tuple[str, str]] = []  # nbgrader: (grade id, model answer)
        self.questions = 0
        self.attachments: dict[str, dict[str, str]] = {}
        self.depth = 0
        self.bibliography_done = False

    # --- inline -----------------------------------------------------------------------
    def inline(self, text: str) -> str:
        """Roles, labels, comments and links of plain Markdown text, rewritten."""
        kept = [
            line
            for line in text.split("\n")
            if not _LABEL_LINE.match(line) and not re.match(r"^\s*%", line)
        ]
        text = "\n".join(kept)
        text = re.sub(
            r"^([ \t]*\$\$)[ \t]*\([^()\s]+\)[ \t]*$", r"\1", text, flags=re.M
        )
        pattern = re.compile(
            r"(\{(?P<role>[A-Za-z][\w.:+-]*)\})?(?P<ticks>`+)"
            r"(?P<body>(?:(?!\n\s*\n).)+?)(?<!`)(?P=ticks)(?!`)",
            re.S,
        )

        def replace(match: re.Match) -> str:
            if not match["role"]:
                return match[0]
            return self.role(match["role"], match["body"])

        out, last = [], 0
        for match in pattern.finditer(text):
            out.append(self.links(text[last : match.start()]))
            out.append(replace(match))
            last = match.end()
        out.append(self.links(text[last:]))
        return "".join(out)

    def links(self, text: str) -> str:
        """Relative links to chapters (``04_x.md``) -> the exported ``04_x.ipynb``."""

        def chapter_link(match: re.Match) -> str:
            return f"]({match[1]}.ipynb{match[2] or ''})"

        text = re.sub(r"\]\((?!\w+://)([^)\s#]+)\.md(#[^)\s]*)?\)", chapter_link, text)

        def anchor(match: re.Match) -> str:
            heading = self.index.sections.get(match[1])
            return f"](#{heading.replace(' ', '-')})" if heading else match[0]

        return re.sub(r"\]\(#([^)\s]+)\)", anchor, text)

    def role(self, name: str, body: str) -> str:
        title, target = _title_target(body)
        base = name.split(":")[0]
        if base in ("cite", "footcite"):
            return self.cite(name, body)
        if base == "glue":
            key = body.split(":")[0].strip()
            expression = self.index.glue.get(key)
            return f"`{expression}`" if expression else f"`{key}`"
        if name in ("ref", "prf:ref", "any"):
            return title or self.labels.get(target, target)
        if name == "numref":
            number = self.numbers.get(target, "")
            if title:
                return title.replace("%s", number).replace("{number}", number).strip()
            return self.labels.get(target, target)
        if name == "doc":
            stem = Path(target).stem
            return f"[{title or self.titles.get(stem, stem)}]({stem}.ipynb)"
        if name == "eq":
            return f"({target})"
        if name == "math":
            return f"${body}$"
        if name in ("sub", "sup", "kbd"):
            return f"<{name}>{body}</{name}>"
        if name in ("dfn", "emphasis"):
            return f"*{body}*"
        if name == "strong":
            return f"**{body}**"
        if name in _CODE_ROLES or name.startswith("py:"):
            return f"`{(title or target).lstrip('~')}`"
        return title or target  # term, abbr, download, index, unknown roles: the text

    def cite(self, name: str, body: str) -> str:
        keys = [k.strip() for k in body.split(",") if k.strip()]
        parts = [_cite_parts(self.bib.get(k), k) for k in keys]
        if name.endswith((":t", ":ts")):
            return "; ".join(f"{a} ({y})" if y else a for a, y in parts)
        if name.endswith(":author"):
            return "; ".join(a for a, _ in parts)
        if name.endswith(":year"):
            return "; ".join(y for _, y in parts)
        return "(" + "; ".join(f"{a}, {y}" if y else a for a, y in parts) + ")"

    # --- blocks -----------------------------------------------------------------------
    def markdown(self, text: str) -> str:
        """Plain-Jupyter Markdown for a MyST Markdown text."""
        self.depth += 1
        try:
            out = []
            for block in _parse(text):
                if block.kind == "text":
                    rendered = self.inline("\n".join(block.lines))
                    out.append(re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", rendered))
                elif block.kind == "fence":
                    out.append("\n".join(block.lines))
                else:
                    rendered = self.directive(block)
                    out.append(
                        textwrap.indent(rendered, block.indent)
                        if block.indent
                        else rendered
                    )
            return "\n\n".join(p.strip("\n") for p in out if p.strip())
        finally:
            self.depth -= 1

    def body(self, block: _Block) -> str:
        return (
            self.markdown("\n".join(block.content))
            if self.depth < 8
            else "\n".join(block.content)
        )

    def directive(self, block: _Block) -> str:
        name = block.name
        try:
            if name in ("exercise", "exercise-start"):
                return self.exercise(block)
            if name in ("solution", "solution-start"):
                return self.solution(block)
            if name == "literalinclude":
                return self.literalinclude(block)
            if name in ("figure", "image"):
                return self.figure(block)
            if name == "bibliography":
                return self.bibliography()
            if name in _DROPPED:
                return ""
            if name in _CODE_DIRECTIVES or name == "code-cell":
                language = block.args.split()[0] if block.args else ""
                return _fenced(
                    "\n".join(block.content), language, block.options.get("caption")
                )
            if name == "math":
                return "$$\n" + "\n".join(block.content) + "\n$$"
            if name == "include":
                included = _resolve(block.args, self.path, self.root)
                if included.exists() and self.depth < 4:
                    return self.markdown(_strip_front_matter(included.read_text()))
                return f"*(included file `{block.args}`)*"
            if name.startswith("glue"):
                key = block.args.split(":")[0]
                return (
                    f"*(the {name.partition(':')[2] or 'output'} `{key}` is computed by a "
                    f"code cell above)*"
                )
            if name in ("eval-rst", "raw", "csv-table"):
                language = "rst" if name == "eval-rst" else ""
                return (
                    "\n".join(block.content)
                    if name == "raw"
                    else _fenced("\n".join(block.content), language)
                )
            if name in _ADMONITIONS or name.startswith("prf:"):
                return self.admonition(block)
            # anything else (list-table, tab-set, grid, div, unknown): title and content
            title = f"**{self.inline(block.args)}**\n\n" if block.args else ""
            return title + self.body(block)
        except (OSError, SyntaxError, ValueError, UnicodeDecodeError) as err:
            shown = f"*({name} {block.args}: {err})*".replace("`", "'")
            return shown + ("\n\n" + "\n".join(block.content) if block.content else "")

    def admonition(self, block: _Block) -> str:
        """A block quote; folded ones (``:class: dropdown``, ``{dropdown}``) a
        ``<details>`` element that Jupyter shows folded; answers to questions
        (``:class: dropdown answer``) only in the instructor edition (nbgrader: a manually
        graded answer cell in their place)."""
        name = block.name.split(":")[-1]
        classes = str(block.options.get("class", "")).split()
        if "answer" in classes:
            if self.edition == "student":
                return ""
            if self.edition == "nbgrader":
                self.questions += 1
                return self.manual_answer(
                    f"question-{self.questions}", self.body(block)
                )
        folded = "dropdown" in classes or name in ("dropdown", "toggle")
        default = {
            "seealso": "See also",
            "admonition": "",
            "pull-quote": "",
            "epigraph": "",
            "highlights": "",
            "margin": "",
            "card": "",
            "dropdown": "",
        }
        title = (
            self.inline(block.args) if block.args else default.get(name, name.title())
        )
        if folded:
            summary = title or ("Answer" if "answer" in classes else "More")
            return f"<details>\n<summary>{summary}</summary>\n\n{self.body(block)}\n\n</details>"
        text = (f"**{title}**\n\n" if title else "") + self.body(block)
        return "\n".join(
            f"> {line}" if line.strip() else ">" for line in text.split("\n")
        )

    def exercise(self, block: _Block) -> str:
        self.current_exercise = str(block.options.get("label", ""))
        title = f": {self.inline(block.args)}" if block.args else ""
        if "nonumber" in block.options:
            heading = f"### Exercise{title}"
        else:
            self.exercises += 1
            number = (
                f"{self.index.number}.{self.exercises}"
                if self.index.number
                else str(self.exercises)
            )
            heading = f"### Exercise {number}{title}"
        return heading + "\n\n" + self.body(block)

    def manual_answer(self, grade_id: str, answer: str) -> str:
        """A mark where the nbgrader edition gets a manually graded answer cell, which
        holds ``answer`` (``generate_assignment`` replaces it with "YOUR ANSWER HERE")."""
        self.manual.append((grade_id, answer))
        return f"\x00MANUAL {len(self.manual) - 1}\x00"

    def solution(self, block: _Block) -> str:
        target = block.args.split()[0] if block.args else ""
        if self.edition == "nbgrader" and target not in self.code_exercises:
            # a question: the solution is the model answer of a manually graded cell
            return self.manual_answer(
                f"{target or 'exercise'}-answer", self.body(block)
            )
        if self.edition != "instructor":
            return ""
        heading = (
            f"#### Solution to {self.labels[target]}"
            if target in self.labels
            else "#### Solution"
        )
        return heading + "\n\n" + self.body(block)

    def literalinclude(self, block: _Block) -> str:
        path = _resolve(block.args, self.path, self.root)
        text = path.read_text(encoding="utf-8")
        options = block.options
        if "pyobject" in options:
            tree = ast.parse(text)
            node = _find_definition(tree, str(options["pyobject"]))
            if node is None:
                raise ValueError(f"{options['pyobject']} not found in {block.args}")
            text = _node_source(text.split("\n"), node)
        lines = text.split("\n")
        if "lines" in options:
            lines = _select_lines(lines, str(options["lines"]))
        for key, keep_marker, at_start in (
            ("start-after", False, True),
            ("start-at", True, True),
            ("end-before", False, False),
            ("end-at", True, False),
        ):
            if key in options:
                lines = _cut(lines, str(options[key]), keep_marker, at_start)
        code = "\n".join(lines)
        if "dedent" in options:
            code = textwrap.dedent(code)
        code = code.strip("\n")
        language = str(options.get("language", _LANGUAGES.get(path.suffix, "")))
        return _fenced(code, language, options.get("caption"))

    def figure(self, block: _Block) -> str:
        source = block.args.strip()
        alt = str(block.options.get("alt", "")) or (
            block.content[0] if block.content else ""
        )
        alt = re.sub(r"[\[\]`{}]", "", alt)[:120]
        if re.match(r"\w+://", source):
            image = f"![{alt}]({source})"
        else:
            path = _resolve(source, self.path, self.root)
            if path.exists():
                name = path.name
                while name in self.attachments:
                    name = "x" + name
                mime = mimetypes.guess_type(path.name)[0] or "image/png"
                self.attachments[name] = {
                    mime: base64.b64encode(path.read_bytes()).decode()
                }
                image = f"![{alt}](attachment:{name})"
            else:
                image = f"*(image `{source}`)*"
        caption = ""
        if block.name == "figure" and block.content:
            self.figures += 1
            number = (
                f"{self.index.number}.{self.figures}"
                if self.index.number
                else str(self.figures)
            )
            caption = f"\n\n*Figure {number}: {self.body(block)}*"
        return image + caption

    def bibliography(self) -> str:
        self.bibliography_done = True
        cited = [k for k in self.index.cited if k in self.bib]
        if not cited:
            return ""
        items = "\n".join(f"- {_reference_line(self.bib[k], k)}" for k in cited)
        return f"**References**\n\n{items}"


def _title_target(body: str) -> tuple[str, str]:
    """``title <target>`` -> (title, target); a bare ``target`` -> ("", target)."""
    match = re.fullmatch(r"\s*(.*?)\s*<([^<>]+)>\s*", body, re.S)
    return (match[1], match[2].strip()) if match else ("", body.strip())


def _resolve(name: str, chapter: Path, root: Path) -> Path:
    name = name.strip()
    return root / name.lstrip("/") if name.startswith("/") else chapter.parent / name


def _fenced(code: str, language: str = "", caption=None) -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", code)), default=2)
    fence = "`" * max(3, longest + 1)
    head = f"*{caption}*\n\n" if caption else ""
    return f"{head}{fence}{language}\n{code}\n{fence}"


def _select_lines(lines: list[str], spec: str) -> list[str]:
    """Sphinx ``:lines:`` selection ("1-3,5,8-"), 1-based."""
    chosen: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            start, _, end = part.partition("-")
            first = int(start) if start.strip() else 1
            last = int(end) if end.strip() else len(lines)
            chosen += range(first, last + 1)
        else:
            chosen.append(int(part))
    return [lines[i - 1] for i in chosen if 1 <= i <= len(lines)]


def _cut(lines: list[str], marker: str, keep: bool, at_start: bool) -> list[str]:
    for i, line in enumerate(lines):
        if marker in line:
            if at_start:
                return lines[i if keep else i + 1 :]
            return lines[: i + 1 if keep else i]
    raise ValueError(f"marker {marker!r} not found")


def _safe_is_notebook(path: Path) -> bool:
    try:
        return is_notebook(path)
    except (OSError, UnicodeDecodeError):
        return False


def _find_root(path: Path) -> Path:
    for parent in path.resolve().parents:
        if (parent / "_toc.yml").exists() or (parent / "pyproject.toml").exists():
            return parent
    return path.resolve().parent


_TITLES = {
    "student": (
        "Student edition",
        "Fill in each exercise cell (its functions raise `NotImplementedError` until "
        "you do); the check cell below it tells you whether your answer is right.",
    ),
    "instructor": (
        "Instructor edition: contains the solutions, do not hand it out",
        "Every exercise cell holds the book's tested reference solution, so the "
        "whole notebook runs without errors.",
    ),
    "nbgrader": (
        "nbgrader source notebook: contains the solutions",
        "Solution cells hold the reference inside nbgrader's solution markers; "
        "`nbgrader generate_assignment` turns them back into stubs. Check cells "
        "are autograded test cells (1 point each) with hidden tests; answers to "
        "questions are manually graded cells (1 point each).",
    ),
}


def _nbgrader_meta(
    grade_id: str,
    *,
    solution=False,
    grade=False,
    locked=False,
    points: int | None = None,
) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return meta


def _grade_id(base: str, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", base).strip("-") or "cell"
    grade_id, n = base, 1
    while grade_id in used:
        n += 1
        grade_id = f"{base}-{n}"
    used.add(grade_id)
    return grade_id


def _instructor_source(stub: str, refs: list[Reference], answers: list[str]) -> str:
    """The stub replaced by the references, bound to the stub's names (or answer values)."""
    imports = _merge_imports([line for ref in refs for line in ref.imports])
    dotted = ", ".join(ref.dotted for ref in refs)
    blocks = [
        "\n".join(
            [f"# Reference solution, from the book's tested code: {dotted}", *imports]
        )
    ]
    blocks += [ref.source for ref in refs]
    if answers:
        bindings = [
            f"{var} = {ref.name}()" for var, ref in zip(answers, refs, strict=True)
        ]
    else:
        bindings = [
            f"{name} = {ref.name}"
            for name, ref in zip(_stub_names(stub), refs, strict=True)
            if name != ref.name
        ]
    if bindings:
        blocks.append("\n".join(bindings))
    return "\n\n\n".join(blocks)


def _region(lines: list[str], indent: str) -> list[str]:
    return (
        [indent + "### BEGIN SOLUTION"]
        + [(indent + line) if line.strip() else "" for line in lines]
        + [indent + "### END SOLUTION"]
    )


def _nbgrader_source(stub: str, refs: list[Reference], answers: list[str]) -> str:
    """The stub with each function body as an nbgrader solution region (or, for a value,
    the stub followed by one region that computes the value).

    ``nbgrader generate_assignment`` replaces every region with ``# YOUR CODE HERE`` and
    ``raise NotImplementedError()``, which gives back the stub's shape: function stubs
    that raise when called, a value still ``...`` and a cell that raises.
    """
    lines = stub.split("\n")
    if answers:
        kept: list[str] = []
        for (
            line
        ) in lines:  # the stub itself (``n = ...``), its hints without the placeholder
            kept += _hints([line]) if line.lstrip().startswith("#") else [line]
        while kept and not kept[-1].strip():
            kept.pop()
        body = [f"# the book's reference: {', '.join(r.dotted for r in refs)}"]
        body += _merge_imports([line for ref in refs for line in ref.imports])
        for var, ref in zip(answers, refs, strict=True):
            body += ["", *ref.source.split("\n"), "", f"{var} = {ref.name}()"]
        return "\n".join(kept + _region(body, ""))
    nodes = _stub_definitions(stub)
    if len(nodes) != len(refs) or any(isinstance(n, ast.ClassDef) for n in nodes):
        # not one plain function per reference: the whole cell is the solution region
        return "\n".join(_region(_instructor_source(stub, refs, []).split("\n"), ""))
    out: list[str] = []
    cursor = 0  # next stub line (0-based) not yet copied
    for node, ref in zip(nodes, refs, strict=True):
        body = node.body
        first = body[0]
        if first.lineno == node.lineno:  # a one-line def: no body to put a region in
            return "\n".join(
                _region(_instructor_source(stub, refs, []).split("\n"), "")
            )
        docstring = (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        )
        indent = " " * first.col_offset
        if docstring:
            header_end = first.end_lineno  # keep the stub's docstring
        else:
            header_end = first.lineno - 1
            while header_end > node.lineno and (
                not lines[header_end - 1].strip()
                or lines[header_end - 1].lstrip().startswith("#")
            ):
                header_end -= 1
        out += lines[cursor:header_end]
        out += _hints(lines[header_end : node.end_lineno])
        region = [
            f"# the book's reference: {ref.dotted}",
            *ref.imports,
            "",
            *ref.source.split("\n"),
            "",
            f"return {_forward_call(node, ref.name)}",
        ]
        out += _region(region, indent)
        cursor = node.end_lineno
    out += lines[cursor:]
    return "\n".join(out)


@dataclass
class _Stub:
    """An exercise stub of the chapter, as the nbgrader edition grades it."""

    cell: nbformat.NotebookNode  # the exported cell
    label: str  # the exercise's label
    names: list[str]  # the functions it defines (``my_*``); empty for a value
    answers: list[str]  # the values it asks for (metadata ``answer``)
    solutions: list[str]  # dotted paths of the references
    manual: bool  # metadata ``grading: manual``: graded by hand


def _check_calls(source: str) -> list[ast.Call]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            getattr(node.func, "id", None) or getattr(node.func, "attr", "")
        ).startswith("check_")
    ]


def _leaks(source: str, allowed: set[str], references: set[str], check: bool) -> str:
    """Why a code cell shows an answer (a check run on something other than the reader's
    answer; in a check cell, a reference named), or "" when it does not."""
    for call in _check_calls(source):
        first = call.args[0] if call.args else None
        if first is not None and not (
            isinstance(first, ast.Name) and first.id in allowed
        ):
            return (
                f"it runs a check on `{ast.unparse(first)}`, not on the reader's answer "
                f"({', '.join(sorted(allowed)) or 'no stub defines one'}): show that call "
                "in the solution, unexecuted"
            )
    if not check:
        return ""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    named = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    named |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    named |= {
        a.asname or a.name
        for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names
    }
    named |= {
        a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names
    }
    leaked = sorted((named & references) - allowed)
    if leaked:
        return f"the check cell names the reference {leaked[0]!r}"
    return ""


def _grade_check(stubs: list[_Stub], check_source: str, where: str) -> tuple[str, str]:
    """The nbgrader test cell for ``check_source`` (the visible checks made strict, then
    hidden tests) and "", or ("", why) when the exercise is graded by hand."""
    if any(stub.manual for stub in stubs):
        return "", "marked `grading: manual`"
    functions: dict[str, object] = {}
    values: dict[str, object] = {}
    for stub in stubs:
        try:
            refs = [_answers.resolve(d) for d in stub.solutions]
        except (ImportError, AttributeError) as err:
            raise ValueError(f"{where}: {err}") from err
        if stub.answers:
            for var, ref in zip(stub.answers, refs, strict=True):
                values[var] = ref() if callable(ref) else ref
        else:
            functions.update(zip(stub.names, refs, strict=True))
    try:
        recorded = _answers.record(check_source, functions, values)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from err
    missing = [name for name in functions if not recorded.cases.get(name)]
    if missing:
        why = recorded.problem or (
            f"its checks compare no values of {', '.join(missing)} that can be written "
            "as literals"
        )
        return "", why
    expected = {}
    for var, value in values.items():
        try:
            _answers.literal(value)
        except _answers.NotLiteral:
            return "", f"the value of {var} cannot be written as a literal"
        rtol, atol = recorded.value_tolerance.get(var, (_answers.VALUE_RTOL, 1e-8))
        expected[var] = (value, rtol, atol)
    visible = _answers.strict_checks(check_source).rstrip("\n")
    return visible + "\n\n" + _answers.hidden_tests(recorded.cases, expected), ""


_MANUAL_MARK = re.compile(r"\n?[ \t>]*\x00MANUAL (\d+)\x00[ \t]*(?:\n|$)")


def export_chapter(path: str | Path, edition: str) -> nbformat.NotebookNode:
    """One chapter (``book/NN_slug.md``) as a plain Jupyter notebook of ``edition``.

    ``edition`` is ``"student"``, ``"instructor"`` or ``"nbgrader"`` (see the module doc).
    Raises ``ValueError`` naming the chapter and cell when an exercise cell has no usable
    ``solution`` metadata (instructor and nbgrader editions need it), when a cell still
    carries the old ``raises-exception`` tag, or when a cell shows an answer (runs a check
    on anything but the reader's ``my_*``, or a check cell names a reference).
    """
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, got {edition!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no chapter at {path}")
    root = _find_root(path)
    try:
        shown = path.resolve().relative_to(root).as_posix()
    except ValueError:
        shown = path.name
    if edition != "instructor" and "{solution-start}" in path.read_text(
        encoding="utf-8"
    ):
        raise ValueError(
            f"{shown}: gated solutions (solution-start/solution-end) would leak "
            f"into the {edition} edition; use the plain {{solution}} directive"
        )
    exporter = _Exporter(path, edition, root)
    source = read_notebook(path)

    # what the reader's answers are called, and what the references are called
    allowed: set[str] = set()
    references: set[str] = set()
    for cell in source.cells:
        if cell.cell_type == "code" and STUB_TAG in cell.metadata.get("tags", []):
            allowed |= set(_stub_names(cell.source))
            allowed |= set(_as_list(cell.metadata.get("answer")))
            references |= {
                d.rpartition(".")[2] for d in _as_list(cell.metadata.get("solution"))
            }

    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {
            "display_name": "Python 3",
            "language": "python",
            "name": "python3",
        },
        "language_info": {"name": "python"},
        "wastelab": {"edition": edition, "source": shown},
    }
    heading, note = _TITLES[edition]
    nb.cells.append(
        nbformat.v4.new_markdown_cell(
            f"*{heading}. Generated from `{shown}` by `python -m tools.export`; edit "
            f"the source, not this file.* {note}"
        )
    )

    used_ids: set[str] = set()
    pending: list[_Stub] = []  # stubs waiting for their check cell
    by_hand: list[str] = []  # nbgrader: code exercises graded by hand, and why

    def grade_by_hand(stubs: list[_Stub], why: str) -> None:
        for stub in stubs:
            stub.cell.metadata["nbgrader"].update(grade=True, points=1)
            stub.cell.metadata["wastelab"]["grading"] = f"by hand: {why}"
        if stubs:
            by_hand.append(f"{stubs[0].label}: {why}")

    for index, cell in enumerate(source.cells):
        meta = dict(cell.metadata)
        first_line = next(
            (line for line in cell.source.split("\n") if line.strip()), ""
        )
        where = f"{shown}, cell {index} ({first_line[:60]!r})"
        if cell.cell_type == "markdown":
            exporter.attachments = {}
            label_before = exporter.current_exercise
            text = exporter.markdown(cell.source)
            if pending and exporter.current_exercise != label_before:
                grade_by_hand(pending, "it has no check cell")
                pending = []
            pieces = _MANUAL_MARK.split(text)
            for number, piece in enumerate(pieces):
                if number % 2 == 1:  # a manually graded answer (nbgrader edition)
                    grade_id, answer = exporter.manual[int(piece)]
                    new = nbformat.v4.new_markdown_cell(answer)
                    new.metadata["nbgrader"] = _nbgrader_meta(
                        _grade_id(grade_id, used_ids),
                        solution=True,
                        grade=True,
                        points=1,
                    )
                    new.metadata["wastelab"] = {"role": "answer"}
                    nb.cells.append(new)
                    continue
                if not piece.strip():
                    continue
                new = nbformat.v4.new_markdown_cell(piece.strip("\n"))
                attached = {
                    name: data
                    for name, data in exporter.attachments.items()
                    if f"attachment:{name}" in piece
                }
                if attached:
                    new.attachments = attached
                nb.cells.append(new)
            continue
        if cell.cell_type != "code":
            nb.cells.append(nbformat.v4.new_raw_cell(cell.source))
            continue
        tags = list(meta.pop("tags", []))
        solutions, answers = (
            _as_list(meta.pop("solution", None)),
            _as_list(meta.pop("answer", None)),
        )
        manual = str(meta.pop("grading", "")).lower() == "manual"
        if OLD_TAG in tags:
            raise ValueError(
                f"{where}: the tag `{OLD_TAG}` is gone (no cell may fail): tag the stub "
                f"`{STUB_TAG}` (with `solution` metadata; it raises only when called) "
                f"and its check cell `{CHECK_TAG}`"
            )
        role = ""
        if STUB_TAG in tags:
            role = "stub" if solutions else "exercise"
        elif CHECK_TAG in tags:
            role = "check"
        if role != "stub" and (
            why := _leaks(cell.source, allowed, references, role == "check")
        ):
            raise ValueError(f"{where}: this cell shows an answer: {why}")
        if "hide-input" in tags:
            meta.setdefault("jupyter", {})["source_hidden"] = True
        if "hide-output" in tags:
            meta.setdefault("jupyter", {})["outputs_hidden"] = True
        source_text = cell.source
        if role == "exercise" and edition != "student":
            raise ValueError(
                f"{where}: an `{STUB_TAG}` cell without `solution` metadata; give the "
                f"stub `solution: dotted.path.of.reference` (see the chapter guide)"
            )
        names = _stub_names(cell.source) if role == "stub" else []
        if role == "stub":
            exporter.code_exercises.add(exporter.current_exercise)
        if role == "stub" and edition != "student":
            refs = []
            for dotted in solutions:
                try:
                    refs.append(reference(dotted))
                except (ValueError, SyntaxError, OSError) as err:
                    raise ValueError(f"{where}: {err}") from err
            if answers and len(answers) != len(refs):
                raise ValueError(
                    f"{where}: {len(answers)} `answer` names for {len(refs)} solutions"
                )
            if not answers and len(names) != len(refs):
                raise ValueError(
                    f"{where}: the stub defines {names or 'nothing'} but "
                    f"`solution` names {len(refs)} reference(s) {solutions}"
                )
            source_text = (
                _instructor_source if edition == "instructor" else _nbgrader_source
            )(cell.source, refs, answers)
        if tags:
            meta["tags"] = tags
        if role:
            meta["wastelab"] = {"role": role}
        new = nbformat.v4.new_code_cell(source_text, metadata=meta)
        label = exporter.current_exercise or f"exercise-{index}"
        if edition == "nbgrader" and role == "stub":
            new.metadata["nbgrader"] = _nbgrader_meta(
                _grade_id(f"{label}-solution", used_ids), solution=True
            )
            pending.append(
                _Stub(new, label, [] if answers else names, answers, solutions, manual)
            )
        elif edition == "nbgrader" and role == "check" and pending:
            graded, why = _grade_check(pending, cell.source, where)
            if graded:
                new.source = graded
                new.metadata["nbgrader"] = _nbgrader_meta(
                    _grade_id(f"{label}-test", used_ids),
                    grade=True,
                    locked=True,
                    points=1,
                )
            else:
                grade_by_hand(pending, why)
            pending = []
        nb.cells.append(new)
    if pending:
        grade_by_hand(pending, "it has no check cell")

    if not exporter.bibliography_done and (references_text := exporter.bibliography()):
        nb.cells.append(nbformat.v4.new_markdown_cell(references_text))
    for number, cell in enumerate(nb.cells):
        cell.id = f"cell-{number:03d}"
        if (
            edition == "nbgrader"
            and cell.cell_type == "markdown"
            and "nbgrader" not in cell.metadata
        ):
            cell.metadata["nbgrader"] = _nbgrader_meta(
                _grade_id(f"text-{number:03d}", used_ids), locked=True
            )
    if edition == "nbgrader":
        nb.metadata["wastelab"]["graded_by_hand"] = by_hand
    nbformat.validate(nb)
    return nb


def book_chapters(root: str | Path = ".") -> list[Path]:
    """The chapter notebooks of ``root/_toc.yml``, in order (plain Markdown pages left out)."""
    return [p for p in toc_files(root) if p.suffix == ".md" and _safe_is_notebook(p)]


def _chapter_paths(root: Path, chapters) -> list[Path]:
    if not chapters:
        return book_chapters(root)
    paths = []
    for chapter in chapters:
        candidates = [Path(chapter), root / chapter, root / "book" / f"{chapter}.md"]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            wanted = str(chapter)
            matches = [
                p
                for p in book_chapters(root)
                if p.stem == wanted
                or p.stem.split("_")[0].lstrip("0") == wanted.lstrip("0")
            ]
            if len(matches) != 1:
                raise FileNotFoundError(
                    f"chapter {chapter!r}: {'ambiguous' if matches else 'not found'} "
                    f"(give a path, a file stem like 03_neuron, or a chapter number)"
                )
            found = matches[0]
        paths.append(found)
    return paths


def export_book(
    root: str | Path, out_dir: str | Path, edition: str, chapters=None
) -> list[Path]:
    """Write ``edition`` notebooks of ``chapters`` (default: every chapter notebook in
    ``root/_toc.yml``) to ``out_dir/NN_slug.ipynb``, each atomically; returns their paths.

    ``chapters`` are paths, file stems (``03_neuron``) or chapter numbers (``3``).
    """
    from wastelab.atomic import atomic_write

    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, got {edition!r}")
    root, out_dir = Path(root), Path(out_dir)
    notebooks = [
        (p, export_chapter(p, edition)) for p in _chapter_paths(root, chapters)
    ]
    written = []
    for path, nb in notebooks:
        written.append(
            atomic_write(
                out_dir / f"{path.stem}.ipynb",
                lambda tmp, nb=nb: nbformat.write(nb, str(tmp)),
            )
        )
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.export --edition student|instructor|nbgrader [CHAPTER ...]``."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m tools.export",
        description="chapters -> plain Jupyter notebooks (student, instructor or nbgrader)",
    )
    parser.add_argument("--edition", choices=EDITIONS, required=True)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the .ipynb files (default exports/EDITION)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        help="the book's root folder, with _toc.yml (default: here)",
    )
    parser.add_argument(
        "chapters",
        nargs="*",
        metavar="CHAPTER",
        help="chapter paths, stems (03_neuron) or numbers (3); "
        "default: every chapter in _toc.yml",
    )
    args = parser.parse_args(argv)
    if not (args.root / "_toc.yml").is_file():
        print(
            f"export: no _toc.yml in {args.root.resolve()}: run `python -m tools.export` "
            "from the repository (the folder with _toc.yml), or pass --root "
            "PATH/TO/REPOSITORY",
            file=sys.stderr,
        )
        return 2
    out = args.out or Path("exports") / args.edition
    if out.exists() and not out.is_dir():
        print(f"export: {out} exists and is not a folder", file=sys.stderr)
        return 2
    try:
        paths = export_book(
            args.root, out, args.edition, chapters=args.chapters or None
        )
    except (FileNotFoundError, ValueError) as err:
        print(f"export: error: {err}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {path}")
        if args.edition == "nbgrader":
            meta = nbformat.read(path, as_version=4).metadata.get("wastelab", {})
            for line in meta.get("graded_by_hand", []):
                print(f"  graded by hand: {line}")
    print(f"{len(paths)} {args.edition} notebook(s) in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
