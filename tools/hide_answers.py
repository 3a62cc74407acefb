"""Sphinx extension for the student edition: no answer reaches the reader.

With ``hide_solutions`` on (the student edition), sphinx-exercise removes solutions; this
extension also removes folded answers to questions and self-tests (admonitions with the
class ``answer``: ``:class: dropdown answer``), and ships no page sources (``_sources``
would hold every solution) nor the download button that links to them.
"""

from __future__ import annotations

from docutils import nodes


def _remove_answers(app, doctree) -> None:
    if not app.config.hide_solutions:
        return
    for node in list(doctree.findall(nodes.Element)):
        if "answer" in node.get("classes", []) and node.parent is not None:
            node.parent.remove(node)


def _no_sources(app, config) -> None:
    if config.hide_solutions:
        config.html_copy_source = False
        config.html_theme_options["use_download_button"] = False


def setup(app):
    if "hide_solutions" not in app.config.values:
        app.add_config_value("hide_solutions", False, "env")
    app.connect("config-inited", _no_sources)
    app.connect("doctree-read", _remove_answers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
