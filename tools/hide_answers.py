"""Sphinx extension for the student edition: remove folded answers to questions.

Answers to "check your understanding" questions and self-tests are admonitions with the
class ``answer`` (``:class: dropdown answer``). With ``hide_solutions`` on (the student
edition), they are removed from the pages, as sphinx-exercise removes solutions.
"""

from __future__ import annotations

from docutils import nodes


def _remove_answers(app, doctree) -> None:
    if not app.config.hide_solutions:
        return
    for node in list(doctree.findall(nodes.Element)):
        if "answer" in node.get("classes", []) and node.parent is not None:
            node.parent.remove(node)


def setup(app):
    if "hide_solutions" not in app.config.values:
        app.add_config_value("hide_solutions", False, "env")
    app.connect("doctree-read", _remove_answers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
